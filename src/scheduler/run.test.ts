/**
 * The scheduler against a stand-in HTTP server that records when each request starts and ends and how many
 * overlap. Tests wait on events (requests arriving, steps starting), never on wall-clock windows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Gate, reply, StandIn } from '../../test/support/stand-in.ts';
import { tempDir, workflow } from '../../test/support/workflow.ts';
import type { RunEvent } from '../core/events.ts';
import { ConductorError, WorkflowInvalidError } from '../core/errors.ts';
import { runWorkflow } from './run.ts';
import { builtinActions } from '../actions/builtin.ts';
import { ActionRegistry } from '../actions/registry.ts';
import { z } from 'zod';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

/** Steps that each GET `/<prefix>/<id>`; `extra` adds lines to every step. */
function httpSteps(ids: string[], prefix: string, extra: (id: string) => string = () => ''): string {
  return ids.map((id) => `  - id: ${id}\n    http: { url: "${server.url}/${prefix}/${id}" }\n${extra(id)}`).join('');
}

function collect(): { events: RunEvent[]; onEvent: (e: RunEvent) => void; started: () => string[] } {
  const events: RunEvent[] = [];
  return {
    events,
    onEvent: (e) => events.push(e),
    started: () => events.flatMap((e) => (e.type === 'step:start' ? [e.stepId] : [])),
  };
}

describe('scheduling', () => {
  it('runs independent steps at the same time', async () => {
    const gate = new Gate();
    server.fallback(async (_req, res) => {
      await gate.wait();
      reply(res, 200, { ok: true });
    });
    const spec = workflow(`steps:\n${httpSteps(['a', 'b', 'c'], 'par')}`);
    const running = runWorkflow(spec);
    await server.until(() => server.byPath('/par/c').length === 1 && server.inFlight === 3);
    gate.open();
    const report = await running;
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(server.requests.filter((r) => r.path.startsWith('/par/')).map((r) => r.inFlightAtStart).sort(), [1, 2, 3]);
  });

  it('starts a dependent step only after its dependency ended, and passes its output', async () => {
    server.route('/dep/fetch', (_req, res) => reply(res, 200, { items: [{ name: 'first' }] }));
    server.route('/dep/analyze', (req, res) => reply(res, 200, { got: req.body }));
    const spec = workflow(`
steps:
  - id: analyze
    http:
      method: POST
      url: "${server.url}/dep/analyze"
      body: { name: "\${steps.fetch.output.items[0].name}", all: "\${steps.fetch.output}" }
  - id: fetch
    http: { url: "${server.url}/dep/fetch" }
`);
    const report = await runWorkflow(spec);
    assert.equal(report.status, 'succeeded');
    const [fetch] = server.byPath('/dep/fetch');
    const [analyze] = server.byPath('/dep/analyze');
    assert.ok(analyze!.startedAt > fetch!.endedAt!, 'analyze arrived after fetch was answered');
    assert.deepEqual(JSON.parse(analyze!.body), { name: 'first', all: { items: [{ name: 'first' }] } });
    assert.equal(analyze!.headers['content-type'], 'application/json');
  });

  for (const [label, config, limit] of [
    ['the default limit is exactly 10', '', 10],
    ['maxConcurrency: 20 gives 20', 'config:\n  maxConcurrency: 20\n', 20],
  ] as const) {
    it(label, async () => {
      const gate = new Gate();
      const prefix = `limit${limit}`;
      server.fallback(async (_req, res) => {
        await gate.wait();
        reply(res, 200, 'done');
      });
      const ids = Array.from({ length: limit + 15 }, (_, i) => `s${i}`);
      const spec = workflow(`${config}steps:\n${httpSteps(ids, prefix)}`);
      const { onEvent, started } = collect();
      const running = runWorkflow(spec, { onEvent });
      const inFlight = () => server.requests.filter((r) => r.path.startsWith(`/${prefix}/`) && r.endedAt === undefined).length;
      await server.until(() => inFlight() === limit);
      // The loop starts steps synchronously: had it started one more, its step:start would already be here.
      assert.equal(started().length, limit);
      gate.open();
      const report = await running;
      assert.equal(report.status, 'succeeded');
      const mine = server.requests.filter((r) => r.path.startsWith(`/${prefix}/`));
      assert.equal(mine.length, ids.length);
      assert.equal(Math.max(...mine.map((r) => r.inFlightAtStart)), limit);
    });
  }

  it('--max-concurrency (the option) overrides the workflow', async () => {
    server.fallback((_req, res) => reply(res, 200, 'ok'));
    const spec = workflow(`config:\n  maxConcurrency: 5\nsteps:\n${httpSteps(['a', 'b', 'c', 'd'], 'override')}`);
    const { events, onEvent } = collect();
    await runWorkflow(spec, { maxConcurrency: 1, onEvent });
    let running = 0;
    let most = 0;
    for (const e of events) {
      if (e.type === 'step:start') most = Math.max(most, ++running);
      if (e.type === 'step:end') running--;
    }
    assert.equal(most, 1);
  });

  it('starts the longest remaining path first, ties in file order', async () => {
    server.fallback((_req, res) => reply(res, 200, 'ok'));
    const shorts = Array.from({ length: 6 }, (_, i) => `short${i}`);
    const spec = workflow(`
config:
  maxConcurrency: 1
steps:
${httpSteps(shorts, 'cp')}  - id: c0
    http: { url: "${server.url}/cp/c0" }
  - id: c1
    http: { url: "${server.url}/cp/c1?after=\${steps.c0.statusCode}" }
  - id: c2
    http: { url: "${server.url}/cp/c2?after=\${steps.c1.statusCode}" }
`);
    const { onEvent, started } = collect();
    await runWorkflow(spec, { onEvent });
    // File order (FIFO) would run the six short steps before the chain even begins.
    assert.deepEqual(started(), ['c0', 'c1', ...shorts, 'c2']);
  });

  it('with duration estimates, starts the longest remaining path in time first', async () => {
    server.fallback((_req, res) => reply(res, 200, 'ok'));
    const spec = workflow(`
config:
  maxConcurrency: 1
steps:
${httpSteps(['a1'], 'est')}  - id: a2
    http: { url: "${server.url}/est/a2?after=\${steps.a1.statusCode}" }
  - id: a3
    http: { url: "${server.url}/est/a3?after=\${steps.a2.statusCode}" }
${httpSteps(['long'], 'est')}`);
    const unit = collect();
    await runWorkflow(spec, { onEvent: unit.onEvent });
    assert.deepEqual(unit.started(), ['a1', 'a2', 'a3', 'long'], 'by steps, the chain of three comes first');
    const timed = collect();
    await runWorkflow(spec, { onEvent: timed.onEvent, estimates: { a1: 10, a2: 10, a3: 10, long: 5000 } });
    assert.deepEqual(timed.started(), ['long', 'a1', 'a2', 'a3'], 'by time, the long step comes first');
    const partial = collect();
    await runWorkflow(spec, { onEvent: partial.onEvent, estimates: { long: 5000, a1: 1, a2: 1 } });
    assert.equal(partial.started()[0], 'long', 'steps without an estimate count as a typical one');
  });

  it('with no history, weighs steps by their action: one API call goes before a chain of file writes', async (t) => {
    server.fallback((_req, res) => reply(res, 200, 'ok'));
    const dir = await tempDir(t);
    const spec = workflow(
      `
config:
  maxConcurrency: 1
steps:
  - id: w1
    file: { action: write, path: a.txt, content: "1" }
  - id: w2
    file: { action: append, path: a.txt, content: "2" }
  - id: w3
    file: { action: append, path: a.txt, content: "3" }
${httpSteps(['call'], 'typical')}`,
      dir,
    );
    const first = collect();
    await runWorkflow(spec, { onEvent: first.onEvent });
    assert.deepEqual(first.started(), ['call', 'w1', 'w2', 'w3'], 'three file steps are shorter than one request');
    const known = collect();
    await runWorkflow(spec, { onEvent: known.onEvent, estimates: { call: 2, w1: 5, w2: 5, w3: 5 } });
    assert.deepEqual(known.started(), ['w1', 'w2', 'w3', 'call'], 'history overrides the guess');
    const partial = collect();
    await runWorkflow(spec, { onEvent: partial.onEvent, estimates: { call: 2, w1: 5 } });
    assert.deepEqual(partial.started(), ['w1', 'w2', 'w3', 'call'], 'steps without history count as others of their action did');
  });

  it('emits run:start first, run:end last, and every step:start before its step:end', async () => {
    server.fallback((_req, res) => reply(res, 200, 'ok'));
    const { events, onEvent } = collect();
    const spec = workflow(`steps:\n${httpSteps(['a', 'b'], 'events')}  - id: c\n    depends_on: [a, b]\n    http: { url: "${server.url}/events/c" }\n`);
    const report = await runWorkflow(spec, { onEvent });
    assert.equal(events[0]?.type, 'run:start');
    assert.equal(events.at(-1)?.type, 'run:end');
    for (const id of ['a', 'b', 'c']) {
      const start = events.findIndex((e) => e.type === 'step:start' && e.stepId === id);
      const end = events.findIndex((e) => e.type === 'step:end' && e.stepId === id);
      assert.ok(start > 0 && end > start, id);
    }
    const cStart = events.findIndex((e) => e.type === 'step:start' && e.stepId === 'c');
    assert.ok(events.findIndex((e) => e.type === 'step:end' && e.stepId === 'b') < cStart);
    assert.deepEqual(Object.keys(report.steps), ['a', 'b', 'c']);
  });
});

describe('fail-fast', () => {
  it('stops starting steps, aborts the ones in flight, and reports every status', async () => {
    const never = new Gate();
    server.route('/ff/hang1', async () => never.wait());
    server.route('/ff/hang2', async () => never.wait());
    server.route('/ff/boom', async (_req, res) => {
      await server.until(() => server.byPath('/ff/hang1').length + server.byPath('/ff/hang2').length === 2);
      reply(res, 500, { error: 'nope' });
    });
    const spec = workflow(`
config:
  maxConcurrency: 3
steps:
${httpSteps(['hang1', 'hang2', 'boom'], 'ff', (id) => (id === 'boom' ? '    retry: { attempts: 1 }\n' : ''))}  - id: after
    http: { url: "${server.url}/ff/after?x=\${steps.boom.output}" }
  - id: later
    http: { url: "${server.url}/ff/later" }
`);
    const report = await runWorkflow(spec);
    assert.equal(report.status, 'failed');
    assert.deepEqual(
      Object.fromEntries(Object.entries(report.steps).map(([id, s]) => [id, s.status])),
      { hang1: 'cancelled', hang2: 'cancelled', boom: 'failed', after: 'skipped', later: 'not_run' },
    );
    assert.equal(report.steps['boom']!.error, `GET ${server.url}/ff/boom → HTTP 500: {"error":"nope"}`);
    assert.equal(report.error, `boom: GET ${server.url}/ff/boom → HTTP 500: {"error":"nope"}`);
    // The server saw both in-flight requests closed by the client, and never heard of the others.
    await server.until(() => server.byPath('/ff/hang1')[0]?.endedAt !== undefined && server.byPath('/ff/hang2')[0]?.endedAt !== undefined);
    assert.deepEqual([server.byPath('/ff/hang1')[0]!.aborted, server.byPath('/ff/hang2')[0]!.aborted], [true, true]);
    assert.equal(server.byPath('/ff/after').length + server.byPath('/ff/later').length, 0);
    assert.equal(report.steps['after']!.startedAt, undefined);
    never.open();
  });

  it('an external signal cancels the run the same way', async () => {
    const never = new Gate();
    server.route('/cancel/a', async () => never.wait());
    const controller = new AbortController();
    const spec = workflow(`steps:\n${httpSteps(['a'], 'cancel')}  - id: b\n    depends_on: [a]\n    http: { url: "${server.url}/cancel/b" }\n`);
    const running = runWorkflow(spec, { signal: controller.signal });
    await server.until(() => server.byPath('/cancel/a').length === 1);
    controller.abort();
    const report = await running;
    assert.equal(report.status, 'cancelled');
    assert.deepEqual([report.steps['a']!.status, report.steps['b']!.status], ['cancelled', 'skipped']);
    await server.until(() => server.byPath('/cancel/a')[0]!.endedAt !== undefined);
    assert.equal(server.byPath('/cancel/a')[0]!.aborted, true);
    never.open();
  });
});

describe('before anything runs', () => {
  it('checks required inputs and types them', async () => {
    server.fallback((req, res) => reply(res, 200, { path: req.path }));
    const spec = workflow(`
inputs:
  id: { type: number }
  verbose: { type: boolean, default: false }
steps:
  - id: get
    http: { url: "${server.url}/inputs/\${inputs.id}" }
outputs:
  id: \${inputs.id}
  verbose: \${inputs.verbose}
`);
    const before = server.requests.length;
    await assert.rejects(runWorkflow(spec), (e: unknown) => e instanceof WorkflowInvalidError && /missing required input `id`/.test(e.message));
    await assert.rejects(runWorkflow(spec, { inputs: { id: 'seven' } }), /input `id`: expected a number, got "seven"/);
    await assert.rejects(runWorkflow(spec, { inputs: { id: '1', ids: '2' } }), /unknown input `ids`/);
    assert.equal(server.requests.length, before, 'nothing was sent');
    const report = await runWorkflow(spec, { inputs: { id: '7' } });
    assert.deepEqual(report.outputs, { id: 7, verbose: false });
    assert.equal(server.requests.at(-1)!.path, '/inputs/7');
  });

  it('checks that every ${env.*} is set', async () => {
    const spec = workflow(`steps:\n  - id: a\n    http: { url: "${server.url}/env", headers: { authorization: "Bearer \${env.CONDUCTOR_TEST_TOKEN}" } }\n`);
    await assert.rejects(runWorkflow(spec, { env: {} }), /CONDUCTOR_TEST_TOKEN is not set/);
    const inOutputs = workflow(`steps:\n  - id: a\n    llm: { model: echo, prompt: x }\noutputs:\n  where: "\${env.CONDUCTOR_TEST_REGION}"\n`);
    await assert.rejects(runWorkflow(inOutputs, { env: {} }), /output `where` uses `\$\{env\.CONDUCTOR_TEST_REGION\}`, but CONDUCTOR_TEST_REGION is not set/);
    assert.deepEqual((await runWorkflow(inOutputs, { env: { CONDUCTOR_TEST_REGION: 'eu' } })).outputs, { where: 'eu' });
  });
});

describe('retries', () => {
  it('retries 5xx with backoff until it succeeds, and reports the attempts', async () => {
    let calls = 0;
    server.route('/flaky', (_req, res) => (++calls < 3 ? reply(res, 503, 'busy') : reply(res, 200, 'fine')));
    const { events, onEvent } = collect();
    const report = await runWorkflow(workflow(`steps:\n  - id: flaky\n    retry: { backoff: 0.001 }\n    http: { url: "${server.url}/flaky" }\n`), { onEvent });
    assert.equal(report.steps['flaky']!.status, 'succeeded');
    assert.equal(report.steps['flaky']!.attempts, 3);
    assert.deepEqual(events.filter((e) => e.type === 'step:notice').map((e) => e.type === 'step:notice' && e.notice.type === 'waiting' && e.notice.reason), [`retry 1 of 3: GET ${server.url}/flaky → HTTP 503: busy`, `retry 2 of 3: GET ${server.url}/flaky → HTTP 503: busy`]);
  });

  it('gives up after `attempts` and does not retry other 4xx', async () => {
    server.route('/down', (_req, res) => reply(res, 502, 'bad gateway'));
    server.route('/missing', (_req, res) => reply(res, 404, 'not found'));
    const down = await runWorkflow(workflow(`steps:\n  - id: down\n    retry: { attempts: 2, backoff: 0 }\n    http: { url: "${server.url}/down" }\n`));
    assert.equal(down.steps['down']!.error, `GET ${server.url}/down → HTTP 502: bad gateway (after 2 attempts)`);
    assert.equal(server.byPath('/down').length, 2);
    const missing = await runWorkflow(workflow(`steps:\n  - id: missing\n    http: { url: "${server.url}/missing" }\n`));
    assert.equal(missing.steps['missing']!.attempts, 1);
    assert.equal(server.byPath('/missing').length, 1);
  });

  it('waits out 429 as long as Retry-After says, without using up attempts', async () => {
    let calls = 0;
    server.route('/limited', (_req, res) => (++calls <= 5 ? reply(res, 429, 'slow down', { 'retry-after-ms': '5' }) : reply(res, 200, { calls })));
    const report = await runWorkflow(workflow(`steps:\n  - id: limited\n    retry: { attempts: 2, backoff: 30 }\n    http: { url: "${server.url}/limited" }\n`));
    assert.equal(report.steps['limited']!.status, 'succeeded');
    assert.deepEqual(report.steps['limited']!.output, { calls: 6 });
    assert.equal(report.steps['limited']!.attempts, 6);
  });

  it('never waits past the run’s cancellation', async () => {
    server.route('/later', (_req, res) => reply(res, 429, 'later', { 'retry-after': '300' }));
    const controller = new AbortController();
    const running = runWorkflow(workflow(`steps:\n  - id: later\n    timeout: 600\n    http: { url: "${server.url}/later" }\n`), { signal: controller.signal, onEvent: (e) => e.type === 'step:notice' && controller.abort() });
    const report = await running;
    assert.equal(report.steps['later']!.status, 'cancelled');
  });
});

describe('the http action', () => {
  it('exposes statusCode and headers; text bodies stay text', async () => {
    server.route('/meta/text', (_req, res) => reply(res, 201, 'plain words', { 'x-request-id': 'r-1' }));
    server.route('/meta/echo', (req, res) => reply(res, 200, { query: req.headers['x-echo'] }));
    const spec = workflow(`
steps:
  - id: text
    http: { method: POST, url: "${server.url}/meta/text", body: "raw" }
  - id: echo
    http:
      url: "${server.url}/meta/echo"
      headers: { x-echo: "\${steps.text.statusCode} \${steps.text.headers.x-request-id} \${steps.text.output}" }
`);
    const report = await runWorkflow(spec);
    assert.equal(report.steps['text']!.output, 'plain words');
    assert.deepEqual(report.steps['echo']!.output, { query: '201 r-1 plain words' });
  });

  it('fails a step that times out, with a clear message, and aborts the request', async () => {
    const never = new Gate();
    server.route('/slow', async () => never.wait());
    const spec = workflow(`steps:\n  - id: slow\n    retry: { attempts: 1 }\n    http: { url: "${server.url}/slow", timeout: 0.05 }\n`);
    const report = await runWorkflow(spec);
    assert.equal(report.steps['slow']!.status, 'failed');
    assert.equal(report.steps['slow']!.errorCode, 'timeout');
    assert.equal(report.steps['slow']!.error, `GET ${server.url}/slow: timed out after 0.05 s (set by \`http.timeout\`)`);
    await server.until(() => server.byPath('/slow')[0]?.endedAt !== undefined);
    assert.equal(server.byPath('/slow')[0]!.aborted, true);
    never.open();
  });

  it('names an unreachable server and keeps secrets out of the message', async () => {
    const secret = 'sk-test-0123456789abcdefghij';
    const closed = await StandIn.start();
    const url = closed.url;
    await closed.close();
    const spec = workflow(`steps:\n  - id: down\n    retry: { attempts: 2, backoff: 0 }\n    http: { url: "${url}/\${env.CONDUCTOR_TEST_KEY}" }\n`);
    const report = await runWorkflow(spec, { env: { CONDUCTOR_TEST_KEY: secret } });
    assert.equal(report.steps['down']!.status, 'failed');
    assert.equal(report.steps['down']!.error, `GET ${url}/***: request failed (ECONNREFUSED) (after 2 attempts)`);
    assert.ok(!JSON.stringify(report).includes(secret));
  });
});

describe('a run never leaves work behind', () => {
  it('a listener that throws aborts the steps in flight, waits for them, and ends the run failed with run:end', async () => {
    const never = new Gate();
    server.route('/listener/a', async () => never.wait());
    server.route('/listener/b', async () => never.wait());
    // `c` answers once both others are in flight; the listener throws on its step:end.
    server.route('/listener/c', async (_req, res) => {
      await server.until(() => server.byPath('/listener/a').length === 1 && server.byPath('/listener/b').length === 1);
      reply(res, 200, { ok: true });
    });
    const spec = workflow(`steps:\n${httpSteps(['a', 'b', 'c'], 'listener')}`);
    const events: RunEvent[] = [];
    const report = await runWorkflow(spec, {
      onEvent: (event) => {
        events.push(event);
        if (event.type === 'step:end' && event.stepId === 'c') throw new Error('the reporter broke');
      },
    });
    never.open();
    assert.equal(report.status, 'failed');
    assert.equal(report.errorCode, 'listener_failed');
    assert.match(report.error!, /an event listener failed: the reporter broke/);
    assert.deepEqual([report.steps['a']!.status, report.steps['b']!.status, report.steps['c']!.status], ['cancelled', 'cancelled', 'succeeded']);
    assert.equal(events.at(-1)!.type, 'run:end');
    await server.until(() => ['a', 'b'].every((id) => server.byPath(`/listener/${id}`)[0]?.endedAt !== undefined));
    assert.deepEqual(['a', 'b'].map((id) => server.byPath(`/listener/${id}`)[0]!.aborted), [true, true]);
  });

  it('a listener that throws a typed error (a store that failed) ends the run with that error', async () => {
    const spec = workflow(`steps:\n${httpSteps(['a', 'b'], 'typed')}\n`);
    const report = await runWorkflow(spec, {
      onEvent: (event) => {
        if (event.type === 'run:start') throw new ConductorError('store_failed', 'cannot record the run in /x/runs.db: database or disk is full', { hint: 'free some space' });
      },
    });
    assert.equal(report.status, 'failed');
    assert.equal(report.errorCode, 'store_failed');
    assert.equal(report.hint, 'free some space');
    assert.deepEqual([report.steps['a']!.status, report.steps['b']!.status], ['not_run', 'not_run']);
    assert.equal(server.requests.filter((r) => r.path.startsWith('/typed/')).length, 0);
  });

  it('a signal aborted with a typed error fails the run with it, instead of cancelling', async () => {
    const never = new Gate();
    server.route('/external/a', async () => never.wait());
    const controller = new AbortController();
    const spec = workflow(`steps:\n${httpSteps(['a'], 'external')}`);
    const running = runWorkflow(spec, { signal: controller.signal });
    await server.until(() => server.byPath('/external/a').length === 1);
    controller.abort(new ConductorError('store_failed', 'the run store failed'));
    const report = await running;
    never.open();
    assert.equal(report.status, 'failed');
    assert.equal(report.errorCode, 'store_failed');
    assert.equal(report.steps['a']!.status, 'cancelled');
  });
});

describe('preparing actions', () => {
  it('loads the clients of the actions a workflow uses before run:start, and no others', async () => {
    const order: string[] = [];
    const prepared = (name: string) => ({
      name,
      description: name,
      schema: z.strictObject({ say: z.string() }),
      prepare: async () => {
        order.push(`prepare ${name}`);
      },
      run: async (input: { say: string }) => ({ output: input.say }),
    });
    const actions = new ActionRegistry([...builtinActions().all(), prepared('used'), prepared('unused')]);
    const { parseWorkflow } = await import('../definition/load.ts');
    const spec = parseWorkflow(`steps:\n  - id: a\n    used: { say: hi }\n  - id: b\n    used: { say: there }\n`, 'wf.yaml', { actions });
    const report = await runWorkflow(spec, { actions, onEvent: (e) => order.push(e.type) });
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(order.slice(0, 2), ['prepare used', 'run:start']);
    assert.ok(!order.includes('prepare unused'));
  });
});

describe('a run leaves nothing behind', () => {
  const action = (name: string, run: (input: { n: number }, ctx: import('../actions/types.ts').ActionContext) => Promise<{ output: unknown }>) => ({
    name,
    description: name,
    schema: z.strictObject({ n: z.number() }),
    run,
  });

  it('a listener that throws on step:start starts nothing more', async () => {
    const started: number[] = [];
    const actions = new ActionRegistry([
      ...builtinActions().all(),
      action('work', async (input, ctx) => {
        started.push(input.n);
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        return { output: null };
      }),
    ]);
    const { parseWorkflow } = await import('../definition/load.ts');
    const spec = parseWorkflow(`steps:\n${[1, 2, 3, 4].map((n) => `  - id: s${n}\n    work: { n: ${n} }\n`).join('')}`, 'wf.yaml', { actions });
    const report = await runWorkflow(spec, {
      actions,
      onEvent: (e) => {
        if (e.type === 'step:start' && e.stepId === 's2') throw new Error('broken reporter');
      },
    });
    assert.equal(report.status, 'failed');
    assert.deepEqual(Object.values(report.steps).map((s) => s.status).slice(2), ['not_run', 'not_run']);
    assert.ok(!started.includes(3) && !started.includes(4));
  });

  it('no timer of a finished step is left running, even when it waited untimed until the run stopped', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const actions = new ActionRegistry([
      ...builtinActions().all(),
      // Waits "in a queue" (untimed) until the run is aborted, then the queue lets it go a moment later.
      action('queued', async (_input, ctx) => {
        await ctx.untimed(new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => setImmediate(resolve), { once: true })));
        return { output: null };
      }),
      action('boom', async () => {
        throw new Error('boom');
      }),
    ]);
    const { parseWorkflow } = await import('../definition/load.ts');
    const spec = parseWorkflow(`steps:\n  - id: q\n    timeout: 300\n    queued: { n: 1 }\n  - id: b\n    boom: { n: 2 }\n`, 'wf.yaml', { actions });
    const before = timers();
    const report = await runWorkflow(spec, { actions });
    assert.equal(report.status, 'failed');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(timers(), before, 'the queued step did not start its 300 s clock again');
  });
});

/**
 * `conductor serve`: runs over HTTP against a real server on 127.0.0.1 — started from a file or posted text,
 * followed over Server-Sent Events (replay, live, Last-Event-ID), cancelled (the provider's held request is
 * aborted), resumed (what succeeded is reused, not called again), refused with 4xx and nothing run. The model
 * is an OpenAI stand-in whose answers a test holds until it has seen what it needs, so "running" is observed by
 * what the stand-in received, never by timing.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import { runStore } from '../src/compose.ts';
import { createApp } from '../src/server/app.ts';
import { RunManager } from '../src/server/run-manager.ts';
import type { RunStore } from '../src/store/types.ts';
import { addLlmRoutes } from './support/llm-stand-ins.ts';
import { Gate, StandIn } from './support/stand-in.ts';
import { conductor, ROOT, run } from './support/cli.ts';
import { deleteKeys, redisService, testPrefix, testRedis, REDIS_URL } from './support/services.ts';

const made: string[] = [];
after(() => Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true }))));
async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'conductor-serve-runs-'));
  made.push(dir);
  return dir;
}

/** Answers of each model are held until its gate opens (no gate: answered at once). */
const gates = new Map<string, Gate>();
let provider: StandIn;
before(async () => {
  provider = addLlmRoutes(await StandIn.start(), {
    intercept: async (request) => {
      await gates.get(request.model)?.wait();
      return false;
    },
  });
});
after(() => provider.close());
const calls = (model: string) => provider.requests.filter((r) => r.body.includes(`"model":"${model}"`));

interface Sse {
  events: { id: number; type: string; data: any }[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** A client of GET /api/runs/{id}/events, reading the stream with fetch (as the dashboard does). */
async function follow(base: string, runId: string, headers: Record<string, string> = {}): Promise<Sse> {
  const controller = new AbortController();
  const res = await fetch(`${base}/api/runs/${runId}/events`, { headers, signal: controller.signal });
  assert.equal(res.status, 200, await (res.status === 200 ? Promise.resolve('') : res.text()));
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const events: Sse['events'] = [];
  const ended = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const fields = Object.fromEntries(message.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
          if (fields['id'] !== undefined) events.push({ id: Number(fields['id']), type: fields['event']!, data: JSON.parse(fields['data']!) });
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  })();
  return { events, ended, close: () => controller.abort() };
}

async function eventually(test: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await test()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`never happened: ${what}`);
}

async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: JSON.parse(await res.text()) };
}
const get = async (base: string, path: string) => {
  const res = await fetch(base + path);
  return { status: res.status, body: JSON.parse(await res.text()) };
};

interface Served {
  root: string;
  home: string;
  store: RunStore;
  base: string;
  runs: RunManager;
  close(): Promise<void>;
}

/**
 * The app on 127.0.0.1 with a root holding examples/mixed.yaml (and its data), its own store, and runs whose
 * model is the stand-in; `prepare` may change the store before the server uses it.
 */
async function startServer(options: { warn?: (line: string) => void; loopbackOnly?: true; prepare?: (store: RunStore) => void } = {}): Promise<Served> {
  const root = await scratch();
  const home = await scratch();
  await cp(join(ROOT, 'examples/mixed.yaml'), join(root, 'mixed.yaml'));
  await cp(join(ROOT, 'examples/data.txt'), join(root, 'data.txt'));
  const store = await runStore(join(home, 'runs.db'));
  options.prepare?.(store);
  const env = { ...process.env, OPENAI_BASE_URL: `${provider.url}/v1`, OPENAI_API_KEY: 'sk-test-0123456789abcdef', CONDUCTOR_MODEL: 'openai:plain' };
  const runs = new RunManager({ store: async () => store, place: { env, cwd: root }, ...(options.warn ? { warn: options.warn } : {}) });
  const app = createApp({ root, store: async () => store, runs, postedRoot: join(home, 'posted'), ...(options.loopbackOnly ? { loopbackOnly: true } : {}) });
  const server = await new Promise<Server>((done) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => done(s as Server));
  });
  return {
    root,
    home,
    store,
    runs,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await runs.close();
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      await store.close();
    },
  };
}

describe('conductor serve: runs', { timeout: 300_000 }, () => {
  let served: Served;
  let root: string;
  let store: RunStore;
  let base: string;

  before(async () => {
    served = await startServer();
    ({ root, store, base } = served);
    await writeFile(join(root, 'bad.yaml'), 'name: bad\nsteps:\n  - id: a\n    llm:\n      prompt: "${steps.missing.output}"\n');
    await writeFile(join(root, 'typed.yaml'), 'inputs:\n  count:\n    type: number\nsteps:\n  - id: a\n    llm:\n      prompt: "n=${inputs.count}"\n');
  });
  after(() => served?.close());

  it('starts a workflow under the root; its events arrive live, numbered, and end with run:end; the record matches', async () => {
    const gate = new Gate();
    gates.set('watched', gate);
    const started = await post(base, '/api/runs', { workflow: 'mixed.yaml', model: 'openai:watched' });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const { runId } = started.body;
    const sse = await follow(base, runId);
    // process1–3 are running: the provider holds their three requests.
    await provider.until(() => calls('watched').length === 3);
    await eventually(() => ['process1', 'process2', 'process3'].every((s) => sse.events.some((e) => e.type === 'step:start' && e.data.stepId === s)), 'step:start of process1–3');
    assert.ok(!sse.events.some((e) => e.type === 'step:end' && e.data.stepId.startsWith('process')));
    const live = await get(base, `/api/runs/${runId}`);
    assert.equal(live.body.live, true);
    assert.equal(live.body.status, 'running');
    // The record has them pending until they end; this server knows they run.
    await eventually(async () => (await get(base, `/api/runs/${runId}`)).body.steps?.process1?.status === 'running', 'process1 shown running');
    gate.open();
    await sse.ended;
    assert.deepEqual(sse.events.map((e) => e.id), sse.events.map((_, i) => i + 1));
    assert.equal(sse.events[0]!.type, 'run:start');
    const end = sse.events.at(-1)!;
    assert.equal(end.type, 'run:end');
    assert.equal(end.data.report.status, 'succeeded');
    // The store has what the events said: the same outputs, step by step.
    const { body: report } = await get(base, `/api/runs/${runId}`);
    assert.equal(report.status, 'succeeded');
    assert.equal(report.live, false);
    assert.equal(report.workflowPath, 'mixed.yaml');
    for (const e of sse.events.filter((e) => e.type === 'step:end')) assert.deepEqual(report.steps[e.data.stepId].output, e.data.output, e.data.stepId);
    assert.deepEqual(report.outputs, end.data.report.outputs);
    assert.deepEqual(report.steps.combine.dependsOn, ['process1', 'process2', 'process3']);
    // What each step ran with: the prompt with the file's text filled in, the same in the event and the record.
    const processEnd = sse.events.find((e) => e.type === 'step:end' && e.data.stepId === 'process1')!;
    assert.match(report.steps.process1.input.prompt, /^Summarize: Conductor runs the steps/);
    assert.deepEqual(report.steps.process1.input, processEnd.data.input);

    // A late client gets the same sequence replayed; one that says where it was gets only the rest.
    const replay = await follow(base, runId);
    await replay.ended;
    assert.deepEqual(replay.events, sse.events);
    const rest = await follow(base, runId, { 'last-event-id': '5' });
    await rest.ended;
    assert.deepEqual(rest.events, sse.events.slice(5));
    // It is in the list, as any recorded run.
    const list = await get(base, '/api/runs?workflow=mixed.yaml');
    assert.ok(list.body.runs.some((r: { id: string }) => r.id === runId));
  });

  it('a client that drops and comes back with Last-Event-ID misses nothing and repeats nothing while the run goes on', async () => {
    const gate = new Gate();
    gates.set('dropped', gate);
    const { body } = await post(base, '/api/runs', { workflow: 'mixed.yaml', model: 'openai:dropped' });
    const first = await follow(base, body.runId);
    await provider.until(() => calls('dropped').length === 3);
    await eventually(() => first.events.filter((e) => e.type === 'step:start').length === 4, 'four step:starts');
    first.close();
    const seen = first.events.length;
    gate.open();
    const second = await follow(base, body.runId, { 'last-event-id': String(seen) });
    await second.ended;
    const whole = await follow(base, body.runId);
    await whole.ended;
    assert.deepEqual([...first.events, ...second.events], whole.events);
  });

  it('cancels a running run: the provider sees its request aborted, the run ends cancelled, and resume reuses what succeeded', async () => {
    gates.set('held', new Gate()); // never opened
    const { body } = await post(base, '/api/runs', { workflow: 'mixed.yaml', model: 'openai:held' });
    const sse = await follow(base, body.runId);
    await provider.until(() => calls('held').length === 3);
    const cancel = await post(base, `/api/runs/${body.runId}/cancel`, {});
    assert.equal(cancel.status, 202);
    assert.deepEqual(cancel.body, { runId: body.runId, status: 'cancelling' });
    await sse.ended;
    assert.equal(sse.events.at(-1)!.data.report.status, 'cancelled');
    await provider.until(() => calls('held').every((r) => r.endedAt !== undefined));
    assert.ok(calls('held').every((r) => r.aborted), 'every held request was aborted by the server');
    const again = await post(base, `/api/runs/${body.runId}/cancel`, {});
    assert.equal(again.status, 409);
    assert.equal(typeof again.body.hint, 'string');

    // Resumed with a model that answers: read_file is reused, process1–3 and combine run — each called once.
    const resumed = await post(base, `/api/runs/${body.runId}/resume`, { model: 'openai:answers' });
    assert.equal(resumed.status, 202, JSON.stringify(resumed.body));
    assert.equal(resumed.body.resumedFrom, body.runId);
    const next = await follow(base, resumed.body.runId);
    await next.ended;
    const report = next.events.at(-1)!.data.report;
    assert.equal(report.status, 'succeeded');
    assert.equal(report.steps.read_file.reused, true);
    assert.equal(calls('answers').length, 4);
    const view = await get(base, `/api/runs/${resumed.body.runId}`);
    assert.equal(view.body.resumedFrom, body.runId);
    // The step's history: this run, then the cancelled one, then earlier runs of the same workflow.
    const history = await get(base, `/api/runs/${resumed.body.runId}/steps/process1/history`);
    assert.equal(history.status, 200);
    assert.deepEqual(history.body.history.slice(0, 2).map((h: any) => [h.runId, h.status]), [[resumed.body.runId, 'succeeded'], [body.runId, 'cancelled']]);
    assert.ok(history.body.history.length >= 3);
    assert.equal((await get(base, `/api/runs/${resumed.body.runId}/steps/nope/history`)).status, 404);
    assert.equal((await get(base, `/api/runs/${resumed.body.runId}/steps/process1/history?limit=0`)).status, 400);
  });

  it('runs a workflow posted as YAML (llm and http steps), kept out of the root', async () => {
    const yaml = 'steps:\n  - id: a\n    llm:\n      prompt: "posted ${inputs.topic}"\ninputs:\n  topic:\n    type: string\n';
    const { status, body } = await post(base, '/api/runs', { yaml, inputs: { topic: 'tides' }, model: 'openai:posted' });
    assert.equal(status, 202, JSON.stringify(body));
    const sse = await follow(base, body.runId);
    await sse.ended;
    assert.equal(sse.events.at(-1)!.data.report.status, 'succeeded');
    assert.match(calls('posted')[0]!.body, /posted tides/);
    assert.deepEqual((await readdir(root)).sort(), ['bad.yaml', 'data.txt', 'mixed.yaml', 'typed.yaml']);
  });

  it('refuses a posted workflow that would use the server\'s machine or environment: 422, located, nothing run or kept', async () => {
    const before = provider.requests.length;
    const yaml = 'steps:\n  - id: cmd\n    shell:\n      run: id\n  - id: f\n    file:\n      action: read\n      path: /etc/passwd\n  - id: leak\n    http:\n      url: "http://127.0.0.1:9/?k=${env.OPENAI_API_KEY}"\n  - id: ok\n    llm:\n      prompt: hi\n';
    const { status, body } = await post(base, '/api/runs', { yaml });
    assert.equal(status, 422);
    assert.deepEqual(body.problems.map((p: any) => [p.file, p.line, p.code]), [
      ['posted.yaml', 2, 'posted_uses_machine'],
      ['posted.yaml', 5, 'posted_uses_machine'],
      ['posted.yaml', 9, 'posted_reads_env'],
    ]);
    assert.equal(provider.requests.length, before);
    assert.ok(!JSON.stringify(body).includes('sk-test'));
  });

  it('answers bad requests with 4xx {error, hint}, and starts nothing', async () => {
    const dotted = await post(base, '/api/runs', { workflow: './mixed.yaml', model: 'openai:dotted' });
    assert.equal(dotted.status, 202, JSON.stringify(dotted.body));
    await (await follow(base, dotted.body.runId)).ended;
    const before = (await store.listRuns(1000)).length;
    const cases: [unknown, number][] = [
      [{ workflow: 'bad.yaml' }, 422],
      [{ workflow: '../mixed.yaml' }, 403],
      [{ workflow: '/etc/passwd.yaml' }, 403],
      [{ workflow: 'missing.yaml' }, 404],
      [{ workflow: 'typed.yaml', inputs: { count: 'many' } }, 422],
      [{ workflow: 'mixed.yaml', yaml: 'steps: []' }, 400],
      [{}, 400],
      [{ workflow: 'mixed.yaml', maxConcurrency: 0 }, 400],
      [{ workflow: 'mixed.yaml', maxCost: -1 }, 400],
      [{ workflow: 'mixed.yaml', surprise: true }, 400],
      ['{not json', 400],
      [{ yaml: 'steps:\n  - id: a\n    nope: 1\n' }, 422],
    ];
    for (const [request, expected] of cases) {
      const { status, body } = await post(base, '/api/runs', request);
      assert.equal(status, expected, `${JSON.stringify(request)} → ${JSON.stringify(body)}`);
      assert.equal(typeof body.error, 'string');
      if (status === 422) assert.ok(body.problems.length > 0 && body.problems.every((p: any) => p.line > 0 && p.column > 0), JSON.stringify(body));
    }
    const bad = await post(base, '/api/runs', { workflow: 'bad.yaml' });
    assert.deepEqual(bad.body.problems.map((p: any) => [p.file, p.line]), [['bad.yaml', 5]]);
    for (const path of ['/api/runs/nope/cancel', '/api/runs/nope/resume']) assert.equal((await post(base, path, {})).status, 404, path);
    assert.equal((await get(base, '/api/runs/nope/events')).status, 404);
    const huge = await post(base, '/api/runs', { yaml: 'x'.repeat(2_000_000) });
    assert.equal(huge.status, 413);
    assert.equal((await store.listRuns(1000)).length, before);
  });

  it('keeps each run\'s limits its own: two runs of maxConcurrency 1 each have one call in flight each', async () => {
    const gate = new Gate();
    gates.set('limited', gate);
    const a = await post(base, '/api/runs', { workflow: 'mixed.yaml', model: 'openai:limited', maxConcurrency: 1 });
    const b = await post(base, '/api/runs', { workflow: 'mixed.yaml', model: 'openai:limited', maxConcurrency: 1 });
    const streams = await Promise.all([follow(base, a.body.runId), follow(base, b.body.runId)]);
    await provider.until(() => calls('limited').length === 2);
    // Each run holds one request; neither started a second while its first is held.
    const byRun = (runId: string) => streams.find((s) => s.events[0]?.data.runId === runId)!;
    const started = (id: string) => byRun(id).events.filter((e) => e.type === 'step:start' && e.data.stepId.startsWith('process')).length;
    await eventually(() => streams.every((s) => s.events.length > 0) && started(a.body.runId) >= 1 && started(b.body.runId) >= 1, 'a process step started in each run');
    for (const id of [a.body.runId, b.body.runId]) assert.equal(started(id), 1, id);
    gate.open();
    await Promise.all(streams.map((s) => s.ended));
    assert.equal(calls('limited').length, 8);
    for (const s of streams) assert.equal(s.events.at(-1)!.data.report.status, 'succeeded');
  });
});

describe('conductor serve --queue: the command, with a worker', { ...(await redisService()).options, timeout: 300_000 }, () => {
  it('runs llm steps on the worker; Ctrl-C cancels a live run (its held call aborted, recorded cancelled) and exits 0', async (t) => {
    const prefix = testPrefix();
    const queue = `${REDIS_URL}?prefix=${prefix.slice(0, -1)}`;
    const root = await scratch();
    const home = await scratch();
    await cp(join(ROOT, 'examples/mixed.yaml'), join(root, 'mixed.yaml'));
    await cp(join(ROOT, 'examples/data.txt'), join(root, 'data.txt'));
    const storePath = join(home, 'runs.db');
    const env = { OPENAI_BASE_URL: `${provider.url}/v1`, OPENAI_API_KEY: 'sk-test-0123456789abcdef', CONDUCTOR_HOME: home };
    const redis = testRedis();
    const worker = conductor(['worker', '--queue', queue, '--store', storePath], { env });
    t.after(async () => {
      worker.child.kill('SIGKILL');
      await worker.done;
      await deleteKeys(redis, prefix);
      redis.disconnect();
    });
    let workerLog = '';
    worker.child.stderr!.on('data', (d: Buffer) => (workerLog += d));
    await eventually(() => workerLog.includes('takes steps from'), 'the worker is ready');

    const server = conductor(['serve', '--port', '0', '--root', root, '--store', storePath, '--queue', queue], { env });
    let serverLog = '';
    server.child.stderr!.on('data', (d: Buffer) => (serverLog += d));
    await eventually(() => /conductor serve: http:\/\/127\.0\.0\.1:\d+/.test(serverLog), 'the server listens');
    const base = /conductor serve: (http:\/\/127\.0\.0\.1:\d+)/.exec(serverLog)![1]!;

    const done = await post(base, '/api/runs', { workflow: 'mixed.yaml', model: 'openai:queued' });
    assert.equal(done.status, 202, JSON.stringify(done.body));
    const sse = await follow(base, done.body.runId);
    await sse.ended;
    const { body: report } = await get(base, `/api/runs/${done.body.runId}`);
    assert.equal(report.status, 'succeeded');
    for (const id of ['process1', 'process2', 'process3', 'combine']) assert.match(report.steps[id].worker ?? '', /:\d+$/, id);
    assert.equal(report.steps.read_file.worker, undefined);
    assert.equal(calls('queued').length, 4);

    gates.set('stopped', new Gate()); // never opened
    const held = await post(base, '/api/runs', { workflow: 'mixed.yaml', model: 'openai:stopped' });
    const watching = await follow(base, held.body.runId);
    await provider.until(() => calls('stopped').length === 3);
    server.child.kill('SIGINT');
    const exit = await server.done;
    assert.equal(exit.code, 0, exit.stderr);
    await watching.ended;
    assert.equal(watching.events.at(-1)!.data.report.status, 'cancelled');
    await provider.until(() => calls('stopped').every((r) => r.endedAt !== undefined));
    assert.ok(calls('stopped').every((r) => r.aborted));
    const listed = await run(['runs', '--json', '--store', storePath], { env });
    const recorded = (JSON.parse(listed.stdout) as { id: string; status: string }[]).find((r) => r.id === held.body.runId);
    assert.equal(recorded?.status, 'cancelled');
  });
});

describe('conductor serve: what a client cannot do', { timeout: 300_000 }, () => {
  let served: Served;
  let root: string;
  let home: string;
  let store: RunStore;
  let base: string;
  const warnings: string[] = [];
  let failDurations = false;

  before(async () => {
    served = await startServer({
      warn: (line) => warnings.push(line),
      loopbackOnly: true,
      // A store whose history cannot be read when a test says so: the run fails before its first event.
      prepare: (store) => {
        const durations = store.durations.bind(store);
        store.durations = (workflow, n) => (failDurations ? Promise.reject(new Error('the history is unreadable')) : durations(workflow, n));
      },
    });
    ({ root, home, store, base } = served);
  });
  after(() => served?.close());

  it('refuses what a page on another site could send: a body not JSON (415), another Origin or a cross-site fetch (403); nothing starts', async () => {
    const before = (await store.listRuns(100)).length;
    const body = JSON.stringify({ workflow: 'mixed.yaml' });
    const tries: [Record<string, string>, number][] = [
      [{ 'content-type': 'text/plain' }, 415],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, 415],
      [{}, 415],
      [{ 'content-type': 'application/json', origin: 'http://evil.example' }, 403],
      [{ 'content-type': 'application/json', origin: 'null' }, 403],
      [{ 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }, 403],
      [{ 'content-type': 'application/json', 'sec-fetch-site': 'same-site' }, 403],
    ];
    for (const [headers, expected] of tries) {
      const res = await fetch(`${base}/api/runs`, { method: 'POST', headers, body });
      assert.equal(res.status, expected, JSON.stringify(headers));
      assert.equal(typeof ((await res.json()) as { hint?: string }).hint, 'string');
    }
    assert.equal((await fetch(`${base}/api/runs/x/cancel`, { method: 'POST', headers: { origin: 'http://evil.example' } })).status, 403);
    assert.equal((await store.listRuns(100)).length, before);
    // Behind a proxy that rewrites Host, the page's Origin differs from the Host seen here: the browser's own
    // word (Sec-Fetch-Site) decides.
    const proxied = await fetch(`${base}/api/runs/x/cancel`, { method: 'POST', headers: { origin: 'https://conductor.example.com', 'sec-fetch-site': 'same-origin' } });
    assert.equal(proxied.status, 404);
    // The dashboard itself: same origin, JSON.
    const own = await fetch(`${base}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json', origin: base, 'sec-fetch-site': 'same-origin' }, body });
    assert.equal(own.status, 202);
    const sse = await follow(base, ((await own.json()) as { runId: string }).runId);
    await sse.ended;
  });

  it('takes no input named like a property every object has: 422 unknown_input, not a 500', async () => {
    for (const name of ['toString', 'constructor', 'hasOwnProperty']) {
      const { status, body } = await post(base, '/api/runs', `{"workflow": "mixed.yaml", "inputs": {"${name}": 1}}`);
      assert.equal(status, 422, `${name}: ${JSON.stringify(body)}`);
      assert.equal(body.problems[0].code, 'unknown_input', name);
    }
  });

  it('refuses a posted workflow that could hold too many items (a raised maxItems, or lists repeated by aliases)', async () => {
    const raised = await post(base, '/api/runs', { yaml: 'config:\n  maxItems: 100000000\nsteps:\n  - id: a\n    foreach: [1, 2]\n    llm:\n      prompt: "${item}"\n' });
    assert.equal(raised.status, 422);
    assert.ok(raised.body.problems.some((p: any) => p.code === 'posted_too_many'));
    const steps = Array.from({ length: 11 }, (_, i) => `  - id: s${i}\n    foreach: [1, 2]\n    llm:\n      prompt: "\${item}"\n`).join('');
    const wide = await post(base, '/api/runs', { yaml: `steps:\n${steps}` });
    assert.equal(wide.status, 422);
    assert.deepEqual(wide.body.problems.map((p: any) => [p.code, p.line]), [['posted_too_many', 2]]);
  });

  it('finds a live run by the short id `conductor runs` shows: its view, its events and its cancel', async () => {
    gates.set('short', new Gate()); // never opened
    const { body } = await post(base, '/api/runs', { workflow: 'mixed.yaml', model: 'openai:short' });
    await provider.until(() => calls('short').length === 3);
    const short = body.runId.slice(0, 8);
    await eventually(async () => (await get(base, `/api/runs/${short}`)).body.live === true, 'the short id shows the live run');
    const sse = await follow(base, short);
    await eventually(() => sse.events.some((e) => e.type === 'step:start' && e.data.stepId === 'process1'), 'live events by the short id');
    const cancel = await post(base, `/api/runs/${short}/cancel`, {});
    assert.equal(cancel.status, 202);
    assert.equal(cancel.body.runId, body.runId);
    await sse.ended;
    assert.equal(sse.events.at(-1)!.data.report.status, 'cancelled');
    assert.equal((await get(base, '/api/runs/not%20an%20id')).status, 400);
  });

  it('replays a run it no longer holds from the record, without ids; to a client that had ids, only how it ended', async () => {
    const { body } = await post(base, '/api/runs', { workflow: 'mixed.yaml', model: 'openai:replayed' });
    const live = await follow(base, body.runId);
    await live.ended;
    // Another server on the same store (or this one after a restart) holds nothing of it in memory.
    const other = new RunManager({ store: async () => store, place: { env: {}, cwd: root } });
    const app = createApp({ root, store: async () => store, runs: other, postedRoot: join(home, 'posted') });
    const res = await app.request(`/api/runs/${body.runId}/events`);
    const text = await res.text();
    assert.doesNotMatch(text, /^id:/m);
    const types = [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    assert.deepEqual(types, live.events.map((e) => e.type));
    const after = await (await app.request(`/api/runs/${body.runId}/events`, { headers: { 'last-event-id': '3' } })).text();
    assert.deepEqual([...after.matchAll(/^event: (.+)$/gm)].map((m) => m[1]), ['run:end']);
    assert.equal(JSON.parse(/^data: (.+)$/m.exec(after)![1]!).report.status, 'succeeded');
  });

  it('tells followers how a run ended that could not run at all, and says why in the server\'s log', async () => {
    failDurations = true;
    try {
      const { status, body } = await post(base, '/api/runs', { workflow: 'mixed.yaml' });
      assert.equal(status, 202);
      const sse = await follow(base, body.runId);
      await sse.ended;
      const end = sse.events.at(-1)!;
      assert.equal(end.type, 'run:end');
      assert.equal(end.data.report.status, 'failed');
      assert.match(end.data.report.error, /history is unreadable/);
      const view = await get(base, `/api/runs/${body.runId}`);
      assert.equal(view.body.live, false);
      assert.equal(view.body.status, 'failed');
      assert.match(view.body.error, /history is unreadable/);
      assert.ok(warnings.some((line) => line.includes(body.runId) && line.includes('history is unreadable')), warnings.join('\n'));
    } finally {
      failDurations = false;
    }
  });
});

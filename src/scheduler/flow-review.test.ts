/**
 * Review of the run loop's side of #13 (foreach, if, continueOnError, skips): defects found by adversarial tests,
 * each failed before its fix, and guards for
 * what was probed and holds. Deterministic: deferred promises, microtask order, a stand-in server; no clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { reply, StandIn } from '../../test/support/stand-in.ts';
import { tempDir, workflow } from '../../test/support/workflow.ts';
import { builtinActions } from '../actions/builtin.ts';
import { ActionRegistry } from '../actions/registry.ts';
import type { ActionContext } from '../actions/types.ts';
import type { RunEvent } from '../core/events.ts';
import { parseWorkflow } from '../definition/load.ts';
import { prepareRun, withEstimates } from './prepare.ts';
import { runWorkflow, type ReusableItem, type RunOptions } from './run.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

type Behaviour = (input: { k: unknown }, ctx: ActionContext) => Promise<{ output: unknown; properties?: Record<string, unknown> }>;

/** The built-in actions and `ctl: { k }`, which does what the test says. */
function withCtl(behaviour: Behaviour): ActionRegistry {
  return new ActionRegistry([...builtinActions().all(), { name: 'ctl', description: 'a test action', schema: z.strictObject({ k: z.unknown() }), run: behaviour }]);
}
const echoCtl = withCtl(async (input) => ({ output: input.k }));

/** Each item's key and output from a run's item:end events: what a store would keep for `reuseItems`. */
function recordedItems(events: RunEvent[], stepId: string): ReadonlyMap<number, ReusableItem> {
  return new Map(events.flatMap((e) => (e.type === 'item:end' && e.stepId === stepId && e.status === 'succeeded' ? [[e.index, { key: e.key, output: e.output }] as const] : [])));
}

/** Runs `first`, then `second` with the first run's items offered for reuse; the second run's report. */
async function rerunWithItems(first: string, second: string, options: { first?: RunOptions; second?: RunOptions } = {}) {
  const events: RunEvent[] = [];
  await runWorkflow(workflow(first), { ...options.first, onEvent: (e) => events.push(e) });
  return runWorkflow(workflow(second), { ...options.second, reuseItems: { each: recordedItems(events, 'each') } });
}

/** Every ordering rule of the run's events that a listener may rely on; the broken ones, as text. */
function orderProblems(events: RunEvent[]): string[] {
  const problems: string[] = [];
  const started = new Set<string>();
  const ended = new Set<string>();
  const items = new Map<string, Set<number>>();
  for (const e of events) {
    if (e.type === 'step:start') {
      if (started.has(e.stepId)) problems.push(`step:start twice for ${e.stepId}`);
      started.add(e.stepId);
    } else if (e.type === 'step:end') {
      if (ended.has(e.stepId)) problems.push(`step:end twice for ${e.stepId}`);
      ended.add(e.stepId);
    } else if (e.type === 'step:items' || e.type === 'item:start' || e.type === 'item:end') {
      if (!started.has(e.stepId)) problems.push(`${e.type} before step:start of ${e.stepId}`);
      if (ended.has(e.stepId)) problems.push(`${e.type} after step:end of ${e.stepId}`);
      if (e.type === 'item:end') {
        const seen = items.get(e.stepId) ?? new Set<number>();
        if (seen.has(e.index)) problems.push(`item:end twice for ${e.stepId}[${e.index}]`);
        items.set(e.stepId, seen.add(e.index));
      }
    }
  }
  return problems;
}

describe('review: secrets', () => {
  it('an item whose output feeds another step\'s credential never shows it in item:end', async () => {
    server.route('/rv-cred/login/u1', (_req, res) => reply(res, 200, { token: 'tok-abcdefgh-12345' }));
    server.fallback((_req, res) => reply(res, 200, { ok: true }));
    const events: RunEvent[] = [];
    const report = await runWorkflow(
      workflow(`steps:
  - id: login
    foreach: [u1]
    http: { url: "${server.url}/rv-cred/login/\${item}" }
  - id: use
    http: { url: "${server.url}/rv-cred/use", headers: { Authorization: "Bearer \${steps.login.output[0].token}" } }
`),
      { onEvent: (e) => events.push(e) },
    );
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(report.steps['login']!.output, [{ token: '***' }], 'the report masks it (it is redacted again at the end)');
    const shown = JSON.stringify(events.filter((e) => e.type !== 'run:end'));
    assert.ok(!shown.includes('tok-abcdefgh-12345'), 'no event carries the credential');
  });

  it('a foreach step\'s merged properties hide credential headers as a plain step\'s do', async () => {
    server.route('/rv-cookie/one', (_req, res) => reply(res, 200, { ok: 1 }, { 'set-cookie': 'k=v' }));
    server.route('/rv-cookie/each/a', (_req, res) => reply(res, 200, { ok: 1 }, { 'set-cookie': 'k=v' }));
    const events: RunEvent[] = [];
    const report = await runWorkflow(
      workflow(`steps:
  - id: one
    http: { url: "${server.url}/rv-cookie/one" }
  - id: each
    foreach: [a]
    http: { url: "${server.url}/rv-cookie/each/\${item}" }
`),
      { onEvent: (e) => events.push(e) },
    );
    const one = report.steps['one']!.properties as { headers: Record<string, string> };
    assert.equal(one.headers['set-cookie'], '***', 'a plain step hides it');
    const itemEnd = events.find((e) => e.type === 'item:end')! as Extract<RunEvent, { type: 'item:end' }>;
    assert.equal((itemEnd.properties as { headers: Record<string, string> }).headers['set-cookie'], '***', 'item:end hides it');
    const each = report.steps['each']!.properties as { headers: Record<string, string>[] };
    assert.equal(each.headers[0]!['set-cookie'], '***', 'the foreach step\'s report hides it');
    const stepEnd = events.find((e) => e.type === 'step:end' && e.stepId === 'each')! as Extract<RunEvent, { type: 'step:end' }>;
    assert.equal((stepEnd.properties as { headers: Record<string, string>[] }).headers[0]!['set-cookie'], '***', 'its step:end hides it');
  });
  it('a reused item\'s properties are redacted in item:end like its output', async () => {
    const spec = workflow(`inputs:\n  api_key: { type: string }\nsteps:\n  - id: each\n    foreach: [a]\n    llm: { model: "echo:x", prompt: "S \${item}" }\n`);
    const inputs = { api_key: 'supersecret-1234' };
    const first: RunEvent[] = [];
    await runWorkflow(spec, { inputs, onEvent: (e) => first.push(e) });
    const { key } = recordedItems(first, 'each').get(0)!;
    const events: RunEvent[] = [];
    await runWorkflow(spec, { inputs, reuseItems: { each: new Map([[0, { key, output: 'S a', properties: { note: 'supersecret-1234' } }]]) }, onEvent: (e) => events.push(e) });
    const end = events.find((e) => e.type === 'item:end')! as Extract<RunEvent, { type: 'item:end' }>;
    assert.equal(end.reused, true);
    assert.deepEqual(end.properties, { note: '***' });
  });
});

describe('review: resume keys (reuseItems)', () => {
  it('an item recorded under another prompt text is not reused', async () => {
    const wf = (prompt: string) => `steps:\n  - id: each\n    foreach: [a, b]\n    llm: { model: "echo:x", prompt: "${prompt} \${item}" }\n`;
    const report = await rerunWithItems(wf('Summarise'), wf('Translate'));
    assert.deepEqual(report.steps['each']!.output, ['Translate a', 'Translate b']);
    assert.ok(report.steps['each']!.items!.every((i) => !i.reused));
  });

  it('an item whose ${foreach.count} changed is not reused', async () => {
    const wf = (list: string) => `steps:\n  - id: each\n    foreach: ${list}\n    llm: { model: "echo:x", prompt: "\${item} of \${foreach.count}" }\n`;
    const report = await rerunWithItems(wf('[a, b, c]'), wf('[a, b, c, d]'));
    assert.deepEqual(report.steps['each']!.output, ['a of 4', 'b of 4', 'c of 4', 'd of 4']);
  });

  it('an item recorded with another model is not reused', async () => {
    const wf = `steps:\n  - id: each\n    foreach: [a, b]\n    llm: { prompt: "S \${item}" }\n`;
    const report = await rerunWithItems(wf, wf, { first: { model: 'echo:small' }, second: { model: 'echo:large' } });
    assert.ok(report.steps['each']!.items!.every((i) => !i.reused), 'answers of echo:small are not taken for echo:large');
  });

  it('an item with the same value, block and other values is reused (guard)', async () => {
    const wf = `steps:\n  - id: each\n    foreach: [a, b]\n    llm: { model: "echo:x", prompt: "S \${item}" }\n`;
    const report = await rerunWithItems(wf, wf);
    assert.deepEqual(report.steps['each']!.items!.map((i) => i.reused), [true, true]);
    const swapped = await rerunWithItems(wf, wf.replace('[a, b]', '[b, a]'));
    assert.deepEqual(swapped.steps['each']!.output, ['S b', 'S a']);
    assert.ok(swapped.steps['each']!.items!.every((i) => !i.reused), 'a reordered list reuses nothing for the wrong item');
  });
});

describe('review: a foreach step taken whole from an earlier run (resume)', () => {
  const spec = () =>
    parseWorkflow(
      `steps:
  - id: each
    foreach: [a, b]
    ctl: { k: "\${item}" }
  - id: after
    ctl: { k: "\${steps.each.items}" }
  - id: decide
    if: size(steps.each.items) == 2
    ctl: { k: 1 }
`,
      'wf.yaml',
      { actions: echoCtl },
    );

  it('still has its items: ${steps.each.items} and a condition reading them work as in the first run', async () => {
    const first = await runWorkflow(spec(), { actions: echoCtl });
    assert.equal(first.status, 'succeeded');
    const resumed = await runWorkflow(spec(), { actions: echoCtl, reuse: { each: { output: first.steps['each']!.output, ...(first.steps['each']!.properties ? { properties: first.steps['each']!.properties } : {}) } } });
    assert.equal(resumed.status, 'succeeded', resumed.error);
    assert.deepEqual(resumed.steps['after']!.output, first.steps['after']!.output);
    assert.equal(resumed.steps['decide']!.status, 'succeeded');
  });
});

describe('review: continued', () => {
  it('a foreach step without continueOnError is never reported continued', async () => {
    const reject = new Map<string, (e: Error) => void>();
    const actions = withCtl(
      (input, ctx) =>
        new Promise((_resolve, fail) => {
          reject.set(String(input.k), fail);
          ctx.signal.addEventListener('abort', () => fail(new Error('aborted')), { once: true });
          // Both failures in one tick: the loop drains them together, f0's first (it stops the run), then g0's.
          if (reject.size === 4)
            queueMicrotask(() => {
              reject.get('f0')!(new Error('f0 failed'));
              reject.get('g0')!(new Error('g0 failed'));
            });
        }),
    );
    const spec = parseWorkflow(`steps:\n  - id: f\n    foreach: [f0, f1]\n    ctl: { k: "\${item}" }\n  - id: g\n    foreach: [g0, g1]\n    ctl: { k: "\${item}" }\n`, 'wf.yaml', { actions });
    const events: RunEvent[] = [];
    const report = await runWorkflow(spec, { actions, onEvent: (e) => events.push(e) });
    assert.equal(report.status, 'failed');
    assert.match(report.error!, /^f: item 0/);
    assert.equal(report.steps['g']!.items![0]!.status, 'failed', 'the scenario: g0 failed, after the run began to stop');
    assert.equal(report.continued, undefined, 'no step has continueOnError');
    assert.equal(report.steps['g']!.continued, undefined);
    assert.ok(!events.some((e) => e.type === 'step:end' && e.continued), 'no step:end says continued');
  });
});

describe('review: outputs of a run that succeeded', () => {
  it('an output naming the items of a skipped foreach step is null, not a failure', async () => {
    const spec = parseWorkflow(
      `inputs:\n  go: { type: boolean, default: false }\nsteps:\n  - id: each\n    if: inputs.go\n    foreach: [a, b]\n    ctl: { k: "\${item}" }\noutputs:\n  out: \${steps.each.output}\n  items: \${steps.each.items}\n`,
      'wf.yaml',
      { actions: echoCtl },
    );
    const report = await runWorkflow(spec, { actions: echoCtl });
    assert.equal(report.steps['each']!.skipReason, 'condition');
    assert.equal(report.status, 'succeeded', report.error);
    assert.deepEqual(report.outputs, { out: null, items: null });
  });
});

describe('review: confinement of items', () => {
  it('an item written in the workflow is the author\'s even when another item of the list comes from a step', async (t) => {
    const root = await tempDir(t);
    const dir = join(root, 'wf');
    await mkdir(dir);
    await writeFile(join(root, 'outside.txt'), 'outside');
    await writeFile(join(dir, 'inside.txt'), 'inside');
    server.route('/rv-mixed/name', (_req, res) => reply(res, 200, 'inside.txt'));
    const literalOnly = await runWorkflow(workflow(`steps:\n  - id: each\n    foreach: ["../outside.txt"]\n    file: { action: read, path: "\${item}" }\n`, dir));
    assert.deepEqual(literalOnly.steps['each']!.output, ['outside'], 'over a literal list the item is the author\'s');
    const mixed = await runWorkflow(
      workflow(
        `steps:
  - id: name
    http: { url: "${server.url}/rv-mixed/name" }
  - id: each
    foreach: ["../outside.txt", "\${steps.name.output}"]
    file: { action: read, path: "\${item}" }
`,
        dir,
      ),
    );
    assert.equal(mixed.status, 'succeeded', mixed.error);
    assert.deepEqual(mixed.steps['each']!.output, ['outside', 'inside']);
  });

  it('an item over a step\'s list is data: it may not choose a path outside the folder, under any `as` name (guard)', async (t) => {
    const root = await tempDir(t);
    const dir = join(root, 'wf');
    await mkdir(dir);
    await writeFile(join(root, 'outside.txt'), 'outside');
    server.route('/rv-data/list', (_req, res) => reply(res, 200, ['../outside.txt']));
    const report = await runWorkflow(workflow(`steps:\n  - id: list\n    http: { url: "${server.url}/rv-data/list" }\n  - id: each\n    foreach: \${steps.list.output}\n    as: doc\n    file: { action: read, path: "\${doc}" }\n`, dir));
    assert.equal(report.status, 'failed');
    assert.equal(report.steps['each']!.items![0]!.errorCode, 'not_allowed');
  });
});

describe('review: priorities (prepare.ts)', () => {
  const spec = () => workflow(`steps:\n  - id: each\n    foreach: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n    maxConcurrency: 2\n    llm: { model: "echo:x", prompt: "\${item}" }\n`);

  it('a foreach step\'s history (its whole wall time, as the store records it) is not multiplied by its items again', () => {
    const prepared = withEstimates(prepareRun(spec()), { each: 5000 });
    assert.equal(prepared.expected[0], 5000);
  });

  it('the item factor uses the run\'s limit (--max-concurrency), not config.maxConcurrency', () => {
    const one = workflow(`steps:\n  - id: each\n    foreach: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n    llm: { model: "echo:x", prompt: "\${item}" }\n`);
    const wide = prepareRun(one);
    const narrow = prepareRun(one, { maxConcurrency: 1 });
    assert.equal(narrow.expected[0], wide.expected[0]! * 10, '10 items one at a time take ten times one item');
  });
});

describe('review: guards (probed, and holding)', () => {
  it('a skip cascading down a chain of 20,000 steps neither overflows the stack nor leaves a step unsettled', async () => {
    const lines = ['inputs:', '  go: { type: boolean, default: false }', 'steps:', '  - id: s0', '    if: inputs.go', '    ctl: { k: 0 }'];
    for (let i = 1; i < 20_000; i++) lines.push(`  - id: s${i}`, `    ctl: { k: "\${steps.s${i - 1}.output}" }`);
    const spec = parseWorkflow(lines.join('\n') + '\n', 'wf.yaml', { actions: echoCtl });
    const report = await runWorkflow(spec, { actions: echoCtl });
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(report.steps['s0'], { status: 'skipped', output: null, skipReason: 'condition' });
    assert.deepEqual(report.steps['s19999'], { status: 'skipped', output: null, skipReason: 'upstream_skipped' });
  });

  it('items of two foreach steps and plain steps together never exceed the run\'s limit or a step\'s cap, and events keep their order', async () => {
    let total = 0;
    let most = 0;
    const running = new Map<string, number>();
    const mostByStep = new Map<string, number>();
    const actions = withCtl(async (input, ctx) => {
      most = Math.max(most, ++total);
      running.set(ctx.stepId, (running.get(ctx.stepId) ?? 0) + 1);
      mostByStep.set(ctx.stepId, Math.max(mostByStep.get(ctx.stepId) ?? 0, running.get(ctx.stepId)!));
      await new Promise((resolve) => setImmediate(resolve));
      total--;
      running.set(ctx.stepId, running.get(ctx.stepId)! - 1);
      if (input.k === 'bad') throw new Error('bad item');
      return { output: input.k };
    });
    const spec = parseWorkflow(
      `config:
  maxConcurrency: 3
steps:
  - id: f
    foreach: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    maxConcurrency: 2
    ctl: { k: "\${item}" }
  - id: g
    foreach: [1, 2, bad, 4, 5, 6, 7, 8, 9, 10]
    maxConcurrency: 2
    continueOnError: true
    ctl: { k: "\${item}" }
  - id: h
    ctl: { k: h }
  - id: after
    if: steps.g.status == "failed"
    ctl: { k: "\${steps.f.output}" }
`,
      'wf.yaml',
      { actions },
    );
    const events: RunEvent[] = [];
    const report = await runWorkflow(spec, { actions, onEvent: (e) => events.push(e) });
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(report.continued, ['g']);
    assert.equal(report.steps['after']!.status, 'succeeded');
    assert.equal(most, 3);
    assert.equal(mostByStep.get('f'), 2);
    assert.equal(mostByStep.get('g'), 2);
    assert.deepEqual(orderProblems(events), []);
  });

  it('fail-fast by an item: every other item in flight is cancelled, none starts after, and events keep their order', async () => {
    const reject = new Map<string, (e: Error) => void>();
    const actions = withCtl(
      (input, ctx) =>
        new Promise((_resolve, fail) => {
          reject.set(String(input.k), fail);
          ctx.signal.addEventListener('abort', () => fail(new Error('aborted')), { once: true });
          if (reject.size === 4) queueMicrotask(() => reject.get('a1')!(new Error('a1 failed')));
        }),
    );
    const spec = parseWorkflow(
      `config:\n  maxConcurrency: 4\nsteps:\n  - id: a\n    foreach: [a0, a1, a2, a3, a4]\n    maxConcurrency: 2\n    ctl: { k: "\${item}" }\n  - id: b\n    foreach: [b0, b1, b2]\n    maxConcurrency: 2\n    ctl: { k: "\${item}" }\n  - id: c\n    ctl: { k: "\${steps.a.output}" }\n`,
      'wf.yaml',
      { actions },
    );
    const events: RunEvent[] = [];
    const report = await runWorkflow(spec, { actions, onEvent: (e) => events.push(e) });
    assert.equal(report.status, 'failed');
    assert.deepEqual(report.steps['a']!.items!.map((i) => i.status), ['cancelled', 'failed', 'not_run', 'not_run', 'not_run']);
    assert.deepEqual(report.steps['b']!.items!.map((i) => i.status), ['cancelled', 'cancelled', 'not_run']);
    assert.equal(report.steps['b']!.status, 'cancelled');
    assert.deepEqual(report.steps['c'], { status: 'skipped', output: null, skipReason: 'upstream_failed' });
    assert.equal(reject.size, 4, 'nothing started after the failure');
    assert.deepEqual(orderProblems(events), []);
  });
});

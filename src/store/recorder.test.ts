/**
 * The recorder's promises, seen from a second connection to the store (as another process, or the next
 * `resume`, would see it) right after an event is handled: no timers, no later commit.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { ConductorError } from '../core/errors.ts';
import type { RunEvent } from '../core/events.ts';
import { createRedactor } from '../core/redact.ts';
import type { RunReport } from '../core/report.ts';
import { tempDir, workflow } from '../../test/support/workflow.ts';
import { recorder } from './recorder.ts';
import { SqliteRunStore } from './sqlite.ts';
import type { NewRun, RunStore } from './types.ts';

const spec = workflow(`steps:
  - id: a
    llm: { model: echo, prompt: "a" }
  - id: b
    llm: { model: echo, prompt: "\${steps.a.output}" }
  - id: c
    llm: { model: echo, prompt: "c" }
`);
const SECRET = 'sk-live-recorder-0123456789';

async function open(t: { after(fn: () => unknown): void }) {
  const path = join(await tempDir(t), 'runs.db');
  const store = new SqliteRunStore(path);
  t.after(() => store.close());
  const other = new DatabaseSync(path, { readOnly: true });
  t.after(() => other.close());
  const rows = (runId: string) => other.prepare('SELECT step_id, output, properties, reused, redacted FROM step_runs WHERE run_id = ? ORDER BY step_id').all(runId).map((r) => ({ ...r }));
  return { store, rows };
}

const start = { type: 'run:start', runId: 'r', workflow: spec.file, stepIds: ['a', 'b', 'c'], maxConcurrency: 10, inputs: {}, at: 1 } as const;

describe('the recorder', () => {
  it('records a resumed run and the results it reused in one commit, before anything else happens', async (t) => {
    const { store, rows } = await open(t);
    const listener = recorder(store, spec, { redact: (s) => s, fingerprints: ['fa', 'fb', 'fc'], reuse: { a: { output: 'A' }, b: { output: 'B', properties: { model: 'echo' } } } });
    listener(start);
    // A kill -9 here leaves exactly this.
    assert.deepEqual(rows('r'), [
      { step_id: 'a', output: '"A"', properties: null, reused: 1, redacted: 0 },
      { step_id: 'b', output: '"B"', properties: '{"model":"echo"}', reused: 1, redacted: 0 },
    ]);
    // The run's own reused step:end events then change nothing.
    listener({ type: 'step:end', runId: 'r', stepId: 'a', status: 'succeeded', at: 1, output: 'A', reused: true });
    await listener.flush();
    store.flush();
    assert.equal(rows('r').length, 2);
  });

  it('marks a result from which a secret was taken out, by it or by the run (a credential header)', async (t) => {
    const { store, rows } = await open(t);
    const listener = recorder(store, spec, { redact: createRedactor([SECRET]), fingerprints: ['fa', 'fb', 'fc'] });
    listener(start);
    const end = (stepId: string, output: unknown, properties?: Record<string, unknown>, redacted?: true) =>
      listener({ type: 'step:end', runId: 'r', stepId, status: 'succeeded', at: 2, output, ...(properties ? { properties } : {}), ...(redacted ? { redacted } : {}) });
    end('a', `key=${SECRET}`);
    // The run took the cookie's value out before the event (the http action's withoutCredentials) and says so.
    end('b', 'plain', { headers: { 'set-cookie': '***', 'content-type': 'text/plain' } }, true);
    end('c', 'plain', { model: 'echo' });
    await listener.flush();
    store.flush();
    assert.deepEqual(
      rows('r').map((r) => [r['step_id'], r['output'], r['redacted']]),
      [['a', '"key=***"', 1], ['b', '"plain"', 1], ['c', '"plain"', 0]],
    );
  });
});

/** A store that keeps every call, to see what the recorder asks of it (and what it does not). */
function callLog(): { store: RunStore; calls: [string, ...unknown[]][] } {
  const calls: [string, ...unknown[]][] = [];
  const store: RunStore = {
    location: 'calls',
    startRun: async (run) => void calls.push(['startRun', run]),
    recordStep: async (_runId, stepId, result) => void calls.push(['recordStep', stepId, result]),
    recordItem: async (_runId, stepId, item) => void calls.push(['recordItem', stepId, item]),
    recordStepOnce: async () => false,
    recordItemOnce: async () => false,
    recordedSuccess: async () => undefined,
    finishRun: async (_runId, result) => void calls.push(['finishRun', result.status]),
    listRuns: async () => [],
    getRun: async () => undefined,
    durations: async () => new Map(),
    close: async () => undefined,
  };
  return { store, calls };
}

const foreachSpec = workflow(`steps:
  - id: list
    llm: { model: echo, prompt: "a" }
  - id: each
    llm: { model: echo, prompt: "\${steps.list.output}" }
  - id: urgent
    llm: { model: echo, prompt: "\${steps.list.output}" }
  - id: combine
    llm: { model: echo, prompt: "\${steps.each.output}" }
`);
const run4 = { ...start, stepIds: ['list', 'each', 'urgent', 'combine'] };
const report = (steps: RunReport['steps']): RunReport => ({ runId: 'r', workflow: foreachSpec.file, status: 'succeeded', startedAt: '', finishedAt: '', durationMs: 1, steps, outputs: {}, usage: {}, cost: { usd: 0, byModel: {} } });

describe('the recorder, with foreach steps, conditions and continued failures', () => {
  it('records each item as it ends (timed from its item:start), the step with its continued failure and item count, and each skip once, with its reason', async () => {
    const { store, calls } = callLog();
    const listener = recorder(store, foreachSpec, { fingerprints: ['fl', 'fe', 'fu', 'fc'], redact: createRedactor([SECRET]) });
    const events: RunEvent[] = [
      run4,
      { type: 'step:start', runId: 'r', stepId: 'list', at: 2 },
      { type: 'step:end', runId: 'r', stepId: 'list', status: 'succeeded', at: 3, output: ['x', 'y', 'z'] },
      // Skipped during the run: a step:end without a step:start.
      { type: 'step:end', runId: 'r', stepId: 'urgent', status: 'skipped', skipReason: 'condition', at: 3 },
      { type: 'step:start', runId: 'r', stepId: 'each', at: 4 },
      { type: 'step:items', runId: 'r', stepId: 'each', count: 3, at: 4 },
      { type: 'item:start', runId: 'r', stepId: 'each', index: 0, at: 5 },
      { type: 'item:start', runId: 'r', stepId: 'each', index: 1, at: 6 },
      { type: 'item:end', runId: 'r', stepId: 'each', index: 1, key: 'k1', status: 'failed', at: 9, attempts: 2, error: `bad key ${SECRET}`, errorCode: 'http_error', hint: 'check it' },
      { type: 'item:end', runId: 'r', stepId: 'each', index: 0, key: 'k0', status: 'succeeded', at: 10, attempts: 1, output: 'X', properties: { model: 'echo' } },
      { type: 'item:start', runId: 'r', stepId: 'each', index: 2, at: 11 },
      { type: 'item:end', runId: 'r', stepId: 'each', index: 2, key: 'k2', status: 'succeeded', at: 12, attempts: 1, output: `z ${SECRET}` },
      {
        type: 'step:end', runId: 'r', stepId: 'each', status: 'failed', continued: true, at: 13, error: '1 of 3 items failed', attempts: 1,
        items: [{ index: 0, status: 'succeeded', attempts: 1 }, { index: 1, status: 'failed', attempts: 2, error: 'bad key ***' }, { index: 2, status: 'succeeded', attempts: 1 }],
      },
      {
        type: 'run:end', runId: 'r', at: 14,
        report: report({
          list: { status: 'succeeded', output: ['x', 'y', 'z'] },
          each: { status: 'failed', output: ['X', null, 'z ***'], continued: true },
          urgent: { status: 'skipped', output: null, skipReason: 'condition' },
          combine: { status: 'skipped', output: null, skipReason: 'upstream_failed' },
        }),
      },
    ];
    for (const event of events) listener(event);
    await listener.flush();
    const recorded = calls.slice(1);
    assert.deepEqual(recorded, [
      ['recordStep', 'list', { status: 'succeeded', outputJson: '["x","y","z"]', startedAt: 2, finishedAt: 3 }],
      ['recordStep', 'urgent', { status: 'skipped', skipReason: 'condition' }],
      ['recordItem', 'each', { index: 1, key: 'k1', status: 'failed', error: 'bad key ***', errorCode: 'http_error', hint: 'check it', attempts: 2, startedAt: 6, finishedAt: 9 }],
      ['recordItem', 'each', { index: 0, key: 'k0', status: 'succeeded', outputJson: '"X"', propertiesJson: '{"model":"echo"}', attempts: 1, startedAt: 5, finishedAt: 10 }],
      ['recordItem', 'each', { index: 2, key: 'k2', status: 'succeeded', outputJson: '"z ***"', redacted: true, attempts: 1, startedAt: 11, finishedAt: 12 }],
      ['recordStep', 'each', { status: 'failed', error: '1 of 3 items failed', attempts: 1, startedAt: 4, finishedAt: 13, continued: true, itemCount: 3 }],
      // Only the step the run left pending: urgent was recorded when it was skipped.
      ['recordStep', 'combine', { status: 'skipped', skipReason: 'upstream_failed' }],
      ['finishRun', 'succeeded'],
    ]);
  });

  it('keeps the item count of a step that ends without its summary (cancelled mid-list), and records cancelled items', async () => {
    const { store, calls } = callLog();
    const listener = recorder(store, foreachSpec, { fingerprints: ['fl', 'fe', 'fu', 'fc'] });
    listener(run4);
    listener({ type: 'step:start', runId: 'r', stepId: 'each', at: 4 });
    listener({ type: 'step:items', runId: 'r', stepId: 'each', count: 500, at: 4 });
    listener({ type: 'item:start', runId: 'r', stepId: 'each', index: 0, at: 5 });
    listener({ type: 'item:end', runId: 'r', stepId: 'each', index: 0, key: 'k0', status: 'cancelled', at: 6, error: 'the run was interrupted', errorCode: 'interrupted' });
    listener({ type: 'step:end', runId: 'r', stepId: 'each', status: 'cancelled', at: 7 });
    await listener.flush();
    assert.deepEqual(calls.slice(1), [
      ['recordItem', 'each', { index: 0, key: 'k0', status: 'cancelled', error: 'the run was interrupted', errorCode: 'interrupted', startedAt: 5, finishedAt: 6 }],
      ['recordStep', 'each', { status: 'cancelled', startedAt: 4, finishedAt: 7, itemCount: 500 }],
    ]);
  });

  it('records the items a resume carries in with the run, and afterwards only the items the run ran again', async () => {
    const { store, calls } = callLog();
    const reuseItems = { each: new Map([[0, { key: 'k0', output: 'X' }], [2, { key: 'k2', output: 'Z', properties: { model: 'echo' } }]]) };
    // `list` reused whole, with its items (a foreach step too, say): they go with the run as well.
    const reuse = { list: { output: ['x'], items: [{ index: 0, key: 'kx', output: 'x' }] } };
    const listener = recorder(store, foreachSpec, { fingerprints: ['fl', 'fe', 'fu', 'fc'], reuse, reuseItems });
    listener(run4);
    await listener.flush();
    const started = calls[0]![1] as NewRun;
    assert.deepEqual(started.reusedItems, [
      { stepId: 'list', items: [{ index: 0, key: 'kx', status: 'succeeded', outputJson: '"x"', reused: true }] },
      { stepId: 'each', items: [{ index: 0, key: 'k0', status: 'succeeded', outputJson: '"X"', reused: true }, { index: 2, key: 'k2', status: 'succeeded', outputJson: '"Z"', propertiesJson: '{"model":"echo"}', reused: true }] },
    ]);
    listener({ type: 'step:end', runId: 'r', stepId: 'list', status: 'succeeded', at: 1, output: ['x'], reused: true });
    listener({ type: 'step:start', runId: 'r', stepId: 'each', at: 2 });
    listener({ type: 'step:items', runId: 'r', stepId: 'each', count: 3, at: 2 });
    // Reused: the run found the same key at that index. No item:start.
    listener({ type: 'item:end', runId: 'r', stepId: 'each', index: 0, key: 'k0', status: 'succeeded', at: 2, output: 'X', reused: true });
    // Index 2's value changed: it runs, and its new result replaces the one carried in.
    listener({ type: 'item:start', runId: 'r', stepId: 'each', index: 2, at: 3 });
    listener({ type: 'item:end', runId: 'r', stepId: 'each', index: 2, key: 'k2-new', status: 'succeeded', at: 5, output: 'Z2' });
    listener({ type: 'item:start', runId: 'r', stepId: 'each', index: 1, at: 3 });
    listener({ type: 'item:end', runId: 'r', stepId: 'each', index: 1, key: 'k1', status: 'succeeded', at: 6, output: 'Y' });
    await listener.flush();
    assert.deepEqual(calls.slice(1), [
      ['recordItem', 'each', { index: 2, key: 'k2-new', status: 'succeeded', outputJson: '"Z2"', startedAt: 3, finishedAt: 5 }],
      ['recordItem', 'each', { index: 1, key: 'k1', status: 'succeeded', outputJson: '"Y"', startedAt: 3, finishedAt: 6 }],
    ]);
  });
});

describe('the recorder over a store that answers later', () => {
  /** A store whose writes each settle when the test says, logging when each one starts. */
  function slowStore(): { store: RunStore; started: string[]; settle: (error?: Error) => void } {
    const started: string[] = [];
    const waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];
    const later = (name: string) => () => {
      started.push(name);
      return new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }));
    };
    const { store: base } = callLog();
    const store: RunStore = { ...base, startRun: later('startRun'), recordStep: later('recordStep'), recordItem: later('recordItem'), finishRun: later('finishRun') };
    const settle = (error?: Error) => {
      const next = waiting.shift()!;
      if (error) next.reject(error);
      else next.resolve();
    };
    return { store, started, settle };
  }
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  it('hands each write to the store at once, in the order of the events (the store keeps that order), and flush waits for all', async () => {
    const { store, started, settle } = slowStore();
    const listener = recorder(store, spec, { fingerprints: ['fa', 'fb', 'fc'] });
    listener(start);
    listener({ type: 'step:end', runId: 'r', stepId: 'a', status: 'succeeded', at: 2, output: 'A' });
    listener({ type: 'step:end', runId: 'r', stepId: 'b', status: 'succeeded', at: 3, output: 'B' });
    assert.deepEqual(started, ['startRun', 'recordStep', 'recordStep'], 'called in event order, before any answered');
    let flushed = false;
    const flush = listener.flush().then(() => (flushed = true));
    settle();
    await tick();
    settle();
    await tick();
    assert.equal(flushed, false, 'flush waits for the last write');
    settle();
    await flush;
    assert.ok(flushed);
    assert.deepEqual(started, ['startRun', 'recordStep', 'recordStep']);
  });

  it('throws a failed write from the next event, once, still attempting every write after it', async () => {
    const { store, started, settle } = slowStore();
    const listener = recorder(store, spec, { fingerprints: ['fa', 'fb', 'fc'] });
    listener(start);
    const failure = new ConductorError('store_failed', 'cannot write to the run store /x/runs.db: the disk is full');
    settle(failure);
    await tick();
    assert.throws(() => listener({ type: 'step:end', runId: 'r', stepId: 'a', status: 'succeeded', at: 2, output: 'A' }), failure);
    listener({ type: 'run:end', runId: 'r', at: 3, report: { runId: 'r', workflow: spec.file, status: 'failed', startedAt: '', finishedAt: '', durationMs: 1, steps: {}, outputs: {}, usage: {}, cost: { usd: 0, byModel: {} } } });
    settle();
    await tick();
    settle();
    await listener.flush();
    assert.deepEqual(started, ['startRun', 'recordStep', 'finishRun']);
  });

  it('rejects flush with a failure no event has thrown: the outcome, which no event follows', async () => {
    const { store, settle } = slowStore();
    const listener = recorder(store, spec, { fingerprints: ['fa', 'fb', 'fc'] });
    listener(start);
    settle();
    listener({ type: 'run:end', runId: 'r', at: 3, report: { runId: 'r', workflow: spec.file, status: 'succeeded', startedAt: '', finishedAt: '', durationMs: 1, steps: {}, outputs: {}, usage: {}, cost: { usd: 0, byModel: {} } } });
    const failure = new ConductorError('store_failed', 'cannot write to the run store /x/runs.db: it is locked');
    const flushed = listener.flush();
    await tick();
    settle(failure);
    await assert.rejects(flushed, failure);
    await listener.flush();
  });
});

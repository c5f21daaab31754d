/**
 * The run store's contract, as tests every store must pass (SQLite: sqlite.contract.test.ts, PostgreSQL:
 * postgres.test.ts). Only what `RunStore`'s documentation promises and callers rely on is asserted, through the
 * interface alone (a second store object on the same data stands for another process): never how a store keeps
 * it. Each test opens a store of its own, on data of its own.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it as test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConductorError } from '../core/errors.ts';
import type { ItemResult, NewRun, RunStore, StepRecord, StepResult } from './types.ts';

/** What a test may ask of the store it opens. */
export interface ContractOptions {
  heartbeatMs?: number;
  onError?: (error: ConductorError) => void;
}

export interface ContractStore {
  store: RunStore;
  /** Another store object on the same data: a second process while `store` is open, or the next one after it closed. */
  reopen: () => Promise<RunStore>;
  /** Removes the data (every store opened on it is closed first). */
  cleanup: () => Promise<void>;
  /**
   * Sets a run's last heartbeat to `agoMs` before now, on the clock the store judges it by (as a process that
   * stopped beating would have left it). Without it, the tests of interrupted runs are skipped.
   */
  setHeartbeat?: (runId: string, agoMs: number) => Promise<void>;
}

const WORKFLOW = '/w/workflow.yaml';
const steps = [
  { stepId: 'list', fingerprint: 'fl', dependsOn: [] },
  { stepId: 'each', fingerprint: 'fe.l1', dependsOn: ['list'] },
  { stepId: 'urgent', fingerprint: 'fu', dependsOn: ['list'] },
  { stepId: 'combine', fingerprint: 'fc', dependsOn: ['each'] },
];
const newRun = (id: string, extra: Partial<NewRun> = {}): NewRun => ({ id, workflow: WORKFLOW, workflowHash: 'h', inputs: {}, startedAt: Date.now(), steps, ...extra });
const item = (index: number, extra: Partial<ItemResult> = {}): ItemResult => ({ index, key: `k${index}`, status: 'succeeded', output: `out ${index}`, attempts: 1, startedAt: 1000 + index, finishedAt: 1010 + index, ...extra });
const finished = { status: 'succeeded', finishedAt: 5_000, outputs: {} } as const;
const noop = () => {};

/** A step's record as getRun gives it. */
async function stepOf(store: RunStore, runId: string, stepId: string): Promise<StepRecord> {
  const got = await store.getRun(runId);
  assert.ok(got, `run ${runId} is recorded`);
  const step = got.steps.find((s) => s.stepId === stepId);
  assert.ok(step, `step ${stepId} is planned`);
  return step;
}

/** Waits for `check` to hold, a turn at a time; the deadline is only for a failing test's message. */
async function until(what: string, check: () => Promise<boolean>, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${deadlineMs / 1000} s`);
    await sleep(5);
  }
}

export function storeContract(name: string, open: (options?: ContractOptions) => Promise<ContractStore>, options: { skip?: string | false } = {}): void {
  /** A store of the test's own, closed (with any reopened on its data) and removed after it. */
  async function session(t: TestContext, contractOptions?: ContractOptions) {
    const opened = await open(contractOptions);
    const stores = [opened.store];
    t.after(async () => {
      // Closed again where a test closed it already: close is called from `finally` blocks too.
      for (const store of stores) await Promise.resolve().then(() => store.close()).catch(noop);
      await opened.cleanup();
    });
    const reopen = async () => {
      const store = await opened.reopen();
      stores.push(store);
      return store;
    };
    return { store: opened.store, reopen, setHeartbeat: opened.setHeartbeat };
  }

  // Skipped test by test, not as a suite: the runner's summary counts skipped tests only.
  const skip = options.skip ?? false;
  const it = (title: string, fn: (t: TestContext) => Promise<void>) => test(title, { skip }, fn);

  describe(`the ${name} run store's contract`, () => {
    it('names itself', async (t) => {
      const { store } = await session(t);
      assert.equal(typeof store.location, 'string');
      assert.ok(store.location.length > 0);
    });

    it('records a run as started: inputs, settings, secret inputs, and its planned steps, all pending', async (t) => {
      const { store } = await session(t);
      const startedAt = Date.now();
      const inputs = { topic: 'é ✓', count: 3, api_key: '***', nested: { list: [1, null, true] } };
      await store.startRun(newRun('r1', { startedAt, inputs, options: { model: 'echo', maxConcurrency: 3, maxCost: 2.5 }, secretInputs: ['api_key'], resumedFrom: 'r0' }));
      await store.startRun(newRun('r2', { startedAt, secretInputs: [] }));
      const got = await store.getRun('r1');
      assert.deepEqual(got?.run, {
        id: 'r1',
        workflow: WORKFLOW,
        workflowHash: 'h',
        inputs,
        status: 'running',
        startedAt,
        pid: process.pid,
        host: hostname(),
        resumedFrom: 'r0',
        stepCount: 4,
        stepsDone: 0,
        options: { model: 'echo', maxConcurrency: 3, maxCost: 2.5 },
        secretInputs: ['api_key'],
        costUsd: 0,
      });
      assert.deepEqual(
        got.steps,
        steps.map((s, position) => ({ ...s, position, status: 'pending', reused: false, redacted: false })),
      );
      // Nothing set, nothing there: no secret inputs (an empty list), no settings, no outcome yet.
      const bare = (await store.getRun('r2'))!.run;
      for (const field of ['secretInputs', 'options', 'resumedFrom', 'error', 'finishedAt', 'outputs', 'stepsSkipped']) assert.ok(!(field in bare), `${field} is absent`);
    });

    it('gives back every result exactly as recorded, and the run\'s outcome', async (t) => {
      const { store } = await session(t);
      await store.startRun(newRun('r'));
      const list: StepResult = {
        status: 'succeeded',
        output: { text: 'é ✓ \u0000 "quoted"', list: [1, 2.5, -3, null, true, 'x'], nested: { a: { b: [] } }, big: 2 ** 53 - 1 },
        properties: { model: 'openai:m', statusCode: 200 },
        attempts: 2,
        startedAt: 1_000,
        finishedAt: 1_250,
        usage: { model: 'openai:m', inputTokens: 10, outputTokens: 5 },
        costUsd: 0.25,
        worker: 'host-a:123',
      };
      await store.recordStep('r', 'list', list);
      await store.recordStep('r', 'each', { status: 'failed', error: 'boom', errorCode: 'http_error', hint: 'retry later', errorDetail: '{"body":1}', attempts: 3, continued: true, itemCount: 0 });
      await store.recordStep('r', 'urgent', { status: 'skipped', skipReason: 'condition' });
      // Already JSON (the recorder has it from redacting): kept as that text, its keys in their order.
      await store.recordStep('r', 'combine', { status: 'succeeded', outputJson: '{"b":1,"a":[null]}', propertiesJson: '{"z":true,"y":"é"}', cached: true, costUsd: 0.5, usage: { inputTokens: 1, outputTokens: 1 } });
      await store.finishRun('r', { status: 'failed', error: 'one step failed', finishedAt: 9_000, outputs: { answer: 42, text: null } });

      const got = (await store.getRun('r'))!;
      const [listRecord, eachRecord, urgentRecord, combineRecord] = got.steps;
      assert.deepEqual(listRecord, { ...steps[0], position: 0, ...list, reused: false, redacted: false });
      assert.deepEqual(eachRecord, { ...steps[1], position: 1, status: 'failed', error: 'boom', errorCode: 'http_error', hint: 'retry later', errorDetail: '{"body":1}', attempts: 3, continued: true, itemCount: 0, reused: false, redacted: false });
      assert.deepEqual(urgentRecord, { ...steps[2], position: 2, status: 'skipped', skipReason: 'condition', reused: false, redacted: false });
      assert.deepEqual(combineRecord, { ...steps[3], position: 3, status: 'succeeded', output: { b: 1, a: [null] }, properties: { z: true, y: 'é' }, cached: true, costUsd: 0.5, usage: { inputTokens: 1, outputTokens: 1 }, reused: false, redacted: false });
      assert.equal(JSON.stringify(combineRecord!.output), '{"b":1,"a":[null]}', 'keys in the order they were written');
      assert.equal(JSON.stringify(listRecord!.output), JSON.stringify(list.output));
      const { run } = got;
      assert.deepEqual([run.status, run.error, run.finishedAt, run.outputs, run.stepsDone, run.stepsSkipped, run.costUsd], ['failed', 'one step failed', 9_000, { answer: 42, text: null }, 2, 1, 0.75]);
    });

    it('replaces a step\'s result recorded again, and keeps a null output as null', async (t) => {
      const { store } = await session(t);
      await store.startRun(newRun('r'));
      await store.recordStep('r', 'list', { status: 'failed', error: 'first try', hint: 'h' });
      await store.recordStep('r', 'list', { status: 'succeeded', output: null, attempts: 2 });
      assert.deepEqual(await stepOf(store, 'r', 'list'), { ...steps[0], position: 0, status: 'succeeded', output: null, attempts: 2, reused: false, redacted: false });
    });

    it('counts a run\'s cost as unknown (null) when a step used tokens that had no price', async (t) => {
      const { store } = await session(t);
      await store.startRun(newRun('r'));
      await store.recordStep('r', 'list', { status: 'succeeded', output: 1, usage: { model: 'openai:m', inputTokens: 1, outputTokens: 1 }, costUsd: 0.5 });
      await store.recordStep('r', 'urgent', { status: 'succeeded', output: 1, usage: { model: 'x:unpriced', inputTokens: 1, outputTokens: 1 }, costUsd: null });
      const got = (await store.getRun('r'))!;
      assert.equal(got.run.costUsd, null);
      assert.equal(got.steps[2]!.costUsd, null);
    });

    it('records items of a foreach step in any order, reads them back by index, and replaces one recorded again', async (t) => {
      const { store } = await session(t);
      await store.startRun(newRun('r'));
      await store.recordItem('r', 'each', item(2, { status: 'failed', output: undefined, error: 'boom', errorCode: 'http_error', hint: 'retry later', errorDetail: '{"body":1}', attempts: 3 }));
      await store.recordItem('r', 'each', item(0, { properties: { statusCode: 200 }, worker: 'host-b:7', usage: { model: 'openai:m', inputTokens: 3, outputTokens: 4 }, costUsd: 0.125 }));
      await store.recordItem('r', 'each', item(1, { status: 'cancelled', output: undefined }));
      await store.recordItem('r', 'each', item(3, { status: 'failed', output: undefined, error: 'first try' }));
      await store.recordItem('r', 'each', item(3, { output: null, cached: true, redacted: true }));
      // The step has not ended: its items are there all the same (a run killed mid-step).
      const pending = await stepOf(store, 'r', 'each');
      assert.equal(pending.status, 'pending');
      assert.deepEqual(pending.items, [
        { index: 0, key: 'k0', status: 'succeeded', output: 'out 0', properties: { statusCode: 200 }, attempts: 1, startedAt: 1000, finishedAt: 1010, worker: 'host-b:7', usage: { model: 'openai:m', inputTokens: 3, outputTokens: 4 }, costUsd: 0.125, reused: false, redacted: false },
        { index: 1, key: 'k1', status: 'cancelled', attempts: 1, startedAt: 1001, finishedAt: 1011, reused: false, redacted: false },
        { index: 2, key: 'k2', status: 'failed', error: 'boom', errorCode: 'http_error', hint: 'retry later', errorDetail: '{"body":1}', attempts: 3, startedAt: 1002, finishedAt: 1012, reused: false, redacted: false },
        { index: 3, key: 'k3', status: 'succeeded', output: null, attempts: 1, startedAt: 1003, finishedAt: 1013, cached: true, reused: false, redacted: true },
      ]);
      // A step that ended with fewer items than were recorded (a resume carried more in): only its own.
      await store.recordStep('r', 'each', { status: 'failed', continued: true, itemCount: 3, output: ['out 0', null, null] });
      const each = await stepOf(store, 'r', 'each');
      assert.deepEqual(each.items?.map((i) => i.index), [0, 1, 2]);
      assert.equal((await stepOf(store, 'r', 'list')).items, undefined, 'no items for a step that has none');
    });

    it('writes the results and items a resume reused with the run: there the moment startRun resolves, marked reused', async (t) => {
      const { store, reopen } = await session(t);
      await store.startRun(
        newRun('r', {
          resumedFrom: 'before',
          reused: [{ stepId: 'list', status: 'succeeded', output: ['a', 'b'], properties: { n: 2 }, startedAt: 1, finishedAt: 2, reused: true }],
          reusedItems: [{ stepId: 'each', items: [item(0), item(3, { startedAt: undefined, finishedAt: undefined })] }],
        }),
      );
      // Another store object (another process) sees them at once: no later write is needed.
      const other = await reopen();
      const got = (await other.getRun('r'))!;
      assert.deepEqual(got.steps[0], { ...steps[0], position: 0, status: 'succeeded', output: ['a', 'b'], properties: { n: 2 }, startedAt: 1, finishedAt: 2, reused: true, redacted: false });
      assert.deepEqual(got.steps[1]!.items?.map((i) => [i.index, i.key, i.output, i.reused, i.startedAt]), [[0, 'k0', 'out 0', true, 1000], [3, 'k3', 'out 3', true, undefined]]);
      assert.equal(got.run.stepsDone, 1);
      assert.equal(got.run.resumedFrom, 'before');
      // The run's own result for an item replaces the carried one.
      await store.recordItem('r', 'each', item(3, { output: 'ran again' }));
      assert.deepEqual((await stepOf(store, 'r', 'each')).items?.map((i) => [i.index, i.output, i.reused]), [[0, 'out 0', true], [3, 'ran again', false]]);
    });

    it('marks a result from which a secret was redacted', async (t) => {
      const { store } = await session(t);
      await store.startRun(newRun('r', { secretInputs: ['api_key'], inputs: { api_key: '***' } }));
      await store.recordStep('r', 'list', { status: 'succeeded', output: 'key=***', redacted: true });
      await store.recordStep('r', 'urgent', { status: 'succeeded', output: 'plain' });
      assert.equal((await stepOf(store, 'r', 'list')).redacted, true);
      assert.equal((await stepOf(store, 'r', 'urgent')).redacted, false);
      const success = await store.recordedSuccess('r', 'list');
      assert.equal(success?.output, 'key=***');
      assert.equal(success?.redacted, true, 'a redacted result says so: it must not stand in for running the step');
      assert.ok(!(await store.recordedSuccess('r', 'urgent'))?.redacted);
    });

    describe('fencing', () => {
      it('recordStepOnce writes a result unless the step has a success; a second one after a success writes nothing', async (t) => {
        const { store, reopen } = await session(t);
        await store.startRun(newRun('r'));
        assert.equal(await store.recordedSuccess('r', 'list'), undefined, 'nothing recorded yet');
        assert.equal(await store.recordStepOnce('r', 'list', { status: 'failed', error: 'first try', worker: 'w1' }), true);
        assert.equal(await store.recordedSuccess('r', 'list'), undefined, 'a failure is no success');
        assert.equal(await store.recordStepOnce('r', 'list', { status: 'succeeded', output: 'first', properties: { n: 1 }, worker: 'w1' }), true, 'a failure is replaced');
        // Durable when it resolves: another process sees it at once.
        const other = await reopen();
        assert.equal((await other.recordedSuccess('r', 'list'))?.output, 'first');
        assert.equal(await store.recordStepOnce('r', 'list', { status: 'succeeded', output: 'second', worker: 'w2' }), false);
        assert.equal(await other.recordStepOnce('r', 'list', { status: 'failed', error: 'late', worker: 'w3' }), false, 'nor a failure after it');
        const step = await stepOf(store, 'r', 'list');
        assert.deepEqual([step.status, step.output, step.properties, step.worker, step.error], ['succeeded', 'first', { n: 1 }, 'w1', undefined]);
        const success = await store.recordedSuccess('r', 'list');
        assert.deepEqual([success?.output, success?.properties, success?.worker], ['first', { n: 1 }, 'w1']);
      });

      it('recordStepOnce does nothing for a run or a step the store does not know', async (t) => {
        const { store } = await session(t);
        await store.startRun(newRun('r'));
        assert.equal(await store.recordStepOnce('ghost', 'list', { status: 'succeeded', output: 1 }), false);
        assert.equal(await store.recordStepOnce('r', 'ghost', { status: 'succeeded', output: 1 }), false);
        assert.equal(await store.getRun('ghost'), undefined);
        assert.equal(await store.recordedSuccess('r', 'ghost'), undefined);
        assert.equal(await store.recordedSuccess('ghost', 'list'), undefined);
      });

      it('recordItemOnce writes an item unless its index has a success with the same key', async (t) => {
        const { store } = await session(t);
        await store.startRun(newRun('r'));
        assert.equal(await store.recordedSuccess('r', 'each', { index: 0, key: 'k0' }), undefined);
        assert.equal(await store.recordItemOnce('r', 'each', item(0, { status: 'failed', output: undefined, error: 'first try' })), true);
        assert.equal(await store.recordedSuccess('r', 'each', { index: 0, key: 'k0' }), undefined, 'a failure is no success');
        assert.equal(await store.recordItemOnce('r', 'each', item(0, { output: 'first' })), true);
        assert.equal(await store.recordItemOnce('r', 'each', item(0, { output: 'second' })), false, 'the same key: written once');
        assert.equal((await store.recordedSuccess('r', 'each', { index: 0, key: 'k0' }))?.output, 'first');
        assert.equal(await store.recordedSuccess('r', 'each', { index: 0, key: 'other' }), undefined, 'a success with another key is not this item\'s');
        assert.equal(await store.recordedSuccess('r', 'each', { index: 1, key: 'k0' }), undefined);
        // The list changed under the index (a resume with other values): the item runs and is recorded again.
        assert.equal(await store.recordItemOnce('r', 'each', item(0, { key: 'other', output: 'with another key' })), true);
        assert.deepEqual((await stepOf(store, 'r', 'each')).items?.map((i) => [i.index, i.key, i.output]), [[0, 'other', 'with another key']]);
        assert.equal(await store.recordItemOnce('r', 'each', item(1, { redacted: true, output: '***' })), true);
        assert.equal((await store.recordedSuccess('r', 'each', { index: 1, key: 'k1' }))?.redacted, true);
        assert.equal(await store.recordItemOnce('ghost', 'each', item(0)), false, 'a run the store does not know');
      });

      it('applies unawaited writes in the order they were called', async (t) => {
        const { store } = await session(t);
        await store.startRun(newRun('r'));
        const calls = [
          store.recordStep('r', 'list', { status: 'failed', error: 'first' }),
          store.recordStep('r', 'list', { status: 'succeeded', output: 'second' }),
          store.recordStepOnce('r', 'list', { status: 'succeeded', output: 'third' }),
          store.recordStep('r', 'urgent', { status: 'failed', error: 'not yet' }),
          store.recordStepOnce('r', 'urgent', { status: 'succeeded', output: 'fenced' }),
          store.recordItem('r', 'each', item(0, { output: 'recorded' })),
          store.recordItemOnce('r', 'each', item(0, { output: 'fenced' })),
          store.recordItem('r', 'each', item(1, { status: 'failed', output: undefined })),
          store.recordItemOnce('r', 'each', item(1, { output: 'fenced' })),
          store.finishRun('r', { ...finished, outputs: { done: true } }),
        ];
        const results = await Promise.all(calls);
        assert.deepEqual([results[2], results[4], results[6], results[8]], [false, true, false, true]);
        const got = (await store.getRun('r'))!;
        assert.deepEqual(got.steps.map((s) => s.output ?? s.error ?? null), ['second', null, 'fenced', null]);
        assert.deepEqual(got.steps[1]!.items?.map((i) => i.output), ['recorded', 'fenced']);
        assert.deepEqual([got.run.status, got.run.outputs], ['succeeded', { done: true }]);
      });
    });

    it('close waits for writes still pending, and the results come back the same from the next store', async (t) => {
      const { store, reopen } = await session(t);
      await store.startRun(newRun('r', { options: { model: 'echo' }, secretInputs: ['token'] }));
      // Fired and not awaited, as the recorder does.
      void store.recordStep('r', 'list', { status: 'succeeded', output: [1, 2], startedAt: 1, finishedAt: 3, usage: { model: 'm', inputTokens: 2, outputTokens: 3 }, costUsd: 0.5 });
      for (let i = 0; i < 50; i++) void store.recordItem('r', 'each', item(i));
      void store.recordStep('r', 'each', { status: 'succeeded', output: ['…'], itemCount: 50 });
      void store.recordStep('r', 'urgent', { status: 'skipped', skipReason: 'condition' });
      void store.finishRun('r', { status: 'succeeded', finishedAt: 9_000, outputs: { n: 50 } });
      const before = await store.getRun('r');
      const listed = await store.listRuns();
      await store.close();
      const next = await reopen();
      assert.deepEqual(await next.getRun('r'), before);
      assert.deepEqual(await next.listRuns(), listed);
      assert.equal(before!.steps[1]!.items!.length, 50);
      assert.equal(before!.run.status, 'succeeded');
    });

    it('close alone writes what is pending', async (t) => {
      const { store, reopen } = await session(t);
      await store.startRun(newRun('r'));
      void store.recordStep('r', 'list', { status: 'succeeded', output: 'kept' });
      void store.recordItem('r', 'each', item(0));
      await store.close();
      const next = await reopen();
      assert.equal((await stepOf(next, 'r', 'list')).output, 'kept');
      assert.equal((await stepOf(next, 'r', 'each')).items?.length, 1);
    });

    it('lists runs newest first, at most `limit` (20 unless told)', async (t) => {
      const { store } = await session(t);
      for (const [id, startedAt] of [['b', 2_000], ['a', 1_000], ['d', 4_000], ['c', 3_000], ['c2', 3_000]] as const) await store.startRun(newRun(id, { startedAt }));
      // Runs started in the same millisecond: the one recorded last first.
      assert.deepEqual((await store.listRuns()).map((r) => r.id), ['d', 'c2', 'c', 'b', 'a']);
      assert.deepEqual((await store.listRuns(2)).map((r) => r.id), ['d', 'c2']);
      for (let i = 0; i < 20; i++) await store.startRun(newRun(`more-${i}`, { startedAt: 10_000 + i }));
      const all = await store.listRuns();
      assert.equal(all.length, 20);
      assert.equal(all[0]!.id, 'more-19');
    });

    it('finds a run by a unique prefix of its id, and refuses an ambiguous one', async (t) => {
      const { store } = await session(t);
      await store.startRun(newRun('3f2a9c-one'));
      await store.startRun(newRun('3f2b77-two'));
      assert.equal((await store.getRun('3f2a'))?.run.id, '3f2a9c-one');
      assert.equal((await store.getRun('3F2A9C'))?.run.id, '3f2a9c-one', 'in any case');
      assert.equal((await store.getRun('3f2b77-two'))?.run.id, '3f2b77-two');
      await assert.rejects(async () => store.getRun('3f2'), { code: 'ambiguous_run' });
      assert.equal(await store.getRun('4'), undefined);
    });

    describe('history', () => {
      /** Runs of the workflow, one after another, each with what `record` records. */
      async function runs(store: RunStore, count: number, record: (runId: string, k: number) => Promise<void>): Promise<void> {
        for (let k = 0; k < count; k++) {
          await store.startRun(newRun(`r${k}`, { startedAt: 1_000 * (k + 1) }));
          await record(`r${k}`, k);
          await store.finishRun(`r${k}`, finished);
        }
      }

      it('durations: the median time of each step that succeeded and ran, in the workflow\'s last runs', async (t) => {
        const { store } = await session(t);
        const times = [10, 30, 20, 50];
        await runs(store, 4, async (runId, k) => {
          await store.recordStep(runId, 'list', { status: 'succeeded', output: 1, startedAt: 100, finishedAt: 100 + times[k]! });
          // Not samples: failed, reused, answered from the cache, or never started.
          await store.recordStep(runId, 'urgent', { status: 'failed', error: 'x', startedAt: 0, finishedAt: 99_999 });
          await store.recordStep(runId, 'combine', { status: 'succeeded', output: 1, reused: true, startedAt: 0, finishedAt: 99_999 });
          await store.recordStep(runId, 'each', { status: 'succeeded', output: 1, cached: true, startedAt: 0, finishedAt: 99_999 });
        });
        await store.startRun(newRun('unstarted', { startedAt: 500 }));
        await store.recordStep('unstarted', 'combine', { status: 'succeeded', output: 1 });
        // Of four, the upper of the two middles.
        assert.deepEqual(await store.durations(WORKFLOW), new Map([['fl', 30]]));
        assert.deepEqual(await store.durations(WORKFLOW, 3), new Map([['fl', 30]]));
        assert.deepEqual(await store.durations(WORKFLOW, 2), new Map([['fl', 50]]), 'the last two runs: 20 and 50');
        assert.deepEqual(await store.durations('/w/other.yaml'), new Map());
      });

      it('itemDurations: the median time of items that succeeded and ran, by what each does, whatever the list', async (t) => {
        const { store } = await session(t);
        const times = [[10, 20, 30], [40, 50, 1000]];
        for (const [r, ms] of times.entries()) {
          // The same items with another list (`fe.l0`, `fe.l1`): one item fingerprint.
          await store.startRun({ ...newRun(`r${r}`, { startedAt: r }), steps: steps.map((s) => (s.stepId === 'each' ? { ...s, fingerprint: `fe.l${r}` } : s)) });
          for (const [i, d] of ms.entries()) await store.recordItem(`r${r}`, 'each', item(i, { startedAt: 0, finishedAt: d }));
          await store.recordItem(`r${r}`, 'each', item(9, { status: 'failed', startedAt: 0, finishedAt: 99_999 }));
          await store.recordItem(`r${r}`, 'each', item(8, { reused: true, startedAt: 0, finishedAt: 99_999 }));
          await store.recordItem(`r${r}`, 'each', item(7, { cached: true, startedAt: 0, finishedAt: 99_999 }));
          await store.finishRun(`r${r}`, finished);
        }
        assert.deepEqual(await store.itemDurations!(WORKFLOW), new Map([['fe', 40]]));
        assert.deepEqual(await store.itemDurations!(WORKFLOW, 1), new Map([['fe', 50]]));
        assert.deepEqual(await store.itemDurations!('/w/other.yaml'), new Map());
      });

      it('usage: the median tokens of each step, with the model when every sample names the same one', async (t) => {
        const { store } = await session(t);
        const usage = (input: number, model = 'openai:m') => ({ model, inputTokens: input, outputTokens: input / 10 });
        await runs(store, 3, async (runId, k) => {
          await store.recordStep(runId, 'list', { status: 'succeeded', output: 1, usage: usage([10, 30, 20][k]!), costUsd: 0.01 });
          await store.recordStep(runId, 'urgent', { status: 'succeeded', output: 1, usage: usage(100 * (k + 1), `openai:m${k}`), costUsd: 0.01 });
          // Not samples: from the cache, or failed.
          await store.recordStep(runId, 'combine', { status: 'succeeded', output: 1, usage: usage(9_999), cached: true });
          await store.recordStep(runId, 'each', { status: 'failed', error: 'x', usage: usage(9_999) });
        });
        assert.deepEqual(
          await store.usage!(WORKFLOW),
          new Map([
            ['fl', { model: 'openai:m', inputTokens: 20, outputTokens: 2 }],
            ['fu', { inputTokens: 200, outputTokens: 20 }],
          ]),
        );
        assert.deepEqual(await store.usage!('/w/other.yaml'), new Map());
      });

      it('usage: no sample from a foreach step some of whose items a resume carried in', async (t) => {
        const { store } = await session(t);
        const usage = (input: number) => ({ model: 'openai:m', inputTokens: input, outputTokens: 1 });
        await store.startRun(newRun('full', { startedAt: 1 }));
        await store.recordStep('full', 'each', { status: 'succeeded', output: ['x', 'y'], usage: usage(20), itemCount: 2 });
        await store.finishRun('full', finished);
        await store.startRun(newRun('resumed', { startedAt: 2, reusedItems: [{ stepId: 'each', items: [item(0)] }] }));
        await store.recordStep('resumed', 'each', { status: 'succeeded', output: ['x', 'y'], usage: usage(10), itemCount: 2 });
        await store.finishRun('resumed', finished);
        assert.deepEqual(await store.usage!(WORKFLOW), new Map([['fe.l1', { model: 'openai:m', inputTokens: 20, outputTokens: 1 }]]));
      });
    });

    describe('the step cache', () => {
      it('gives back what was kept, as it was, and counts each hit', async (t) => {
        const { store } = await session(t);
        const cache = store.cache!;
        const usage = { model: 'openai:m', inputTokens: 10, outputTokens: 5 };
        await cache.put('llm:a', { action: 'llm', output: { answer: [1, 'two', null] }, properties: { model: 'openai:m' }, usage, costUsd: 0.002 });
        await cache.put('http:b', { action: 'http', output: null });
        await cache.put('file:c', { action: 'file', output: undefined });
        assert.deepEqual(await cache.take('llm:a', 0), { action: 'llm', output: { answer: [1, 'two', null] }, properties: { model: 'openai:m' }, usage, costUsd: 0.002 });
        assert.deepEqual(await cache.take('http:b', 0), { action: 'http', output: null });
        assert.deepEqual(await cache.take('file:c', 0), { action: 'file', output: undefined });
        assert.equal(await cache.take('llm:none', 0), undefined);
        await cache.take('llm:a', 0);
        const llm = (await cache.stats()).find((s) => s.action === 'llm')!;
        assert.equal(llm.hits, 2);
        assert.ok(llm.lastHitAt! >= Date.now() - 60_000);
      });

      it('finds only an entry made at or after the reader\'s limit; `has` looks without counting a hit; put replaces, keeping the hits', async (t) => {
        const { store } = await session(t);
        const cache = store.cache!;
        const before = Date.now();
        await cache.put('llm:k', { action: 'llm', output: 'kept' });
        const after = Date.now();
        assert.equal(await cache.has('llm:k', after + 60_000), false);
        assert.equal(await cache.take('llm:k', after + 60_000), undefined, 'made before the limit');
        assert.equal(await cache.has('llm:k', before), true);
        assert.equal(await cache.has('llm:missing', 0), false);
        assert.equal((await cache.stats())[0]!.hits, 0, 'has() is not a hit');
        assert.equal((await cache.take('llm:k', before))?.output, 'kept');
        assert.equal((await cache.take('llm:k', 0))?.output, 'kept');
        await cache.put('llm:k', { action: 'llm', output: 'new' });
        assert.equal((await cache.take('llm:k', after))?.output, 'new', 'made again: it counts from now');
        const [stats] = await cache.stats();
        assert.equal(stats!.hits, 3, 'the hits the old one saved stay counted');
        assert.equal(stats!.entries, 1);
      });

      it('sums entries, bytes, hits and savings by action, most entries first; a hit whose model has no price makes the saving unknown', async (t) => {
        const { store } = await session(t);
        const cache = store.cache!;
        const usage = { model: 'openai:m', inputTokens: 100, outputTokens: 20 };
        const before = Date.now();
        await cache.put('llm:1', { action: 'llm', output: 'abc', usage, costUsd: 0.25 });
        await cache.put('llm:2', { action: 'llm', output: 'é', usage, costUsd: 0.5 });
        await cache.put('http:1', { action: 'http', output: { ok: true }, properties: { status: 200 } });
        const after = Date.now();
        for (let k = 0; k < 3; k++) await cache.take('llm:1', 0);
        await cache.take('llm:2', 0);
        await cache.take('http:1', 0);
        const [llm, http] = await cache.stats();
        const { lastHitAt, oldest, newest, ...rest } = llm!;
        // Bytes of the JSON text: "é" is two bytes of UTF-8.
        assert.deepEqual(rest, { action: 'llm', entries: 2, bytes: '"abc"'.length + '"é"'.length + 1, hits: 4, savedUsd: 1.25, savedTokens: 480 });
        assert.ok(before <= oldest && oldest <= newest && newest <= after);
        assert.ok(lastHitAt! >= newest);
        assert.deepEqual([http!.action, http!.entries, http!.savedUsd, http!.savedTokens, http!.bytes], ['http', 1, 0, 0, JSON.stringify({ ok: true }).length + JSON.stringify({ status: 200 }).length]);
        await cache.put('llm:3', { action: 'llm', output: 'x', usage: { ...usage, model: 'openai:unpriced' }, costUsd: null });
        assert.equal((await cache.stats())[0]!.savedUsd, 1.25, 'never hit: it saved nothing yet');
        await cache.take('llm:3', 0);
        assert.equal((await cache.stats())[0]!.savedUsd, null);
      });

      it('clears the entries made before a time, or every one', async (t) => {
        const { store } = await session(t);
        const cache = store.cache!;
        const before = Date.now();
        await cache.put('llm:1', { action: 'llm', output: 1 });
        await cache.put('http:1', { action: 'http', output: 2 });
        assert.equal(await cache.clear(before), 0, 'none was made before');
        assert.equal(await cache.clear(Date.now() + 1), 2);
        assert.deepEqual(await cache.stats(), []);
        await cache.put('llm:2', { action: 'llm', output: 3 });
        assert.equal(await cache.clear(), 1);
        assert.equal(await cache.take('llm:2', 0), undefined);
      });
    });

    describe('failures', () => {
      it('a write that fails in the background is given to onError and rejected by the next call', async (t) => {
        let told: (error: ConductorError) => void = noop;
        const reported = new Promise<ConductorError>((resolve) => (told = resolve));
        const { store } = await session(t, { onError: (error) => told(error) });
        await store.startRun(newRun('r'));
        // A result for a run the store never started: the store refuses it.
        void store.recordStep('ghost', 'list', { status: 'succeeded', output: 1 });
        const error = await reported;
        assert.equal(error.code, 'store_failed');
        assert.ok(error.message.includes(store.location), `${error.message} names ${store.location}`);
        await assert.rejects(async () => store.recordStep('r', 'list', { status: 'succeeded', output: 2 }), { code: 'store_failed' });
        // Already told: close does not reject with it again.
        await store.close();
      });

      it('without onError, the next call rejects with it', async (t) => {
        const { store } = await session(t);
        await store.startRun(newRun('r'));
        void store.recordItem('ghost', 'each', item(0));
        let rejected: unknown;
        await until('a later call rejects', async () => {
          await Promise.resolve()
            .then(() => store.recordItem('r', 'each', item(1)))
            .catch((error: unknown) => (rejected = error));
          return rejected !== undefined;
        });
        assert.equal((rejected as ConductorError).code, 'store_failed');
      });
    });

    describe('liveness', () => {
      it('tells a running run from one whose process stopped beating', async (t) => {
        const { store, reopen, setHeartbeat } = await session(t);
        if (!setHeartbeat) return t.skip('the store gives no way to age a heartbeat');
        await store.startRun(newRun('r'));
        const status = async (s = store) => (await s.listRuns())[0]!.status;
        assert.equal(await status(), 'running', 'just started');
        await setHeartbeat('r', 60_000);
        assert.equal(await status(), 'interrupted', 'no heartbeat for a minute');
        assert.equal((await store.getRun('r'))!.run.status, 'interrupted');
        const other = await reopen();
        assert.equal(await status(other), 'interrupted', 'seen so by any store object');
        await setHeartbeat('r', 1_000);
        assert.equal(await status(), 'running', 'a fresh heartbeat');
        await setHeartbeat('r', 60_000);
        await store.finishRun('r', finished);
        assert.equal(await status(), 'succeeded', 'a finished run is what it finished as');
      });

      it('beats while a run is running', async (t) => {
        const { store, setHeartbeat } = await session(t, { heartbeatMs: 10 });
        if (!setHeartbeat) return t.skip('the store gives no way to age a heartbeat');
        await store.startRun(newRun('r'));
        await setHeartbeat('r', 60_000);
        await until('the next heartbeat shows the run alive', async () => (await store.listRuns())[0]!.status === 'running');
        await store.finishRun('r', finished);
      });
    });
  });
}

/**
 * The run store's contract, as tests every store must pass (SQLite: sqlite.contract.test.ts, PostgreSQL:
 * postgres.test.ts). Only what `RunStore`'s documentation promises and callers rely on is asserted, through the
 * interface alone (a second store object on the same data stands for another process): never how a store keeps
 * it. Each test opens a store of its own, on data of its own. Runs, results and items are here; fencing, history
 * and the step cache are in contract-fencing.ts, contract-history.ts and contract-cache.ts.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it as test, type TestContext } from 'node:test';
import type { ConductorError } from '../core/errors.ts';
import { cacheContract } from './contract-cache.ts';
import { fencingContract } from './contract-fencing.ts';
import { historyContract } from './contract-history.ts';
import { finished, item, newRun, noop, stepOf, steps, until, WORKFLOW, type ContractOptions, type ContractSuite } from './contract-support.ts';
import type { RunStore, StepResult } from './types.ts';

export type { ContractOptions } from './contract-support.ts';

/** What a store's test file gives the contract: a store on data of its own, and how to reach that data again. */
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
  const it = (title: string, fn: (t: TestContext) => Promise<void>) => void test(title, { skip }, fn);
  const suite: ContractSuite = { it, session };

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
      // Its tokens, summed over the steps that used some (as the runs list shows them).
      assert.deepEqual(run.usage, { inputTokens: 11, outputTokens: 6 });
      assert.deepEqual((await store.listRuns(1))[0]!.usage, { inputTokens: 11, outputTokens: 6 });
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

    it('adds up a run\'s cost without the drift of adding floats one by one', async (t) => {
      const { store } = await session(t);
      await store.startRun(newRun('r'));
      for (const [stepId, costUsd] of [['combine', 0.1], ['each', 0.2], ['list', 0.3]] as const) await store.recordStep('r', stepId, { status: 'succeeded', output: 1, costUsd });
      // 0.1 + 0.2 + 0.3 is 0.6000000000000001 added naively; the nearest double to the true sum is 0.6.
      assert.equal((await store.listRuns())[0]!.costUsd, 0.6);
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

    it('keeps what a step and an item ran with (their resolved input), given as a value or as JSON text, fenced or not', async (t) => {
      const { store, reopen } = await session(t);
      await store.startRun(newRun('r'));
      const prompt = { model: 'echo', prompt: 'Summarize: é ✓ "quoted"\n\u0000 and more', nested: [1, null, { deep: true }] };
      // Not awaited, as the recorder writes: grouped into one commit where a store does that.
      const writes = [
        store.recordStep('r', 'list', { status: 'succeeded', output: ['a'], input: prompt }),
        store.recordItem('r', 'each', item(0, { input: { prompt: 'item 0' } })),
        store.recordItem('r', 'each', item(1, { status: 'failed', output: undefined, error: 'invalid', inputJson: JSON.stringify({ prompt: { n: 1 } }) })),
        store.recordItem('r', 'each', item(2)),
      ];
      await Promise.all(writes);
      assert.equal(await store.recordStepOnce('r', 'urgent', { status: 'succeeded', output: 'u', input: { url: 'https://example.test/u' }, worker: 'w' }), true);
      assert.equal(await store.recordItemOnce('r', 'combine', { index: 0, key: 'k', status: 'succeeded', output: 'c', input: 'a plain string', worker: 'w' }), true);
      await store.recordStep('r', 'combine', { status: 'failed', error: 'no input: a template failed' });
      const other = await reopen();
      const got = (await other.getRun('r'))!;
      const byId = Object.fromEntries(got.steps.map((s) => [s.stepId, s]));
      assert.deepEqual(byId['list']!.input, prompt);
      assert.deepEqual(byId['each']!.items!.map((i) => i.input), [{ prompt: 'item 0' }, { prompt: { n: 1 } }, undefined]);
      assert.ok(!('input' in byId['each']!.items![2]!), 'an item recorded without one has no `input` field');
      assert.deepEqual(byId['urgent']!.input, { url: 'https://example.test/u' });
      assert.equal(byId['combine']!.items![0]!.input, 'a plain string');
      assert.ok(!('input' in byId['combine']!), 'a step recorded without one has no `input` field');
      assert.deepEqual((await other.recordedSuccess('r', 'list'))?.input, prompt);
      assert.equal(byId['list']!.redacted, false);
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

    fencingContract(suite);

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

    historyContract(suite);

    cacheContract(suite);

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

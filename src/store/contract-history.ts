/**
 * The store contract's history: the medians the scheduler and `plan` take from recent runs of a workflow
 * (durations, itemDurations, usage), equal on every store for the same runs.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { RunStore } from './types.ts';
import { finished, item, newRun, steps, WORKFLOW, type ContractSuite } from './contract-support.ts';

export function historyContract({ it, session }: ContractSuite): void {
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
}

/**
 * The store contract's fencing: what workers rely on to record a result at most once (recordStepOnce,
 * recordItemOnce, recordedSuccess), and the order of writes that were not awaited.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { finished, item, newRun, stepOf, type ContractSuite } from './contract-support.ts';

export function fencingContract({ it, session }: ContractSuite): void {
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

    it("only a success replaces a recorded success: a worker's result stands over the run's late `cancelled` or `failed`", async (t) => {
      const { store } = await session(t);
      await store.startRun(newRun('r'));
      assert.equal(await store.recordStepOnce('r', 'list', { status: 'succeeded', output: 'paid for', worker: 'w1' }), true);
      await store.recordStep('r', 'list', { status: 'cancelled' });
      await store.recordItem('r', 'list', { index: 0, key: 'k', status: 'succeeded', output: 'item paid for', worker: 'w1' });
      await store.recordItem('r', 'list', { index: 0, key: 'k', status: 'failed', error: 'the run stopped' });
      const step = await stepOf(store, 'r', 'list');
      assert.deepEqual([step.status, step.output, step.worker], ['succeeded', 'paid for', 'w1']);
      assert.deepEqual([step.items?.[0]?.status, step.items?.[0]?.output], ['succeeded', 'item paid for']);
      // An item's result for another value does (a resume re-runs an item whose key changed over the one it carried).
      await store.recordItem('r', 'list', { index: 0, key: 'changed', status: 'failed', error: 'the new value failed' });
      const again = await stepOf(store, 'r', 'list');
      assert.deepEqual([again.items?.[0]?.status, again.items?.[0]?.key, again.items?.[0]?.error], ['failed', 'changed', 'the new value failed']);
      // A later success still replaces one (the run's own record of it, redacted as the run sees it).
      await store.recordStep('r', 'list', { status: 'succeeded', output: '***', redacted: true });
      assert.equal((await stepOf(store, 'r', 'list')).output, '***');
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
}

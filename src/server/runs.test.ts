import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunRecord, RunStore } from '../store/types.ts';
import { HttpError } from './errors.ts';
import { DEFAULT_LIMIT, listQuery, selectRuns } from './runs.ts';

const query = (params: Record<string, string>) => listQuery((name) => params[name]);

function fakeStore(runs: Partial<RunRecord>[]): RunStore {
  return { listRuns: async (limit?: number) => runs.slice(0, limit) as RunRecord[] } as RunStore;
}

describe('GET /api/runs query', () => {
  it('defaults, and refuses bad values with 400', () => {
    assert.deepEqual(query({}), { limit: DEFAULT_LIMIT, offset: 0 });
    assert.deepEqual(query({ status: 'failed', workflow: 'a.yaml', limit: '500', offset: '3' }), { status: 'failed', workflow: 'a.yaml', limit: 500, offset: 3 });
    const bads: Record<string, string>[] = [{ limit: '0' }, { limit: '501' }, { limit: '1e2' }, { limit: ' 5' }, { offset: '-1' }, { status: 'done' }];
    for (const bad of bads) {
      assert.throws(() => query(bad), (e: unknown) => e instanceof HttpError && e.status === 400, JSON.stringify(bad));
    }
  });

  it('filters over the listed runs and says the total when it saw them all', async () => {
    const runs = [
      { id: '1', status: 'failed', workflow: '/r/a.yaml' },
      { id: '2', status: 'succeeded', workflow: '/r/sub/b.yaml' },
      { id: '3', status: 'failed', workflow: '/r/sub/b.yaml' },
    ] as Partial<RunRecord>[];
    const store = fakeStore(runs);
    assert.deepEqual((await selectRuns(store, query({ status: 'failed' }), '/r')).runs.map((r) => r.id), ['1', '3']);
    assert.deepEqual(await selectRuns(store, query({ workflow: 'sub/b.yaml', limit: '1' }), '/r'), { runs: [runs[1]], total: 2 });
    // Without a filter only one past the page is read: more exist, so no total.
    assert.deepEqual(await selectRuns(store, query({ limit: '1' }), '/r'), { runs: [runs[0]] });
    assert.deepEqual(await selectRuns(store, query({ limit: '5' }), '/r'), { runs, total: 3 });
  });
});

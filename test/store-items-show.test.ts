/**
 * `conductor runs show` for a run with a foreach step, a condition and a continued failure, recorded straight
 * into a store (what the run loop records is tested with it, in store-items-resume.test.ts): skip reasons, a
 * continued failure, a foreach step's items as one line of counts and its first failures — readable at 10,000
 * items — and every item in `--json`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteRunStore } from '../src/store/sqlite.ts';
import { run } from './support/cli.ts';
import { tempDir } from './support/workflow.ts';

const ITEMS = 10_000;
const FAILED = new Set([7, 42, 99, 123, 500, 501, 502, 1000, 2000, 3000, 4000, 5000, 9999]);

async function seed(path: string): Promise<string> {
  const store = new SqliteRunStore(path);
  try {
    const id = 'a1b2c3d4-0000-4000-8000-000000000001';
    const steps = [
      { stepId: 'list', fingerprint: 'f1', dependsOn: [] },
      { stepId: 'summarize', fingerprint: 'f2.l', dependsOn: ['list'] },
      { stepId: 'urgent', fingerprint: 'f3', dependsOn: ['list'] },
      { stepId: 'combine', fingerprint: 'f4', dependsOn: ['summarize'] },
      { stepId: 'notify', fingerprint: 'f5', dependsOn: ['urgent'] },
    ];
    await store.startRun({ id, workflow: '/w/notes.yaml', workflowHash: 'h', inputs: {}, startedAt: 1_000, steps });
    await store.recordStep(id, 'list', { status: 'succeeded', output: ['a.txt'], attempts: 1, startedAt: 1_000, finishedAt: 1_010 });
    for (let i = 0; i < ITEMS; i++) {
      await store.recordItem(id, 'summarize', FAILED.has(i)
        ? { index: i, key: `k${i}`, status: 'failed', error: `HTTP 503 from the stand-in for item ${i}`, errorCode: 'http_error', attempts: 3, startedAt: 1_010, finishedAt: 1_020 }
        : { index: i, key: `k${i}`, status: 'succeeded', output: `summary ${i}`, attempts: 1, startedAt: 1_010, finishedAt: 1_020, ...(i < 3 ? { reused: true } : {}) });
    }
    await store.recordStep(id, 'summarize', { status: 'failed', continued: true, itemCount: ITEMS + 5, error: `${FAILED.size} of ${ITEMS + 5} items failed`, attempts: 1, startedAt: 1_010, finishedAt: 2_010 });
    await store.recordStep(id, 'urgent', { status: 'skipped', skipReason: 'condition' });
    await store.recordStep(id, 'combine', { status: 'skipped', skipReason: 'upstream_failed' });
    await store.recordStep(id, 'notify', { status: 'skipped', skipReason: 'upstream_skipped' });
    await store.finishRun(id, { status: 'succeeded', finishedAt: 2_020, outputs: {} });
    return id;
  } finally {
    await store.close();
  }
}

describe('runs show, for foreach steps, conditions and continued failures', { timeout: 180_000 }, () => {
  it('shows skip reasons, a continued failure, one line of item counts and the first failed items', async (t) => {
    const store = join(await tempDir(t), 'runs.db');
    const id = await seed(store);
    const shown = await run(['runs', 'show', id.slice(0, 8), '--store', store]);
    assert.equal(shown.code, 0, shown.stderr);
    const lines = shown.stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith('  summarize'));
    assert.match(lines[at]!, /^ {2}summarize +failed +1\.00 s +continued · 13 of 10005 items failed$/);
    assert.equal(lines[at + 1], '             items: 9987 succeeded · 13 failed · 5 not run · 10005 total (3 reused)');
    assert.deepEqual(lines.slice(at + 2, at + 13), [
      '               item    7  HTTP 503 from the stand-in for item 7',
      '               item   42  HTTP 503 from the stand-in for item 42',
      '               item   99  HTTP 503 from the stand-in for item 99',
      '               item  123  HTTP 503 from the stand-in for item 123',
      '               item  500  HTTP 503 from the stand-in for item 500',
      '               item  501  HTTP 503 from the stand-in for item 501',
      '               item  502  HTTP 503 from the stand-in for item 502',
      '               item 1000  HTTP 503 from the stand-in for item 1000',
      '               item 2000  HTTP 503 from the stand-in for item 2000',
      '               item 3000  HTTP 503 from the stand-in for item 3000',
      '               … and 3 more failed items (`runs show --json` lists every item)',
    ]);
    assert.match(shown.stdout, /^ {2}urgent +skipped +\(condition\)$/m);
    assert.match(shown.stdout, /^ {2}combine +skipped +\(upstream_failed: summarize\)$/m);
    assert.match(shown.stdout, /^ {2}notify +skipped +\(upstream_skipped: urgent\)$/m);
    assert.ok(lines.length < 30, `${lines.length} lines for 10,000 items`);
    // The list counts skipped steps apart: a run that succeeded does not read as 1 of 5 steps done.
    const listed = await run(['runs', '--store', store]);
    assert.match(listed.stdout, /\b1\/5 · 3 skipped\b/);
  });

  it('lists every item in --json, in index order, with the step’s skip reasons and continued flag', async (t) => {
    const store = join(await tempDir(t), 'runs.db');
    const id = await seed(store);
    const shown = await run(['runs', 'show', id, '--json', '--store', store]);
    assert.equal(shown.code, 0, shown.stderr);
    const { steps } = JSON.parse(shown.stdout);
    const summarize = steps.find((s: { stepId: string }) => s.stepId === 'summarize');
    assert.equal(summarize.continued, true);
    assert.equal(summarize.itemCount, ITEMS + 5);
    assert.equal(summarize.items.length, ITEMS);
    assert.deepEqual(summarize.items[7], { index: 7, key: 'k7', status: 'failed', error: 'HTTP 503 from the stand-in for item 7', errorCode: 'http_error', attempts: 3, startedAt: 1_010, finishedAt: 1_020, reused: false, redacted: false });
    assert.deepEqual(summarize.items[8].output, 'summary 8');
    assert.deepEqual(steps.map((s: { skipReason?: string }) => s.skipReason ?? null), [null, null, 'condition', 'upstream_failed', 'upstream_skipped']);
  });
});

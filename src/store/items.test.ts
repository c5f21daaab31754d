/**
 * Items of foreach steps in the store (schema 7): recorded one by one like step results, committed with them,
 * read back by step in index order, timed for history; skip reasons and continued failures on steps; and a
 * store of schema 6 migrated in place (or read as it is when it cannot be written).
 */
import assert from 'node:assert/strict';
import { chmod } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { tempDir } from '../../test/support/workflow.ts';
import type { ConductorError } from '../core/errors.ts';
import { SqliteRunStore } from './sqlite.ts';
import type { ItemResult } from './types.ts';

const steps = [
  { stepId: 'list', fingerprint: 'fl', dependsOn: [] },
  { stepId: 'each', fingerprint: 'fe.l1', dependsOn: ['list'] },
  { stepId: 'urgent', fingerprint: 'fu', dependsOn: ['list'] },
  { stepId: 'combine', fingerprint: 'fc', dependsOn: ['each'] },
];
const newRun = (id: string, startedAt = Date.now()) => ({ id, workflow: '/w/workflow.yaml', workflowHash: 'h', inputs: {}, startedAt, steps });
const item = (index: number, extra: Partial<ItemResult> = {}): ItemResult => ({ index, key: `k${index}`, status: 'succeeded', output: `out ${index}`, attempts: 1, startedAt: 1000 + index, finishedAt: 1010 + index, ...extra });

async function open(t: { after(fn: () => unknown): void }) {
  const path = join(await tempDir(t), 'runs.db');
  const store = new SqliteRunStore(path);
  t.after(() => store.close());
  const other = new DatabaseSync(path, { readOnly: true });
  t.after(() => other.close());
  const itemRows = (runId: string) => (other.prepare('SELECT count(*) AS n FROM step_items WHERE run_id = ?').get(runId) as { n: number }).n;
  return { path, store, itemRows };
}

describe('items of foreach steps in the store', () => {
  it('records each item with its key, status, result or error, and reads them back by step in index order', async (t) => {
    const { store } = await open(t);
    await store.startRun(newRun('r'));
    // In the order items finish, not their order in the list.
    await store.recordItem('r', 'each', item(2, { status: 'failed', output: undefined, error: 'boom', errorCode: 'http_error', hint: 'retry later', errorDetail: '{"body":1}', attempts: 3 }));
    await store.recordItem('r', 'each', item(0, { properties: { statusCode: 200 } }));
    await store.recordItem('r', 'each', item(1, { status: 'cancelled', output: undefined }));
    await store.recordStep('r', 'list', { status: 'succeeded', output: [1, 2, 3] });
    await store.recordStep('r', 'each', { status: 'failed', output: ['out 0', null, null], continued: true, itemCount: 3, error: '1 of 3 items failed' });
    await store.recordStep('r', 'urgent', { status: 'skipped', skipReason: 'condition' });
    await store.recordStep('r', 'combine', { status: 'skipped', skipReason: 'upstream_failed' });
    const { steps: got } = (await store.getRun('r'))!;
    const each = got.find((s) => s.stepId === 'each')!;
    assert.equal(each.continued, true);
    assert.equal(each.itemCount, 3);
    assert.deepEqual(each.items, [
      { index: 0, key: 'k0', status: 'succeeded', output: 'out 0', properties: { statusCode: 200 }, attempts: 1, startedAt: 1000, finishedAt: 1010, reused: false, redacted: false },
      { index: 1, key: 'k1', status: 'cancelled', attempts: 1, startedAt: 1001, finishedAt: 1011, reused: false, redacted: false },
      { index: 2, key: 'k2', status: 'failed', error: 'boom', errorCode: 'http_error', hint: 'retry later', errorDetail: '{"body":1}', attempts: 3, startedAt: 1002, finishedAt: 1012, reused: false, redacted: false },
    ]);
    assert.deepEqual(got.map((s) => [s.stepId, s.status, s.skipReason, s.items?.length]), [
      ['list', 'succeeded', undefined, undefined],
      ['each', 'failed', undefined, 3],
      ['urgent', 'skipped', 'condition', undefined],
      ['combine', 'skipped', 'upstream_failed', undefined],
    ]);
    assert.equal(got[0]!.continued, undefined, 'continued only where it is so');
  });

  it('keeps the items of a step that never finished (a run killed mid-step), and replaces an item recorded twice', async (t) => {
    const { store } = await open(t);
    await store.startRun(newRun('r'));
    await store.recordItem('r', 'each', item(5, { status: 'failed', output: undefined, error: 'first try' }));
    await store.recordItem('r', 'each', item(5));
    await store.recordItem('r', 'each', item(6));
    const each = (await store.getRun('r'))!.steps.find((s) => s.stepId === 'each')!;
    assert.equal(each.status, 'pending');
    assert.deepEqual(each.items?.map((i) => [i.index, i.status]), [[5, 'succeeded'], [6, 'succeeded']]);
  });

  it('commits items within an event-loop turn or two of their arrival, grouped, with the step results', async (t) => {
    const { store, itemRows } = await open(t);
    await store.startRun(newRun('r'));
    for (let i = 0; i < 1000; i++) await store.recordItem('r', 'each', item(i));
    assert.equal(itemRows('r'), 0, 'nothing is written per item, synchronously');
    // Committed by the scheduled flush: wait for it by turns of the event loop, not by time.
    while (itemRows('r') === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.equal(itemRows('r'), 1000, 'in one commit');
    await store.recordItem('r', 'each', item(1000));
    await store.finishRun('r', { status: 'succeeded', finishedAt: Date.now(), outputs: {} });
    assert.equal(itemRows('r'), 1001, 'finishRun commits what is pending');
  });

  it('records 100,000 items of one run, every one of them, in grouped commits', async (t) => {
    const { store, itemRows } = await open(t);
    await store.startRun(newRun('r'));
    const n = 100_000;
    const began = performance.now();
    // As a run delivers them: a few hundred per turn of the event loop.
    for (let i = 0; i < n; i += 500) {
      for (let j = i; j < i + 500; j++) await store.recordItem('r', 'each', { index: j, key: `key-${j}`, status: 'succeeded', outputJson: `{"summary":"item ${j} of the list"}`, attempts: 1, startedAt: j, finishedAt: j + 20 });
      await new Promise((resolve) => setImmediate(resolve));
    }
    await store.finishRun('r', { status: 'succeeded', finishedAt: Date.now(), outputs: {} });
    const ms = performance.now() - began;
    t.diagnostic(`${n} items recorded in ${Math.round(ms)} ms (${Math.round(n / (ms / 1000))} items/s, including the test's own turns)`);
    assert.equal(itemRows('r'), n);
    const items = (await store.getRun('r'))!.steps[1]!.items!;
    assert.equal(items.length, n);
    assert.ok(items.every((it, i) => it.index === i), 'in index order');
    assert.deepEqual(await store.itemDurations('/w/workflow.yaml'), new Map([['fe', 20]]));
  });

  it('times items by what each does, whatever the list: the median of items that succeeded and ran', async (t) => {
    const { store } = await open(t);
    const times = [[10, 20, 30], [40, 50, 1000]];
    for (const [r, ms] of times.entries()) {
      // The same items with another list (`fe.l1`, `fe.l2`): one item fingerprint.
      await store.startRun({ ...newRun(`r${r}`, r), steps: steps.map((s) => (s.stepId === 'each' ? { ...s, fingerprint: `fe.l${r}` } : s)) });
      ms.forEach((d, i) => void store.recordItem(`r${r}`, 'each', item(i, { startedAt: 0, finishedAt: d })));
      await store.recordItem(`r${r}`, 'each', item(9, { status: 'failed', startedAt: 0, finishedAt: 99_999 }));
      await store.recordItem(`r${r}`, 'each', item(8, { reused: true, startedAt: 0, finishedAt: 99_999 }));
      await store.finishRun(`r${r}`, { status: 'succeeded', finishedAt: 5, outputs: {} });
    }
    assert.deepEqual(await store.itemDurations('/w/workflow.yaml'), new Map([['fe', 40]]));
    assert.deepEqual(await store.itemDurations('/w/other.yaml'), new Map());
  });

  it('writes the items a resume carries in with the run, in its transaction, marked reused', async (t) => {
    const { store, path } = await open(t);
    await store.startRun({ ...newRun('r'), reusedItems: [{ stepId: 'each', items: [item(0), item(3, { startedAt: undefined, finishedAt: undefined })] }] });
    const other = new DatabaseSync(path, { readOnly: true });
    t.after(() => other.close());
    // Seen from another process the moment startRun returns.
    assert.deepEqual(other.prepare('SELECT idx, key, output, reused FROM step_items WHERE run_id = ?').all('r').map((r) => ({ ...r })), [
      { idx: 0, key: 'k0', output: '"out 0"', reused: 1 },
      { idx: 3, key: 'k3', output: '"out 3"', reused: 1 },
    ]);
    // Items carried beyond the list the step then had are not the step's.
    await store.recordStep('r', 'each', { status: 'succeeded', output: ['x', 'y'], itemCount: 2 });
    assert.deepEqual((await store.getRun('r'))!.steps[1]!.items!.map((i) => i.index), [0]);
  });

  it('a failed commit of items is reported to onError and thrown by the next call, like a step result', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'runs.db');
    const errors: ConductorError[] = [];
    const store = new SqliteRunStore(path, { busyTimeoutMs: 10, onError: (error) => errors.push(error) });
    t.after(() => store.close());
    await store.startRun(newRun('r'));
    // Another process holds the write lock past the busy timeout.
    const other = new DatabaseSync(path);
    t.after(() => other.close());
    other.exec('BEGIN IMMEDIATE');
    await store.recordItem('r', 'each', item(0));
    while (errors.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.equal(errors[0]!.code, 'store_failed');
    assert.match(errors[0]!.message, /cannot write to the run store .*runs\.db: it is locked by another process/);
    // And thrown by the next call, which still keeps its item for the one more attempt.
    await assert.rejects(store.recordItem('r', 'each', item(1)), { code: 'store_failed' });
    other.exec('COMMIT');
    // The one more attempt: finishRun writes whatever can still be written.
    await store.finishRun('r', { status: 'failed', finishedAt: Date.now(), outputs: {} });
    assert.deepEqual((await store.getRun('r'))!.steps[1]!.items!.map((i) => i.index), [0, 1]);
  });

  it('without onError, a failed commit of items is thrown by the next recordItem', async (t) => {
    const path = join(await tempDir(t), 'runs.db');
    const store = new SqliteRunStore(path, { busyTimeoutMs: 10 });
    t.after(() => store.close());
    await store.startRun(newRun('r'));
    const other = new DatabaseSync(path);
    t.after(() => other.close());
    other.exec('BEGIN IMMEDIATE');
    await store.recordItem('r', 'each', item(0));
    // The scheduled flush fails in the background; the next call throws it.
    let thrown: unknown;
    while (thrown === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      try {
        await store.recordItem('r', 'each', item(1));
      } catch (error) {
        thrown = error;
      }
    }
    assert.equal((thrown as ConductorError).code, 'store_failed');
    other.exec('COMMIT');
  });
});

describe('a store of schema 6', () => {
  /** A store as schema 6 left it: one finished run, its steps without skip reasons, no items. */
  async function schema6(t: { after(fn: () => unknown): void }): Promise<string> {
    const path = join(await tempDir(t), 'runs.db');
    const store = new SqliteRunStore(path);
    await store.startRun({ ...newRun('old'), steps: [steps[0]!] });
    await store.recordStep('old', 'list', { status: 'succeeded', output: ['a'], hint: 'kept' });
    await store.finishRun('old', { status: 'succeeded', finishedAt: Date.now(), outputs: {} });
    await store.close();
    const db = new DatabaseSync(path);
    db.exec('ALTER TABLE step_runs DROP COLUMN input_json; ALTER TABLE step_runs DROP COLUMN worker; DROP TABLE cache_entries; ALTER TABLE step_runs DROP COLUMN usage; ALTER TABLE step_runs DROP COLUMN cost_usd; ALTER TABLE step_runs DROP COLUMN cached; DROP TABLE step_items; ALTER TABLE step_runs DROP COLUMN skip_reason; ALTER TABLE step_runs DROP COLUMN continued; ALTER TABLE step_runs DROP COLUMN item_count; PRAGMA user_version = 6;');
    db.close();
    return path;
  }

  it('is brought up to date in place, keeping its runs', async (t) => {
    const path = await schema6(t);
    const store = new SqliteRunStore(path);
    t.after(() => store.close());
    assert.deepEqual((await store.getRun('old'))!.steps.map((s) => [s.stepId, s.status, s.hint, s.skipReason, s.continued, s.items]), [['list', 'succeeded', 'kept', undefined, undefined, undefined]]);
    await store.startRun(newRun('new'));
    await store.recordItem('new', 'each', item(0));
    await store.recordStep('new', 'urgent', { status: 'skipped', skipReason: 'condition' });
    await store.recordStep('new', 'each', { status: 'failed', continued: true, itemCount: 1 });
    const { steps: got } = (await store.getRun('new'))!;
    assert.deepEqual(got.map((s) => [s.stepId, s.skipReason, s.continued, s.items?.length]), [['list', undefined, undefined, undefined], ['each', undefined, true, 1], ['urgent', 'condition', undefined, undefined], ['combine', undefined, undefined, undefined]]);
    const db = new DatabaseSync(path, { readOnly: true });
    t.after(() => db.close());
    assert.equal((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, 10);
  });

  it('is read as it is when it cannot be written: no items, no skip reasons, and no error', async (t) => {
    const path = await schema6(t);
    await chmod(path, 0o444);
    await chmod(dirname(path), 0o555);
    // In a process of its own that meets file modes even as root (see test/store-failures.test.ts).
    const read = `const { SqliteRunStore } = await import(${JSON.stringify(join(import.meta.dirname, 'sqlite.ts'))});
      const store = new SqliteRunStore(${JSON.stringify(path)}, { access: 'read' });
      console.log(JSON.stringify([(await store.getRun('old')).steps.map((s) => [s.stepId, s.items ?? null, s.skipReason ?? null]), [...(await store.itemDurations('/w/workflow.yaml'))]]));
      await store.close();`;
    const asRoot = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search,-fowner', '--'] : [];
    const [program, ...args] = [...asRoot, process.execPath, '--input-type=module', '-e', read];
    let out: string;
    try {
      out = execFileSync(program!, args, { encoding: 'utf8' });
    } finally {
      await chmod(dirname(path), 0o755);
    }
    assert.deepEqual(JSON.parse(out), [[['list', null, null]], []]);
    const db = new DatabaseSync(path, { readOnly: true });
    t.after(() => db.close());
    assert.equal((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, 6, 'not migrated');
  });
});

/**
 * The store's own rules, through its API and a second connection to the same file (as another process would
 * see it): when a running run counts as alive, the heartbeat that decides it, and opening older stores.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from '../../test/support/workflow.ts';
import { SqliteRunStore } from './sqlite.ts';

/** Undoes schema 10 on a store made by this version: what a store of schema 9 lacks. */
const WITHOUT_10 = 'ALTER TABLE step_runs DROP COLUMN input_json; ALTER TABLE step_items DROP COLUMN input_json;';
/** Undoes schemas 10 and 9 on a store made by this version: what a store of schema 8 lacks. */
const WITHOUT_9 = WITHOUT_10 + ' ALTER TABLE step_runs DROP COLUMN worker; ALTER TABLE step_items DROP COLUMN worker;';
/** Undoes schemas 9 and 8 on a store made by this version: what a store of schema 7 lacks. */
const WITHOUT_8 = WITHOUT_9 + ' DROP TABLE cache_entries; ALTER TABLE step_runs DROP COLUMN usage; ALTER TABLE step_runs DROP COLUMN cost_usd; ALTER TABLE step_runs DROP COLUMN cached; ALTER TABLE step_items DROP COLUMN usage; ALTER TABLE step_items DROP COLUMN cost_usd; ALTER TABLE step_items DROP COLUMN cached;';
/** Undoes schemas 9, 8 and 7 on a store made by this version: what a store of schema 6 lacks. */
const WITHOUT_7 = WITHOUT_8 + ' DROP TABLE step_items; ALTER TABLE step_runs DROP COLUMN skip_reason; ALTER TABLE step_runs DROP COLUMN continued; ALTER TABLE step_runs DROP COLUMN item_count;';

const newRun = (id: string) => ({ id, workflow: '/w/workflow.yaml', workflowHash: 'h', inputs: {}, startedAt: Date.now(), steps: [{ stepId: 'a', fingerprint: 'f', dependsOn: [] }] });

/** A pid that was just in use and is not any more. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

describe('the run store', () => {
  it('tells a live run from one whose process, machine or container is gone', async (t) => {
    const path = join(await tempDir(t), 'runs.db');
    const store = new SqliteRunStore(path);
    t.after(() => store.close());
    await store.startRun(newRun('r1'));
    const other = new DatabaseSync(path);
    t.after(() => other.close());
    const set = async (fields: { pid?: number; host?: string; heartbeatAgoMs?: number | null }) => {
      const row = other.prepare('SELECT pid, host, heartbeat_at FROM runs WHERE id = ?').get('r1') as { pid: number; host: string; heartbeat_at: number | null };
      const heartbeat = fields.heartbeatAgoMs === undefined ? row.heartbeat_at : fields.heartbeatAgoMs === null ? null : Date.now() - fields.heartbeatAgoMs;
      other.prepare('UPDATE runs SET pid = ?, host = ?, heartbeat_at = ? WHERE id = ?').run(fields.pid ?? row.pid, fields.host ?? row.host, heartbeat, 'r1');
      return (await store.listRuns())[0]!.status;
    };
    const live = process.ppid; // the test runner: alive, and not this process

    assert.equal((await store.listRuns())[0]!.status, 'running', 'its own run, just started');
    assert.equal(await set({ pid: await deadPid() }), 'interrupted', 'this machine, the process is gone');
    assert.equal(await set({ pid: live, heartbeatAgoMs: 1_000 }), 'running', 'a live process with a fresh heartbeat');
    assert.equal(await set({ pid: live, heartbeatAgoMs: 60_000 }), 'interrupted', 'a live pid but no heartbeat for a minute: the pid was reused');
    assert.equal(await set({ host: 'ci-runner-7', heartbeatAgoMs: 1_000 }), 'running', 'another machine, fresh heartbeat');
    assert.equal(await set({ host: 'ci-runner-7', heartbeatAgoMs: 60_000 }), 'interrupted', 'another machine gone quiet: a killed CI job');
    // Recorded before heartbeats existed: the pid rule here, and no guess about another machine.
    assert.equal(await set({ host: 'ci-runner-7', heartbeatAgoMs: null }), 'running');
    assert.equal(await set({ host: hostname(), pid: await deadPid(), heartbeatAgoMs: null }), 'interrupted');
  });

  it('beats while a run is running, and stops when it finishes', async (t) => {
    const path = join(await tempDir(t), 'runs.db');
    const store = new SqliteRunStore(path, { heartbeatMs: 10 });
    t.after(() => store.close());
    const other = new DatabaseSync(path);
    t.after(() => other.close());
    const heartbeat = () => (other.prepare('SELECT heartbeat_at FROM runs WHERE id = ?').get('r1') as { heartbeat_at: number }).heartbeat_at;

    await store.startRun(newRun('r1'));
    const first = heartbeat();
    while (heartbeat() === first) await sleep(5);
    assert.ok(heartbeat() > first);

    await store.finishRun('r1', { status: 'succeeded', finishedAt: Date.now(), outputs: {} });
    const last = heartbeat();
    await sleep(100); // ten beats' worth
    assert.equal(heartbeat(), last, 'no heartbeat after the run finished');
  });

  it('brings a store from the previous schema up to date, keeping its runs', async (t) => {
    const path = join(await tempDir(t), 'runs.db');
    const old = new DatabaseSync(path);
    old.exec(`
      CREATE TABLE runs (id TEXT PRIMARY KEY, workflow TEXT NOT NULL, workflow_hash TEXT NOT NULL, inputs TEXT NOT NULL,
        status TEXT NOT NULL, error TEXT, started_at INTEGER NOT NULL, finished_at INTEGER, pid INTEGER NOT NULL,
        host TEXT NOT NULL, resumed_from TEXT, step_count INTEGER NOT NULL, steps TEXT NOT NULL, outputs TEXT);
      CREATE TABLE step_runs (run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, step_id TEXT NOT NULL,
        status TEXT NOT NULL, output TEXT, properties TEXT, error TEXT, error_code TEXT, attempts INTEGER,
        started_at INTEGER, finished_at INTEGER, reused INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, step_id));
      INSERT INTO runs VALUES ('old', '/w/workflow.yaml', 'h', '{}', 'failed', 'boom', 1, 2, 1, 'laptop', NULL, 1, '[{"id":"a","fingerprint":"f","dependsOn":[]}]', '{}');
      INSERT INTO step_runs VALUES ('old', 'a', 'succeeded', '"result"', NULL, NULL, NULL, 1, 1, 2, 0);
      PRAGMA user_version = 2;`);
    old.close();

    const store = new SqliteRunStore(path);
    t.after(() => store.close());
    const { run, steps } = (await store.getRun('old'))!;
    assert.deepEqual([run.status, run.error, steps[0]!.output], ['failed', 'boom', 'result']);
    await store.startRun(newRun('new'));
    await store.recordStep('new', 'a', { status: 'failed', error: 'boom', hint: 'check the key' });
    assert.deepEqual((await store.listRuns()).map((r) => r.id), ['new', 'old']);
    assert.equal((await store.getRun('new'))!.steps[0]!.hint, 'check the key', 'the columns added since schema 2 are there');
  });

  it('brings a store from schema 3 (heartbeats, no hints yet) up to date too', async (t) => {
    const path = join(await tempDir(t), 'runs.db');
    await new SqliteRunStore(path).close();
    const db = new DatabaseSync(path);
    db.exec(WITHOUT_7 + 'ALTER TABLE step_runs DROP COLUMN hint; ALTER TABLE step_runs DROP COLUMN redacted; ALTER TABLE step_runs DROP COLUMN error_detail; ALTER TABLE runs DROP COLUMN options; ALTER TABLE runs DROP COLUMN secret_inputs; PRAGMA user_version = 3;');
    db.close();
    const store = new SqliteRunStore(path);
    t.after(() => store.close());
    await store.startRun(newRun('r'));
    await store.recordStep('r', 'a', { status: 'failed', error: 'boom', hint: 'check the key' });
    assert.equal((await store.getRun('r'))!.steps[0]!.hint, 'check the key');
  });

  it('brings a store from schema 4 up to date, taking every recorded `***` for a redacted secret', async (t) => {
    const path = join(await tempDir(t), 'runs.db');
    const store4 = new SqliteRunStore(path);
    await store4.startRun({ ...newRun('r'), steps: [{ stepId: 'a', fingerprint: 'f', dependsOn: [] }, { stepId: 'b', fingerprint: 'f', dependsOn: [] }, { stepId: 'c', fingerprint: 'f', dependsOn: [] }] });
    await store4.recordStep('r', 'a', { status: 'succeeded', output: 'key=***' });
    await store4.recordStep('r', 'b', { status: 'succeeded', output: 'plain', properties: { headers: { 'set-cookie': '***' } } });
    await store4.recordStep('r', 'c', { status: 'succeeded', output: 'plain' });
    await store4.close();
    const db = new DatabaseSync(path);
    db.exec(WITHOUT_7 + 'ALTER TABLE step_runs DROP COLUMN redacted; ALTER TABLE step_runs DROP COLUMN error_detail; ALTER TABLE runs DROP COLUMN options; ALTER TABLE runs DROP COLUMN secret_inputs; PRAGMA user_version = 4;');
    db.close();

    const store = new SqliteRunStore(path);
    t.after(() => store.close());
    assert.deepEqual((await store.getRun('r'))!.steps.map((s) => [s.stepId, s.redacted]), [['a', true], ['b', true], ['c', false]]);
  });

  it('brings a store from schema 5 (no recorded options or secret inputs) up to date', async (t) => {
    const path = join(await tempDir(t), 'runs.db');
    await new SqliteRunStore(path).close();
    const db = new DatabaseSync(path);
    db.exec(WITHOUT_7 + 'ALTER TABLE runs DROP COLUMN options; ALTER TABLE runs DROP COLUMN secret_inputs; PRAGMA user_version = 5;');
    db.close();
    const store = new SqliteRunStore(path);
    t.after(() => store.close());
    await store.startRun({ ...newRun('r'), options: { model: 'echo' }, secretInputs: ['api_key'] });
    const { run } = (await store.getRun('r'))!;
    assert.deepEqual([run.options, run.secretInputs], [{ model: 'echo' }, ['api_key']]);
  });

  it('commits a run and the results it reused in one transaction', async (t) => {
    const path = join(await tempDir(t), 'runs.db');
    const store = new SqliteRunStore(path);
    t.after(() => store.close());
    const other = new DatabaseSync(path, { readOnly: true });
    t.after(() => other.close());
    await store.startRun({ ...newRun('r'), reused: [{ stepId: 'a', status: 'succeeded', output: 'kept', reused: true }] });
    // Seen from another process the moment startRun returns: no later commit (and so no kill before it) is needed.
    assert.deepEqual(other.prepare('SELECT step_id, output, reused FROM step_runs WHERE run_id = ?').all('r').map((r) => ({ ...r })), [{ step_id: 'a', output: '"kept"', reused: 1 }]);
  });

  it('writes every result of a large commit, a later one for the same step or item winning', async (t) => {
    const store = new SqliteRunStore(join(await tempDir(t), 'runs.db'));
    t.after(() => store.close());
    const ids = Array.from({ length: 37 }, (_, i) => `s${i}`);
    await store.startRun({ ...newRun('r'), steps: ids.map((stepId) => ({ stepId, fingerprint: 'f', dependsOn: [] })) });
    // More than one INSERT's worth of rows in one commit, none of them a full multiple of it.
    for (const id of ids) await store.recordStep('r', id, { status: 'succeeded', output: id });
    await store.recordStep('r', 's3', { status: 'succeeded', output: 'again' });
    for (let index = 0; index < 21; index++) await store.recordItem('r', 's0', { index, key: 'k', status: 'succeeded', output: index });
    await store.recordItem('r', 's0', { index: 20, key: 'k', status: 'succeeded', output: 'later' });
    store.flush();
    const { steps } = (await store.getRun('r'))!;
    assert.deepEqual(steps.map((s) => s.output), ids.map((id) => (id === 's3' ? 'again' : id)));
    assert.deepEqual(steps[0]!.items!.map((item) => item.output), [...Array.from({ length: 20 }, (_, i) => i), 'later']);
  });

  it('brings a store from schema 7 up to date, carrying the tokens an llm step kept in its properties into `usage`', async (t) => {
    const path = join(await tempDir(t), 'runs.db');
    const store = new SqliteRunStore(path);
    const props = (input: number) => ({ model: 'openai:m', usage: { inputTokens: input, outputTokens: 2 }, finishReason: 'stop' });
    for (const [id, input] of [['one', 10], ['two', 30], ['three', 20]] as const) {
      await store.startRun(newRun(id));
      await store.recordStep(id, 'a', { status: 'succeeded', output: 'x', properties: props(input), startedAt: 1, finishedAt: 2 });
      await store.recordItem(id, 'a', { index: 0, key: 'k', status: 'succeeded', output: 'x', properties: props(input) });
      await store.finishRun(id, { status: 'succeeded', finishedAt: Date.now(), outputs: {} });
    }
    await store.close();
    const db = new DatabaseSync(path);
    db.exec(`${WITHOUT_8} PRAGMA user_version = 7;`);
    db.close();

    const migrated = new SqliteRunStore(path);
    t.after(() => migrated.close());
    assert.deepEqual((await migrated.getRun('two'))!.steps[0]!.usage, { model: 'openai:m', inputTokens: 30, outputTokens: 2 });
    assert.deepEqual([...(await migrated.usage('/w/workflow.yaml'))], [['f', { model: 'openai:m', inputTokens: 20, outputTokens: 2 }]], 'history reads the column, and the model');
    const check = new DatabaseSync(path, { readOnly: true });
    t.after(() => check.close());
    assert.deepEqual(check.prepare("SELECT usage FROM step_items ORDER BY json_extract(usage, '$.inputTokens')").all().map((r) => JSON.parse(String(r['usage']))), [props(10), props(20), props(30)].map((p) => ({ model: p.model, ...p.usage })));
  });

  it('takes no token sample from a foreach step whose items were partly carried in by a resume', async (t) => {
    const store = new SqliteRunStore(join(await tempDir(t), 'runs.db'));
    t.after(() => store.close());
    const usage = (input: number) => ({ model: 'openai:m', inputTokens: input, outputTokens: 1 });
    await store.startRun(newRun('full'));
    await store.recordStep('full', 'a', { status: 'succeeded', output: ['x', 'y'], usage: usage(20), itemCount: 2 });
    await store.finishRun('full', { status: 'succeeded', finishedAt: Date.now(), outputs: {} });
    await store.startRun({ ...newRun('resumed'), reusedItems: [{ stepId: 'a', items: [{ index: 0, key: 'k', status: 'succeeded', output: 'x', reused: true }] }] });
    await store.recordStep('resumed', 'a', { status: 'succeeded', output: ['x', 'y'], usage: usage(10), itemCount: 2 });
    await store.finishRun('resumed', { status: 'succeeded', finishedAt: Date.now(), outputs: {} });
    assert.deepEqual([...(await store.usage('/w/workflow.yaml'))], [['f', { model: 'openai:m', inputTokens: 20, outputTokens: 1 }]]);
  });

  it('records a result once: never over a recorded success, durable when it resolves, nothing for an unknown run or step', async (t) => {
    const path = join(await tempDir(t), 'runs.db');
    const store = new SqliteRunStore(path);
    t.after(() => store.close());
    const other = new DatabaseSync(path, { readOnly: true });
    t.after(() => other.close());
    await store.startRun({ ...newRun('r'), steps: [{ stepId: 'a', fingerprint: 'f', dependsOn: [] }, { stepId: 'b', fingerprint: 'f', dependsOn: [] }] });
    const row = (stepId: string) => ({ ...other.prepare('SELECT status, output, worker FROM step_runs WHERE run_id = ? AND step_id = ?').get('r', stepId) });

    assert.equal(await store.recordStepOnce('r', 'a', { status: 'failed', error: 'boom', worker: 'w1:1' }), true);
    // Seen from another process the moment it resolves: no grouped commit to wait for.
    assert.deepEqual(row('a'), { status: 'failed', output: null, worker: 'w1:1' });
    assert.equal(await store.recordStepOnce('r', 'a', { status: 'succeeded', output: 'first', worker: 'w2:2' }), true, 'a failure is written over');
    assert.equal(await store.recordStepOnce('r', 'a', { status: 'succeeded', output: 'second', worker: 'w3:3' }), false, 'a success is not');
    assert.deepEqual(row('a'), { status: 'succeeded', output: '"first"', worker: 'w2:2' });
    // A result recorded in the usual way, still waiting for its grouped commit, counts too.
    void store.recordStep('r', 'b', { status: 'succeeded', output: 'grouped' });
    assert.equal(await store.recordStepOnce('r', 'b', { status: 'succeeded', output: 'late' }), false);
    assert.equal(await store.recordStepOnce('nope', 'a', { status: 'succeeded' }), false, 'an unknown run');
    assert.equal(await store.recordStepOnce('r', 'nope', { status: 'succeeded' }), false, 'an unknown step');
    assert.equal(other.prepare('SELECT count(*) AS n FROM step_runs').get()!['n'], 2);

    const item = (key: string, status: 'succeeded' | 'failed', output: string) => ({ index: 3, key, status, output, worker: `w:${output}` });
    assert.equal(await store.recordItemOnce('r', 'a', item('k1', 'failed', 'x')), true);
    assert.equal(await store.recordItemOnce('r', 'a', item('k1', 'succeeded', 'y')), true);
    assert.equal(await store.recordItemOnce('r', 'a', item('k1', 'succeeded', 'z')), false, 'a success with the same key stays');
    assert.equal(await store.recordItemOnce('r', 'a', item('k2', 'succeeded', 'other')), true, 'another key is another item');
    assert.equal(await store.recordItemOnce('r', 'nope', item('k2', 'succeeded', 'z')), false);
    assert.deepEqual({ ...other.prepare('SELECT key, output, worker FROM step_items WHERE run_id = ? AND step_id = ? AND idx = 3').get('r', 'a') }, { key: 'k2', output: '"other"', worker: 'w:other' });
  });

  it('gives the recorded success of a step or an item, with everything it recorded, and nothing else', async (t) => {
    const store = new SqliteRunStore(join(await tempDir(t), 'runs.db'));
    t.after(() => store.close());
    await store.startRun({ ...newRun('r'), steps: [{ stepId: 'a', fingerprint: 'f', dependsOn: [] }, { stepId: 'b', fingerprint: 'f', dependsOn: [] }] });
    const usage = { model: 'openai:m', inputTokens: 3, outputTokens: 1 };
    await store.recordStep('r', 'a', { status: 'succeeded', output: { n: 1 }, properties: { model: 'openai:m' }, usage, costUsd: 0.5, attempts: 2, startedAt: 10, finishedAt: 20, redacted: true, worker: 'w:1' });
    await store.recordStep('r', 'b', { status: 'failed', error: 'boom' });
    await store.recordItem('r', 'a', { index: 0, key: 'k', status: 'succeeded', output: 'item', usage, costUsd: 0.1, attempts: 1, startedAt: 11, finishedAt: 12, worker: 'w:2' });
    await store.recordItem('r', 'a', { index: 1, key: 'k', status: 'failed', error: 'no' });

    assert.deepEqual(await store.recordedSuccess('r', 'a'), { output: { n: 1 }, properties: { model: 'openai:m' }, usage, costUsd: 0.5, attempts: 2, startedAt: 10, finishedAt: 20, reused: false, redacted: true, worker: 'w:1' });
    assert.equal(await store.recordedSuccess('r', 'b'), undefined, 'it failed');
    assert.equal(await store.recordedSuccess('other', 'a'), undefined);
    assert.deepEqual(await store.recordedSuccess('r', 'a', { index: 0, key: 'k' }), { output: 'item', usage, costUsd: 0.1, attempts: 1, startedAt: 11, finishedAt: 12, reused: false, redacted: false, worker: 'w:2' });
    assert.equal(await store.recordedSuccess('r', 'a', { index: 0, key: 'changed' }), undefined, 'the item ran with something else');
    assert.equal(await store.recordedSuccess('r', 'a', { index: 1, key: 'k' }), undefined, 'it failed');
    assert.equal(await store.recordedSuccess('r', 'a', { index: 2, key: 'k' }), undefined, 'never recorded');
  });

  it('keeps the worker a step or an item ran on, and reads it back with the run', async (t) => {
    const store = new SqliteRunStore(join(await tempDir(t), 'runs.db'));
    t.after(() => store.close());
    await store.startRun({ ...newRun('r'), steps: [{ stepId: 'a', fingerprint: 'f', dependsOn: [] }, { stepId: 'b', fingerprint: 'f', dependsOn: [] }] });
    await store.recordItem('r', 'a', { index: 0, key: 'k', status: 'succeeded', output: 0, worker: 'host-1:42' });
    await store.recordItem('r', 'a', { index: 1, key: 'k', status: 'succeeded', output: 1 });
    await store.recordStep('r', 'a', { status: 'succeeded', output: [0, 1], worker: 'host-2:7', itemCount: 2 });
    await store.recordStep('r', 'b', { status: 'succeeded', output: 'here' });
    const { steps } = (await store.getRun('r'))!;
    assert.deepEqual(steps.map((s) => s.worker), ['host-2:7', undefined]);
    assert.deepEqual(steps[0]!.items!.map((item) => item.worker), ['host-1:42', undefined]);
  });

  it('brings a store from schema 8 up to date: results recorded before ran on no worker', async (t) => {
    const path = join(await tempDir(t), 'runs.db');
    const store8 = new SqliteRunStore(path);
    await store8.startRun(newRun('r'));
    await store8.recordItem('r', 'a', { index: 0, key: 'k', status: 'succeeded', output: 'x' });
    await store8.recordStep('r', 'a', { status: 'succeeded', output: ['x'], itemCount: 1 });
    await store8.close();
    const db = new DatabaseSync(path);
    db.exec(`${WITHOUT_9} PRAGMA user_version = 8;`);
    db.close();

    const store = new SqliteRunStore(path);
    t.after(() => store.close());
    const { steps } = (await store.getRun('r'))!;
    assert.deepEqual([steps[0]!.output, steps[0]!.worker, steps[0]!.items![0]!.output, steps[0]!.items![0]!.worker], [['x'], undefined, 'x', undefined]);
    await store.startRun(newRun('new'));
    await store.recordItem('new', 'a', { index: 0, key: 'k', status: 'succeeded', output: 'y', worker: 'w:1' });
    await store.recordStep('new', 'a', { status: 'succeeded', output: ['y'], worker: 'w:2', itemCount: 1 });
    const again = (await store.getRun('new'))!.steps[0]!;
    assert.deepEqual([again.worker, again.items![0]!.worker], ['w:2', 'w:1']);
    const check = new DatabaseSync(path, { readOnly: true });
    t.after(() => check.close());
    assert.equal((check.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, 10);
  });

  /** A store of schema 9 (before inputs were kept) with one run: a step with an item, each run on a worker. */
  async function schema9(t: { after(fn: () => unknown): void }): Promise<string> {
    const path = join(await tempDir(t), 'runs.db');
    const made = new SqliteRunStore(path);
    await made.startRun(newRun('r'));
    await made.recordItem('r', 'a', { index: 0, key: 'k', status: 'succeeded', output: 'x', worker: 'w:1' });
    await made.recordStep('r', 'a', { status: 'succeeded', output: ['x'], worker: 'w:2', itemCount: 1 });
    await made.close();
    const db = new DatabaseSync(path);
    db.exec(`${WITHOUT_10} PRAGMA user_version = 9;`);
    db.close();
    return path;
  }

  it('brings a store from schema 9 up to date: results recorded before kept no input, new ones keep theirs', async (t) => {
    const path = await schema9(t);
    const store = new SqliteRunStore(path);
    t.after(() => store.close());
    const { steps } = (await store.getRun('r'))!;
    assert.deepEqual([steps[0]!.output, steps[0]!.worker, steps[0]!.input, steps[0]!.items![0]!.worker, steps[0]!.items![0]!.input], [['x'], 'w:2', undefined, 'w:1', undefined]);
    assert.ok(!('input' in steps[0]!) && !('input' in steps[0]!.items![0]!));
    await store.startRun(newRun('new'));
    await store.recordItem('new', 'a', { index: 0, key: 'k', status: 'failed', error: 'bad', input: { prompt: { n: 1 } } });
    await store.recordStep('new', 'a', { status: 'failed', error: 'item 0: bad', input: { prompt: 'not a foreach, but kept all the same' }, itemCount: 1 });
    const again = (await store.getRun('new'))!.steps[0]!;
    assert.deepEqual([again.input, again.items![0]!.input], [{ prompt: 'not a foreach, but kept all the same' }, { prompt: { n: 1 } }]);
    const check = new DatabaseSync(path, { readOnly: true });
    t.after(() => check.close());
    assert.equal((check.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, 10);
  });

  it('reads a store of schema 9 as it is when it cannot be written: its workers, and no input', async (t) => {
    const path = await schema9(t);
    await chmod(path, 0o444);
    await chmod(dirname(path), 0o555);
    // In a process of its own that meets file modes even as root (see test/store-failures.test.ts).
    const read = `const { SqliteRunStore } = await import(${JSON.stringify(join(import.meta.dirname, 'sqlite.ts'))});
      const store = new SqliteRunStore(${JSON.stringify(path)}, { access: 'read' });
      const step = (await store.getRun('r')).steps[0];
      console.log(JSON.stringify([step.worker, 'input' in step, step.items.map((i) => [i.output, i.worker, 'input' in i])]));
      await store.close();`;
    const asRoot = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search,-fowner', '--'] : [];
    const [program, ...args] = [...asRoot, process.execPath, '--input-type=module', '-e', read];
    let out: string;
    try {
      out = execFileSync(program!, args, { encoding: 'utf8' });
    } finally {
      await chmod(dirname(path), 0o755);
    }
    assert.deepEqual(JSON.parse(out), ['w:2', false, [['x', 'w:1', false]]]);
    const db = new DatabaseSync(path, { readOnly: true });
    t.after(() => db.close());
    assert.equal((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, 9, 'not migrated');
  });

  it('refuses a store written by a newer version, naming it', async (t) => {
    const path = join(await tempDir(t), 'runs.db');
    const newer = new DatabaseSync(path);
    newer.exec('PRAGMA user_version = 99;');
    newer.close();
    assert.throws(() => new SqliteRunStore(path), /cannot open the run store .*runs\.db: it was written by a newer version of Conductor \(schema 99, this one reads 10\)/);
  });
});

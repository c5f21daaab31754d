/**
 * The PostgreSQL store against the real server (test/support/services.ts; skipped with the reason shown where
 * none answers): the store contract (contract.ts), each test in a schema of its own dropped after it, and what
 * only a server store has to get right — an unreachable server named without its password, two processes
 * creating one schema at once, two workers racing to record one step, and schema names that are not plain.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { hostname, userInfo } from 'node:os';
import { after, describe, it, it as test, type TestContext } from 'node:test';
import { Client } from 'pg';
import { postgresService } from '../../test/support/services.ts';
import { CLOSED_PORT } from '../../test/support/stand-in.ts';
import { storeContract } from './contract.ts';
import { openPostgresStore, type PostgresStoreOptions } from './postgres.ts';
import type { NewRun, RunStore } from './types.ts';

const service = await postgresService();

/** A schema name of the test's own. */
const schemaName = () => `t_${randomBytes(6).toString('hex')}`;

/** The test database's URL naming `schema`. */
function urlWith(schema: string): string {
  const url = new URL(service.url);
  url.searchParams.set('schema', schema);
  return url.toString();
}

/** One plain connection for the tests' own statements (ageing heartbeats, dropping schemas). */
let admin: Client | undefined;
async function adminClient(): Promise<Client> {
  if (!admin) {
    // With the user the store takes when the URL names none (this process's, as libpq does).
    const url = new URL(service.url);
    if (url.username === '' && !process.env['PGUSER']) url.username = userInfo().username;
    const client = new Client({ connectionString: url.toString() });
    await client.connect();
    admin = client;
  }
  return admin;
}
after(async () => {
  await admin?.end();
});

async function dropSchema(schema: string): Promise<void> {
  if (!/^t_[0-9a-f]+$/.test(schema)) throw new Error(`refusing to drop a schema that is not a test's: ${schema}`);
  await (await adminClient()).query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

storeContract(
  'postgres',
  async (options: PostgresStoreOptions = {}) => {
    const schema = schemaName();
    const url = urlWith(schema);
    const store = await openPostgresStore(url, options);
    return {
      store,
      reopen: () => openPostgresStore(url, {}),
      cleanup: () => dropSchema(schema),
      // On the database's clock, which is the one the store judges heartbeats by.
      setHeartbeat: async (runId, agoMs) => {
        await (await adminClient()).query(`UPDATE "${schema}".runs SET heartbeat_at = (extract(epoch FROM now()) * 1000)::bigint - $2 WHERE id = $1`, [runId, agoMs]);
      },
    };
  },
  service.options,
);

const newRun = (id: string): NewRun => ({ id, workflow: '/w/workflow.yaml', workflowHash: 'h', inputs: {}, startedAt: Date.now(), steps: [{ stepId: 'a', fingerprint: 'f', dependsOn: [] }] });

/** A pid that was just in use and is not any more. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}


describe('the PostgreSQL store', () => {
  it('names an unreachable server without its password: store_unavailable', async () => {
    const port = CLOSED_PORT;
    const url = `postgres://conductor:hunter2-secret@127.0.0.1:${port}/test?schema=conductor&sslpassword=also-secret`;
    await assert.rejects(openPostgresStore(url, {}), (error: Error & { code?: string; hint?: string }) => {
      assert.equal(error.code, 'store_unavailable');
      assert.match(error.message, new RegExp(`^cannot reach the run store at postgres://\\*\\*\\*@127\\.0\\.0\\.1:${port}/test\\?schema=conductor&sslpassword=\\*\\*\\*: .*ECONNREFUSED`));
      for (const text of [error.message, error.hint ?? '', error.stack ?? '', String(error.cause), (error.cause as Error | undefined)?.stack ?? '']) {
        assert.ok(!text.includes('hunter2') && !text.includes('also-secret'), `no password in: ${text}`);
      }
      return true;
    });
  });

  it('refuses a schema name that is not a plain identifier, before connecting', async () => {
    for (const schema of ['Robert"; DROP TABLE runs; --', 'two words', '9lives', 'UPPER', '', 'a'.repeat(64)]) {
      await assert.rejects(openPostgresStore(urlWith(schema), {}), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'store_unavailable');
        assert.match(error.message, /is not a plain name/);
        return true;
      });
    }
  });

  it('refuses a URL that is not postgres://', async () => {
    await assert.rejects(openPostgresStore('mysql://db/test', {}), { code: 'store_unavailable', message: /not a postgres:\/\/ URL/ });
  });

  describe('on the server', () => {
    // Skipped test by test, not as a suite: the runner's summary counts skipped tests only.
    const it = (title: string, fn: (t: TestContext) => Promise<void>) => test(title, service.options, fn);

    it('is created once by two processes opening a new schema at the same time', async (t) => {
      const schema = schemaName();
      t.after(() => dropSchema(schema));
      const stores = await Promise.all([openPostgresStore(urlWith(schema), {}), openPostgresStore(urlWith(schema), {}), openPostgresStore(urlWith(schema), {})]);
      t.after(() => Promise.all(stores.map((s) => s.close())));
      await stores[0]!.startRun(newRun('r'));
      for (const store of stores) assert.deepEqual((await store.listRuns()).map((r) => r.id), ['r']);
      const { rows } = await (await adminClient()).query(`SELECT version FROM "${schema}".schema_version`);
      assert.deepEqual(rows.map((r) => r.version), [1, 2], 'migrated once');
    });

    it('lets exactly one of two workers racing to record a step\'s success win', async (t) => {
      const schema = schemaName();
      t.after(() => dropSchema(schema));
      const [a, b] = await Promise.all([openPostgresStore(urlWith(schema), {}), openPostgresStore(urlWith(schema), {})]);
      t.after(() => Promise.all([a!.close(), b!.close()]));
      const runs = Array.from({ length: 20 }, (_, k) => `r${k}`);
      for (const id of runs) await a!.startRun(newRun(id));
      // Twenty races, each on a step of its own, the two calls sent together from two pools.
      const outcomes = await Promise.all(
        runs.map(async (id) => {
          const [first, second] = await Promise.all([a!.recordStepOnce(id, 'a', { status: 'succeeded', output: 'from a', worker: 'a' }), b!.recordStepOnce(id, 'a', { status: 'succeeded', output: 'from b', worker: 'b' })]);
          const recorded = await a!.recordedSuccess(id, 'a');
          return { first, second, winner: recorded?.worker };
        }),
      );
      for (const { first, second, winner } of outcomes) {
        assert.equal(Number(first) + Number(second), 1, 'exactly one wrote');
        assert.equal(winner, first ? 'a' : 'b', 'and its result is the one recorded');
      }
    });

    it('writes two stores\' batches of the same rows without a deadlock', async (t) => {
      const schema = schemaName();
      t.after(() => dropSchema(schema));
      const errors: Error[] = [];
      const [a, b] = await Promise.all([openPostgresStore(urlWith(schema), { onError: (e) => errors.push(e) }), openPostgresStore(urlWith(schema), { onError: (e) => errors.push(e) })]);
      await a!.startRun({ ...newRun('r'), steps: [{ stepId: 'each', fingerprint: 'fe.l', dependsOn: [] }] });
      const indexes = Array.from({ length: 2_000 }, (_, i) => i);
      // The same items, one store from the first, the other from the last: rows locked in opposite orders,
      // were they written as recorded.
      for (let round = 0; round < 5; round++) {
        for (const i of indexes) void a!.recordItem('r', 'each', { index: i, key: `k${i}`, status: 'succeeded', output: `a${round}` });
        for (const i of indexes.toReversed()) void b!.recordItem('r', 'each', { index: i, key: `k${i}`, status: 'succeeded', output: `b${round}` });
        await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all([a!.close(), b!.close()]);
      assert.deepEqual(errors, []);
      const store = await openPostgresStore(urlWith(schema), {});
      t.after(() => store.close());
      assert.equal((await store.getRun('r'))!.steps[0]!.items!.length, 2_000);
    });

    it('rejects close with a write that failed and that no call has told of', async (t) => {
      const schema = schemaName();
      t.after(() => dropSchema(schema));
      const store = await openPostgresStore(urlWith(schema), {});
      await store.startRun(newRun('r'));
      void store.recordStep('r', 'a', { status: 'succeeded', output: 'kept' });
      // A result for a run the store never started: refused, in the background.
      void store.recordStep('ghost', 'a', { status: 'succeeded', output: 1 });
      await assert.rejects(store.close(), (error: Error & { code?: string }) => error.code === 'store_failed' && error.message.startsWith(`cannot write to the run store ${store.location}: `));
      // Written with it in one transaction, and refused with it: finishRun would have tried again.
      const other = await openPostgresStore(urlWith(schema), {});
      t.after(() => other.close());
      assert.equal((await other.getRun('r'))!.steps[0]!.status, 'pending');
    });

    it('makes one more attempt at finishRun with the results a failed write kept', async (t) => {
      const schema = schemaName();
      t.after(() => dropSchema(schema));
      // The URL's own libpq options are kept beside the schema's search_path: a short lock_timeout here.
      const url = new URL(urlWith(schema));
      url.searchParams.set('options', '-c lock_timeout=50');
      const errors: Error[] = [];
      const store = await openPostgresStore(url.toString(), { onError: (error) => errors.push(error) });
      t.after(() => store.close());
      await store.startRun(newRun('r'));
      // Another process holds the table past the lock timeout: the grouped write fails, and is told.
      const admin = await adminClient();
      await admin.query('BEGIN');
      await admin.query(`LOCK TABLE "${schema}".step_runs IN ACCESS EXCLUSIVE MODE`);
      try {
        await assert.rejects(store.recordStep('r', 'a', { status: 'succeeded', output: 'kept' }), { code: 'store_failed', message: /another process holds a lock on it \(canceling statement due to lock timeout\)/ });
        assert.equal(errors.length, 1, 'told to onError');
        await assert.rejects(store.recordStep('r', 'a', { status: 'succeeded', output: 'kept, and recorded again' }), { code: 'store_failed' }, 'and rejected by the next call');
      } finally {
        await admin.query('COMMIT');
      }
      // Nothing more is written behind the caller's back; finishRun writes what was kept, with the outcome.
      await store.finishRun('r', { status: 'succeeded', finishedAt: Date.now(), outputs: {} });
      const got = (await store.getRun('r'))!;
      assert.deepEqual([got.run.status, got.steps[0]!.output], ['succeeded', 'kept, and recorded again']);
      assert.equal(errors.length, 1, 'told once');
    });

    it('names its location with the password redacted, and keeps the schema it was given', async (t) => {
      const schema = schemaName();
      t.after(() => dropSchema(schema));
      const url = new URL(urlWith(schema));
      url.searchParams.set('password', 'not-shown');
      let store: RunStore | undefined;
      try {
        store = await openPostgresStore(url.toString(), {});
      } catch (error) {
        // A server that checks passwords refuses this one: what matters here is the message.
        assert.ok(!String((error as Error).message).includes('not-shown'));
        return;
      }
      t.after(() => store!.close());
      assert.ok(!store.location.includes('not-shown'), store.location);
      assert.match(store.location, new RegExp(`schema=${schema}`));
      const { rows } = await (await adminClient()).query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema]);
      assert.deepEqual(rows.map((r) => r.table_name), ['cache_entries', 'items', 'runs', 'schema_version', 'step_runs']);
    });

    it('judges a running run on another machine by its heartbeat alone, and one on this machine by its pid too', async (t) => {
      const schema = schemaName();
      t.after(() => dropSchema(schema));
      const store = await openPostgresStore(urlWith(schema), {});
      t.after(() => store.close());
      await store.startRun(newRun('r'));
      const admin = await adminClient();
      const runId = 'r';
      /** Sets the run's owner and heartbeat (ms before now on the database's clock), and reads its status back. */
      const set = async (host: string, pid: number, agoMs: number) => {
        await admin.query(`UPDATE "${schema}".runs SET host = $2, pid = $3, heartbeat_at = (extract(epoch FROM now()) * 1000)::bigint - $4 WHERE id = $1`, [runId, host, pid, agoMs]);
        return (await store.listRuns())[0]!.status;
      };
      const gone = await deadPid();
      assert.equal(await set('ci-runner-7', gone, 1_000), 'running', 'another machine, fresh heartbeat: its pid means nothing here');
      assert.equal(await set('ci-runner-7', gone, 60_000), 'interrupted', 'another machine gone quiet');
      assert.equal(await set(hostname(), gone, 1_000), 'interrupted', 'this machine, the process is gone');
      assert.equal(await set(hostname(), process.pid, 1_000), 'running');
      assert.equal(await set(hostname(), process.pid, 60_000), 'interrupted', 'a live pid but no heartbeat for a minute: the pid was reused');
    });

    it('refuses a schema written by a newer version of Conductor', async (t) => {
      const schema = schemaName();
      t.after(() => dropSchema(schema));
      await (await openPostgresStore(urlWith(schema), {})).close();
      await (await adminClient()).query(`INSERT INTO "${schema}".schema_version (version) VALUES (99)`);
      await assert.rejects(openPostgresStore(urlWith(schema), {}), { code: 'store_unavailable', message: /written by a newer version of Conductor \(schema 99, this one reads 2\)/ });
    });

    it('brings a schema 1 store up to date: results recorded before kept no input, new ones keep theirs', async (t) => {
      const schema = schemaName();
      t.after(() => dropSchema(schema));
      const made = await openPostgresStore(urlWith(schema), {});
      await made.startRun(newRun('old'));
      await made.recordItem('old', 'a', { index: 0, key: 'k', status: 'succeeded', output: 'x' });
      await made.recordStep('old', 'a', { status: 'succeeded', output: ['x'], itemCount: 1 });
      await made.close();
      // What schema 1 lacks.
      const admin = await adminClient();
      await admin.query(`ALTER TABLE "${schema}".step_runs DROP COLUMN input_json; ALTER TABLE "${schema}".items DROP COLUMN input_json; DELETE FROM "${schema}".schema_version WHERE version = 2`);
      const store = await openPostgresStore(urlWith(schema), {});
      t.after(() => store.close());
      const old = (await store.getRun('old'))!;
      assert.deepEqual([old.steps[0]!.output, old.steps[0]!.input, old.steps[0]!.items![0]!.output, old.steps[0]!.items![0]!.input], [['x'], undefined, 'x', undefined]);
      await store.startRun(newRun('new'));
      await store.recordItem('new', 'a', { index: 0, key: 'k', status: 'succeeded', output: 'y', input: { prompt: 'y' } });
      await store.recordStep('new', 'a', { status: 'succeeded', output: ['y'], input: { prompt: 'list' }, itemCount: 1 });
      const again = (await store.getRun('new'))!;
      assert.deepEqual([again.steps[0]!.input, again.steps[0]!.items![0]!.input], [{ prompt: 'list' }, { prompt: 'y' }]);
      const { rows } = await admin.query(`SELECT version FROM "${schema}".schema_version ORDER BY version`);
      assert.deepEqual(rows.map((r) => r.version), [1, 2]);
    });

    it('writes 20,000 items recorded without waiting, in order, grouped', async (t) => {
      const schema = schemaName();
      t.after(() => dropSchema(schema));
      const store = await openPostgresStore(urlWith(schema), {});
      t.after(() => store.close());
      await store.startRun({ ...newRun('r'), steps: [{ stepId: 'each', fingerprint: 'fe.l', dependsOn: [] }] });
      const n = 20_000;
      const began = performance.now();
      for (let i = 0; i < n; i += 500) {
        for (let j = i; j < i + 500; j++) void store.recordItem('r', 'each', { index: j, key: `key-${j}`, status: 'succeeded', outputJson: `{"summary":"item ${j}"}`, startedAt: j, finishedAt: j + 20 });
        await new Promise((resolve) => setImmediate(resolve));
      }
      await store.finishRun('r', { status: 'succeeded', finishedAt: Date.now(), outputs: {} });
      t.diagnostic(`${n} items recorded in ${Math.round(performance.now() - began)} ms`);
      const items = (await store.getRun('r'))!.steps[0]!.items!;
      assert.equal(items.length, n);
      assert.ok(items.every((item, i) => item.index === i && (item.output as { summary: string }).summary === `item ${i}`));
      assert.deepEqual(await store.itemDurations!('/w/workflow.yaml'), new Map([['fe', 20]]));
    });
  });
});

/**
 * The shared store: PostgreSQL through `pg`, for runs whose steps are recorded by workers on other machines
 * (src/queue/). It keeps what the SQLite store keeps and reads it back the same (postgres-rows.ts), in a schema
 * of its own (postgres-schema.ts).
 *
 * Writes of one store object are applied in the order they were called, through one queue: step and item
 * results recorded while an earlier write is in flight go together in the next transaction (the group commit
 * the SQLite store does with a timer, here paced by the server's round trips). A write that fails in the
 * background is given to `onError` and rejected by the next call; after it nothing more is written behind the
 * caller's back, and finishRun makes one more attempt with everything kept, as the SQLite store does.
 *
 * Liveness is the database's: a running run's process writes `heartbeat_at` on the server's clock, and a run
 * whose heartbeat is older than 30 s on that same clock lists as interrupted (a pid means something only on the
 * machine that recorded it).
 */
import { hostname } from 'node:os';
import type { Pool, PoolClient } from 'pg';
import { SetupError, type ConductorError } from '../core/errors.ts';
import { median } from '../core/median.ts';
import type { UnitUsage } from '../core/report.ts';
import type { RunStatus } from '../core/status.ts';
import type { StoreOperation } from './errors.ts';
import { PostgresCacheEntries } from './postgres-cache.ts';
import { connect } from './postgres-connect.ts';
import { postgresError } from './postgres-errors.ts';
import { itemDurationSamples, stepSamples } from './postgres-history.ts';
import { columnsOf, ITEMS, itemRecord, itemRow, resultFields, STEPS, stepRecord, stepRow, upsert, type PlannedStep, type Row } from './postgres-rows.ts';
import { DB_NOW_MS, runRecord, RUNS, RUNS_WITH_STEPS, type RunRow } from './postgres-runs.ts';
import { migrate } from './postgres-schema.ts';
import { StoreFailures } from './failures.ts';
import type { CacheEntries, ItemRecord, ItemResult, NewRun, ResultFields, RunRecord, RunStore, StepRecord, StepResult, StoreOptions } from './types.ts';

/**
 * As for every store (types.ts). `access: 'read'` opens it as for writing (the schema is created when missing);
 * a schema already up to date is never locked or altered, so a user who may only read can open it.
 * `busyTimeoutMs` is SQLite's and means nothing here.
 */
export type PostgresStoreOptions = StoreOptions;

const HEARTBEAT_MS = 5_000;
/** Rows written by one statement: a grouped write of 100,000 items is a hundred statements in one transaction. */
const ROWS_PER_STATEMENT = 1_000;
/** How many times a transaction that lost a deadlock to another process is tried. */
const TRANSACTION_ATTEMPTS = 3;

/** Step and item results waiting to be written together: a later one for the same step or index replaces it. */
interface Batch {
  steps: Map<string, Row>;
  items: Map<string, Row>;
  /** Settles when the batch has been written (or has failed): what recordStep and recordItem return. */
  written?: Promise<void>;
}

const newBatch = (): Batch => ({ steps: new Map(), items: new Map() });
const noop = () => {};

/**
 * Opens the store at `url` (`postgres://user:password@host:port/database?schema=name`): reaches the server
 * (5 s at most) and creates or brings up to date its schema. Fails with `store_unavailable` naming the URL with
 * its password redacted.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<RunStore> {
  const { pool, location, schema } = connect(url);
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    await pool.end().catch(noop);
    throw postgresError(location, 'open', error);
  }
  try {
    await migrate(client, schema);
    client.release();
  } catch (error) {
    client.release(true);
    await pool.end().catch(noop);
    throw postgresError(location, 'open', error);
  }
  return new PostgresRunStore(pool, location, options);
}

class PostgresRunStore implements RunStore {
  readonly location: string;
  readonly #pool: Pool;
  readonly #host = hostname();
  readonly #heartbeatMs: number;
  readonly #failures: StoreFailures;
  /** The end of the write queue: settles when every write called so far has been applied (or has failed). */
  #tail: Promise<void> = Promise.resolve();
  /** The batch at the end of the queue, not started yet: results recorded now join it. */
  #open: Batch | undefined;
  /** Results not written because the store is broken: finishRun makes one more attempt with them. */
  #kept: Batch = newBatch();
  /** The runs this store started and has not finished: their heartbeat is ours to write. */
  readonly #owned = new Set<string>();
  #heartbeat: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #cache: PostgresCacheEntries | undefined;
  #closed: Promise<void> | undefined;

  constructor(pool: Pool, location: string, options: PostgresStoreOptions) {
    this.#pool = pool;
    this.location = location;
    this.#heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.#failures = new StoreFailures(options.onError);
  }

  get cache(): CacheEntries {
    return (this.#cache ??= new PostgresCacheEntries(this.#pool, { error: (operation, cause) => this.#error(operation, cause), broken: () => this.#failures.broken }));
  }

  async startRun(run: NewRun): Promise<void> {
    this.#failures.check();
    // The run and what a resume took from an earlier one, in one transaction: never a run without its reused steps.
    const steps = JSON.stringify(run.steps.map((s) => ({ id: s.stepId, fingerprint: s.fingerprint, dependsOn: s.dependsOn })));
    const reused = (run.reused ?? []).map(({ stepId, ...result }) => stepRow(run.id, stepId, result));
    const reusedItems = (run.reusedItems ?? []).flatMap(({ stepId, items }) => items.map((item) => itemRow(run.id, stepId, { ...item, reused: true })));
    // Ours from the call on: a finishRun called before this resolves still ends its heartbeat.
    this.#owned.add(run.id);
    const written = this.#write(() =>
      this.#transaction(async (client) => {
        await client.query(
          `INSERT INTO runs (id, workflow, workflow_hash, inputs, status, started_at, pid, host, heartbeat_at, resumed_from, step_count, steps, options, secret_inputs)
           VALUES ($1, $2, $3, $4, 'running', $5, $6, $7, ${DB_NOW_MS}, $8, $9, $10, $11, $12)`,
          [run.id, run.workflow, run.workflowHash, JSON.stringify(run.inputs), run.startedAt, process.pid, this.#host, run.resumedFrom ?? null, run.steps.length, steps, run.options ? JSON.stringify(run.options) : null, run.secretInputs?.length ? JSON.stringify(run.secretInputs) : null],
        );
        await this.#insert(client, STEPS, dedupe(reused, 2));
        await this.#insert(client, ITEMS, dedupe(reusedItems, 3));
      }),
    );
    // Unref'd: the run keeps the process alive, never the heartbeat.
    this.#heartbeat ??= setInterval(() => this.#beat(), this.#heartbeatMs).unref();
    try {
      await written;
    } catch (error) {
      this.#owned.delete(run.id);
      if (this.#owned.size === 0) this.#stopHeartbeat();
      throw error;
    }
  }

  recordStep(runId: string, stepId: string, result: StepResult): Promise<void> {
    return this.#record((batch) => setLast(batch.steps, JSON.stringify([runId, stepId]), stepRow(runId, stepId, result)));
  }

  recordItem(runId: string, stepId: string, item: ItemResult): Promise<void> {
    return this.#record((batch) => setLast(batch.items, JSON.stringify([runId, stepId, item.index]), itemRow(runId, stepId, item)));
  }

  /**
   * Adds a result to the batch at the end of the queue (a new one when the last entry is not a batch). Resolves
   * when it is written; rejects when that fails, and then also tells onError and the next call (the caller may
   * not be listening: the promise is marked handled).
   */
  #record(add: (batch: Batch) => void): Promise<void> {
    let batch = this.#open;
    if (!batch) {
      const created = newBatch();
      created.written = this.#enqueue(() => this.#writeBatch(created));
      created.written.catch(noop);
      this.#open = batch = created;
    }
    // Kept even when a failure is thrown below: finishRun's one more attempt writes it.
    add(batch);
    try {
      this.#failures.check();
    } catch (error) {
      return rejected(error);
    }
    return batch.written!;
  }

  async #writeBatch(batch: Batch): Promise<void> {
    if (this.#open === batch) this.#open = undefined;
    if (this.#failures.broken) {
      keep(this.#kept, batch);
      return;
    }
    try {
      await this.#transaction(async (client) => {
        // Items first: a step's end is never written before the items it ended with.
        await this.#insert(client, ITEMS, [...batch.items.values()]);
        await this.#insert(client, STEPS, [...batch.steps.values()]);
      });
    } catch (cause) {
      keep(this.#kept, batch);
      const error = this.#error('write', cause);
      this.#failures.background(error);
      throw error;
    }
  }

  async recordStepOnce(runId: string, stepId: string, result: StepResult): Promise<boolean> {
    this.#failures.check();
    return this.#write(async () => (await this.#pool.query(upsert(STEPS, true), columnsOf(STEPS, [stepRow(runId, stepId, result)]))).rowCount === 1);
  }

  async recordItemOnce(runId: string, stepId: string, item: ItemResult): Promise<boolean> {
    this.#failures.check();
    return this.#write(async () => (await this.#pool.query(upsert(ITEMS, true), columnsOf(ITEMS, [itemRow(runId, stepId, item)]))).rowCount === 1);
  }

  async recordedSuccess(runId: string, stepId: string, item?: { index: number; key: string }): Promise<ResultFields | undefined> {
    return this.#read(async () => {
      const { rows } = item
        ? await this.#pool.query("SELECT * FROM items WHERE run_id = $1 AND step_id = $2 AND idx = $3 AND key = $4 AND status = 'succeeded'", [runId, stepId, item.index, item.key])
        : await this.#pool.query("SELECT * FROM step_runs WHERE run_id = $1 AND step_id = $2 AND status = 'succeeded'", [runId, stepId]);
      return rows[0] ? resultFields(rows[0] as Record<string, unknown>) : undefined;
    });
  }

  async finishRun(runId: string, result: { status: RunStatus; error?: string; finishedAt: number; outputs: Record<string, unknown> }): Promise<void> {
    this.#owned.delete(runId);
    if (this.#owned.size === 0) this.#stopHeartbeat();
    await this.#enqueue(async () => {
      // The results kept after a failed write and the outcome, together: the one more attempt.
      const kept = this.#kept;
      this.#kept = newBatch();
      try {
        await this.#transaction(async (client) => {
          await this.#insert(client, ITEMS, [...kept.items.values()]);
          await this.#insert(client, STEPS, [...kept.steps.values()]);
          await client.query('UPDATE runs SET status = $1, error = $2, finished_at = $3, outputs = $4 WHERE id = $5', [result.status, result.error ?? null, result.finishedAt, JSON.stringify(result.outputs), runId]);
        });
      } catch (error) {
        this.#kept = keep(kept, this.#kept);
        this.#failures.broken = true;
        // Already told: the run is failing because of this store; a second message would say the same.
        if (this.#failures.told) return;
        this.#failures.forget();
        throw this.#failures.raise(this.#error('write', error));
      }
      this.#failures.check();
    });
  }

  async listRuns(limit = 20): Promise<RunRecord[]> {
    return this.#read(async () => {
      const { rows } = await this.#pool.query<RunRow>(`${RUNS} ORDER BY r.started_at DESC, r.seq DESC LIMIT $1`, [limit]);
      return rows.map((row) => runRecord(row, this.#host));
    });
  }

  async getRun(id: string): Promise<{ run: RunRecord; steps: StepRecord[] } | undefined> {
    // A unique prefix is enough, as with git commits, in any case (as SQLite's LIKE matches it); `%` and `_` are
    // dropped and a backslash matched as itself, as there.
    const pattern = `${id.replace(/[%_]/g, '').replace(/\\/g, '\\\\')}%`;
    const rows = await this.#read(async () => (await this.#pool.query<RunRow & { steps: string }>(`${RUNS_WITH_STEPS} WHERE lower(r.id) LIKE lower($1) ORDER BY r.started_at DESC, r.seq DESC LIMIT 2`, [pattern])).rows);
    if (rows.length === 0) return undefined;
    if (rows.length > 1 && rows[0]!.id !== id) throw new SetupError('ambiguous_run', `more than one run starts with \`${id}\``, { hint: 'give more of the id' });
    const row = rows[0]!;
    return this.#read(async () => {
      const [finished, items] = await Promise.all([
        this.#pool.query('SELECT * FROM step_runs WHERE run_id = $1', [row.id]),
        this.#pool.query('SELECT * FROM items WHERE run_id = $1 ORDER BY step_id, idx', [row.id]),
      ]);
      const byStep = new Map<string, ItemRecord[]>();
      for (const item of items.rows as Record<string, unknown>[]) {
        const stepId = String(item['step_id']);
        const list = byStep.get(stepId);
        if (list) list.push(itemRecord(item));
        else byStep.set(stepId, [itemRecord(item)]);
      }
      const results = new Map((finished.rows as Record<string, unknown>[]).map((s) => [String(s['step_id']), s]));
      const planned = JSON.parse(row.steps) as PlannedStep[];
      return { run: runRecord(row, this.#host), steps: planned.map((p, position) => stepRecord(p, position, results.get(p.id), byStep.get(p.id))) };
    });
  }

  async durations(workflow: string, runs = 5): Promise<Map<string, number>> {
    // A cache hit took no time to answer: not a sample of how long the step takes.
    const samples = await this.#read(() => stepSamples(this.#pool, workflow, runs, 'started_at, finished_at', 'started_at IS NOT NULL AND NOT cached', (row) => Number(row['finished_at']) - Number(row['started_at'])));
    return new Map([...samples].map(([fingerprint, list]) => [fingerprint, median(list)]));
  }

  async itemDurations(workflow: string, runs = 5): Promise<Map<string, number>> {
    const samples = await this.#read(() => itemDurationSamples(this.#pool, workflow, runs));
    return new Map([...samples].map(([fingerprint, list]) => [fingerprint, median(list)]));
  }

  async usage(workflow: string, runs = 5): Promise<Map<string, UnitUsage>> {
    // A foreach step some of whose items a resume carried in used tokens for the rest only: not a sample of it.
    const where = 'usage IS NOT NULL AND NOT cached AND NOT EXISTS (SELECT 1 FROM items i WHERE i.run_id = step_runs.run_id AND i.step_id = step_runs.step_id AND (i.reused OR i.cached))';
    const samples = await this.#read(() =>
      stepSamples(this.#pool, workflow, runs, 'usage', where, (row) => {
        const usage = JSON.parse(String(row['usage'])) as Record<string, unknown>;
        // As SQLite's json_extract reads them: a missing number is 0, a missing model none.
        return { inputTokens: Number(usage['inputTokens'] ?? null), outputTokens: Number(usage['outputTokens'] ?? null), model: usage['model'] == null ? undefined : String(usage['model']) };
      }),
    );
    return new Map(
      [...samples].map(([fingerprint, list]) => {
        // The model, when every sample used the same one (what `plan` prices the tokens at).
        const model = list.every((u) => u.model === list[0]!.model) ? list[0]!.model : undefined;
        return [fingerprint, { ...(model === undefined ? {} : { model }), inputTokens: median(list.map((u) => u.inputTokens)), outputTokens: median(list.map((u) => u.outputTokens)) }];
      }),
    );
  }

  /** Waits for the writes still queued, then lets the pool go; rejects with a failed write no call has told of. */
  close(): Promise<void> {
    return (this.#closed ??= this.#close());
  }

  async #close(): Promise<void> {
    this.#stopHeartbeat();
    try {
      await this.#tail;
      await this.#beating;
      this.#failures.check();
    } finally {
      await this.#pool.end().catch(noop);
    }
  }

  #beat(): void {
    if (this.#failures.broken || this.#owned.size === 0 || this.#beating) return;
    this.#beating = this.#pool
      .query(`UPDATE runs SET heartbeat_at = ${DB_NOW_MS} WHERE id = ANY($1) AND status = 'running'`, [[...this.#owned]])
      .then(noop, (error: unknown) => this.#failures.background(this.#error('write', error)))
      .finally(() => (this.#beating = undefined));
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  /** Runs `work` after every write called before it; a non-batch entry closes the open batch (later results go after it). */
  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    this.#open = undefined;
    const done = this.#tail.then(work);
    this.#tail = done.then(noop, noop);
    return done;
  }

  /** A write the caller awaits: queued in order, its failure the caller's (rejected with, not given to onError). */
  async #write<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await this.#enqueue(work);
    } catch (error) {
      throw this.#failures.raise(this.#error('write', error));
    }
  }

  /** A read sees every write called before it (it waits for the queue, whatever became of the writes). */
  async #read<T>(work: () => Promise<T>): Promise<T> {
    await this.#tail;
    try {
      return await work();
    } catch (error) {
      throw this.#failures.raise(this.#error('read', error));
    }
  }

  /**
   * Runs `work` in a transaction. One that lost a deadlock or a serialization race to another process (two
   * stores writing the same rows) is run again: the other's commit is what it waited for.
   */
  async #transaction(work: (client: PoolClient) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#transactionOnce(work);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attempt >= TRANSACTION_ATTEMPTS || (code !== '40P01' && code !== '40001')) throw error;
      }
    }
  }

  async #transactionOnce(work: (client: PoolClient) => Promise<void>): Promise<void> {
    const client = await this.#pool.connect();
    let failed: unknown;
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
    } catch (error) {
      failed = error;
      await client.query('ROLLBACK').catch(noop);
      throw error;
    } finally {
      // A connection that failed mid-transaction is not given to the next caller.
      client.release(failed === undefined ? undefined : true);
    }
  }

  /** Rows one per key (dedupe), written in the order of their keys: two stores writing the same rows lock them in the same order. */
  async #insert(client: PoolClient, table: typeof STEPS, rows: readonly Row[]): Promise<void> {
    const sorted = rows.toSorted((a, b) => compareKeys(a, b, table.key.length));
    for (let i = 0; i < sorted.length; i += ROWS_PER_STATEMENT) await client.query(upsert(table), columnsOf(table, sorted.slice(i, i + ROWS_PER_STATEMENT)));
  }


  #error(operation: StoreOperation, error: unknown): ConductorError {
    return postgresError(this.location, operation, error);
  }
}

/** Sets `key` to `value` as the last entry (a result recorded again is the newest). */
function setLast(map: Map<string, Row>, key: string, value: Row): void {
  map.delete(key);
  map.set(key, value);
}

/** `later`'s results added to `earlier` (a later one for the same step or index wins); returns `earlier`. */
function keep(earlier: Batch, later: Batch): Batch {
  for (const [key, row] of later.items) setLast(earlier.items, key, row);
  for (const [key, row] of later.steps) setLast(earlier.steps, key, row);
  return earlier;
}

/** Two rows' keys (their first `width` values) in order: strings by code unit, numbers by value. */
function compareKeys(a: Row, b: Row, width: number): number {
  for (let i = 0; i < width; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x! < y! ? -1 : 1;
  }
  return 0;
}

/** Rows with one per key (the first `width` values), the last of each: one statement may not write a row twice. */
function dedupe(rows: readonly Row[], width: number): Row[] {
  const byKey = new Map<string, Row>();
  for (const row of rows) setLast(byKey, JSON.stringify(row.slice(0, width)), row);
  return [...byKey.values()];
}



function rejected(error: unknown): Promise<never> {
  const promise = Promise.reject(error);
  promise.catch(noop);
  return promise;
}

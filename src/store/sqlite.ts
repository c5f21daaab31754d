/**
 * The embedded store: SQLite through Node's own `node:sqlite` (no native addon, no server). WAL mode, and
 * step results committed in transactions as steps finish (grouped, see recordStep), so a process killed at
 * any instant (kill -9 included) leaves a consistent record. Several processes may share one file, and several
 * machines may (a store on a shared volume, a CI cache): a running run's process writes a heartbeat, so a run
 * whose machine or container is gone shows as interrupted instead of running forever.
 *
 * A failure of the file (locked by another process past the busy timeout, a full disk, damage) is one typed
 * error naming the file and the cause (see errors.ts): thrown by the call that met it, or, for writes made in
 * the background, given to `onError` and thrown by the next call.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { SetupError, type ConductorError } from '../core/errors.ts';
import { median } from '../core/median.ts';
import type { UnitUsage } from '../core/report.ts';
import type { RunStatus } from '../core/status.ts';
import { storeError, type StoreOperation } from './errors.ts';
import { SqliteCacheEntries } from './sqlite-cache.ts';
import { openForReading, openForWriting, schemaVersion, transaction } from './sqlite-file.ts';
import { itemDurationSamples, stepSamples } from './sqlite-history.ts';
import { INSERT_ITEM, INSERT_STEP, insertRows, itemRow, readItems, recordedResult, ROWS_PER_INSERT, stepRecord, stepRow, type PlannedStep, type Row } from './sqlite-rows.ts';
import { runTokens } from './records.ts';
import { StoreFailures } from './failures.ts';
import type { CacheEntries, ItemRecord, ItemResult, NewRun, ResultFields, RunRecord, RunSettings, RunStore, StepRecord, StepResult, StoreOptions } from './types.ts';


/** The longest a finished step's (or item's) result waits before it is committed (see recordStep). */
const COMMIT_EVERY_MS = 10;
/** How long a write waits for another process's lock before it fails. */
const BUSY_TIMEOUT_MS = 10_000;
/** How many runs' step lists recordStepOnce keeps in memory (a worker records the steps of a few runs at a time). */
const KNOWN_RUNS = 16;
/** How often a running run's process says it is alive. */
const HEARTBEAT_MS = 5_000;
/**
 * A running run whose last heartbeat is older than this is taken for dead even if a process with its pid exists
 * (the pid was reused, say by the next container). Between machines this assumes clocks within a few seconds.
 */
const STALE_AFTER_MS = 30_000;
/** Runs with how many of their steps succeeded, and how many were skipped. */
const RUNS_WITH_PROGRESS = `SELECT r.*, (SELECT count(*) FROM step_runs s WHERE s.run_id = r.id AND s.status = 'succeeded') AS steps_done, (SELECT count(*) FROM step_runs s WHERE s.run_id = r.id AND s.status = 'skipped') AS steps_skipped FROM runs r`;
/**
 * The same, with what each run's model calls cost (schema 8 and later): the sum of its steps' `cost_usd`, and
 * how many steps used tokens that had no price (the cost is unknown then, never a smaller sum).
 */
const RUNS_WITH_COST = RUNS_WITH_PROGRESS.replace(
  ' FROM runs r',
  ", (SELECT total(s.cost_usd) FROM step_runs s WHERE s.run_id = r.id) AS cost_usd, (SELECT count(*) FROM step_runs s WHERE s.run_id = r.id AND s.usage IS NOT NULL AND s.cost_usd IS NULL) AS cost_unknown, (SELECT json_object('in', total(json_extract(s.usage, '$.inputTokens')), 'out', total(json_extract(s.usage, '$.outputTokens')), 'n', count(*)) FROM step_runs s WHERE s.run_id = r.id AND s.usage IS NOT NULL AND s.reused = 0) AS tokens FROM runs r",
);

interface RunRow {
  id: string;
  workflow: string;
  workflow_hash: string;
  inputs: string;
  status: string;
  error: string | null;
  started_at: number;
  finished_at: number | null;
  pid: number;
  host: string;
  heartbeat_at: number | null;
  resumed_from: string | null;
  step_count: number;
  outputs: string | null;
  steps: string;
  steps_done: number;
  steps_skipped?: number;
  options?: string | null;
  secret_inputs?: string | null;
  cost_usd?: number;
  cost_unknown?: number;
  /** `{in, out, n}`: tokens of the steps that used some, and how many did (schema 8 and later). */
  tokens?: string;
}

/** The options of `openRunStore` (types.ts): SQLite takes them all. */
export type SqliteStoreOptions = StoreOptions;

/**
 * The interface's methods are `async` around synchronous bodies: node:sqlite is synchronous, and a write is
 * grouped into the next commit, so a promise is all the interface adds (no queue: calls are applied in the order
 * they are made because each does its work before it returns its promise).
 */
export class SqliteRunStore implements RunStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #host = hostname();
  /** The statements writing results, by table and by how many rows each writes (see #insert). */
  readonly #inserts = new Map<string, StatementSync[]>();
  /** Results not committed yet: steps' and items', each in the order they arrived. */
  #pending: Row[] = [];
  #pendingItems: Row[] = [];
  /** Schema 7 or later: there are items to read (a store read as it is, from before, has no step_items). */
  readonly #hasItems: boolean;
  /** Schema 8 and later: results carry a `usage` column, and there is a step cache. */
  readonly #hasUsage: boolean;
  /** Schema 9 and later: results carry the worker that ran them. */
  readonly #hasWorker: boolean;
  /** Schema 10 and later: results carry the input they ran with. */
  readonly #hasInput: boolean;
  /** The step ids of runs recordStepOnce has seen, by run (at most KNOWN_RUNS, the oldest dropped first). */
  readonly #runSteps = new Map<string, Set<string>>();
  #cache: SqliteCacheEntries | undefined;
  #flushScheduled = false;
  #lastFlush = -Infinity;
  /** The runs this store started and has not finished: their heartbeat is ours to write. */
  readonly #owned = new Set<string>();
  readonly #heartbeatMs: number;
  readonly #busyTimeoutMs: number;
  /**
   * Once a write failed (`broken`), nothing more is written behind the caller's back (a locked file would stall
   * the process for the busy timeout on every attempt); the results stay pending, and finishRun makes one last attempt.
   */
  readonly #failures: StoreFailures;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.#heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.#busyTimeoutMs = options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
    this.#failures = new StoreFailures(options.onError);
    this.path = path;
    try {
      this.#db = options.access === 'read' && path !== ':memory:' && existsSync(path) ? openForReading(path, this.#busyTimeoutMs) : openForWriting(path, this.#busyTimeoutMs);
    } catch (error) {
      throw this.#error('open', error);
    }
    this.#hasItems = schemaVersion(this.#db) >= 7;
    this.#hasUsage = schemaVersion(this.#db) >= 8;
    this.#hasWorker = schemaVersion(this.#db) >= 9;
    this.#hasInput = schemaVersion(this.#db) >= 10;
  }

  /** The file's path (`:memory:` for a store in memory). */
  get location(): string {
    return this.path;
  }

  /**
   * The step cache's entries (none in a store of an older schema read as it is). Its failures are its caller's
   * alone (the step cache takes them for a miss): they are not reported as this store's, which still fails the
   * run on the next write of its own if the file is broken.
   */
  get cache(): CacheEntries | undefined {
    if (!this.#hasUsage) return undefined;
    return (this.#cache ??= new SqliteCacheEntries(this.#db, { error: (operation, cause) => this.#error(operation, cause), broken: () => this.#failures.broken }));
  }

  /**
   * Writes rows of results (`insert`: INSERT_STEP or INSERT_ITEM, their values from stepRow or itemRow), up to
   * ROWS_PER_INSERT with each statement, in order (a later row for the same step or item wins). The statements
   * are prepared on first use: a store read as it is (an older schema) has no `redacted` column to write.
   */
  #insert(insert: string, rows: readonly Row[]): void {
    let statements = this.#inserts.get(insert);
    if (!statements) this.#inserts.set(insert, (statements = []));
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      const chunk = rows.slice(i, i + ROWS_PER_INSERT);
      (statements[chunk.length] ??= this.#db.prepare(insertRows(insert, chunk.length))).run(...chunk.flat());
    }
  }

  async startRun(run: NewRun): Promise<void> {
    this.startRunNow(run);
  }

  /** startRun, synchronously: the run is committed when this returns. */
  startRunNow(run: NewRun): void {
    this.#failures.check();
    // One row: the steps themselves are a JSON list here, and get rows of their own as they finish. Steps a
    // resume takes from an earlier run are written in the same transaction: a process killed at any instant
    // leaves either no run or the run with everything it reused.
    const steps = JSON.stringify(run.steps.map((s) => ({ id: s.stepId, fingerprint: s.fingerprint, dependsOn: s.dependsOn })));
    this.#write(() =>
      transaction(this.#db, () => {
        this.#db
          .prepare('INSERT INTO runs (id, workflow, workflow_hash, inputs, status, started_at, pid, host, heartbeat_at, resumed_from, step_count, steps, options, secret_inputs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
          .run(run.id, run.workflow, run.workflowHash, JSON.stringify(run.inputs), 'running', run.startedAt, process.pid, this.#host, Date.now(), run.resumedFrom ?? null, run.steps.length, steps, run.options ? JSON.stringify(run.options) : null, run.secretInputs?.length ? JSON.stringify(run.secretInputs) : null);
        this.#insert(INSERT_STEP, (run.reused ?? []).map(({ stepId, ...result }) => stepRow(run.id, stepId, result)));
        this.#insert(INSERT_ITEM, (run.reusedItems ?? []).flatMap(({ stepId, items }) => items.map((item) => itemRow(run.id, stepId, { ...item, reused: true }))));
      }),
    );
    this.#owned.add(run.id);
    // Unref'd: the run keeps the process alive, never the heartbeat.
    this.#heartbeat ??= setInterval(() => this.#beat(), this.#heartbeatMs).unref();
  }

  async recordStep(runId: string, stepId: string, r: StepResult): Promise<void> {
    this.#pending.push(stepRow(runId, stepId, r));
    this.#scheduleFlush();
  }

  async recordItem(runId: string, stepId: string, item: ItemResult): Promise<void> {
    this.#pendingItems.push(itemRow(runId, stepId, item));
    this.#scheduleFlush();
  }

  async recordStepOnce(runId: string, stepId: string, r: StepResult): Promise<boolean> {
    return this.#recordOnce(runId, stepId, 'SELECT 1 FROM step_runs WHERE run_id = ? AND step_id = ? AND status = \'succeeded\'', [runId, stepId], INSERT_STEP, stepRow(runId, stepId, r));
  }

  async recordItemOnce(runId: string, stepId: string, item: ItemResult): Promise<boolean> {
    const done = "SELECT 1 FROM step_items WHERE run_id = ? AND step_id = ? AND idx = ? AND key = ? AND status = 'succeeded'";
    return this.#recordOnce(runId, stepId, done, [runId, stepId, item.index, item.key], INSERT_ITEM, itemRow(runId, stepId, item));
  }

  /**
   * Writes `row` with `insert` unless `done` (with `values`) finds a success, committed now (with whatever is
   * pending, before it) under the write lock: another process's check and write cannot come between ours.
   */
  #recordOnce(runId: string, stepId: string, done: string, values: Row, insert: string, row: Row): boolean {
    this.#failures.check();
    let written = false;
    try {
      this.#commit(() => {
        if (!this.#knownStep(runId, stepId) || this.#db.prepare(done).get(...values) !== undefined) return;
        this.#insert(insert, [row]);
        written = true;
      });
    } catch (error) {
      throw this.#failures.raise(this.#error('write', error));
    }
    return written;
  }

  /** Whether the run is recorded here and planned the step (read once per run: a run's steps do not change). */
  #knownStep(runId: string, stepId: string): boolean {
    let steps = this.#runSteps.get(runId);
    if (!steps) {
      const row = this.#db.prepare('SELECT steps FROM runs WHERE id = ?').get(runId) as { steps: string } | undefined;
      if (!row) return false;
      steps = new Set((JSON.parse(row.steps) as PlannedStep[]).map((p) => p.id));
      if (this.#runSteps.size >= KNOWN_RUNS) this.#runSteps.delete(this.#runSteps.keys().next().value!);
      this.#runSteps.set(runId, steps);
    }
    return steps.has(stepId);
  }

  async recordedSuccess(runId: string, stepId: string, item?: { index: number; key: string }): Promise<ResultFields | undefined> {
    const row = this.#read(() =>
      item === undefined
        ? this.#db.prepare("SELECT * FROM step_runs WHERE run_id = ? AND step_id = ? AND status = 'succeeded'").get(runId, stepId)
        : this.#hasItems
          ? this.#db.prepare("SELECT * FROM step_items WHERE run_id = ? AND step_id = ? AND idx = ? AND key = ? AND status = 'succeeded'").get(runId, stepId, item.index, item.key)
          : undefined,
    ) as Record<string, unknown> | undefined;
    return row && recordedResult(row);
  }

  #scheduleFlush(): void {
    this.#failures.check();
    if (this.#failures.broken) return;
    // Group commit. A result is committed at the end of the event-loop turn it arrived in, unless the last
    // commit was under COMMIT_EVERY_MS ago: then with everything else that arrives until that much has
    // passed. Steps that take seconds are each committed at once; a fan-out of thousands of short steps (or a
    // foreach of thousands of items) makes a few commits a second instead of hundreds (a commit per step cost
    // a quarter of its time).
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    const wait = this.#lastFlush + COMMIT_EVERY_MS - performance.now();
    if (wait <= 0) setImmediate(() => this.#flushInBackground());
    else setTimeout(() => this.#flushInBackground(), wait).unref();
  }

  /** Commits the results recorded so far (also done by finishRun and close). */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0 && this.#pendingItems.length === 0) return;
    try {
      this.#commit();
    } catch (error) {
      throw this.#error('write', error);
    }
  }

  #flushInBackground(): void {
    this.#flushScheduled = false;
    if (this.#failures.broken) return;
    try {
      this.flush();
    } catch (error) {
      this.#failures.background(error as ConductorError);
    }
  }

  /**
   * Commits the pending results, and `also` in the same transaction. On failure they stay pending, ahead of
   * anything recorded since (a later row for the same step wins), for one more attempt by finishRun.
   */
  #commit(also?: () => void): void {
    const batch = this.#pending;
    const items = this.#pendingItems;
    this.#pending = [];
    this.#pendingItems = [];
    this.#lastFlush = performance.now();
    try {
      transaction(this.#db, () => {
        // Items first: a step's row (its end) is never committed before the items it ended with.
        this.#insert(INSERT_ITEM, items);
        this.#insert(INSERT_STEP, batch);
        also?.();
      });
    } catch (error) {
      this.#pending = [...batch, ...this.#pending];
      this.#pendingItems = [...items, ...this.#pendingItems];
      this.#failures.broken = true;
      throw error;
    }
  }

  async finishRun(runId: string, result: { status: RunStatus; error?: string; finishedAt: number; outputs: Record<string, unknown> }): Promise<void> {
    this.finishRunNow(runId, result);
  }

  /** finishRun, synchronously: the outcome (and every result recorded before it) is committed when this returns. */
  finishRunNow(runId: string, result: { status: RunStatus; error?: string; finishedAt: number; outputs: Record<string, unknown> }): void {
    this.#owned.delete(runId);
    if (this.#owned.size === 0) this.#stopHeartbeat();
    // The results still pending and the outcome, together; after a failed write this is the one more attempt
    // that writes whatever can still be written.
    try {
      this.#commit(() => {
        this.#db.prepare('UPDATE runs SET status = ?, error = ?, finished_at = ?, outputs = ? WHERE id = ?').run(result.status, result.error ?? null, result.finishedAt, JSON.stringify(result.outputs), runId);
      });
    } catch (error) {
      this.#failures.broken = true;
      // Already told: the run is failing because of this store; a second message would say the same.
      if (this.#failures.told) return;
      this.#failures.forget();
      throw this.#failures.raise(this.#error('write', error));
    }
    this.#failures.check();
  }

  #beat(): void {
    if (this.#failures.broken) return;
    const now = Date.now();
    try {
      const update = this.#db.prepare("UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'");
      for (const id of this.#owned) update.run(now, id);
    } catch (error) {
      this.#failures.broken = true;
      this.#failures.background(this.#error('write', error));
    }
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }


  #write(work: () => void): void {
    try {
      work();
    } catch (error) {
      throw this.#failures.raise(this.#error('write', error));
    }
  }

  /** A read sees every result recorded so far (committed first, unless writing has failed). */
  #read<T>(work: () => T): T {
    if (!this.#failures.broken) this.#write(() => this.flush());
    try {
      return work();
    } catch (error) {
      throw this.#failures.raise(this.#error('read', error));
    }
  }

  #error(operation: StoreOperation, error: unknown): ConductorError {
    return storeError(this.path, operation, error, this.#busyTimeoutMs);
  }

  /** A store read as it is, from before schema 8, has no cost to add up. */
  get #runsQuery(): string {
    return this.#hasUsage ? RUNS_WITH_COST : RUNS_WITH_PROGRESS;
  }

  async listRuns(limit = 20): Promise<RunRecord[]> {
    return this.#read(() => {
      const rows = this.#db.prepare(`${this.#runsQuery} ORDER BY started_at DESC, rowid DESC LIMIT ?`).all(limit) as unknown as RunRow[];
      return rows.map((row) => this.#toRun(row));
    });
  }

  async getRun(id: string): Promise<{ run: RunRecord; steps: StepRecord[] } | undefined> {
    // A unique prefix is enough, as with git commits.
    const rows = this.#read(() => this.#db.prepare(`${this.#runsQuery} WHERE id LIKE ? ORDER BY started_at DESC LIMIT 2`).all(`${id.replace(/[%_]/g, '')}%`) as unknown as RunRow[]);
    if (rows.length === 0) return undefined;
    if (rows.length > 1 && rows[0]!.id !== id) throw new SetupError('ambiguous_run', `more than one run starts with \`${id}\``, { hint: 'give more of the id' });
    return this.#read(() => {
      const run = this.#toRun(rows[0]!);
      const finished = new Map((this.#db.prepare('SELECT * FROM step_runs WHERE run_id = ?').all(run.id) as Record<string, unknown>[]).map((s) => [String(s['step_id']), s]));
      const planned = JSON.parse(rows[0]!.steps) as PlannedStep[];
      const items = this.#hasItems ? readItems(this.#db, run.id, this.#hasUsage, this.#hasWorker, this.#hasInput) : new Map<string, ItemRecord[]>();
      const steps = planned.map((p, position) => stepRecord(p, position, finished.get(p.id), items.get(p.id)));
      return { run, steps };
    });
  }

  async durations(workflow: string, runs = 5): Promise<Map<string, number>> {
    // A cache hit took no time to answer: not a sample of how long the step takes.
    const where = this.#hasUsage ? 'started_at IS NOT NULL AND cached = 0' : 'started_at IS NOT NULL';
    const samples = this.#read(() => stepSamples(this.#db, workflow, runs, 'started_at, finished_at', where, (row) => Number(row['finished_at']) - Number(row['started_at'])));
    return new Map([...samples].map(([fingerprint, list]) => [fingerprint, median(list)]));
  }

  async itemDurations(workflow: string, runs = 5): Promise<Map<string, number>> {
    if (!this.#hasItems) return new Map();
    const samples = this.#read(() => itemDurationSamples(this.#db, workflow, runs, this.#hasUsage));
    return new Map([...samples].map(([fingerprint, list]) => [fingerprint, median(list)]));
  }

  async usage(workflow: string, runs = 5): Promise<Map<string, UnitUsage>> {
    // SQLite picks the numbers out of the usage column: no JSON parsed here for steps that report none. A
    // store read as it is, from before schema 8, has no such column: no history of tokens then.
    if (!this.#hasUsage) return new Map();
    const tokens = "json_extract(usage, '$.inputTokens') AS input, json_extract(usage, '$.outputTokens') AS output, json_extract(usage, '$.model') AS model";
    // A foreach step some of whose items a resume carried in used tokens for the rest only: not a sample of it.
    const where = 'usage IS NOT NULL AND NOT EXISTS (SELECT 1 FROM step_items AS i WHERE i.run_id = step_runs.run_id AND i.step_id = step_runs.step_id AND (i.reused = 1 OR i.cached = 1)) AND cached = 0';
    const samples = this.#read(() => stepSamples(this.#db, workflow, runs, tokens, where, (row) => ({ inputTokens: Number(row['input']), outputTokens: Number(row['output']), model: row['model'] == null ? undefined : String(row['model']) })));
    return new Map(
      [...samples].map(([fingerprint, list]) => {
        // The model, when every sample used the same one (what `plan` prices the tokens at).
        const model = list.every((u) => u.model === list[0]!.model) ? list[0]!.model : undefined;
        return [fingerprint, { ...(model === undefined ? {} : { model }), inputTokens: median(list.map((u) => u.inputTokens)), outputTokens: median(list.map((u) => u.outputTokens)) }];
      }),
    );
  }

  /**
   * Commits what is pending and closes the file. After a failed write there is no further attempt here (finishRun
   * made it): on a locked file each one would stall the process for the busy timeout.
   */
  async close(): Promise<void> {
    this.closeNow();
  }

  /** close, synchronously. */
  closeNow(): void {
    this.#stopHeartbeat();
    try {
      if (!this.#failures.broken) this.flush();
    } catch (error) {
      // A failure already told is not told again (close runs in `finally` blocks, after the first error).
      if (!this.#failures.told) throw error;
    } finally {
      if (this.#db.isOpen) this.#db.close();
    }
  }

  #toRun(row: RunRow): RunRecord {
    return {
      id: row.id,
      workflow: row.workflow,
      workflowHash: row.workflow_hash,
      inputs: JSON.parse(row.inputs) as Record<string, unknown>,
      status: row.status === 'running' && !this.#ownerAlive(row) ? 'interrupted' : (row.status as RunRecord['status']),
      ...(row.error === null ? {} : { error: row.error }),
      startedAt: row.started_at,
      ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
      pid: row.pid,
      host: row.host,
      ...(row.resumed_from === null ? {} : { resumedFrom: row.resumed_from }),
      stepCount: row.step_count,
      stepsDone: row.steps_done,
      ...(row.steps_skipped ? { stepsSkipped: row.steps_skipped } : {}),
      ...(row.outputs === null ? {} : { outputs: JSON.parse(row.outputs) as Record<string, unknown> }),
      // Absent in a store read as it is, from before schema 6.
      ...(row.options == null ? {} : { options: JSON.parse(row.options) as RunSettings }),
      ...(row.secret_inputs == null ? {} : { secretInputs: JSON.parse(row.secret_inputs) as string[] }),
      ...(row.cost_usd === undefined ? {} : { costUsd: row.cost_unknown ? null : row.cost_usd }),
      ...runTokens(row.tokens),
    };
  }

  /**
   * A `running` run whose process is gone was interrupted: a crash, kill -9, a lost laptop, a CI job's container.
   * On this machine a dead pid says so at once; a live pid counts only while the heartbeat is fresh, since pids
   * are reused (the next container's process often gets the same one). For another machine's run the
   * heartbeat is all there is. Runs recorded before heartbeats existed keep the old rule: pid on this machine,
   * and no guess about other machines.
   */
  #ownerAlive(row: RunRow): boolean {
    // `== null`: a store of schema 2 read as it is has no heartbeat column at all.
    const fresh = row.heartbeat_at == null || Date.now() - row.heartbeat_at < STALE_AFTER_MS;
    if (row.host !== this.#host) return fresh;
    try {
      process.kill(row.pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
    }
    return fresh;
  }
}

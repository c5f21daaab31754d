/**
 * The embedded store: SQLite through Node's own `node:sqlite` (no native addon, no server). WAL mode, and
 * step results committed in transactions as steps finish (grouped, see recordStep), so a process killed at
 * any instant (kill -9 included) leaves a consistent record. Several processes may share one file, and several
 * machines may (a store on a shared volume, a CI cache): a running run's process writes a heartbeat, so a run
 * whose machine or container is gone shows as interrupted instead of running forever.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { SetupError } from '../core/errors.ts';
import { median } from '../core/median.ts';
import type { TokenCount } from '../core/report.ts';
import type { RunStatus } from '../core/status.ts';
import type { NewRun, RunRecord, RunStore, StepRecord, StepResult } from './types.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  workflow TEXT NOT NULL,
  workflow_hash TEXT NOT NULL,
  inputs TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  -- while running: when its process last showed it was alive (see HEARTBEAT_MS)
  heartbeat_at INTEGER,
  resumed_from TEXT,
  step_count INTEGER NOT NULL,
  -- every step of the workflow as it was: [{ id, fingerprint, dependsOn }], in file order
  steps TEXT NOT NULL,
  outputs TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at DESC);
-- one row per step that finished (or was reused); steps without a row never finished
CREATE TABLE IF NOT EXISTS step_runs (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step_id TEXT NOT NULL,
  status TEXT NOT NULL,
  output TEXT,
  properties TEXT,
  error TEXT,
  error_code TEXT,
  -- what to do about the error, when there is something to say
  hint TEXT,
  attempts INTEGER,
  started_at INTEGER,
  finished_at INTEGER,
  reused INTEGER NOT NULL DEFAULT 0,
  -- 1: a secret was replaced by *** in output or properties, so the row is not the step's real result and is
  -- never reused
  redacted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, step_id)
);
PRAGMA user_version = 5;
`;
/**
 * How each older schema is brought one version forward, in place. A store is migrated through every step
 * up to SCHEMA_VERSION; one from before schema 2, or written by a newer Conductor, is refused.
 */
const MIGRATIONS: Record<number, string> = {
  2: 'ALTER TABLE runs ADD COLUMN heartbeat_at INTEGER;',
  3: 'ALTER TABLE step_runs ADD COLUMN hint TEXT;',
  // Which rows were redacted was not recorded before: any that shows `***` is taken to have been.
  4: "ALTER TABLE step_runs ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0; UPDATE step_runs SET redacted = 1 WHERE instr(output, '***') > 0 OR instr(properties, '***') > 0;",
};

/** The longest a finished step's result waits before it is committed (see recordStep). */
const COMMIT_EVERY_MS = 10;
const SCHEMA_VERSION = 5;
/** How often a running run's process says it is alive. */
const HEARTBEAT_MS = 5_000;
/**
 * A running run whose last heartbeat is older than this is taken for dead even if a process with its pid exists
 * (the pid was reused, say by the next container). Between machines this assumes clocks within a few seconds.
 */
const STALE_AFTER_MS = 30_000;
/** Runs with how many of their steps succeeded. */
const RUNS_WITH_PROGRESS = `SELECT r.*, (SELECT count(*) FROM step_runs s WHERE s.run_id = r.id AND s.status = 'succeeded') AS steps_done FROM runs r`;

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
}

type Row = (string | number | null)[];

export class SqliteRunStore implements RunStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #host = hostname();
  readonly #recordStep: StatementSync;
  #pending: Row[] = [];
  #flushScheduled = false;
  #lastFlush = -Infinity;
  /** The runs this store started and has not finished: their heartbeat is ours to write. */
  readonly #owned = new Set<string>();
  readonly #heartbeatMs: number;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(path: string, options: { heartbeatMs?: number } = {}) {
    this.#heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.path = path;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.#db = new DatabaseSync(path, { timeout: 10_000 });
      this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
      // Read and brought up to date under the write lock: two processes opening an older store at once
      // migrate it once.
      this.#transaction(() => {
        const { user_version: version } = this.#db.prepare('PRAGMA user_version').get() as { user_version: number };
        // Version 0 is a new file. Any other needs every step from its version to ours.
        const pending = version === 0 ? [] : Array.from({ length: Math.max(0, SCHEMA_VERSION - version) }, (_, k) => MIGRATIONS[version + k]);
        if (version > SCHEMA_VERSION || pending.includes(undefined)) {
          throw new Error(`it was written by ${version > SCHEMA_VERSION ? 'a newer' : 'another'} version of Conductor (schema ${version}, this one reads ${SCHEMA_VERSION})`);
        }
        this.#db.exec(`${pending.join(' ')} ${SCHEMA}`);
      });
    } catch (error) {
      throw new SetupError('store_unavailable', `cannot open the run store ${path}: ${(error as Error).message}`, {
        hint: 'set CONDUCTOR_HOME or --store to a writable place, or run with --no-store',
        cause: error,
      });
    }
    this.#recordStep = this.#db.prepare(
      `INSERT OR REPLACE INTO step_runs (status, output, properties, error, error_code, hint, attempts, started_at, finished_at, reused, redacted, run_id, step_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  startRun(run: NewRun): void {
    // One row: the steps themselves are a JSON list here, and get rows of their own as they finish. Steps a
    // resume takes from an earlier run are written in the same transaction: a process killed at any instant
    // leaves either no run or the run with everything it reused.
    const steps = JSON.stringify(run.steps.map((s) => ({ id: s.stepId, fingerprint: s.fingerprint, dependsOn: s.dependsOn })));
    this.#transaction(() => {
      this.#db
        .prepare('INSERT INTO runs (id, workflow, workflow_hash, inputs, status, started_at, pid, host, heartbeat_at, resumed_from, step_count, steps) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(run.id, run.workflow, run.workflowHash, JSON.stringify(run.inputs), 'running', run.startedAt, process.pid, this.#host, Date.now(), run.resumedFrom ?? null, run.steps.length, steps);
      for (const { stepId, ...result } of run.reused ?? []) this.#recordStep.run(...stepRow(run.id, stepId, result));
    });
    this.#owned.add(run.id);
    // Unref'd: the run keeps the process alive, never the heartbeat.
    this.#heartbeat ??= setInterval(() => this.#beat(), this.#heartbeatMs).unref();
  }

  recordStep(runId: string, stepId: string, r: StepResult): void {
    this.#pending.push(stepRow(runId, stepId, r));
    // Group commit. A result is committed at the end of the event-loop turn it arrived in, unless the last
    // commit was under COMMIT_EVERY_MS ago: then with everything else that arrives until that much has
    // passed. Steps that take seconds are each committed at once; a fan-out of thousands of short steps
    // makes a few commits a second instead of hundreds (a commit per step cost a quarter of its time).
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    const wait = this.#lastFlush + COMMIT_EVERY_MS - performance.now();
    if (wait <= 0) setImmediate(() => this.flush());
    else setTimeout(() => this.flush(), wait).unref();
  }

  /** Commits the results recorded so far (also done by finishRun and close). */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0) return;
    this.#lastFlush = performance.now();
    const batch = this.#pending;
    this.#pending = [];
    this.#transaction(() => {
      for (const row of batch) this.#recordStep.run(...row);
    });
  }

  finishRun(runId: string, result: { status: RunStatus; error?: string; finishedAt: number; outputs: Record<string, unknown> }): void {
    this.flush();
    this.#db.prepare('UPDATE runs SET status = ?, error = ?, finished_at = ?, outputs = ? WHERE id = ?').run(result.status, result.error ?? null, result.finishedAt, JSON.stringify(result.outputs), runId);
    this.#owned.delete(runId);
    if (this.#owned.size === 0) this.#stopHeartbeat();
  }

  #beat(): void {
    const now = Date.now();
    const update = this.#db.prepare("UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'");
    for (const id of this.#owned) update.run(now, id);
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  listRuns(limit = 20): RunRecord[] {
    this.flush();
    const rows = this.#db
      .prepare(`${RUNS_WITH_PROGRESS} ORDER BY started_at DESC, rowid DESC LIMIT ?`)
      .all(limit) as unknown as RunRow[];
    return rows.map((row) => this.#toRun(row));
  }

  getRun(id: string): { run: RunRecord; steps: StepRecord[] } | undefined {
    this.flush();
    // A unique prefix is enough, as with git commits.
    const rows = this.#db
      .prepare(`${RUNS_WITH_PROGRESS} WHERE id LIKE ? ORDER BY started_at DESC LIMIT 2`)
      .all(`${id.replace(/[%_]/g, '')}%`) as unknown as RunRow[];
    if (rows.length === 0) return undefined;
    if (rows.length > 1 && rows[0]!.id !== id) throw new SetupError('ambiguous_run', `more than one run starts with \`${id}\``, { hint: 'give more of the id' });
    const run = this.#toRun(rows[0]!);
    const finished = new Map((this.#db.prepare('SELECT * FROM step_runs WHERE run_id = ?').all(run.id) as Record<string, unknown>[]).map((s) => [String(s['step_id']), s]));
    const planned = JSON.parse(rows[0]!.steps) as { id: string; fingerprint: string; dependsOn: string[] }[];
    const steps = planned.map((p, position): StepRecord => {
      const s = finished.get(p.id);
      const base = { stepId: p.id, position, fingerprint: p.fingerprint, dependsOn: p.dependsOn };
      if (!s) return { ...base, status: 'pending', reused: false, redacted: false };
      return {
        ...base,
        status: s['status'] as StepRecord['status'],
        ...(s['output'] === null ? {} : { output: JSON.parse(String(s['output'])) }),
        ...(s['properties'] === null ? {} : { properties: JSON.parse(String(s['properties'])) }),
        ...(s['error'] === null ? {} : { error: String(s['error']) }),
        ...(s['error_code'] === null ? {} : { errorCode: String(s['error_code']) }),
        ...(s['hint'] === null ? {} : { hint: String(s['hint']) }),
        ...(s['attempts'] === null ? {} : { attempts: Number(s['attempts']) }),
        ...(s['started_at'] === null ? {} : { startedAt: Number(s['started_at']) }),
        ...(s['finished_at'] === null ? {} : { finishedAt: Number(s['finished_at']) }),
        reused: s['reused'] === 1,
        redacted: s['redacted'] === 1,
      };
    });
    return { run, steps };
  }

  durations(workflow: string, runs = 5): Map<string, number> {
    const samples = this.#samples(workflow, runs, 'started_at, finished_at', 'started_at IS NOT NULL', (row) => Number(row['finished_at']) - Number(row['started_at']));
    return new Map([...samples].map(([fingerprint, list]) => [fingerprint, median(list)]));
  }

  usage(workflow: string, runs = 5): Map<string, TokenCount> {
    // SQLite picks the two numbers out of the properties: no JSON parsed here for steps that report none.
    const tokens = "json_extract(properties, '$.usage.inputTokens') AS input, json_extract(properties, '$.usage.outputTokens') AS output";
    const samples = this.#samples(workflow, runs, tokens, "json_type(properties, '$.usage.inputTokens') IN ('integer', 'real') AND json_type(properties, '$.usage.outputTokens') IN ('integer', 'real')", (row) => ({ inputTokens: Number(row['input']), outputTokens: Number(row['output']) }));
    return new Map([...samples].map(([fingerprint, list]) => [fingerprint, { inputTokens: median(list.map((u) => u.inputTokens)), outputTokens: median(list.map((u) => u.outputTokens)) }]));
  }

  /**
   * One value per step that succeeded (and ran) in the workflow's last `runs` runs and matches `where`,
   * grouped by fingerprint; `pick` sees the named columns only (outputs can be large, and are not read).
   */
  #samples<T>(workflow: string, runs: number, columns: string, where: string, pick: (row: Record<string, unknown>) => T): Map<string, T[]> {
    this.flush();
    const recent = this.#db.prepare('SELECT id, steps FROM runs WHERE workflow = ? ORDER BY started_at DESC LIMIT ?').all(workflow, runs) as { id: string; steps: string }[];
    const samples = new Map<string, T[]>();
    const rows = this.#db.prepare(`SELECT step_id, ${columns} FROM step_runs WHERE run_id = ? AND status = 'succeeded' AND reused = 0 AND ${where}`);
    for (const run of recent) {
      const fingerprints = new Map((JSON.parse(run.steps) as { id: string; fingerprint: string }[]).map((s) => [s.id, s.fingerprint]));
      for (const row of rows.all(run.id) as Record<string, unknown>[]) {
        const fingerprint = fingerprints.get(String(row['step_id']));
        if (fingerprint === undefined) continue;
        const list = samples.get(fingerprint);
        if (list) list.push(pick(row));
        else samples.set(fingerprint, [pick(row)]);
      }
    }
    return samples;
  }

  close(): void {
    this.flush();
    this.#stopHeartbeat();
    this.#db.close();
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
      ...(row.outputs === null ? {} : { outputs: JSON.parse(row.outputs) as Record<string, unknown> }),
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
    const fresh = row.heartbeat_at === null || Date.now() - row.heartbeat_at < STALE_AFTER_MS;
    if (row.host !== this.#host) return fresh;
    try {
      process.kill(row.pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
    }
    return fresh;
  }

  #transaction(work: () => void): void {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      work();
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }
}

function stepRow(runId: string, stepId: string, r: StepResult): Row {
  return [
    r.status,
    r.outputJson ?? (r.output === undefined ? null : JSON.stringify(r.output)),
    r.propertiesJson ?? (r.properties === undefined ? null : JSON.stringify(r.properties)),
    r.error ?? null,
    r.errorCode ?? null,
    r.hint ?? null,
    r.attempts ?? null,
    r.startedAt ?? null,
    r.finishedAt ?? null,
    r.reused ? 1 : 0,
    r.redacted ? 1 : 0,
    runId,
    stepId,
  ];
}

/**
 * The embedded store: SQLite through Node's own `node:sqlite` (no native addon, no server). WAL mode, and
 * each step's result in its own transaction the moment it finishes, so a process killed at any instant
 * (kill -9 included) leaves a consistent record. Several processes may share one file (busy timeout).
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { ConductorError } from '../core/errors.ts';
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
  resumed_from TEXT,
  step_count INTEGER NOT NULL,
  outputs TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at DESC);
CREATE TABLE IF NOT EXISTS step_runs (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  depends_on TEXT NOT NULL DEFAULT '[]',
  status TEXT NOT NULL,
  output TEXT,
  properties TEXT,
  error TEXT,
  error_code TEXT,
  attempts INTEGER,
  started_at INTEGER,
  finished_at INTEGER,
  reused INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, step_id)
);
PRAGMA user_version = 1;
`;

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
  resumed_from: string | null;
  step_count: number;
  outputs: string | null;
  steps_done: number;
}

export class SqliteRunStore implements RunStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #host = hostname();
  readonly #recordStep: StatementSync;
  #pending: (string | number | null)[][] = [];
  #flushScheduled = false;

  constructor(path: string) {
    this.path = path;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.#db = new DatabaseSync(path, { timeout: 10_000 });
      this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
      this.#db.exec(SCHEMA);
    } catch (error) {
      throw new ConductorError('store_unavailable', `cannot open the run store ${path}: ${(error as Error).message}`, {
        hint: 'set CONDUCTOR_HOME or --store to a writable place, or run with --no-store',
        cause: error,
      });
    }
    this.#recordStep = this.#db.prepare(
      `UPDATE step_runs SET status = ?, output = ?, properties = ?, error = ?, error_code = ?, attempts = ?, started_at = ?, finished_at = ?, reused = ?
       WHERE run_id = ? AND step_id = ?`,
    );
  }

  startRun(run: NewRun): void {
    const insertStep = this.#db.prepare('INSERT INTO step_runs (run_id, step_id, position, fingerprint, depends_on, status) VALUES (?, ?, ?, ?, ?, ?)');
    this.#transaction(() => {
      this.#db
        .prepare('INSERT INTO runs (id, workflow, workflow_hash, inputs, status, started_at, pid, host, resumed_from, step_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(run.id, run.workflow, run.workflowHash, JSON.stringify(run.inputs), 'running', run.startedAt, process.pid, this.#host, run.resumedFrom ?? null, run.steps.length);
      run.steps.forEach((s, i) => insertStep.run(run.id, s.stepId, i, s.fingerprint, JSON.stringify(s.dependsOn), 'pending'));
    });
  }

  recordStep(runId: string, stepId: string, r: StepResult): void {
    this.#pending.push([
      r.status,
      r.output === undefined ? null : JSON.stringify(r.output),
      r.properties === undefined ? null : JSON.stringify(r.properties),
      r.error ?? null,
      r.errorCode ?? null,
      r.attempts ?? null,
      r.startedAt ?? null,
      r.finishedAt ?? null,
      r.reused ? 1 : 0,
      runId,
      stepId,
    ]);
    // Group commit: every result that arrives in this turn of the event loop goes into one transaction at
    // its end. A commit per step cost a quarter of a 2,000-step fan-out; this way a result is durable
    // within the same turn it arrived in, before any further I/O is handled.
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Commits the results recorded so far (also done by finishRun and close). */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#transaction(() => {
      for (const row of batch) this.#recordStep.run(...row);
    });
  }

  finishRun(runId: string, result: { status: RunStatus; error?: string; finishedAt: number; outputs: Record<string, unknown> }): void {
    this.flush();
    this.#db.prepare('UPDATE runs SET status = ?, error = ?, finished_at = ?, outputs = ? WHERE id = ?').run(result.status, result.error ?? null, result.finishedAt, JSON.stringify(result.outputs), runId);
  }

  listRuns(limit = 20): RunRecord[] {
    this.flush();
    const rows = this.#db
      .prepare(`SELECT r.*, (SELECT count(*) FROM step_runs s WHERE s.run_id = r.id AND s.status = 'succeeded') AS steps_done FROM runs r ORDER BY started_at DESC, rowid DESC LIMIT ?`)
      .all(limit) as unknown as RunRow[];
    return rows.map((row) => this.#toRun(row));
  }

  getRun(id: string): { run: RunRecord; steps: StepRecord[] } | undefined {
    this.flush();
    // A unique prefix is enough, as with git commits.
    const rows = this.#db
      .prepare(`SELECT r.*, (SELECT count(*) FROM step_runs s WHERE s.run_id = r.id AND s.status = 'succeeded') AS steps_done FROM runs r WHERE id LIKE ? ORDER BY started_at DESC LIMIT 2`)
      .all(`${id.replace(/[%_]/g, '')}%`) as unknown as RunRow[];
    if (rows.length === 0) return undefined;
    if (rows.length > 1 && rows[0]!.id !== id) throw new ConductorError('ambiguous_run', `more than one run starts with \`${id}\``, { hint: 'give more of the id' });
    const run = this.#toRun(rows[0]!);
    const steps = (this.#db.prepare('SELECT * FROM step_runs WHERE run_id = ? ORDER BY position').all(run.id) as Record<string, unknown>[]).map(
      (s): StepRecord => ({
        stepId: String(s['step_id']),
        position: Number(s['position']),
        fingerprint: String(s['fingerprint']),
        dependsOn: JSON.parse(String(s['depends_on'])) as string[],
        status: s['status'] as StepRecord['status'],
        ...(s['output'] === null ? {} : { output: JSON.parse(String(s['output'])) }),
        ...(s['properties'] === null ? {} : { properties: JSON.parse(String(s['properties'])) }),
        ...(s['error'] === null ? {} : { error: String(s['error']) }),
        ...(s['error_code'] === null ? {} : { errorCode: String(s['error_code']) }),
        ...(s['attempts'] === null ? {} : { attempts: Number(s['attempts']) }),
        ...(s['started_at'] === null ? {} : { startedAt: Number(s['started_at']) }),
        ...(s['finished_at'] === null ? {} : { finishedAt: Number(s['finished_at']) }),
        reused: s['reused'] === 1,
      }),
    );
    return { run, steps };
  }

  close(): void {
    this.flush();
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

  /** A `running` run whose process is gone (on this host) was interrupted: a crash, kill -9, a lost laptop. */
  #ownerAlive(row: RunRow): boolean {
    if (row.host !== this.#host) return true; // another machine's run: we cannot tell, so we do not guess
    if (row.pid === process.pid) return true;
    try {
      process.kill(row.pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
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

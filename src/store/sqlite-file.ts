/**
 * The store's file: its schema, the migrations that bring an older one up to date, and opening it for writing
 * (migrated under the write lock) or for reading only (no lock taken; an older schema read as it is when the
 * file cannot be written).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { SQLITE } from './errors.ts';

const { PERM, READONLY, CANTOPEN } = SQLITE;

export const SCHEMA_VERSION = 10;

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
  outputs TEXT,
  -- what the command line set for the run ({ model, maxConcurrency }): resume runs with the same by default
  options TEXT,
  -- the names of inputs kept as *** (secret): resume asks for them again
  secret_inputs TEXT
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
  -- the whole of what \`error\` shows part of (an error response's body)
  error_detail TEXT,
  -- why a skipped step did not run: condition, upstream_skipped, upstream_failed, upstream_cancelled
  skip_reason TEXT,
  -- 1: it failed under continueOnError and the run went on
  continued INTEGER NOT NULL DEFAULT 0,
  -- a foreach step: how many items its list had (the rows in step_items may be fewer: the run stopped first)
  item_count INTEGER,
  -- model tokens it used, as its action reported them: {"model", "inputTokens", "outputTokens"} (a foreach
  -- step: the sum over its items that ran, "model" only when they share one)
  usage TEXT,
  -- what they cost in US dollars; NULL when a model had no price, or it made no model call (usage NULL)
  cost_usd REAL,
  -- 1: answered from the step cache (a foreach step: every item was); nothing was sent or paid
  cached INTEGER NOT NULL DEFAULT 0,
  -- the worker that ran it (host:pid, see src/queue/); NULL when it ran in the run's own process
  worker TEXT,
  -- what it ran with: its block with the templates resolved, secrets redacted (JSON); NULL when it never
  -- resolved, or was reused. Shown only: nothing reads it to decide what runs.
  input_json TEXT,
  PRIMARY KEY (run_id, step_id)
);
-- one row per item of a foreach step that finished, or that a resume carried in from an earlier run (reused)
CREATE TABLE IF NOT EXISTS step_items (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  -- what the item ran with (its value and the other values of its block), as a hash: resume reuses an item
  -- only at the same index with the same key
  key TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER,
  started_at INTEGER,
  finished_at INTEGER,
  reused INTEGER NOT NULL DEFAULT 0,
  redacted INTEGER NOT NULL DEFAULT 0,
  error_code TEXT,
  error TEXT,
  hint TEXT,
  error_detail TEXT,
  usage TEXT,
  cost_usd REAL,
  cached INTEGER NOT NULL DEFAULT 0,
  worker TEXT,
  -- last: large values spill into overflow pages, which reading the columns above (history) then skips
  output TEXT,
  properties TEXT,
  input_json TEXT,
  PRIMARY KEY (run_id, step_id, idx)
);
-- the step cache: a result by the hash of what its step sent (see src/cache/), shared by every workflow
CREATE TABLE IF NOT EXISTS cache_entries (
  key TEXT PRIMARY KEY,
  -- the action that made it, for \`cache stats\`
  action TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_hit_at INTEGER,
  hits INTEGER NOT NULL DEFAULT 0,
  -- what the call that made it used and cost: what each hit saves
  usage TEXT,
  cost_usd REAL,
  -- last: large values spill into overflow pages, which \`cache stats\` then skips
  output TEXT,
  properties TEXT
);
CREATE INDEX IF NOT EXISTS cache_entries_by_age ON cache_entries (created_at);
PRAGMA user_version = ${SCHEMA_VERSION};
`;
/**
 * How each older schema is brought one version forward, in place. A store is migrated through every step
 * up to SCHEMA_VERSION; one from before schema 2, or written by a newer Conductor, is refused.
 */
const MIGRATIONS: Record<number, string> = {
  2: 'ALTER TABLE runs ADD COLUMN heartbeat_at INTEGER;',
  3: 'ALTER TABLE step_runs ADD COLUMN hint TEXT;',
  // Which rows were redacted was not recorded before: any that shows `***` is taken to have been.
  4: "ALTER TABLE step_runs ADD COLUMN redacted INTEGER NOT NULL DEFAULT 0; ALTER TABLE step_runs ADD COLUMN error_detail TEXT; UPDATE step_runs SET redacted = 1 WHERE instr(output, '***') > 0 OR instr(properties, '***') > 0;",
  5: 'ALTER TABLE runs ADD COLUMN options TEXT; ALTER TABLE runs ADD COLUMN secret_inputs TEXT;',
  // step_items itself is made by SCHEMA (CREATE TABLE IF NOT EXISTS), as for a new file.
  6: 'ALTER TABLE step_runs ADD COLUMN skip_reason TEXT; ALTER TABLE step_runs ADD COLUMN continued INTEGER NOT NULL DEFAULT 0; ALTER TABLE step_runs ADD COLUMN item_count INTEGER;',
  // Tokens had been kept only inside an llm step's properties (`model`, `usage`): carried over into the column.
  // step_items gets its column here only when it was there before (ITEMS_USAGE, schema 7): else SCHEMA makes it.
  // cache_entries itself is made by SCHEMA (CREATE TABLE IF NOT EXISTS), as for a new file.
  7: `ALTER TABLE step_runs ADD COLUMN usage TEXT; ALTER TABLE step_runs ADD COLUMN cost_usd REAL; ALTER TABLE step_runs ADD COLUMN cached INTEGER NOT NULL DEFAULT 0; ${usageFromProperties('step_runs')}`,
  // Results recorded before had all run in the run's own process: no worker. step_items gets its column here
  // only when it was there before (ITEMS_WORKER, schema 7 and 8): else SCHEMA makes it.
  8: 'ALTER TABLE step_runs ADD COLUMN worker TEXT;',
  // Results recorded before kept no input: NULL, shown as none. step_items gets its column here only when it was
  // there before (ITEMS_INPUT, schema 7 to 9): else SCHEMA makes it.
  9: 'ALTER TABLE step_runs ADD COLUMN input_json TEXT;',
};

/** From schema 7: step_items exists, without `input_json`. */
const ITEMS_INPUT = 'ALTER TABLE step_items ADD COLUMN input_json TEXT;';

/** From schema 7: step_items exists, without `worker`. */
const ITEMS_WORKER = 'ALTER TABLE step_items ADD COLUMN worker TEXT;';

/** From schema 7: step_items exists, without `usage`. */
const ITEMS_USAGE = `ALTER TABLE step_items ADD COLUMN usage TEXT; ALTER TABLE step_items ADD COLUMN cost_usd REAL; ALTER TABLE step_items ADD COLUMN cached INTEGER NOT NULL DEFAULT 0; ${usageFromProperties('step_items')}`;

function usageFromProperties(table: string): string {
  return `UPDATE ${table} SET usage = json_object('model', json_extract(properties, '$.model'), 'inputTokens', json_extract(properties, '$.usage.inputTokens'), 'outputTokens', json_extract(properties, '$.usage.outputTokens'))
  WHERE json_valid(properties) AND json_type(properties, '$.model') = 'text' AND json_type(properties, '$.usage.inputTokens') IN ('integer', 'real') AND json_type(properties, '$.usage.outputTokens') IN ('integer', 'real');`;
}

export function openForWriting(path: string, busyTimeoutMs: number): DatabaseSync {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path, { timeout: busyTimeoutMs });
  try {
    // secure_delete: a row written again (a result redacted by a secret learned later) leaves no old bytes behind.
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;');
    // Read and brought up to date under the write lock: two processes opening an older store at once
    // migrate it once.
    transaction(db, () => {
      const version = schemaVersion(db);
      // Version 0 is a new file. Any other needs every step from its version to ours.
      const pending = version === 0 ? [] : Array.from({ length: Math.max(0, SCHEMA_VERSION - version) }, (_, k) => MIGRATIONS[version + k]);
      if (version > SCHEMA_VERSION || pending.includes(undefined)) throw unreadable(version);
      db.exec(`${pending.join(' ')} ${version === 7 ? ITEMS_USAGE : ''} ${version === 7 || version === 8 ? ITEMS_WORKER : ''} ${version >= 7 && version <= 9 ? ITEMS_INPUT : ''} ${SCHEMA}`);
    });
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Read-only: no write lock is taken, so listing runs neither waits for a run that is writing nor needs a
 * writable file. A store of an older schema is migrated when it can be written, and read as it is when not
 * (every schema this version migrates from reads the same way, missing columns reading as their defaults).
 */
export function openForReading(path: string, busyTimeoutMs: number): DatabaseSync {
  let db = new DatabaseSync(path, { readOnly: true, timeout: busyTimeoutMs });
  let version: number;
  try {
    version = schemaVersion(db);
  } catch (error) {
    db.close();
    if (!hasCode(error, CANTOPEN, READONLY)) throw error;
    // A WAL store in a folder this process cannot write, without its -wal and -shm files: SQLite reads it only
    // as immutable (what was checkpointed; a store closed cleanly has nothing else).
    db = new DatabaseSync(new URL(`${pathToFileURL(path).href}?immutable=1`), { readOnly: true });
    version = schemaVersion(db);
  }
  if (version > SCHEMA_VERSION || (version < SCHEMA_VERSION && version > 0 && MIGRATIONS[version] === undefined)) {
    db.close();
    throw unreadable(version);
  }
  if (version === SCHEMA_VERSION) return db;
  try {
    const writable = openForWriting(path, busyTimeoutMs);
    db.close();
    return writable;
  } catch (error) {
    if (version === 0 || !hasCode(error, READONLY, CANTOPEN, PERM)) {
      db.close();
      throw error;
    }
    return db;
  }
}

export function schemaVersion(db: DatabaseSync): number {
  return (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
}

function unreadable(version: number): Error {
  return new Error(`it was written by ${version > SCHEMA_VERSION ? 'a newer' : 'another'} version of Conductor (schema ${version}, this one reads ${SCHEMA_VERSION})`);
}

export function hasCode(error: unknown, ...codes: number[]): boolean {
  const code = (error as { errcode?: unknown })?.errcode;
  return typeof code === 'number' && codes.includes(code & 0xff);
}

export function transaction(db: DatabaseSync, work: () => void): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    work();
    db.exec('COMMIT');
  } catch (error) {
    // A COMMIT that failed on a full disk or an I/O error has already rolled back: ROLLBACK then fails with
    // "cannot rollback - no transaction is active", and must not replace the error that says what happened.
    try {
      if (db.isTransaction) db.exec('ROLLBACK');
    } catch {
      // the first error is the one to report
    }
    throw error;
  }
}

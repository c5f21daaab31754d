/**
 * The PostgreSQL store's tables, in a schema of their own (`conductor` unless the URL's `schema` parameter says
 * otherwise), made on open and brought up to date under an advisory lock: two processes opening a new schema
 * at once create it once. The layout follows the SQLite store's (sqlite-file.ts), with what a store shared by
 * machines adds: `worker` on results, and `owner` and `epoch` on runs for the coordinator's lease.
 */
import type { PoolClient } from 'pg';

export const SCHEMA_VERSION = 2;
export const DEFAULT_SCHEMA = 'conductor';

/** A plain identifier: lower-case letters, digits and `_`, not starting with a digit, at most 63 bytes. */
const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** The statements of schema 1. JSON is kept as text, so that it reads back exactly as it was written. */
const SCHEMA_1 = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  -- the order runs were recorded in: listRuns breaks ties of started_at with it (SQLite's rowid)
  seq BIGSERIAL NOT NULL,
  workflow TEXT NOT NULL,
  workflow_hash TEXT NOT NULL,
  inputs TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT,
  -- times in ms since the epoch, as the SQLite store keeps them
  started_at BIGINT NOT NULL,
  finished_at BIGINT,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  -- while running: when its process last showed it was alive, on the database's clock (never a host's)
  heartbeat_at BIGINT,
  resumed_from TEXT,
  step_count INTEGER NOT NULL,
  -- every step of the workflow as it was: [{ id, fingerprint, dependsOn }], in file order
  steps TEXT NOT NULL,
  outputs TEXT,
  options TEXT,
  secret_inputs TEXT,
  -- the coordinator holding the run, and its lease's fencing token (src/queue/)
  owner TEXT,
  epoch INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at DESC, seq DESC);
CREATE INDEX IF NOT EXISTS runs_by_workflow ON runs (workflow, started_at DESC);
-- a run found by a prefix of its id, in any case (\`runs show 3F2A\`), as SQLite's LIKE finds it
CREATE INDEX IF NOT EXISTS runs_by_id_prefix ON runs (lower(id) text_pattern_ops);
CREATE TABLE IF NOT EXISTS step_runs (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step_id TEXT NOT NULL,
  status TEXT NOT NULL,
  output TEXT,
  properties TEXT,
  error TEXT,
  error_code TEXT,
  hint TEXT,
  error_detail TEXT,
  attempts INTEGER,
  started_at BIGINT,
  finished_at BIGINT,
  reused BOOLEAN NOT NULL DEFAULT false,
  redacted BOOLEAN NOT NULL DEFAULT false,
  skip_reason TEXT,
  continued BOOLEAN NOT NULL DEFAULT false,
  item_count INTEGER,
  usage TEXT,
  cost_usd DOUBLE PRECISION,
  cached BOOLEAN NOT NULL DEFAULT false,
  -- the worker that ran it (host:pid), when one did
  worker TEXT,
  PRIMARY KEY (run_id, step_id)
);
CREATE TABLE IF NOT EXISTS items (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  key TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER,
  started_at BIGINT,
  finished_at BIGINT,
  reused BOOLEAN NOT NULL DEFAULT false,
  redacted BOOLEAN NOT NULL DEFAULT false,
  error_code TEXT,
  error TEXT,
  hint TEXT,
  error_detail TEXT,
  usage TEXT,
  cost_usd DOUBLE PRECISION,
  cached BOOLEAN NOT NULL DEFAULT false,
  worker TEXT,
  output TEXT,
  properties TEXT,
  PRIMARY KEY (run_id, step_id, idx)
);
CREATE TABLE IF NOT EXISTS cache_entries (
  key TEXT PRIMARY KEY,
  action TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_hit_at BIGINT,
  hits INTEGER NOT NULL DEFAULT 0,
  usage TEXT,
  cost_usd DOUBLE PRECISION,
  output TEXT,
  properties TEXT
);
CREATE INDEX IF NOT EXISTS cache_entries_by_age ON cache_entries (created_at);
`;

/**
 * Schema 2: what each step and item ran with, its block with the templates resolved and secrets redacted (JSON,
 * as `output`); results recorded before kept none (NULL). Last in each table, as SQLite's is (schema 10).
 */
const SCHEMA_2 = `
ALTER TABLE step_runs ADD COLUMN IF NOT EXISTS input_json TEXT;
ALTER TABLE items ADD COLUMN IF NOT EXISTS input_json TEXT;
`;

/** Each version's statements, applied in order from the version a schema has to SCHEMA_VERSION. */
const MIGRATIONS: Record<number, string> = { 1: SCHEMA_1, 2: SCHEMA_2 };

/** The schema named by `name`, refused unless it is a plain identifier (it goes into SQL and `search_path`). */
export function checkSchemaName(name: string): string {
  if (!PLAIN_IDENTIFIER.test(name)) throw new Error(`the schema \`${name}\` is not a plain name (lower-case letters, digits and _, not starting with a digit, at most 63 characters)`);
  return name;
}

/** `"name"`: safe for any name checkSchemaName let through, and correct for any other too. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The schema's version, or 0 when it (or its version table) does not exist yet. Read without a lock: a schema
 * already up to date is used as it is, by a user who may not create anything.
 */
async function versionOf(client: PoolClient, schema: string): Promise<number> {
  const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [`${quoteIdentifier(schema)}.schema_version`]);
  if (!rows[0]?.exists) return 0;
  const version = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${quoteIdentifier(schema)}.schema_version`);
  return version.rows[0]?.version ?? 0;
}

/**
 * Creates the schema and its tables, or brings them up to date, under a transaction-scoped advisory lock
 * keyed by the schema's name: a second process opening it at the same time waits, then finds it done.
 */
export async function migrate(client: PoolClient, schema: string): Promise<void> {
  const seen = await versionOf(client, schema);
  if (seen === SCHEMA_VERSION) return;
  if (seen > SCHEMA_VERSION) throw newer(seen);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`conductor schema ${schema}`]);
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${quoteIdentifier(schema)}`);
    const name = quoteIdentifier(schema);
    // The connection's search_path names the schema already; set again now that it surely exists.
    await client.query(`SET LOCAL search_path TO ${name}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${name}.schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    const version = await versionOf(client, schema);
    if (version > SCHEMA_VERSION) throw newer(version);
    for (let v = version + 1; v <= SCHEMA_VERSION; v++) {
      // The statements name their tables plainly: they are made in the schema search_path names.
      await client.query(MIGRATIONS[v]!);
      await client.query(`INSERT INTO ${name}.schema_version (version) VALUES ($1)`, [v]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

function newer(version: number): Error {
  return new Error(`it was written by a newer version of Conductor (schema ${version}, this one reads ${SCHEMA_VERSION})`);
}

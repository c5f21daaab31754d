/**
 * The step cache's entries in the run store's file (table `cache_entries`, see sqlite-file.ts): one row per
 * key, shared by every workflow that sends the same request. Each statement commits on its own: a hit or a
 * new entry is one small write (tens of µs in WAL mode), and a run never waits on a batch to see it.
 *
 * Async around synchronous statements, as the store is (see SqliteRunStore).
 *
 * Failures are the store's (`store_failed`, naming the file and the cause) and go to the caller alone: the
 * step cache takes them for a miss, and the run's own record, not this, tells the user the store is broken.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ConductorError } from '../core/errors.ts';
import type { StoreOperation } from './errors.ts';
import { cacheEntryOf, cacheRow, cacheStatsOf } from './records.ts';
import type { CacheEntries, CacheEntry, CacheStats } from './types.ts';

export interface SqliteCacheOptions {
  /** The store's failure in words (see storeError). */
  error(operation: StoreOperation, cause: unknown): ConductorError;
  /** A write of the store's has failed: nothing more is tried (on a locked file each try stalls the process). */
  broken(): boolean;
  now?: () => number;
}

type Row = Record<string, string | number | null>;

const UPSERT = `INSERT INTO cache_entries (key, action, created_at, usage, cost_usd, output, properties) VALUES (?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (key) DO UPDATE SET action = excluded.action, created_at = excluded.created_at, usage = excluded.usage, cost_usd = excluded.cost_usd,
    output = excluded.output, properties = excluded.properties`;

/**
 * `octet_length` takes the size from the row's header: the outputs themselves (overflow pages) are not read.
 * A hit on an entry whose model call has no price makes the action's saving unknown (null), never $0.
 */
const STATS = `SELECT action, count(*) AS entries,
    sum(coalesce(octet_length(output), 0) + coalesce(octet_length(properties), 0)) AS bytes,
    sum(hits) AS hits,
    sum(CASE WHEN usage IS NULL THEN 0 ELSE hits * cost_usd END) AS saved_usd,
    sum(hits > 0 AND usage IS NOT NULL AND cost_usd IS NULL) AS unpriced,
    sum(CASE WHEN usage IS NULL THEN 0 ELSE hits * (coalesce(json_extract(usage, '$.inputTokens'), 0) + coalesce(json_extract(usage, '$.outputTokens'), 0)) END) AS saved_tokens,
    min(created_at) AS oldest, max(created_at) AS newest, max(last_hit_at) AS last_hit_at
  FROM cache_entries GROUP BY action ORDER BY entries DESC, action`;

export class SqliteCacheEntries implements CacheEntries {
  readonly #db: DatabaseSync;
  readonly #options: SqliteCacheOptions;
  readonly #now: () => number;
  readonly #statements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync, options: SqliteCacheOptions) {
    this.#db = db;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async take(key: string, notBefore: number): Promise<CacheEntry | undefined> {
    if (this.#options.broken()) return undefined;
    const row = this.#run('read', () => this.#statement('SELECT action, usage, cost_usd, output, properties FROM cache_entries WHERE key = ? AND created_at >= ?').get(key, notBefore) as Row | undefined);
    if (!row) return undefined;
    this.#run('write', () => this.#statement('UPDATE cache_entries SET hits = hits + 1, last_hit_at = ? WHERE key = ?').run(this.#now(), key));
    return cacheEntryOf(row);
  }

  async has(key: string, notBefore: number): Promise<boolean> {
    return this.#run('read', () => this.#statement('SELECT 1 FROM cache_entries WHERE key = ? AND created_at >= ?').get(key, notBefore) !== undefined);
  }

  async put(key: string, entry: CacheEntry): Promise<void> {
    if (this.#options.broken()) return;
    const row = cacheRow(key, entry, this.#now());
    this.#run('write', () => this.#statement(UPSERT).run(...row));
  }

  async stats(): Promise<CacheStats[]> {
    const rows = this.#run('read', () => this.#statement(STATS).all() as Row[]);
    return rows.map(cacheStatsOf);
  }

  async clear(before?: number): Promise<number> {
    const result = this.#run('write', () => (before === undefined ? this.#statement('DELETE FROM cache_entries').run() : this.#statement('DELETE FROM cache_entries WHERE created_at < ?').run(before)));
    return Number(result.changes);
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) this.#statements.set(sql, (statement = this.#db.prepare(sql)));
    return statement;
  }

  #run<T>(operation: StoreOperation, work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw this.#options.error(operation, error);
    }
  }
}

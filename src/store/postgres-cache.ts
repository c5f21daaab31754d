/**
 * The step cache's entries in the PostgreSQL store (table `cache_entries`), as sqlite-cache.ts keeps them in
 * SQLite: one row per key, each call one statement committed on its own. Times are the caller's clock
 * (`notBefore` is computed from it). Failures are the store's (`store_failed`) and go to the caller alone: the
 * step cache takes them for a miss.
 */
import type { Pool } from 'pg';
import type { ConductorError } from '../core/errors.ts';
import type { StoreOperation } from './errors.ts';
import { cacheEntryOf, cacheRow, cacheStatsOf } from './records.ts';
import type { CacheEntries, CacheEntry, CacheStats } from './types.ts';

export interface PostgresCacheOptions {
  error(operation: StoreOperation, cause: unknown): ConductorError;
  /** A write of the store's has failed: the cache stays out of the way (as the SQLite store's does). */
  broken(): boolean;
  now?: () => number;
}

type Row = Record<string, unknown>;

const UPSERT = `INSERT INTO cache_entries (key, action, created_at, usage, cost_usd, output, properties) VALUES ($1, $2, $3, $4, $5, $6, $7)
  ON CONFLICT (key) DO UPDATE SET action = EXCLUDED.action, created_at = EXCLUDED.created_at, usage = EXCLUDED.usage, cost_usd = EXCLUDED.cost_usd,
    output = EXCLUDED.output, properties = EXCLUDED.properties`;

/** As the SQLite store's: bytes of the JSON text as UTF-8, and a hit on an unpriced entry makes the saving unknown. */
const STATS = `SELECT action, count(*) AS entries,
    sum(coalesce(octet_length(output), 0) + coalesce(octet_length(properties), 0)) AS bytes,
    sum(hits) AS hits,
    sum(CASE WHEN usage IS NULL THEN 0 ELSE hits * cost_usd END) AS saved_usd,
    count(*) FILTER (WHERE hits > 0 AND usage IS NOT NULL AND cost_usd IS NULL) AS unpriced,
    sum(CASE WHEN usage IS NULL THEN 0 ELSE hits * (coalesce((usage::jsonb ->> 'inputTokens')::numeric, 0) + coalesce((usage::jsonb ->> 'outputTokens')::numeric, 0)) END) AS saved_tokens,
    min(created_at) AS oldest, max(created_at) AS newest, max(last_hit_at) AS last_hit_at
  FROM cache_entries GROUP BY action ORDER BY entries DESC, action COLLATE "C"`;

export class PostgresCacheEntries implements CacheEntries {
  readonly #pool: Pool;
  readonly #options: PostgresCacheOptions;
  readonly #now: () => number;

  constructor(pool: Pool, options: PostgresCacheOptions) {
    this.#pool = pool;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async take(key: string, notBefore: number): Promise<CacheEntry | undefined> {
    if (this.#options.broken()) return undefined;
    // Found and counted in one statement.
    const { rows } = await this.#run('write', 'UPDATE cache_entries SET hits = hits + 1, last_hit_at = $3 WHERE key = $1 AND created_at >= $2 RETURNING action, usage, cost_usd, output, properties', [key, notBefore, this.#now()]);
    const row = rows[0];
    if (!row) return undefined;
    return cacheEntryOf(row);
  }

  async has(key: string, notBefore: number): Promise<boolean> {
    const { rows } = await this.#run('read', 'SELECT 1 FROM cache_entries WHERE key = $1 AND created_at >= $2', [key, notBefore]);
    return rows.length > 0;
  }

  async put(key: string, entry: CacheEntry): Promise<void> {
    if (this.#options.broken()) return;
    await this.#run('write', UPSERT, cacheRow(key, entry, this.#now()));
  }

  async stats(): Promise<CacheStats[]> {
    const { rows } = await this.#run('read', STATS, []);
    return rows.map(cacheStatsOf);
  }

  async clear(before?: number): Promise<number> {
    const result = before === undefined ? await this.#run('write', 'DELETE FROM cache_entries', []) : await this.#run('write', 'DELETE FROM cache_entries WHERE created_at < $1', [before]);
    return result.rowCount ?? 0;
  }

  async #run(operation: StoreOperation, sql: string, values: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }> {
    try {
      return await this.#pool.query<Row>(sql, values);
    } catch (error) {
      throw this.#options.error(operation, error);
    }
  }
}

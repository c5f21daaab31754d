/**
 * What the SQLite and PostgreSQL stores read the same way, whatever their column types: a step's place in its
 * run, and the step cache's rows. (Where they differ — booleans as 0/1 or true/false, columns an older SQLite
 * schema lacks — each store reads its own.)
 */
import type { UnitUsage } from '../core/report.ts';
import type { CacheEntry, CacheStats, ItemRecord, StepRecord } from './types.ts';

/** A step as the run planned it (the run's `steps` list). */
export interface PlannedStep {
  id: string;
  fingerprint: string;
  dependsOn: string[];
}

/**
 * What every record of a step says, finished or not: its place in the run and its items. Items a resume carried
 * in beyond the list the step then had (`count`, from its row) are not the step's.
 */
export function stepBase(p: PlannedStep, position: number, count: number | undefined, items: ItemRecord[] | undefined): Pick<StepRecord, 'stepId' | 'position' | 'fingerprint' | 'dependsOn' | 'items'> {
  const own = count === undefined ? items : items?.filter((item) => item.index < count);
  return { stepId: p.id, position, fingerprint: p.fingerprint, dependsOn: p.dependsOn, ...(own ? { items: own } : {}) };
}

type Row = Record<string, unknown>;

/** The `input_json` column (NULL, or absent in an older store: no input kept) as a result's `input`. */
export function inputOf(column: unknown): { input?: unknown } {
  return column == null ? {} : { input: JSON.parse(String(column)) };
}

/** A result's `input` as the `input_json` column: NULL when there is none. */
export function inputColumn(r: { input?: unknown; inputJson?: string }): string | null {
  return r.inputJson ?? (r.input === undefined ? null : JSON.stringify(r.input));
}

/** A cache row (action, usage, cost_usd, output, properties) as the entry it keeps. */
export function cacheEntryOf(row: Row): CacheEntry {
  return {
    action: String(row['action']),
    output: row['output'] == null ? undefined : JSON.parse(String(row['output'])),
    ...(row['properties'] == null ? {} : { properties: JSON.parse(String(row['properties'])) as Record<string, unknown> }),
    ...(row['usage'] == null ? {} : { usage: JSON.parse(String(row['usage'])) as UnitUsage }),
    ...(row['cost_usd'] == null ? {} : { costUsd: Number(row['cost_usd']) }),
  };
}

/** The values of a cache row, in UPSERT's order: key, action, created_at, usage, cost_usd, output, properties. */
export function cacheRow(key: string, entry: CacheEntry, createdAt: number): [string, string, number, string | null, number | null, string | null, string | null] {
  // `undefined` (no output) is NULL; a `null` output is the JSON text `null`.
  const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
  return [key, entry.action, createdAt, json(entry.usage), entry.costUsd ?? null, json(entry.output), json(entry.properties)];
}

/** A row of the STATS query (one per action) as `cache stats` shows it: a hit on an unpriced entry makes the saving unknown. */
export function cacheStatsOf(r: Row): CacheStats {
  return {
    action: String(r['action']),
    entries: Number(r['entries']),
    bytes: Number(r['bytes']),
    hits: Number(r['hits']),
    savedUsd: Number(r['unpriced']) > 0 ? null : Number(r['saved_usd'] ?? 0),
    savedTokens: Number(r['saved_tokens'] ?? 0),
    oldest: Number(r['oldest']),
    newest: Number(r['newest']),
    ...(r['last_hit_at'] == null ? {} : { lastHitAt: Number(r['last_hit_at']) }),
  };
}

/** A run's tokens as both stores sum them (`{in, out, n}` as JSON): none when no step of it used any. */
export function runTokens(summed: string | null | undefined): { usage?: { inputTokens: number; outputTokens: number } } {
  if (summed == null) return {};
  const { in: input, out, n } = JSON.parse(summed) as { in: number | string; out: number | string; n: number | string };
  return Number(n) > 0 ? { usage: { inputTokens: Number(input), outputTokens: Number(out) } } : {};
}

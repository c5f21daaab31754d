/**
 * What history reads from the PostgreSQL store: samples of how recent runs of a workflow went, grouped by
 * fingerprint, for the medians of `durations`, `usage` and `itemDurations` — the same samples the SQLite
 * store's history takes (sqlite-history.ts), so that the medians are the same on the same runs. Reads only the
 * columns it needs (outputs can be large, and are not read).
 */
import type { Pool } from 'pg';
import { itemFingerprint } from './fingerprint.ts';
import type { PlannedStep } from './postgres-rows.ts';

/** About how many items of one foreach step in one run `itemDurationSamples` takes. */
const ITEM_SAMPLES = 1_000;

/** The SQLite store's order for runs of one workflow (its index on started_at breaks ties by rowid). */
const RECENT_RUNS = 'SELECT id, steps FROM runs WHERE workflow = $1 ORDER BY started_at DESC, seq ASC LIMIT $2';

/**
 * Every k-th item of each foreach step, spread over the whole of it, each found through the primary key: a
 * median of ~ITEM_SAMPLES items estimates as well as one of 100,000.
 */
const ITEM_DURATIONS = `SELECT s.run_id, s.step_id, i.finished_at - i.started_at AS ms
  FROM unnest($1::text[], $2::text[]) AS s (run_id, step_id)
  CROSS JOIN LATERAL (SELECT max(idx) AS last FROM items WHERE run_id = s.run_id AND step_id = s.step_id) m
  CROSS JOIN LATERAL generate_series(0, m.last, greatest(1, (m.last + 1) / ${ITEM_SAMPLES})) AS k (idx)
  JOIN items i ON i.run_id = s.run_id AND i.step_id = s.step_id AND i.idx = k.idx
  WHERE i.status = 'succeeded' AND NOT i.reused AND NOT i.cached AND i.started_at IS NOT NULL AND i.finished_at IS NOT NULL`;

async function recentRuns(pool: Pool, workflow: string, runs: number): Promise<{ id: string; steps: PlannedStep[] }[]> {
  const { rows } = await pool.query<{ id: string; steps: string }>(RECENT_RUNS, [workflow, runs]);
  return rows.map((r) => ({ id: r.id, steps: JSON.parse(r.steps) as PlannedStep[] }));
}

function add<T>(samples: Map<string, T[]>, key: string, value: T): void {
  const list = samples.get(key);
  if (list) list.push(value);
  else samples.set(key, [value]);
}

/**
 * One value per step that succeeded (and ran) in the workflow's last `runs` runs and matches `where`, grouped
 * by fingerprint; `pick` sees the named columns only.
 */
export async function stepSamples<T>(pool: Pool, workflow: string, runs: number, columns: string, where: string, pick: (row: Record<string, unknown>) => T): Promise<Map<string, T[]>> {
  const recent = await recentRuns(pool, workflow, runs);
  const fingerprints = new Map(recent.flatMap((run) => run.steps.map((s) => [JSON.stringify([run.id, s.id]), s.fingerprint] as const)));
  const { rows } = await pool.query(`SELECT run_id, step_id, ${columns} FROM step_runs WHERE run_id = ANY($1) AND status = 'succeeded' AND NOT reused AND ${where}`, [recent.map((r) => r.id)]);
  const samples = new Map<string, T[]>();
  for (const row of rows as Record<string, unknown>[]) {
    const fingerprint = fingerprints.get(JSON.stringify([row['run_id'], row['step_id']]));
    if (fingerprint !== undefined) add(samples, fingerprint, pick(row));
  }
  return samples;
}

/** Durations in ms of items that succeeded (and ran) in the workflow's last `runs` runs, by item fingerprint. */
export async function itemDurationSamples(pool: Pool, workflow: string, runs: number): Promise<Map<string, number[]>> {
  const recent = await recentRuns(pool, workflow, runs);
  // Only foreach steps have two-part fingerprints (see prepareFingerprints).
  const steps = recent.flatMap((run) => run.steps.filter((s) => s.fingerprint.includes('.')).map((s) => ({ runId: run.id, ...s })));
  const fingerprints = new Map(steps.map((s) => [JSON.stringify([s.runId, s.id]), itemFingerprint(s.fingerprint)]));
  const { rows } = await pool.query(ITEM_DURATIONS, [steps.map((s) => s.runId), steps.map((s) => s.id)]);
  const samples = new Map<string, number[]>();
  for (const row of rows as Record<string, unknown>[]) add(samples, fingerprints.get(JSON.stringify([row['run_id'], row['step_id']]))!, Number(row['ms']));
  return samples;
}

/**
 * What history reads from the store: samples of how recent runs of a workflow went, grouped by fingerprint,
 * for the medians of `durations`, `usage` and `itemDurations`. Reads only the columns it needs (outputs can be
 * large, and are not read).
 */
import type { DatabaseSync } from 'node:sqlite';
import { itemFingerprint } from './fingerprint.ts';
import type { PlannedStep } from './sqlite-rows.ts';

/** About how many items of one foreach step in one run `itemDurationSamples` takes. */
const ITEM_SAMPLES = 1_000;

function recentRuns(db: DatabaseSync, workflow: string, runs: number): { id: string; steps: PlannedStep[] }[] {
  const rows = db.prepare('SELECT id, steps FROM runs WHERE workflow = ? ORDER BY started_at DESC LIMIT ?').all(workflow, runs) as { id: string; steps: string }[];
  return rows.map((r) => ({ id: r.id, steps: JSON.parse(r.steps) as PlannedStep[] }));
}

function add<T>(samples: Map<string, T[]>, key: string, values: T[]): void {
  const list = samples.get(key);
  if (list) list.push(...values);
  else samples.set(key, values);
}

/**
 * One value per step that succeeded (and ran) in the workflow's last `runs` runs and matches `where`, grouped
 * by fingerprint; `pick` sees the named columns only.
 */
export function stepSamples<T>(db: DatabaseSync, workflow: string, runs: number, columns: string, where: string, pick: (row: Record<string, unknown>) => T): Map<string, T[]> {
  const samples = new Map<string, T[]>();
  const rows = db.prepare(`SELECT step_id, ${columns} FROM step_runs WHERE run_id = ? AND status = 'succeeded' AND reused = 0 AND ${where}`);
  for (const run of recentRuns(db, workflow, runs)) {
    const fingerprints = new Map(run.steps.map((s) => [s.id, s.fingerprint]));
    for (const row of rows.all(run.id) as Record<string, unknown>[]) {
      const fingerprint = fingerprints.get(String(row['step_id']));
      if (fingerprint !== undefined) add(samples, fingerprint, [pick(row)]);
    }
  }
  return samples;
}

/**
 * Durations in ms of items that succeeded (and ran) in the workflow's last `runs` runs, grouped by item
 * fingerprint. Every k-th item of a long list, spread over the whole of it, each found through the primary
 * key: a median of ~ITEM_SAMPLES items estimates as well as one of 100,000, and reading every row of those
 * would cost every `plan` half a second.
 */
export function itemDurationSamples(db: DatabaseSync, workflow: string, runs: number, skipCached = false): Map<string, number[]> {
  const samples = new Map<string, number[]>();
  const last = db.prepare('SELECT max(idx) AS last FROM step_items WHERE run_id = ? AND step_id = ?');
  // CROSS JOIN keeps the sampled indexes the outer loop: each one a lookup, not a scan of the step's items.
  const every = db.prepare(
    `WITH RECURSIVE k (idx) AS (SELECT 0 UNION ALL SELECT idx + :stride FROM k WHERE idx + :stride <= :last)
     SELECT i.finished_at - i.started_at FROM k CROSS JOIN step_items i ON i.run_id = :run AND i.step_id = :step AND i.idx = k.idx
     WHERE i.status = 'succeeded' AND i.reused = 0${skipCached ? ' AND i.cached = 0' : ''} AND i.started_at IS NOT NULL AND i.finished_at IS NOT NULL`,
  );
  every.setReturnArrays(true);
  for (const run of recentRuns(db, workflow, runs)) {
    for (const { id, fingerprint } of run.steps) {
      // Only foreach steps have two-part fingerprints (see prepareFingerprints).
      if (!fingerprint.includes('.')) continue;
      const end = (last.get(run.id, id) as { last: number | null }).last;
      if (end === null) continue;
      const stride = Math.max(1, Math.floor((end + 1) / ITEM_SAMPLES));
      const ms = (every.all({ stride, last: end, run: run.id, step: id }) as unknown as [number][]).map(([d]) => d);
      if (ms.length > 0) add(samples, itemFingerprint(fingerprint), ms);
    }
  }
  return samples;
}

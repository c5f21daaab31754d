/**
 * Runs as the PostgreSQL store reads them: each with how many of its steps succeeded and were skipped, what they
 * cost, and whether a `running` run still has a live owner — judged on the database's clock, which wrote its
 * heartbeat, so machines' clocks do not matter.
 */
import { runTokens } from './records.ts';
import type { RunRecord, RunSettings } from './types.ts';

/** Now in ms since the epoch on the database's clock: every machine's heartbeats are compared on it. */
export const DB_NOW_MS = '(extract(epoch FROM now()) * 1000)::bigint';

/** A running run whose last heartbeat is older than this, on the database's clock, is taken for dead. */
const STALE_AFTER_MS = 30_000;

const RUN_COLUMNS = `r.id, r.workflow, r.workflow_hash, r.inputs, r.status, r.error, r.started_at, r.finished_at, r.pid, r.host, r.heartbeat_at, r.resumed_from, r.step_count, r.outputs, r.options, r.secret_inputs,
  p.steps_done, p.steps_skipped, p.costs, p.cost_unknown, p.tokens, ${DB_NOW_MS} AS now_ms`;
/**
 * Steps' costs are added up here, not by the server: in the order SQLite reads them (by step id) and as its
 * total() adds, so that a run costs the same to the last bit in either store. A cost is unknown (null), never
 * a smaller sum, when a step used tokens that had no price.
 */
const PROGRESS = `FROM runs r CROSS JOIN LATERAL (
  SELECT count(*) FILTER (WHERE s.status = 'succeeded') AS steps_done, count(*) FILTER (WHERE s.status = 'skipped') AS steps_skipped,
    array_agg(s.cost_usd ORDER BY s.step_id COLLATE "C") FILTER (WHERE s.cost_usd IS NOT NULL) AS costs,
    count(*) FILTER (WHERE s.usage IS NOT NULL AND s.cost_usd IS NULL) AS cost_unknown,
    json_build_object('in', coalesce(sum((s.usage::jsonb ->> 'inputTokens')::bigint) FILTER (WHERE s.usage IS NOT NULL AND NOT s.reused), 0),
      'out', coalesce(sum((s.usage::jsonb ->> 'outputTokens')::bigint) FILTER (WHERE s.usage IS NOT NULL AND NOT s.reused), 0),
      'n', count(*) FILTER (WHERE s.usage IS NOT NULL AND NOT s.reused))::text AS tokens
  FROM step_runs s WHERE s.run_id = r.id) p`;

/** Runs with their progress and cost (to be followed by WHERE / ORDER BY on `r`). */
export const RUNS = `SELECT ${RUN_COLUMNS} ${PROGRESS}`;
/** The same with the run's planned steps (a list as long as the workflow: read for one run only). */
export const RUNS_WITH_STEPS = `SELECT r.steps, ${RUN_COLUMNS} ${PROGRESS}`;

export interface RunRow {
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
  options: string | null;
  secret_inputs: string | null;
  steps_done: number;
  steps_skipped: number;
  costs: number[] | null;
  cost_unknown: number;
  tokens: string;
  now_ms: number;
}

/** A run's row as the SQLite store gives its own: NULL columns are absent fields. `host`: this machine's name. */
export function runRecord(row: RunRow, host: string): RunRecord {
  return {
    id: row.id,
    workflow: row.workflow,
    workflowHash: row.workflow_hash,
    inputs: JSON.parse(row.inputs) as Record<string, unknown>,
    status: row.status === 'running' && !ownerAlive(row, host) ? 'interrupted' : (row.status as RunRecord['status']),
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
    ...(row.options === null ? {} : { options: JSON.parse(row.options) as RunSettings }),
    ...(row.secret_inputs === null ? {} : { secretInputs: JSON.parse(row.secret_inputs) as string[] }),
    costUsd: row.cost_unknown ? null : total(row.costs ?? []),
    ...runTokens(row.tokens),
  };
}

/**
 * A `running` run whose process is gone was interrupted. The heartbeat's age is taken on the database's clock.
 * On this machine a dead pid says so at once, as the SQLite store's rule does; a live pid counts only while the
 * heartbeat is fresh (pids are reused, say by the next container's process). Elsewhere the heartbeat is all
 * there is.
 */
function ownerAlive(row: RunRow, host: string): boolean {
  const fresh = row.heartbeat_at === null || row.now_ms - row.heartbeat_at < STALE_AFTER_MS;
  if (row.host !== host) return fresh;
  try {
    process.kill(row.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return fresh;
}

/**
 * A sum as SQLite's total() makes it (Kahan-Babuska-Neumaier summation, SQLite 3.43 and later): what the error
 * of each addition lost is kept and added back at the end.
 */
export function total(values: readonly number[]): number {
  let sum = 0;
  let lost = 0;
  for (const value of values) {
    const next = sum + value;
    lost += Math.abs(sum) > Math.abs(value) ? sum - next + value : value - next + sum;
    sum = next;
  }
  return Number.isFinite(lost) ? sum + lost : sum;
}

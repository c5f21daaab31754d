/**
 * `GET /api/runs`: the query normalised once (bad values refused with a hint), and the page of recorded runs.
 * The store lists newest first with a limit only, so filters are applied here, over a bounded window.
 */
import { relative, sep } from 'node:path';
import type { RecordedRunStatus, RunRecord, RunStore } from '../store/types.ts';
import { HttpError } from './errors.ts';

export const RUN_STATUSES: readonly RecordedRunStatus[] = ['running', 'succeeded', 'failed', 'cancelled', 'budget_exceeded', 'interrupted'];
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;
/** With a filter, how many of the newest runs are looked through: past that, `total` is left out. */
export const FILTER_WINDOW = 5000;

export interface RunsQuery {
  status?: RecordedRunStatus;
  workflow?: string;
  limit: number;
  offset: number;
}

export function listQuery(get: (name: string) => string | undefined): RunsQuery {
  const status = get('status') || undefined;
  if (status !== undefined && !(RUN_STATUSES as readonly string[]).includes(status)) {
    throw new HttpError(400, `\`status\` must be one of ${RUN_STATUSES.join(', ')}`, { hint: 'leave it out for runs of every status' });
  }
  const workflow = get('workflow') || undefined;
  const limit = whole(get('limit'), 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT);
  const offset = whole(get('offset'), 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
  return { ...(status ? { status: status as RecordedRunStatus } : {}), ...(workflow ? { workflow } : {}), limit, offset };
}

/** A whole-number query value from `min` to `max` (absent or empty: `fallback`); a 400 with a hint otherwise. */
export function whole(text: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (text === undefined || text === '') return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new HttpError(400, `\`${name}\` must be a whole number from ${min} to ${max}`, { hint: `leave it out for ${fallback}` });
  return value;
}

/**
 * The page the query asks for, newest first. `total` (how many runs match) is given when the store's whole
 * list was looked through; `workflow` matches the recorded path, or that path relative to the root.
 */
export async function selectRuns(store: RunStore, query: RunsQuery, root: string): Promise<{ runs: RunRecord[]; total?: number }> {
  const filtered = query.status !== undefined || query.workflow !== undefined;
  const window = filtered ? FILTER_WINDOW : query.offset + query.limit + 1;
  const listed = await store.listRuns(window);
  const complete = listed.length < window;
  const matches = listed.filter((run) => (query.status === undefined || run.status === query.status) && (query.workflow === undefined || sameWorkflow(run.workflow, query.workflow, root)));
  const runs = matches.slice(query.offset, query.offset + query.limit);
  return { runs, ...(complete ? { total: matches.length } : {}) };
}

function sameWorkflow(recorded: string, asked: string, root: string): boolean {
  if (recorded === asked) return true;
  return relative(root, recorded).split(sep).join('/') === asked;
}

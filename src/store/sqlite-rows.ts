/**
 * The store's rows and the records they stand for: a step's or an item's result as the values of a row to
 * write, and a row read back as a StepRecord or ItemRecord (columns a store of an older schema lacks read as
 * their defaults).
 */
import type { UnitUsage } from '../core/report.ts';
import type { DatabaseSync } from 'node:sqlite';
import type { SkipReason } from '../core/status.ts';
import { inputColumn, inputOf, stepBase, type PlannedStep } from './records.ts';
import type { ItemRecord, ItemResult, ResultFields, StepRecord, StepResult } from './types.ts';

export type Row = (string | number | null)[];

export type { PlannedStep } from './records.ts';

/**
 * A step's result: a later one for the same step replaces it — but only a success replaces a success (a result a
 * worker recorded stands over the run's `cancelled` for a job whose answer came too late). Values from `stepRow`.
 */
export const INSERT_STEP = `INSERT INTO step_runs (status, output, properties, error, error_code, hint, error_detail, attempts, started_at, finished_at, reused, redacted, usage, cost_usd, cached, worker, input_json, skip_reason, continued, item_count, run_id, step_id)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (run_id, step_id) DO UPDATE SET status = excluded.status, output = excluded.output, properties = excluded.properties, error = excluded.error, error_code = excluded.error_code, hint = excluded.hint, error_detail = excluded.error_detail, attempts = excluded.attempts, started_at = excluded.started_at, finished_at = excluded.finished_at, reused = excluded.reused, redacted = excluded.redacted, usage = excluded.usage, cost_usd = excluded.cost_usd, cached = excluded.cached, worker = excluded.worker, input_json = excluded.input_json, skip_reason = excluded.skip_reason, continued = excluded.continued, item_count = excluded.item_count
  WHERE step_runs.status <> 'succeeded' OR excluded.status = 'succeeded'`;

/**
 * An item's result: a later one for the same index replaces it, as for a step — a success only by a success, or
 * by a result for another value (a resume re-runs an item whose key changed over the success it carried in).
 * Values from `itemRow`.
 */
export const INSERT_ITEM = `INSERT INTO step_items (key, status, output, properties, error, error_code, hint, error_detail, attempts, started_at, finished_at, reused, redacted, usage, cost_usd, cached, worker, input_json, run_id, step_id, idx)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (run_id, step_id, idx) DO UPDATE SET key = excluded.key, status = excluded.status, output = excluded.output, properties = excluded.properties, error = excluded.error, error_code = excluded.error_code, hint = excluded.hint, error_detail = excluded.error_detail, attempts = excluded.attempts, started_at = excluded.started_at, finished_at = excluded.finished_at, reused = excluded.reused, redacted = excluded.redacted, usage = excluded.usage, cost_usd = excluded.cost_usd, cached = excluded.cached, worker = excluded.worker, input_json = excluded.input_json
  WHERE step_items.status <> 'succeeded' OR excluded.status = 'succeeded' OR step_items.key <> excluded.key`;

/** At most this many rows go in one INSERT: a statement run for each row cost more than writing the row. */
export const ROWS_PER_INSERT = 16;

/** `insert` (INSERT_STEP or INSERT_ITEM) writing `count` rows at once: their values one row after another. */
export function insertRows(insert: string, count: number): string {
  const [head, rest] = insert.split('VALUES');
  const [values, ...tail] = rest!.split('\n  ON CONFLICT');
  return `${head}VALUES ${Array.from({ length: count }, () => values!.trim()).join(', ')}${tail.length ? `\n  ON CONFLICT${tail.join('')}` : ''}`;
}

export function stepRow(runId: string, stepId: string, r: StepResult): Row {
  return [r.status, ...resultColumns(r), r.skipReason ?? null, r.continued ? 1 : 0, r.itemCount ?? null, runId, stepId];
}

export function itemRow(runId: string, stepId: string, r: ItemResult): Row {
  return [r.key, r.status, ...resultColumns(r), runId, stepId, r.index];
}

/** The columns a step's row and an item's row share, in their order (output … input_json). */
function resultColumns(r: ResultFields): Row {
  return [
    r.outputJson ?? (r.output === undefined ? null : JSON.stringify(r.output)),
    r.propertiesJson ?? (r.properties === undefined ? null : JSON.stringify(r.properties)),
    r.error ?? null,
    r.errorCode ?? null,
    r.hint ?? null,
    r.errorDetail ?? null,
    r.attempts ?? null,
    r.startedAt ?? null,
    r.finishedAt ?? null,
    r.reused ? 1 : 0,
    r.redacted ? 1 : 0,
    r.usage ? JSON.stringify(r.usage) : null,
    r.costUsd ?? null,
    r.cached ? 1 : 0,
    r.worker ?? null,
    inputColumn(r),
  ];
}

/** A step of a run as recorded: `s` its step_runs row, absent for a step that never finished. */
export function stepRecord(p: PlannedStep, position: number, s: Record<string, unknown> | undefined, items: ItemRecord[] | undefined): StepRecord {
  const count = s?.['item_count'] == null ? undefined : Number(s['item_count']);
  const base = stepBase(p, position, count, items);
  if (!s) return { ...base, status: 'pending', reused: false, redacted: false };
  return {
    ...base,
    status: s['status'] as StepRecord['status'],
    ...(s['output'] === null ? {} : { output: JSON.parse(String(s['output'])) }),
    ...(s['properties'] === null ? {} : { properties: JSON.parse(String(s['properties'])) }),
    ...(s['error'] === null ? {} : { error: String(s['error']) }),
    ...(s['error_code'] === null ? {} : { errorCode: String(s['error_code']) }),
    ...(s['hint'] == null ? {} : { hint: String(s['hint']) }),
    ...(s['error_detail'] == null ? {} : { errorDetail: String(s['error_detail']) }),
    ...(s['attempts'] === null ? {} : { attempts: Number(s['attempts']) }),
    ...(s['started_at'] === null ? {} : { startedAt: Number(s['started_at']) }),
    ...(s['finished_at'] === null ? {} : { finishedAt: Number(s['finished_at']) }),
    reused: s['reused'] === 1,
    // A store read as it is, from before schema 5, has no such column: whether it held a secret is
    // unknown, and is taken as yes (it runs again rather than feed `***` on).
    redacted: s['redacted'] === undefined ? /\*\*\*/.test(`${s['output']}${s['properties']}`) : s['redacted'] === 1,
    // Absent in a store read as it is, from before schema 7.
    ...(s['skip_reason'] == null ? {} : { skipReason: String(s['skip_reason']) as SkipReason }),
    ...(s['continued'] === 1 ? { continued: true } : {}),
    ...(count === undefined ? {} : { itemCount: count }),
    // Absent in a store read as it is, from before schema 8.
    ...(s['usage'] == null ? {} : { usage: JSON.parse(String(s['usage'])) as UnitUsage }),
    // Tokens without a cost: a model with no price (null, shown "—"), never $0.
    ...(s['cost_usd'] != null ? { costUsd: Number(s['cost_usd']) } : s['usage'] != null ? { costUsd: null } : {}),
    ...(s['cached'] === 1 ? { cached: true } : {}),
    // Absent in a store read as it is, from before schema 9.
    ...(s['worker'] == null ? {} : { worker: String(s['worker']) }),
    // Absent in a store read as it is, from before schema 10.
    ...inputOf(s['input_json']),
  };
}

/**
 * A succeeded result as recorded (`RunStore.recordedSuccess`): `s` a step_runs row or a step_items row, whose
 * shared columns have the same names.
 */
export function recordedResult(s: Record<string, unknown>): ResultFields {
  const { stepId: _stepId, position: _position, fingerprint: _fingerprint, dependsOn: _dependsOn, status: _status, skipReason: _skip, continued: _continued, itemCount: _count, items: _items, ...fields } = stepRecord({ id: '', fingerprint: '', dependsOn: [] }, 0, s, undefined);
  return fields;
}

/** Every recorded item of a run, by step, in index order (schema 7 and later; each `with…` a later schema's columns). */
export function readItems(db: DatabaseSync, runId: string, withUsage: boolean, withWorker: boolean, withInput: boolean): Map<string, ItemRecord[]> {
  const byStep = new Map<string, ItemRecord[]>();
  // In primary-key order: by step, then index. Rows as arrays, fields set one by one: a run can hold 100,000.
  const rows = db.prepare(
    `SELECT step_id, idx, key, status, output, properties, error, error_code, hint, error_detail, attempts, started_at, finished_at, reused, redacted${withUsage ? ', usage, cost_usd, cached' : ''}${withUsage && withWorker ? ', worker' : ''}${withUsage && withWorker && withInput ? ', input_json' : ''} FROM step_items WHERE run_id = ? ORDER BY step_id, idx`,
  );
  rows.setReturnArrays(true);
  type ItemRow = [string, number, string, ItemRecord['status'], ...(string | number | null)[]];
  let list: ItemRecord[] = [];
  for (const [stepId, index, key, status, output, properties, error, errorCode, hint, errorDetail, attempts, startedAt, finishedAt, reused, redacted, usage, costUsd, cached, worker, input] of rows.iterate(runId) as Iterable<ItemRow>) {
    if (!byStep.has(stepId)) byStep.set(stepId, (list = []));
    const item: ItemRecord = { index, key, status, reused: reused === 1, redacted: redacted === 1 };
    if (output !== null) item.output = JSON.parse(String(output));
    if (properties !== null) item.properties = JSON.parse(String(properties)) as Record<string, unknown>;
    if (error !== null) item.error = String(error);
    if (errorCode !== null) item.errorCode = String(errorCode);
    if (hint !== null) item.hint = String(hint);
    if (errorDetail !== null) item.errorDetail = String(errorDetail);
    if (attempts !== null) item.attempts = Number(attempts);
    if (startedAt !== null) item.startedAt = Number(startedAt);
    if (finishedAt !== null) item.finishedAt = Number(finishedAt);
    if (usage != null) item.usage = JSON.parse(String(usage)) as UnitUsage;
    if (costUsd != null) item.costUsd = Number(costUsd);
    else if (usage != null) item.costUsd = null;
    if (cached === 1) item.cached = true;
    if (worker != null) item.worker = String(worker);
    if (input != null) item.input = JSON.parse(String(input));
    list.push(item);
  }
  return byStep;
}

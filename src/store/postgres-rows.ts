/**
 * The PostgreSQL store's rows and the records they stand for, read back exactly as the SQLite store reads its
 * own (sqlite-rows.ts): the same fields present, the same ones absent. Rows are written many at a time as one
 * array per column (`unnest`): one statement, and one parameter per column whatever the number of rows.
 */
import type { UnitUsage } from '../core/report.ts';
import type { SkipReason } from '../core/status.ts';
import { inputColumn, inputOf, stepBase, type PlannedStep } from './records.ts';
import type { ItemRecord, ItemResult, ResultFields, StepRecord, StepResult } from './types.ts';

export type Value = string | number | boolean | null;
export type Row = Value[];

export type { PlannedStep } from './records.ts';

interface Table {
  name: string;
  /** Every column written, with its type, in the order of a row's values. */
  columns: [string, string][];
  key: string[];
}

/** The columns of a result that steps and items share, in the order resultValues gives them. */
const RESULT_COLUMNS: [string, string][] = [
  ['status', 'text'],
  ['output', 'text'],
  ['properties', 'text'],
  ['error', 'text'],
  ['error_code', 'text'],
  ['hint', 'text'],
  ['error_detail', 'text'],
  ['attempts', 'integer'],
  ['started_at', 'bigint'],
  ['finished_at', 'bigint'],
  ['reused', 'boolean'],
  ['redacted', 'boolean'],
  ['usage', 'text'],
  ['cost_usd', 'double precision'],
  ['cached', 'boolean'],
  ['worker', 'text'],
  ['input_json', 'text'],
];

export const STEPS: Table = {
  name: 'step_runs',
  columns: [['run_id', 'text'], ['step_id', 'text'], ...RESULT_COLUMNS, ['skip_reason', 'text'], ['continued', 'boolean'], ['item_count', 'integer']],
  key: ['run_id', 'step_id'],
};

export const ITEMS: Table = {
  name: 'items',
  columns: [['run_id', 'text'], ['step_id', 'text'], ['idx', 'integer'], ['key', 'text'], ...RESULT_COLUMNS],
  key: ['run_id', 'step_id', 'idx'],
};

/**
 * Writes rows (values from stepRow or itemRow, one array per column: see columnsOf), a later row for the same
 * step or item replacing an earlier one. `once`: only where no success is recorded (a step), or none with the
 * same key (an item), and only for a step the run planned; returns a row for each written.
 */
export function upsert(table: Table, once = false): string {
  const names = table.columns.map(([name]) => name);
  const arrays = table.columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  const update = names.filter((name) => !table.key.includes(name)).map((name) => `${name} = EXCLUDED.${name}`).join(', ');
  const head = `INSERT INTO ${table.name} (${names.join(', ')}) SELECT u.* FROM unnest(${arrays}) AS u (${names.join(', ')})`;
  const conflict = `ON CONFLICT (${table.key.join(', ')}) DO UPDATE SET ${update}`;
  // Only a success replaces a success: a result a worker recorded stands over the run's late `cancelled`.
  // An item's result for another value (its key) replaces it too: a resume re-runs an item whose key changed.
  if (!once) return `${head} ${conflict} WHERE ${table.name}.status <> 'succeeded' OR EXCLUDED.status = 'succeeded'${table === ITEMS ? ' OR items.key <> EXCLUDED.key' : ''}`;
  // The run must plan the step: a job for a run or step the store does not know writes nothing.
  const known = "WHERE EXISTS (SELECT 1 FROM runs r WHERE r.id = u.run_id AND r.steps::jsonb @> jsonb_build_array(jsonb_build_object('id', u.step_id)))";
  const unless = table === ITEMS ? "NOT (items.status = 'succeeded' AND items.key = EXCLUDED.key)" : "step_runs.status <> 'succeeded'";
  return `${head} ${known} ${conflict} WHERE ${unless} RETURNING 1`;
}

/** Rows as the parameters of `upsert`: one array per column. */
export function columnsOf(table: Table, rows: readonly Row[]): Value[][] {
  return table.columns.map((_, i) => rows.map((row) => row[i] ?? null));
}

export function stepRow(runId: string, stepId: string, r: StepResult): Row {
  return [runId, stepId, ...resultValues(r), r.skipReason ?? null, r.continued === true, r.itemCount ?? null];
}

export function itemRow(runId: string, stepId: string, r: ItemResult): Row {
  return [runId, stepId, r.index, text(r.key), ...resultValues(r)];
}

/**
 * PostgreSQL refuses the NUL character in text (SQLite keeps it). JSON never holds one (JSON.stringify writes
 * `\u0000`); free text that does (an error response's body) keeps a replacement character in its place.
 */
function text(value: string): string;
function text(value: string | undefined): string | null;
function text(value: string | undefined): string | null {
  return value === undefined ? null : value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value;
}

function resultValues(r: ResultFields & { status: string }): Row {
  return [
    r.status,
    r.outputJson ?? (r.output === undefined ? null : JSON.stringify(r.output)),
    r.propertiesJson ?? (r.properties === undefined ? null : JSON.stringify(r.properties)),
    text(r.error),
    text(r.errorCode),
    text(r.hint),
    text(r.errorDetail),
    r.attempts ?? null,
    r.startedAt ?? null,
    r.finishedAt ?? null,
    r.reused === true,
    r.redacted === true,
    r.usage ? JSON.stringify(r.usage) : null,
    r.costUsd ?? null,
    r.cached === true,
    text(r.worker),
    inputColumn(r),
  ];
}

/** The fields of a recorded result, as the SQLite store reads them: NULL columns are absent fields. */
export function resultFields(s: Record<string, unknown>): ResultFields & { reused: boolean; redacted: boolean } {
  return {
    ...(s['output'] == null ? {} : { output: JSON.parse(String(s['output'])) }),
    ...(s['properties'] == null ? {} : { properties: JSON.parse(String(s['properties'])) as Record<string, unknown> }),
    ...(s['error'] == null ? {} : { error: String(s['error']) }),
    ...(s['error_code'] == null ? {} : { errorCode: String(s['error_code']) }),
    ...(s['hint'] == null ? {} : { hint: String(s['hint']) }),
    ...(s['error_detail'] == null ? {} : { errorDetail: String(s['error_detail']) }),
    ...(s['attempts'] == null ? {} : { attempts: Number(s['attempts']) }),
    ...(s['started_at'] == null ? {} : { startedAt: Number(s['started_at']) }),
    ...(s['finished_at'] == null ? {} : { finishedAt: Number(s['finished_at']) }),
    reused: s['reused'] === true,
    redacted: s['redacted'] === true,
    ...(s['usage'] == null ? {} : { usage: JSON.parse(String(s['usage'])) as UnitUsage }),
    // Tokens without a cost: a model with no price (null, shown "—"), never $0.
    ...(s['cost_usd'] != null ? { costUsd: Number(s['cost_usd']) } : s['usage'] != null ? { costUsd: null } : {}),
    ...(s['cached'] === true ? { cached: true } : {}),
    ...(s['worker'] == null ? {} : { worker: String(s['worker']) }),
    ...inputOf(s['input_json']),
  };
}

/** A step of a run as recorded: `s` its step_runs row, absent for a step that never finished. */
export function stepRecord(p: PlannedStep, position: number, s: Record<string, unknown> | undefined, items: ItemRecord[] | undefined): StepRecord {
  const count = s?.['item_count'] == null ? undefined : Number(s['item_count']);
  const base = stepBase(p, position, count, items);
  if (!s) return { ...base, status: 'pending', reused: false, redacted: false };
  return {
    ...base,
    status: s['status'] as StepRecord['status'],
    ...resultFields(s),
    ...(s['skip_reason'] == null ? {} : { skipReason: String(s['skip_reason']) as SkipReason }),
    ...(s['continued'] === true ? { continued: true } : {}),
    ...(count === undefined ? {} : { itemCount: count }),
  };
}

/** An item's row as recorded. */
export function itemRecord(s: Record<string, unknown>): ItemRecord {
  return { index: Number(s['idx']), key: String(s['key']), status: s['status'] as ItemRecord['status'], ...resultFields(s) };
}

/**
 * `GET /api/runs/{id}`: a recorded run in the shape `conductor run --json` prints (RunReport), read back from
 * the store — the same for a run this server started, one `conductor run` recorded, and one still going — and
 * extended (never renamed) with what a viewer needs beside it: the inputs, the run it resumed, whether this
 * server is running it, and each step's dependencies and tokens.
 */
import { addCost, type ItemReport, type ModelUsage, type RunReport, type StepReport, type UnitUsage } from '../core/report.ts';
import type { StepStatus } from '../core/status.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import type { ItemRecord, RecordedRunStatus, RunRecord, StepRecord } from '../store/types.ts';

export interface StepView extends Omit<StepReport, 'status' | 'items'> {
  status: StepStatus;
  dependsOn: string[];
  usage?: UnitUsage;
  /** A foreach step: how many items its list had (known once it started). */
  itemCount?: number;
  items?: (ItemReport & { output?: unknown })[];
}

export interface RunView extends Omit<RunReport, 'status' | 'steps' | 'finishedAt' | 'durationMs'> {
  status: RecordedRunStatus;
  finishedAt?: string;
  durationMs?: number;
  steps: Record<string, StepView>;
  inputs: Record<string, unknown>;
  /** Inputs recorded as `***`: a resume needs them given again. */
  secretInputs?: string[];
  resumedFrom?: string;
  /** This server is running it now: it can be cancelled here, and its events arrive live. */
  live: boolean;
  stepCount: number;
  stepsDone: number;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function viewOfRecord({ run, steps }: { run: RunRecord; steps: StepRecord[] }, live: boolean): RunView {
  const usage: Record<string, ModelUsage> = {};
  const byModel: Record<string, number | null> = {};
  let usd: number | null = 0;
  // As the report counts them: what ran in this run (nothing reused), each item of a foreach step on its own.
  const count = (u: UnitUsage | undefined, costUsd: number | null | undefined) => {
    if (u?.model) {
      const total = (usage[u.model] ??= { calls: 0, inputTokens: 0, outputTokens: 0 });
      total.calls++;
      total.inputTokens += u.inputTokens;
      total.outputTokens += u.outputTokens;
    }
    if (costUsd !== undefined) {
      const model = u?.model ?? 'unknown';
      byModel[model] = addCost(byModel[model], costUsd);
      usd = addCost(usd, costUsd);
    }
  };
  // Own entries made by fromEntries: a step may be called `__proto__`, which an assignment would not keep.
  const views: [string, StepView][] = [];
  const continued: string[] = [];
  for (const step of [...steps].sort((a, b) => a.position - b.position)) {
    if (!step.reused) {
      if (step.items) for (const item of step.items) if (!item.reused) count(item.usage, item.costUsd);
      if (!step.items) count(step.usage, step.costUsd);
    }
    if (step.continued) continued.push(step.stepId);
    views.push([step.stepId, stepView(step)]);
  }
  const ended = run.finishedAt;
  return {
    runId: run.id,
    workflow: run.workflow,
    status: run.status,
    startedAt: iso(run.startedAt)!,
    ...(ended === undefined ? {} : { finishedAt: iso(ended)!, durationMs: ended - run.startedAt }),
    steps: Object.fromEntries(views),
    outputs: run.outputs ?? {},
    usage,
    cost: { usd, byModel },
    ...(run.error ? { error: run.error } : {}),
    ...(continued.length ? { continued } : {}),
    inputs: run.inputs,
    ...(run.secretInputs?.length ? { secretInputs: run.secretInputs } : {}),
    ...(run.resumedFrom ? { resumedFrom: run.resumedFrom } : {}),
    live,
    stepCount: run.stepCount,
    stepsDone: run.stepsDone,
  };
}

function stepView(step: StepRecord): StepView {
  return {
    status: step.status,
    output: step.output ?? null,
    dependsOn: step.dependsOn,
    ...unitFields(step),
    ...(step.skipReason ? { skipReason: step.skipReason } : {}),
    ...(step.continued ? { continued: true as const } : {}),
    ...(step.reused ? { reused: true as const } : {}),
    ...(step.properties ? { properties: step.properties } : {}),
    ...(step.itemCount === undefined ? {} : { itemCount: step.itemCount }),
    ...(step.items ? { items: step.items.map(itemView) } : {}),
  };
}

function itemView(item: ItemRecord): ItemReport & { output?: unknown } {
  return {
    index: item.index,
    status: item.status,
    attempts: item.attempts ?? 0,
    ...(item.output === undefined ? {} : { output: item.output }),
    ...unitFields(item),
    ...(item.reused ? { reused: true as const } : {}),
  };
}

/** What a step and an item both show: times, the error, tokens, cost, where it ran. */
function unitFields(unit: StepRecord | ItemRecord) {
  return {
    ...recordedFields(unit),
    ...(unit.startedAt === undefined ? {} : { startedAt: iso(unit.startedAt)! }),
    ...(unit.finishedAt === undefined ? {} : { finishedAt: iso(unit.finishedAt)! }),
  };
}

/**
 * A recorded step's or item's result as the report and the events both carry it: its input, the error, how long
 * it took and how often it was tried, tokens, cost, the cache, the worker. (Output and times differ between them.)
 */
export function recordedFields(unit: StepRecord | ItemRecord) {
  return {
    ...(unit.input === undefined ? {} : { input: unit.input }),
    ...(unit.error ? { error: unit.error } : {}),
    ...(unit.errorCode ? { errorCode: unit.errorCode } : {}),
    ...(unit.hint ? { hint: unit.hint } : {}),
    ...(unit.errorDetail ? { errorDetail: unit.errorDetail } : {}),
    ...(unit.startedAt !== undefined && unit.finishedAt !== undefined ? { durationMs: unit.finishedAt - unit.startedAt } : {}),
    ...(unit.attempts === undefined ? {} : { attempts: unit.attempts }),
    ...(unit.usage ? { usage: unit.usage } : {}),
    ...(unit.costUsd === undefined ? {} : { costUsd: unit.costUsd }),
    ...(unit.cached ? { cached: true as const } : {}),
    ...(unit.worker ? { worker: unit.worker } : {}),
  };
}

/** A run this server has started whose record is not written yet (it is opening its executor): every step pending. */
export function startingView(runId: string, spec: WorkflowSpec, inputs: Record<string, unknown>, startedAt: number, live: boolean, failure?: { error: string; errorCode: string; hint?: string }): RunView {
  const steps: Record<string, StepView> = Object.fromEntries(spec.steps.map((step, i) => [step.id, { status: 'pending', output: null, dependsOn: spec.plan.steps[i]!.dependsOn.map((d) => spec.steps[d]!.id) }]));
  return { runId, workflow: spec.file, status: live ? 'running' : 'failed', startedAt: iso(startedAt)!, steps, outputs: {}, usage: {}, cost: { usd: 0, byModel: {} }, ...(failure ?? {}), inputs, live, stepCount: spec.steps.length, stepsDone: 0 };
}

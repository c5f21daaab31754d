/**
 * What the run store knows about a workflow's steps from their recent runs: how long each took and, for
 * model calls, how many tokens it used — medians, matched by fingerprint, so a step that changed (or uses
 * other input values) is not judged by its old self. Read by `run` (scheduling priorities) and `plan`.
 *
 * A foreach step has both: its whole duration (`durations`, as any step), and how long one of its items takes
 * (`itemDurations`, matched by what each item does whatever the list, so a list that grew still has one):
 * median item time × items ÷ the step's concurrency estimates a list of another length.
 */
import type { UnitUsage } from '../core/report.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import { itemFingerprint } from './fingerprint.ts';
import type { RunStore } from './types.ts';

export interface StepHistory {
  /** Step id → median ms. */
  durations: Record<string, number>;
  /** Step id → median tokens (and the model, when it was always the same), for the steps that reported them. */
  usage: Record<string, UnitUsage>;
  /** Foreach step id → median ms of one item, for the foreach steps whose items the store has timed. */
  itemDurations: Record<string, number>;
}

/** Step id → expected ms, for the steps the store has timed; undefined when it has timed none of them. */
export async function historyDurations(store: RunStore, spec: WorkflowSpec, fingerprints: readonly string[]): Promise<Record<string, number> | undefined> {
  return byStep(await store.durations(spec.file), spec, fingerprints);
}

/** Foreach step id → expected ms of one of its items; undefined when the store has timed none. */
export async function historyItemDurations(store: RunStore, spec: WorkflowSpec, fingerprints: readonly string[]): Promise<Record<string, number> | undefined> {
  if (!store.itemDurations || !spec.steps.some((s) => s.foreach)) return undefined;
  const known = await store.itemDurations(spec.file);
  const values: Record<string, number> = {};
  spec.steps.forEach((step, i) => {
    const ms = step.foreach ? known.get(itemFingerprint(fingerprints[i]!)) : undefined;
    if (ms !== undefined) values[step.id] = ms;
  });
  return Object.keys(values).length > 0 ? values : undefined;
}

/** Durations, item durations and token counts together; undefined when the store has timed none of the steps. */
export async function stepHistory(store: RunStore, spec: WorkflowSpec, fingerprints: readonly string[]): Promise<StepHistory | undefined> {
  const durations = await historyDurations(store, spec, fingerprints);
  if (!durations) return undefined;
  const usage = (await store.usage?.(spec.file)) ?? new Map<string, UnitUsage>();
  return { durations, usage: byStep(usage, spec, fingerprints) ?? {}, itemDurations: (await historyItemDurations(store, spec, fingerprints)) ?? {} };
}

function byStep<T>(known: ReadonlyMap<string, T>, spec: WorkflowSpec, fingerprints: readonly string[]): Record<string, T> | undefined {
  const values: Record<string, T> = {};
  spec.steps.forEach((step, i) => {
    const value = known.get(fingerprints[i]!);
    if (value !== undefined) values[step.id] = value;
  });
  return Object.keys(values).length > 0 ? values : undefined;
}

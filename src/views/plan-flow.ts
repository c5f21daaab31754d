/**
 * What `plan` says about `foreach`, `if` and `continueOnError` before a run: how many items a foreach step has
 * when the file says (a YAML list), which list it runs over when a reference decides at run time, how wide it
 * can run, and how long it should take from the time its items took before. Pure.
 */
import type { AnyAction } from '../actions/types.ts';
import { median } from '../core/median.ts';
import type { TokenCount } from '../core/report.ts';
import type { ForeachSpec, StepSpec } from '../definition/types.ts';
import { expectedDurations } from '../scheduler/durations.ts';
import { itemsMs, knownItemCount, type ItemsEstimate } from '../scheduler/estimate.ts';

export interface PlanForeach {
  /** How many items, when the file gives the list (a YAML list); absent when a reference decides at run time. */
  count?: number;
  /** The list a reference takes at run time: the step id (`list`), or `inputs.<name>` / `env.<NAME>`. */
  of?: string;
  /** The step's own cap on items at once (`maxConcurrency`), when it has one. */
  maxConcurrency?: number;
}

/** `inputs`: the values the run would get, when known (`plan -i`): a list given as an input then has a count. */
export function foreachView(foreach: ForeachSpec, inputs?: Readonly<Record<string, unknown>>): PlanForeach {
  const list = foreach.items;
  const count = knownItemCount(list, inputs);
  let of: string | undefined;
  if (list.kind === 'single') {
    const ref = list.ref;
    of = ref.root === 'steps' ? ref.step : ref.root === 'inputs' || ref.root === 'env' ? `${ref.root}.${ref.name}` : list.raw;
  }
  return {
    ...(count === undefined ? {} : { count }),
    ...(of === undefined ? {} : { of }),
    ...(foreach.maxConcurrency === undefined ? {} : { maxConcurrency: foreach.maxConcurrency }),
  };
}

/** "×100", or "× items of list" when the count is known only at run time. */
export function foreachLabel(foreach: PlanForeach): string {
  return foreach.count !== undefined ? `×${foreach.count.toLocaleString('en-US')}` : `× items of ${foreach.of ?? 'its list'}`;
}

/** How many of a step's items run at once: its own cap, inside the global limit. */
export function itemSlots(foreach: PlanForeach, limit: number): number {
  return Math.max(1, Math.min(limit, foreach.maxConcurrency ?? limit));
}

/** How many slots a step can fill at once (a step: 1; a foreach step: as many items as may run together). */
export function stepWidth(foreach: PlanForeach | undefined, limit: number): number {
  if (!foreach) return 1;
  return Math.max(1, Math.min(itemSlots(foreach, limit), foreach.count ?? limit));
}

export interface FlowHistory {
  /** Step id → median ms of the whole step in earlier runs. */
  durations: Readonly<Record<string, number>>;
  /** Foreach step id → median ms of one of its items in earlier runs. */
  itemDurations?: Readonly<Record<string, number>>;
}

/**
 * Each step's expected duration; for foreach steps, the median item time the record has; and for each foreach
 * step whose count is known, its items as the estimate plays them (estimate.ts).
 *
 * One call of a step's action takes its own median (a foreach step: its items' median), else other steps' of
 * its action, else the action's typical time. A foreach step with a known count is its items in waves over its
 * slots (its own `maxConcurrency` inside the global limit; 0 for an empty list), an item taking its items'
 * median, else its whole-step median shared over its waves, else one call. With a count known only at run time,
 * the whole-step median of earlier runs is the best guess, else one call.
 */
export function flowDurations(steps: readonly StepSpec[], foreach: readonly (PlanForeach | undefined)[], actions: readonly (Pick<AnyAction, 'typicalMs'> | undefined)[], history: FlowHistory, limit: number): { expected: Float64Array; itemMs: (number | undefined)[]; items: (ItemsEstimate | undefined)[] } {
  // Per-call times for the action medians: a foreach step's item time is one call; its whole time is not.
  const perCall: Record<string, number> = {};
  steps.forEach((step, i) => {
    const ms = foreach[i] ? history.itemDurations?.[step.id] : history.durations[step.id];
    if (ms !== undefined) perCall[step.id] = ms;
  });
  const oneCall = expectedDurations(steps, actions, perCall);
  const itemMs: (number | undefined)[] = [];
  const items: (ItemsEstimate | undefined)[] = [];
  const expected = Float64Array.from(steps, (step, i) => {
    const f = foreach[i];
    if (!f) return oneCall[i]!;
    const item = history.itemDurations?.[step.id];
    const whole = history.durations[step.id];
    itemMs[i] = item;
    if (f.count === undefined) return whole ?? oneCall[i]!;
    const waves = Math.max(1, Math.ceil(f.count / itemSlots(f, limit)));
    const each: ItemsEstimate = { count: f.count, itemMs: item ?? (whole === undefined ? oneCall[i]! : whole / waves), cap: f.maxConcurrency ?? Infinity };
    items[i] = each;
    return itemsMs(each, limit);
  });
  return { expected, itemMs, items };
}

/**
 * Tokens the model calls should use. A step's recorded usage is the sum over its items for a foreach step.
 * Steps without a record count as the median per call of those with one, times their calls; a foreach step
 * whose count is known only at run time counts as its record says, else as nothing (its calls are unknown).
 */
export function flowTokens(
  steps: readonly StepSpec[],
  foreach: readonly (PlanForeach | undefined)[],
  usage: Readonly<Record<string, TokenCount>> | undefined,
  usesTokens: (step: StepSpec) => boolean,
  /** The share of step `i`'s calls that will be made (the rest the step cache answers); default all. */
  share: (i: number) => number = () => 1,
): { input: number; output: number; knownCalls: number } | undefined {
  const calls = (i: number) => (foreach[i] ? (foreach[i]!.count ?? 0) : 1);
  const metered = steps.map((s, i) => ({ step: s, i })).filter(({ step }) => usesTokens(step));
  const known = metered.filter(({ step }) => usage?.[step.id] !== undefined);
  if (known.length === 0) return undefined;
  const perCall = known.filter(({ i }) => calls(i) > 0).map(({ step, i }) => ({ inputTokens: usage![step.id]!.inputTokens / calls(i), outputTokens: usage![step.id]!.outputTokens / calls(i) }));
  const typical = perCall.length ? { inputTokens: median(perCall.map((u) => u.inputTokens)), outputTokens: median(perCall.map((u) => u.outputTokens)) } : { inputTokens: 0, outputTokens: 0 };
  let input = 0;
  let output = 0;
  let knownCalls = 0;
  for (const { step, i } of metered) {
    const own = usage?.[step.id];
    const paid = share(i);
    if (own) {
      input += own.inputTokens * paid;
      output += own.outputTokens * paid;
      knownCalls += Math.round(calls(i) * paid);
    } else {
      input += typical.inputTokens * calls(i) * paid;
      output += typical.outputTokens * calls(i) * paid;
    }
  }
  return { input: Math.round(input), output: Math.round(output), knownCalls };
}

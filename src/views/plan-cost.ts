/**
 * What `plan` expects a run's model calls to cost: the tokens earlier runs of each step used (its median, with
 * the model it used) at today's prices, so a price changed in prices.yaml changes the estimate. Steps without a
 * record count as the median cost per call of those with one, times their calls, as `flowTokens` counts them.
 * Pure.
 */
import { median } from '../core/median.ts';
import { addCost, type UnitUsage } from '../core/report.ts';
import type { StepSpec } from '../definition/types.ts';
import type { Pricing } from '../scheduler/hooks.ts';
import type { PlanForeach } from './plan-flow.ts';

export interface ExpectedCost {
  /**
   * US dollars, the calls the record has not seen counted at the median cost per call of those it has; null
   * when a model the record names has no price (never counted as $0).
   */
  usd: number | null;
  /** What the calls the record has seen should cost, by the model they used. */
  byModel: Record<string, number | null>;
}

export function flowCost(
  steps: readonly StepSpec[],
  foreach: readonly (PlanForeach | undefined)[],
  usage: Readonly<Record<string, UnitUsage>> | undefined,
  usesTokens: (step: StepSpec) => boolean,
  pricing: Pricing,
  /** The share of step `i`'s calls that will be made (the rest the step cache answers); default all. */
  share: (i: number) => number = () => 1,
): ExpectedCost | undefined {
  const calls = (i: number) => (foreach[i] ? (foreach[i]!.count ?? 0) : 1);
  const metered = steps.map((step, i) => ({ step, i })).filter(({ step }) => usesTokens(step));
  const known = metered.filter(({ step }) => usage?.[step.id] !== undefined).map(({ step, i }) => ({ i, usage: usage![step.id]!, usd: pricing.costOf(usage![step.id]!) }));
  const paid = (usd: number | null, i: number) => (usd === null ? null : usd * share(i));
  if (known.length === 0) return undefined;
  const byModel: Record<string, number | null> = {};
  for (const k of known) {
    const model = k.usage.model ?? 'unknown';
    byModel[model] = addCost(byModel[model], paid(k.usd, k.i));
  }
  const perCall = known.filter((k) => calls(k.i) > 0);
  const unknownPrice = perCall.some((k) => k.usd === null);
  const typical = unknownPrice ? null : perCall.length ? median(perCall.map((k) => k.usd! / calls(k.i))) : 0;
  let guessed = 0;
  for (const { step, i } of metered) if (usage?.[step.id] === undefined) guessed += calls(i) * share(i);
  let usd: number | null = guessed === 0 ? 0 : typical === null ? null : typical * guessed;
  for (const k of known) usd = addCost(usd, paid(k.usd, k.i));
  return { usd, byModel };
}

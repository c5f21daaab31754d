/**
 * How long each step is expected to take, for the ready queue's "longest remaining path in time first".
 * Best to worst source: the step's own history (the run store's median, passed by the CLI), the history of
 * other steps of the same action in this workflow, then the action's typical duration — so even a first run
 * starts a single LLM call ahead of a chain of file reads. With no information at all every step costs the
 * same, and the order is by remaining steps.
 */
import type { AnyAction } from '../actions/types.ts';
import { median } from '../core/median.ts';
import type { StepSpec } from '../definition/types.ts';

export function expectedDurations(steps: readonly StepSpec[], actions: readonly (Pick<AnyAction, 'typicalMs'> | undefined)[], history: Readonly<Record<string, number>> = {}): Float64Array {
  const byAction = new Map<string, number[]>();
  steps.forEach((step) => {
    const ms = history[step.id];
    if (ms === undefined) return;
    const list = byAction.get(step.action);
    if (list) list.push(ms);
    else byAction.set(step.action, [ms]);
  });
  const medians = new Map<string, number>();
  for (const [action, list] of byAction) medians.set(action, median(list));
  const all = [...byAction.values()].flat();
  const overall = all.length ? median(all) : 1;
  return Float64Array.from(steps, (step, i) => history[step.id] ?? medians.get(step.action) ?? actions[i]?.typicalMs ?? overall);
}

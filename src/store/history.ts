/**
 * What the run store knows about how long a workflow's steps take: the median of each step's recent runs,
 * matched by fingerprint, so a step that changed (or uses other input values) is not judged by its old self.
 * Read by `run` (scheduling priorities) and `plan` (expected times).
 */
import type { WorkflowSpec } from '../definition/types.ts';
import type { RunStore } from './types.ts';

/** Step id → expected ms, for the steps the store has timed; undefined when it has timed none of them. */
export function historyDurations(store: RunStore, spec: WorkflowSpec, fingerprints: readonly string[]): Record<string, number> | undefined {
  const known = store.durations(spec.file);
  if (known.size === 0) return undefined;
  const durations: Record<string, number> = {};
  spec.steps.forEach((step, i) => {
    const ms = known.get(fingerprints[i]!);
    if (ms !== undefined) durations[step.id] = ms;
  });
  return Object.keys(durations).length > 0 ? durations : undefined;
}

import type { Resource } from '../actions/types.ts';
import type { EdgeReason } from './plan.ts';

/**
 * Orders steps that touch the same resource, in file order: reads commute with reads and adds with adds;
 * anything else waits for the earlier access. Each step depends only on the latest conflicting group, so
 * edges stay linear in the number of accesses (1,000 readers of one file add no edges at all).
 *
 * `accesses[i]` lists step i's resources; the result adds `[dependency, reason]` pairs per step.
 */
export function resourceEdges(accesses: readonly (readonly Resource[])[]): Map<number, EdgeReason>[] {
  interface KeyState {
    mode: 'read' | 'add' | 'write';
    /** Steps in the current group (all the same mode). */
    group: number[];
    /** What every member of the current group waits for: the previous group. */
    before: number[];
  }
  const states = new Map<string, KeyState>();
  const edges: Map<number, EdgeReason>[] = accesses.map(() => new Map());
  accesses.forEach((resources, step) => {
    for (const r of resources) {
      const state = states.get(r.key);
      const reason: EdgeReason = { kind: 'resource', label: r.label };
      if (!state) {
        states.set(r.key, { mode: r.mode, group: [step], before: [] });
        continue;
      }
      if (r.mode !== 'write' && state.mode === r.mode) {
        if (state.group[state.group.length - 1] !== step) state.group.push(step); // steps arrive in order
        for (const d of state.before) if (d !== step) edges[step]!.set(d, reason);
        continue;
      }
      const members = state.group.filter((d) => d !== step);
      for (const d of members) edges[step]!.set(d, reason);
      states.set(r.key, { mode: r.mode, group: [step], before: members });
    }
  });
  return edges;
}

/**
 * How long a run should take, before it runs: the scheduler's own policy — longest remaining expected time
 * first, up to the concurrency limit, a step starting the moment its last dependency ends — played out over
 * expected step durations, with no overhead. Pure; O((steps + edges) · log steps).
 */
import { criticalPathBy, weightedRemaining, type Plan } from '../graph/plan.ts';
import { ReadyQueue } from './ready-queue.ts';
import { RunState } from './state.ts';

export interface RunEstimate {
  /** Expected wall time of the whole run. */
  ms: number;
  /** The longest chain in expected time, as step indices, and its length in ms (no run can be shorter). */
  criticalPath: number[];
  criticalPathMs: number;
}

export function estimateRun(plan: Plan, expected: ArrayLike<number>, limit: number): RunEstimate {
  const n = plan.steps.length;
  const remaining = weightedRemaining(plan, expected);
  const criticalPath = criticalPathBy(plan.steps, remaining);
  const ready = new ReadyQueue(remaining);
  // Running steps, soonest end first: a second queue whose priority is the negated end time.
  const negatedEnd = new Float64Array(n);
  const running = new ReadyQueue(negatedEnd);
  // The run's own state and readiness rule, every step succeeding (no conditions: an estimate runs them all).
  const state = new RunState(plan, []);
  for (const i of state.roots()) ready.push(i);
  let now = 0;
  for (let done = 0; done < n; done++) {
    while (running.size < limit && ready.size > 0) {
      const step = ready.pop()!;
      state.start(step);
      negatedEnd[step] = -(now + expected[step]!);
      running.push(step);
    }
    const ended = running.pop()!;
    now = -negatedEnd[ended]!;
    for (const m of state.settle(ended, 'succeeded')) if (state.readiness(m).kind !== 'skip') ready.push(m);
  }
  return { ms: now, criticalPath, criticalPathMs: criticalPath.length ? remaining[criticalPath[0]!]! : 0 };
}

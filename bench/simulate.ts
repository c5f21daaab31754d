/** The yardsticks: the lower bound, and zero-overhead simulated schedules (discrete events, no I/O). */
import type { BenchGraph } from './graphs.ts';

export function criticalPathMs(g: BenchGraph): number {
  const finish: number[] = [];
  g.durations.forEach((d, i) => (finish[i] = d + Math.max(0, ...g.deps[i]!.map((p) => finish[p]!))));
  return Math.max(...finish);
}

/** max(critical path, total work / limit): no schedule can beat it. */
export function lowerBoundMs(g: BenchGraph): number {
  const work = g.durations.reduce((a, b) => a + b, 0);
  return Math.max(criticalPathMs(g), work / g.limit);
}

/** Longest remaining path in steps (what the engine knows: it has no durations). */
export function remainingSteps(g: BenchGraph): number[] {
  const dependents: number[][] = g.durations.map(() => []);
  g.deps.forEach((ds, i) => ds.forEach((d) => dependents[d]!.push(i)));
  const remaining = new Array<number>(g.durations.length).fill(0);
  for (let i = g.durations.length - 1; i >= 0; i--) remaining[i] = 1 + Math.max(0, ...dependents[i]!.map((m) => remaining[m]!));
  return remaining;
}

/** Longest remaining path in ms (what a second run knows from the first). */
export function remainingMs(g: BenchGraph): number[] {
  const dependents: number[][] = g.durations.map(() => []);
  g.deps.forEach((ds, i) => ds.forEach((d) => dependents[d]!.push(i)));
  const remaining = new Array<number>(g.durations.length).fill(0);
  for (let i = g.durations.length - 1; i >= 0; i--) remaining[i] = g.durations[i]! + Math.max(0, ...dependents[i]!.map((m) => remaining[m]!));
  return remaining;
}

/**
 * List scheduling with no overhead: `priority` orders the ready set (higher first, ties by index), computed
 * from the graph's durations; the steps take `actual` ms each (default: the graph's durations), e.g. what the
 * stand-in really took, so a real run can be compared with its own policy on the same durations.
 */
export function simulate(g: BenchGraph, priority: 'critical-path' | 'critical-path-ms' | 'fifo', actual: readonly number[] = g.durations): number {
  const n = g.durations.length;
  const prio = priority === 'fifo' ? new Array<number>(n).fill(0) : priority === 'critical-path-ms' ? remainingMs(g) : remainingSteps(g);
  const waiting = g.deps.map((d) => d.length);
  const dependents: number[][] = g.durations.map(() => []);
  g.deps.forEach((ds, i) => ds.forEach((d) => dependents[d]!.push(i)));
  let ready = g.deps.flatMap((d, i) => (d.length === 0 ? [i] : []));
  const running: { end: number; step: number }[] = [];
  let now = 0;
  let done = 0;
  while (done < n) {
    ready.sort((a, b) => prio[b]! - prio[a]! || a - b);
    while (running.length < g.limit && ready.length) running.push({ end: now + actual[ready[0]!]!, step: ready.shift()! });
    running.sort((a, b) => a.end - b.end);
    const next = running.shift()!;
    now = next.end;
    done++;
    for (const m of dependents[next.step]!) if (--waiting[m]! === 0) ready.push(m);
    // Finish everything ending at the same instant before starting more.
    while (running.length && running[0]!.end === now) {
      const same = running.shift()!;
      done++;
      for (const m of dependents[same.step]!) if (--waiting[m]! === 0) ready.push(m);
    }
  }
  return now;
}

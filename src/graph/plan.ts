/**
 * The plan: a workflow's dependency graph as immutable data, built before anything runs. Linear in steps and
 * edges: Kahn's algorithm for the order (and to find cycles), one backward pass for the critical path.
 */

export type EdgeReason =
  /** The step's block uses `${steps.<id>…}`. */
  | { kind: 'reference'; ref: string }
  /** Listed in `depends_on`: order without data. */
  | { kind: 'depends_on' }
  /** Named in the step's `if` condition (the expression, as written). */
  | { kind: 'condition'; expression: string }
  /** Both touch the same resource (a file path) and at least one changes it; file order decides. */
  | { kind: 'resource'; label: string };

export interface PlanInputStep {
  id: string;
  /** Dependency index → why. Self-edges are the caller's to reject; they are ignored here. */
  dependsOn: ReadonlyMap<number, readonly EdgeReason[]>;
  /** Relative cost for critical-path priority (default 1: every step counts the same). */
  weight?: number;
}

export interface PlanStep {
  readonly id: string;
  readonly index: number;
  readonly dependsOn: readonly number[];
  readonly reasons: ReadonlyMap<number, readonly EdgeReason[]>;
  readonly dependents: readonly number[];
  /** 0-based stage: 1 + the latest stage among its dependencies. */
  readonly stage: number;
  /** Weight of the longest path from this step to the end of the workflow, this step included. */
  readonly remaining: number;
}

export interface Plan {
  readonly steps: readonly PlanStep[];
  readonly byId: ReadonlyMap<string, number>;
  /** A topological order (dependencies first; ties in file order). */
  readonly order: readonly number[];
  /** The execution flow as numbered stages, each in file order: the founding document's "1., 2., 3.". */
  readonly stages: readonly (readonly string[])[];
  /** The longest chain of steps (by weight); ties go to the step declared first. */
  readonly criticalPath: readonly string[];
}

export type PlanResult = { ok: true; plan: Plan } | { ok: false; cycles: number[][] };

export function buildPlan(input: readonly PlanInputStep[]): PlanResult {
  const n = input.length;
  const dependents: number[][] = Array.from({ length: n }, () => []);
  const dependsOn: number[][] = Array.from({ length: n }, () => []);
  const indegree = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (const d of input[i]!.dependsOn.keys()) {
      if (d === i || d < 0 || d >= n) continue;
      dependsOn[i]!.push(d);
      dependents[d]!.push(i);
      indegree[i]!++;
    }
  }
  // A sort call costs the same for one element as for a few; most steps have one dependency (or none).
  for (const list of dependsOn) if (list.length > 1) list.sort((a, b) => a - b);

  // Kahn's algorithm with a FIFO over file order. Sources are taken in file order; the order is stable.
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (indegree[i] === 0) order.push(i);
  const left = Int32Array.from(indegree);
  for (let head = 0; head < order.length; head++) {
    for (const m of dependents[order[head]!]!) if (--left[m]! === 0) order.push(m);
  }
  if (order.length < n) return { ok: false, cycles: findCycles(left, dependsOn) };

  const stage = new Int32Array(n);
  for (const i of order) for (const d of dependsOn[i]!) stage[i] = Math.max(stage[i]!, stage[d]! + 1);
  const remaining = longestRemaining(order, dependents, (i) => input[i]!.weight ?? 1);

  const stages: string[][] = [];
  for (let i = 0; i < n; i++) (stages[stage[i]!] ??= []).push(input[i]!.id);

  const steps: PlanStep[] = input.map((s, i) => ({
    id: s.id,
    index: i,
    dependsOn: dependsOn[i]!,
    reasons: s.dependsOn,
    // Ascending already: each was pushed in the loop over i above.
    dependents: dependents[i]!,
    stage: stage[i]!,
    remaining: remaining[i]!,
  }));
  const criticalPath = criticalPathBy(steps, remaining).map((i) => steps[i]!.id);
  return { ok: true, plan: { steps, byId: new Map(input.map((s, i) => [s.id, i])), order, stages, criticalPath } };
}

/**
 * Longest remaining path by step cost (e.g. expected durations): for each step, its own cost plus the most
 * expensive chain after it. Linear: one backward pass over the order.
 */
export function weightedRemaining(plan: Plan, cost: ArrayLike<number>): Float64Array {
  return longestRemaining(plan.order, plan.steps.map((s) => s.dependents), (i) => cost[i]!);
}

function longestRemaining(order: readonly number[], dependents: readonly (readonly number[])[], cost: (index: number) => number): Float64Array {
  const remaining = new Float64Array(order.length);
  for (let k = order.length - 1; k >= 0; k--) {
    const i = order[k]!;
    let best = 0;
    for (const m of dependents[i]!) best = Math.max(best, remaining[m]!);
    remaining[i] = cost(i) + best;
  }
  return remaining;
}

/**
 * The longest chain by `remaining` (as from `weightedRemaining`), as step indices: from the heaviest step with
 * no dependencies, always on to the heaviest dependent; ties go to the step declared first.
 */
export function criticalPathBy(steps: readonly Pick<PlanStep, 'dependsOn' | 'dependents'>[], remaining: ArrayLike<number>): number[] {
  let current: number | undefined;
  for (let i = 0; i < steps.length; i++) if (steps[i]!.dependsOn.length === 0 && (current === undefined || remaining[i]! > remaining[current]!)) current = i;
  const path: number[] = [];
  while (current !== undefined) {
    path.push(current);
    let next: number | undefined;
    for (const m of steps[current]!.dependents) if (next === undefined || remaining[m]! > remaining[next]! || (remaining[m] === remaining[next] && m < next)) next = m;
    current = next;
  }
  return path;
}

/**
 * Steps Kahn's algorithm could not order lie on or behind a cycle. From each unvisited one, follow
 * dependencies that are also unordered until a step repeats: that loop is a cycle. Linear overall.
 * Each cycle is listed in "waits for" order, starting from its earliest-declared step.
 */
function findCycles(left: Int32Array, dependsOn: number[][]): number[][] {
  const cycles: number[][] = [];
  const visited = new Uint8Array(left.length); // 0 new, 1 on current walk, 2 done
  for (let start = 0; start < left.length; start++) {
    if (left[start] === 0 || visited[start]) continue;
    const walk: number[] = [];
    let node: number | undefined = start;
    while (node !== undefined && visited[node] === 0) {
      visited[node] = 1;
      walk.push(node);
      node = dependsOn[node]!.find((d) => left[d]! > 0);
    }
    if (node !== undefined && visited[node] === 1) {
      const cycle = walk.slice(walk.indexOf(node));
      const first = cycle.indexOf(Math.min(...cycle));
      cycles.push([...cycle.slice(first), ...cycle.slice(0, first)]);
    }
    for (const w of walk) visited[w] = 2;
  }
  return cycles;
}

/**
 * How long a run should take, before it runs: the scheduler's own policy — longest remaining expected time
 * first, up to the concurrency limit, a step starting the moment its last dependency ends — played out over
 * expected step durations, with no overhead. A `foreach` step whose item count is known plays as its items,
 * as the run loop starts them: each takes a slot of its own, up to the step's cap, in the step's priority.
 * Pure; O((steps + items + edges) · log steps).
 */
import type { TemplateValue } from '../template/value.ts';
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

/** A foreach step's items, as the estimate plays them. */
export interface ItemsEstimate {
  /** How many items (0: the step settles at once, taking no slot). */
  count: number;
  /** Expected ms of one item. */
  itemMs: number;
  /** The step's own `maxConcurrency` (Infinity without one); the run's limit applies besides. */
  cap: number;
}

/**
 * A foreach step's expected time on its own: its items in waves as wide as it may run (its cap, inside the
 * limit). What the step weighs on the critical path and in the ready queue; 0 for an empty list.
 */
export function itemsMs(items: ItemsEstimate, limit: number): number {
  if (items.count <= 0) return 0;
  return items.itemMs * Math.ceil(items.count / Math.max(1, Math.min(items.cap, limit)));
}

/**
 * How many items a foreach list has before the run: a YAML list (even one whose items hold references), or
 * a reference to an input whose value is known and is an array. Undefined when only the run can tell (a
 * step's output, an input not given).
 */
export function knownItemCount(list: TemplateValue, inputs?: Readonly<Record<string, unknown>>): number | undefined {
  if (list.kind === 'literal') return Array.isArray(list.value) ? list.value.length : undefined;
  if (list.kind === 'array') return list.items.length;
  if (list.kind !== 'single' || list.ref.root !== 'inputs' || !inputs || !Object.hasOwn(inputs, list.ref.name)) return undefined;
  let value: unknown = inputs[list.ref.name];
  for (const key of list.ref.path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return Array.isArray(value) ? value.length : undefined;
}

/**
 * `expected[i]`: step i's expected ms. `items[i]`: for a foreach step whose count is known, its items (its
 * `expected` is then not read: the step weighs `itemsMs`); a foreach step without plays as one step of
 * `expected[i]`.
 */
export function estimateRun(plan: Plan, expected: ArrayLike<number>, limit: number, items: readonly (ItemsEstimate | undefined)[] = []): RunEstimate {
  const n = plan.steps.length;
  const cost = Float64Array.from(plan.steps, (_, i) => (items[i] ? itemsMs(items[i], limit) : expected[i]!));
  const remaining = weightedRemaining(plan, cost);
  const criticalPath = criticalPathBy(plan.steps, remaining);
  // As in the run loop: a step is in the ready queue at most once; a foreach step goes back in while it may
  // start another item, so its items take slots in its priority.
  const ready = new ReadyQueue(remaining);
  const queued = new Uint8Array(n);
  const unstarted = Int32Array.from(plan.steps, (_, i) => items[i]?.count ?? 0);
  const inFlight = new Int32Array(n);
  const ends = new EndQueue();
  // The run's own state and readiness rule, every step succeeding (no conditions: an estimate runs them all).
  const state = new RunState(plan, []);
  const enqueue = (i: number) => {
    if (queued[i]) return;
    queued[i] = 1;
    ready.push(i);
  };
  const settle = (i: number) => {
    for (const m of state.settle(i, 'succeeded')) if (state.readiness(m).kind !== 'skip') enqueue(m);
  };
  for (const i of state.roots()) enqueue(i);
  let now = 0;
  let running = 0;
  for (;;) {
    while (running < limit && ready.size > 0) {
      const i = ready.pop()!;
      queued[i] = 0;
      const each = items[i];
      if (!each) {
        state.start(i);
        running++;
        ends.push(now + expected[i]!, i);
        continue;
      }
      if (state.status[i] === 'pending') {
        state.start(i);
        // An empty list settles at once, taking no slot (as the run loop does).
        if (each.count <= 0) {
          settle(i);
          continue;
        }
      }
      unstarted[i]!--;
      inFlight[i]!++;
      running++;
      ends.push(now + each.itemMs, i);
      if (unstarted[i]! > 0 && inFlight[i]! < each.cap) enqueue(i);
    }
    if (ends.size === 0) break;
    // Everything that ends at this moment ends before anything new starts: the run loop drains every
    // completion that arrived before it admits what they made ready.
    now = ends.nextEnd;
    while (ends.size > 0 && ends.nextEnd === now) {
      const i = ends.pop();
      running--;
      if (!items[i]) settle(i);
      else if (--inFlight[i]! === 0 && unstarted[i] === 0) settle(i);
      else if (unstarted[i]! > 0) enqueue(i);
    }
  }
  return { ms: now, criticalPath, criticalPathMs: criticalPath.length ? remaining[criticalPath[0]!]! : 0 };
}

/** What is running, soonest end first (ties to the step declared first): a binary heap of (end, step). */
class EndQueue {
  readonly #end: number[] = [];
  readonly #step: number[] = [];

  get size(): number {
    return this.#end.length;
  }

  get nextEnd(): number {
    return this.#end[0]!;
  }

  push(end: number, step: number): void {
    let i = this.#end.length;
    this.#end.push(end);
    this.#step.push(step);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(end, step, parent)) break;
      this.#move(parent, i);
      i = parent;
    }
    this.#end[i] = end;
    this.#step[i] = step;
  }

  /** The step that ends first, taken out. */
  pop(): number {
    const top = this.#step[0]!;
    const end = this.#end.pop()!;
    const step = this.#step.pop()!;
    const n = this.#end.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.#before(this.#end[right]!, this.#step[right]!, left) ? right : left;
      if (this.#before(end, step, child)) break;
      this.#move(child, i);
      i = child;
    }
    this.#end[i] = end;
    this.#step[i] = step;
    return top;
  }

  /** Whether (end, step) comes before the entry at `at`. */
  #before(end: number, step: number, at: number): boolean {
    const other = this.#end[at]!;
    return end < other || (end === other && step < this.#step[at]!);
  }

  #move(from: number, to: number): void {
    this.#end[to] = this.#end[from]!;
    this.#step[to] = this.#step[from]!;
  }
}

/**
 * A run's step states and the one rule that moves them: pure transitions, no I/O, no time. The run loop and
 * the estimator both drive it, so "when may a step start, and when is it skipped" is written once.
 *
 * A step is `pending` until every step it depends on has *settled* (ended, whatever the status). Then its
 * readiness is a switch over those statuses:
 * - all `succeeded` → it runs (after its `if`, when it has one);
 * - one `skipped`, or `failed` with `continueOnError` → it is skipped (`upstream_skipped` / `upstream_failed`),
 *   unless its `if` reads that step's `status`: then the condition decides (how a fallback is written);
 * - one `cancelled`, or failed without continuing → it is skipped (`upstream_cancelled` / `upstream_failed`)
 *   when the run settles what is left (the run is stopping; nothing new starts).
 */
import type { SkipReason, StepStatus } from '../core/status.ts';
import type { Plan } from '../graph/plan.ts';

export type Readiness = { kind: 'run' } | { kind: 'condition' } | { kind: 'skip'; reason: SkipReason };

const RUN: Readiness = Object.freeze({ kind: 'run' });
const CONDITION: Readiness = Object.freeze({ kind: 'condition' });

export class RunState {
  readonly status: StepStatus[];
  readonly skipReason: (SkipReason | undefined)[];
  /** 1 where a step failed and `continueOnError` let the run go on. */
  readonly continued: Uint8Array;
  readonly #plan: Plan;
  /** Per step: dependencies not yet settled. */
  readonly #waiting: Int32Array;
  /** Per step: the dependencies whose `status` its condition reads, when it has a condition. */
  readonly #conditions: readonly (ReadonlySet<number> | undefined)[];

  /** `conditions[i]`: for a step with an `if`, the indexes of the steps whose status it reads (maybe none). */
  constructor(plan: Plan, conditions: readonly (ReadonlySet<number> | undefined)[]) {
    const n = plan.steps.length;
    this.#plan = plan;
    this.#conditions = conditions;
    this.status = new Array<StepStatus>(n).fill('pending');
    this.skipReason = new Array(n);
    this.continued = new Uint8Array(n);
    this.#waiting = Int32Array.from(plan.steps, (s) => s.dependsOn.length);
  }

  /** Steps with nothing to wait for, in file order. */
  roots(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.#waiting.length; i++) if (this.#waiting[i] === 0 && this.status[i] === 'pending') out.push(i);
    return out;
  }

  start(i: number): void {
    if (this.status[i] !== 'pending') throw new Error(`step ${i} started twice`);
    this.status[i] = 'running';
  }

  /**
   * A step ended (or was taken from an earlier run, or skipped). Returns its pending dependents whose every
   * dependency has now settled: ask `readiness` what each does next.
   */
  settle(i: number, status: 'succeeded' | 'failed' | 'cancelled' | 'skipped' | 'not_run', detail: { continued?: boolean; skipReason?: SkipReason } = {}): number[] {
    this.status[i] = status;
    if (detail.continued) this.continued[i] = 1;
    if (detail.skipReason) this.skipReason[i] = detail.skipReason;
    const free: number[] = [];
    for (const d of this.#plan.steps[i]!.dependents) if (--this.#waiting[d]! === 0 && this.status[d] === 'pending') free.push(d);
    return free;
  }

  /** What a pending step whose dependencies have all settled does next (see the module's comment). */
  readiness(i: number): Readiness {
    const reads = this.#conditions[i];
    let blocked: SkipReason | undefined;
    for (const d of this.#plan.steps[i]!.dependsOn) {
      const reason = this.#blockedBy(d);
      if (reason === undefined) continue;
      // A condition that reads this step's status decides for itself, unless the run is stopping because of it.
      if (reads?.has(d) && reason !== 'upstream_cancelled' && (reason === 'upstream_skipped' || this.continued[d])) continue;
      // The most telling reason wins: a failure over a cancellation over a skip.
      if (blocked === undefined || rank(reason) > rank(blocked)) blocked = reason;
    }
    if (blocked !== undefined) return { kind: 'skip', reason: blocked };
    return reads ? CONDITION : RUN;
  }

  /**
   * When the run ends: every step still pending is `skipped` (with its reason) if something it depends on did
   * not succeed, else `not_run` (the run stopped before it). In dependency order, so reasons cascade.
   */
  finish(): void {
    for (const i of this.#plan.order) {
      if (this.status[i] !== 'pending') continue;
      let blocked: SkipReason | undefined;
      for (const d of this.#plan.steps[i]!.dependsOn) {
        const reason = this.#blockedBy(d);
        if (reason !== undefined && (blocked === undefined || rank(reason) > rank(blocked))) blocked = reason;
      }
      if (blocked === undefined) this.status[i] = 'not_run';
      else {
        this.status[i] = 'skipped';
        this.skipReason[i] = blocked;
      }
    }
  }

  #blockedBy(d: number): SkipReason | undefined {
    switch (this.status[d]) {
      case 'succeeded':
        return undefined;
      case 'skipped':
        return 'upstream_skipped';
      case 'failed':
        return 'upstream_failed';
      case 'cancelled':
        return 'upstream_cancelled';
      default:
        // pending, running, not_run: only asked about when the run ends (`finish`), and then it is not blocked
        // by a failure: it simply never ran.
        return undefined;
    }
  }
}

function rank(reason: SkipReason): number {
  return reason === 'upstream_failed' ? 3 : reason === 'upstream_cancelled' ? 2 : reason === 'upstream_skipped' ? 1 : 0;
}

/**
 * What the run asks of the pieces that keep money in check, each given to it by the composition root (the CLI,
 * or a library caller) and absent when not wanted: the prices of model tokens (src/cost/), the run's budget
 * (src/cost/), and the step cache (src/cache/). The run loop and the step runner call these and nothing else.
 */
import type { AnyAction, TokenEstimate } from '../actions/types.ts';
import type { BudgetReport, UnitUsage } from '../core/report.ts';
import type { StepSpec } from '../definition/types.ts';
import type { CachePolicy } from '../cache/policy.ts';

/** Prices model usage in US dollars. */
export interface Pricing {
  /** What `usage` cost; null when its model has no price (shown as "—", never as $0). */
  costOf(usage: UnitUsage): number | null;
}

/** A result kept in the step cache, as the run gives it back on a hit. */
export interface CachedResult {
  output: unknown;
  properties?: Record<string, unknown>;
  /** What the call that made it used, and cost: what a hit saves. */
  usage?: UnitUsage;
  costUsd?: number | null;
}

/** The step cache, content-addressed by what a step would send. */
export interface StepCache {
  /**
   * The key of what this step (or item) would send with this resolved input, when its result may be taken from
   * the cache or kept in it (the step's `cache`, `config.cache`, the CLI's `--cache`, the action's `cacheable`);
   * undefined when not.
   */
  keyFor(step: StepSpec, action: AnyAction, input: unknown): string | undefined;
  /** The result kept under `key`, if one is there and has not expired. */
  get(key: string): Promise<CachedResult | undefined>;
  /** Keeps a result that succeeded and held no secret (the run decides both before it calls this). */
  put(key: string, result: CachedResult): Promise<void>;
  /** Which steps it serves (plain data): a worker decides with it as this cache does (src/queue/). */
  readonly policy?: CachePolicy;
}

/** A call's worst case, held against the budget until the call settles. */
export interface Reservation {
  readonly estimate: TokenEstimate;
}

/** The run's budget: dollars and tokens, reserved before each model call and settled with what it used. */
export interface Budget {
  /**
   * Holds the call's worst case, once it fits: a call that does not fit while others hold theirs waits for them
   * to settle. Undefined when it never will (the call is not made and the run stops), or when `signal` aborts
   * while it waits. Rejects with a ConductorError when the call may not be made at all (its model has no price
   * under a budget in dollars): the step fails with it.
   */
  reserve(estimate: TokenEstimate, signal?: AbortSignal): Promise<Reservation | undefined>;
  /** The call ended: its real usage replaces the reservation (undefined usage: it used nothing known). */
  settle(reservation: Reservation, usage: UnitUsage | undefined): void;
  /** A call's real usage crossed the budget (possible without `maxTokens`): nothing new should start. */
  readonly exceeded: boolean;
  /** The limits and what was spent, for the report of a run the budget stopped. */
  report(): BudgetReport;
}

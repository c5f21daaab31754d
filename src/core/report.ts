import type { ItemSummary } from './events.ts';
import type { FinalStepStatus, RunStatus, SkipReason } from './status.ts';

/** What `conductor run --json` prints and `runWorkflow` returns. Times are ISO 8601; durations in ms. */
export interface RunReport {
  runId: string;
  workflow: string;
  status: RunStatus;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** Keyed by step id, in file order. */
  steps: Record<string, StepReport>;
  outputs: Record<string, unknown>;
  /** Tokens by model (`provider:model`), over the steps that succeeded. */
  usage: Record<string, ModelUsage>;
  /**
   * What the run's model calls cost, in US dollars: `usd` is null when a model that was called has no price
   * (never counted as $0), `byModel` the same per model. Cache hits and reused results cost nothing.
   */
  cost: RunCost;
  /** Steps (and items) answered from the step cache, and what they would have cost: present when caching was on. */
  cache?: { hits: number; savedUsd: number | null; savedTokens: number };
  /** Set when the budget stopped the run (status `budget_exceeded`): what was allowed and spent. */
  budget?: BudgetReport;
  /** Why the run did not succeed, in one line (the failed step's error, or the interruption). */
  error?: string;
  /** The code of `error` when the run itself failed rather than a step (`store_failed`, …). */
  errorCode?: string;
  /** What to do about `error`, when there is something to say (the failed step's hint). */
  hint?: string;
  /**
   * Steps that failed with `continueOnError` (the run went on), in file order. Present only when there are
   * some; a run whose only failures are these `succeeded`.
   */
  continued?: string[];
}

export interface StepReport {
  status: FinalStepStatus;
  output: unknown;
  /** Its block with the templates resolved, secrets redacted: what its action received; a foreach step's items have theirs. */
  input?: unknown;
  error?: string;
  /** Stable code of the error (`http_status`, `timeout`, `file_error`, …). */
  errorCode?: string;
  /** What to do about the error, when there is something to say (`check OPENAI_API_KEY`, …). */
  hint?: string;
  /** The whole of what `error` shows part of: an error response's body, of which `error` has the first line. */
  errorDetail?: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  /** How many times the step was tried (retries of rate limits and transient failures included). */
  attempts?: number;
  /** Extra values the action exposed (`statusCode`, `headers`, `usage`, …). */
  properties?: Record<string, unknown>;
  /** Taken from an earlier run by `resume`, not executed. */
  reused?: true;
  /** Answered from the step cache: nothing was sent, nothing paid. */
  cached?: true;
  /** What its model calls cost in US dollars (a foreach step: its items'); null when a model has no price. */
  costUsd?: number | null;
  /** Why a `skipped` step did not run. */
  skipReason?: SkipReason;
  /** The worker that ran it (`host:pid`), when it ran on one (`--queue`); a foreach step's items say their own. */
  worker?: string;
  /** `continueOnError`: the step failed (for a foreach step, some item did) and the run went on. */
  continued?: true;
  /** A foreach step: every item, in item order (`output` holds their outputs, `null` where one failed). */
  items?: ItemReport[];
}

export interface ItemReport extends ItemSummary {
  /** What the item's action received, secrets redacted. */
  input?: unknown;
  errorCode?: string;
  hint?: string;
  durationMs?: number;
  /** Taken from an earlier run by `resume`, not executed. */
  reused?: true;
  /** Answered from the step cache. */
  cached?: true;
  costUsd?: number | null;
  /** The worker that ran it (`host:pid`), when it ran on one (`--queue`). */
  worker?: string;
}

export interface RunCost {
  usd: number | null;
  byModel: Record<string, number | null>;
}

export interface BudgetReport {
  /** The limits the run had (`config.budget`, `--max-cost`). */
  usd?: number;
  tokens?: number;
  /** What the run spent when it stopped (its calls in flight included). */
  spentUsd: number;
  spentTokens: number;
}

/** Tokens of one model call, or a sum of them. */
export interface TokenCount {
  inputTokens: number;
  outputTokens: number;
}

/**
 * Tokens one step or item used, as events and the store carry them (an action's `usage`): `model` is absent
 * from a foreach step's total when its items used more than one.
 */
export interface UnitUsage extends TokenCount {
  model?: string;
  /** Of `inputTokens`, those the provider read from its prompt cache (priced lower where it says so). */
  cachedInputTokens?: number;
}

/** Sums usages; the model is kept when they all name the same one. Undefined when none is given. */
export function sumUsage(usages: Iterable<UnitUsage | undefined>): UnitUsage | undefined {
  let total: UnitUsage | undefined;
  let models: string | undefined | null = null;
  for (const u of usages) {
    if (!u) continue;
    const cached = (total?.cachedInputTokens ?? 0) + (u.cachedInputTokens ?? 0);
    total = { inputTokens: (total?.inputTokens ?? 0) + u.inputTokens, outputTokens: (total?.outputTokens ?? 0) + u.outputTokens, ...(cached ? { cachedInputTokens: cached } : {}) };
    models = models === null ? u.model : models === u.model ? models : undefined;
  }
  return total && models ? { model: models, ...total } : total;
}

/** A cost added to a total (none yet: 0): unknown (null) once either is, never counted as $0. */
export function addCost(total: number | null | undefined, cost: number | null): number | null {
  return total === null || cost === null ? null : (total ?? 0) + cost;
}

export interface ModelUsage extends TokenCount {
  calls: number;
}

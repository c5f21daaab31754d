/**
 * Follows a run's events into a small model the reporters draw from. Every event costs O(1): a foreach step's
 * items are counters on its one StepProgress, never a record each, so a step of 100,000 items is as cheap to
 * follow as a step of one (the step's closing `items` list is read once, at `step:end`).
 */
import type { RunEvent } from '../core/events.ts';
import { addCost } from '../core/report.ts';
import type { SkipReason, StepStatus } from '../core/status.ts';

/** A foreach step's items so far. `done` counts every item that ended (reused ones too). */
export interface ItemProgress {
  /** From `step:items`; 0 until the list is resolved. */
  total: number;
  done: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  reused: number;
  /** Answered from the step cache. */
  cached: number;
  /** The first few item failures, in the order they ended (the reporters show these, and count the rest). */
  errors: { index: number; error: string }[];
}

/** How many item failures a step keeps the text of. */
export const KEPT_ITEM_ERRORS = 3;

export interface StepProgress {
  id: string;
  status: StepStatus;
  startedAt?: number;
  durationMs?: number;
  error?: string;
  reused?: boolean;
  /** Answered from the step cache (a foreach step: every item was). */
  cached?: boolean;
  /**
   * What its model calls cost so far, in US dollars (a foreach step: its items'); null once one had no price;
   * absent while it has made none.
   */
  costUsd?: number | null;
  /** Why a `skipped` step did not run. */
  skipReason?: SkipReason;
  /** Failed under `continueOnError`: the run went on. */
  continued?: boolean;
  /** A foreach step (set by `step:items`, or by an item event that came first). */
  items?: ItemProgress;
  /** Set while the step waits out a rate limit or before a retry. */
  waiting?: { reason: string; untilMs: number };
  /** The worker it ran on (`--queue`), when it ran on one. */
  worker?: string;
}

export function newItemProgress(total = 0): ItemProgress {
  return { total, done: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, reused: 0, cached: 0, errors: [] };
}

export class RunProgress {
  readonly steps: StepProgress[] = [];
  readonly #byId = new Map<string, StepProgress>();
  workflow = '';
  maxConcurrency = 0;
  startedAt = 0;
  finishedAt: number | undefined;
  /** Tokens used by the steps that finished so far (input + output). */
  tokens = 0;
  /**
   * What the model calls that ended so far cost, in US dollars, by model (null: a model with no price); empty
   * while none has reported a cost. `costUsd` is their sum, null when one is.
   */
  readonly costByModel = new Map<string, number | null>();
  costUsd: number | null = 0;

  apply(event: RunEvent): StepProgress | undefined {
    switch (event.type) {
      case 'run:start':
        this.workflow = event.workflow;
        this.maxConcurrency = event.maxConcurrency;
        this.startedAt = event.at;
        for (const id of event.stepIds) {
          const step: StepProgress = { id, status: 'pending' };
          this.steps.push(step);
          this.#byId.set(id, step);
        }
        return undefined;
      case 'step:start': {
        const step = this.#byId.get(event.stepId);
        if (step) Object.assign(step, { status: 'running', startedAt: event.at });
        return step;
      }
      case 'step:notice': {
        const step = this.#byId.get(event.stepId);
        if (step) step.waiting = { reason: event.notice.reason, untilMs: event.notice.untilMs };
        return step;
      }
      case 'step:items': {
        const step = this.#byId.get(event.stepId);
        if (step) {
          step.items ??= newItemProgress();
          step.items.total = event.count;
        }
        return step;
      }
      case 'item:start': {
        const step = this.#byId.get(event.stepId);
        if (step) (step.items ??= newItemProgress()).running++;
        return step;
      }
      case 'item:end': {
        const step = this.#byId.get(event.stepId);
        if (step) {
          const items = (step.items ??= newItemProgress());
          // A reused item never started (no item:start): it holds no running slot.
          if (event.reused) items.reused++;
          else if (items.running > 0) items.running--;
          // Started, but its call was never made (the budget): it is not done.
          if (event.status === 'not_run') return step;
          items.done++;
          items[event.status]++;
          if (event.status === 'failed' && items.errors.length < KEPT_ITEM_ERRORS) items.errors.push({ index: event.index, error: event.error ?? 'failed' });
          if (event.cached) items.cached++;
          if (event.usage && !event.reused) this.tokens += event.usage.inputTokens + event.usage.outputTokens;
          if (event.costUsd !== undefined && !event.reused) step.costUsd = this.#spend(step.costUsd, event.costUsd, event.usage?.model);
        }
        return step;
      }
      case 'step:end': {
        const step = this.#byId.get(event.stepId);
        if (step) {
          step.status = event.status;
          step.waiting = undefined;
          if (event.durationMs !== undefined) step.durationMs = event.durationMs;
          if (event.error !== undefined) step.error = event.error;
          if (event.reused) step.reused = true;
          if (event.cached) step.cached = true;
          if (event.skipReason) step.skipReason = event.skipReason;
          if (event.continued) step.continued = true;
          if (event.worker) step.worker = event.worker;
          if (event.items) step.items = settleItems(step.items, event.items);
          // A foreach step's usage is the sum over its items, already counted as they ended.
          const usage = step.items ? undefined : event.usage;
          if (usage && !event.reused) this.tokens += usage.inputTokens + usage.outputTokens;
          if (!step.items && event.costUsd !== undefined && !event.reused) step.costUsd = this.#spend(step.costUsd, event.costUsd, usage?.model);
        }
        return step;
      }
      case 'run:end':
        this.finishedAt = event.at;
        for (const [id, report] of Object.entries(event.report.steps)) {
          const step = this.#byId.get(id);
          if (!step) continue;
          step.status = report.status;
          if (report.skipReason) step.skipReason = report.skipReason;
          if (report.continued) step.continued = true;
        }
        return undefined;
    }
  }

  /** Adds a unit's cost to the run's (and its model's); returns its step's new total. */
  #spend(before: number | null | undefined, usd: number | null, model = 'unknown'): number | null {
    this.costByModel.set(model, addCost(this.costByModel.get(model), usd));
    this.costUsd = addCost(this.costUsd, usd);
    return addCost(before, usd);
  }

  counts(): Record<StepStatus, number> {
    return countStatuses(this.steps.map((s) => s.status));
  }

  /** How many failed steps the run went on after (`continueOnError`). */
  continuedCount(): number {
    let n = 0;
    for (const s of this.steps) if (s.continued && s.status === 'failed') n++;
    return n;
  }
}

/** The step's final item counts, from its closing list (items that never ran count as not done). */
function settleItems(seen: ItemProgress | undefined, final: readonly { index: number; status: string; error?: string }[]): ItemProgress {
  const items = newItemProgress(final.length);
  items.reused = seen?.reused ?? 0;
  items.cached = seen?.cached ?? 0;
  for (const item of final) {
    if (item.status === 'not_run') continue;
    items.done++;
    if (item.status === 'succeeded' || item.status === 'failed' || item.status === 'cancelled') items[item.status]++;
    if (item.status === 'failed' && items.errors.length < KEPT_ITEM_ERRORS) items.errors.push({ index: item.index, error: item.error ?? 'failed' });
  }
  return items;
}

export function countStatuses(statuses: Iterable<StepStatus>): Record<StepStatus, number> {
  const counts: Record<StepStatus, number> = { pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, skipped: 0, not_run: 0 };
  for (const status of statuses) counts[status]++;
  return counts;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/**
 * "3 succeeded, 1 failed, 2 cancelled" — only the statuses that occurred. `continued`: how many of the failed
 * ones the run went on after ("2 failed (1 continued)", or "1 failed and continued" when all were).
 */
export function formatCounts(counts: Record<StepStatus, number>, continued = 0): string {
  const order: StepStatus[] = ['succeeded', 'failed', 'cancelled', 'skipped', 'not_run', 'running', 'pending'];
  return order
    .filter((s) => counts[s] > 0)
    .map((s) => {
      if (s === 'failed' && continued > 0) return continued === counts.failed ? `${counts.failed} failed and continued` : `${counts.failed} failed (${continued} continued)`;
      return `${counts[s]} ${s === 'not_run' ? 'not run' : s === 'pending' ? 'waiting' : s}`;
    })
    .join(', ');
}

/** Why a step was skipped, in a few words (the live view, the log, the summary and the timeline say the same). */
export function skipText(reason: SkipReason | undefined): string {
  switch (reason) {
    case 'condition':
      return 'condition false';
    case 'upstream_skipped':
      return 'a dependency was skipped';
    case 'upstream_failed':
      return 'a dependency failed';
    case 'upstream_cancelled':
      return 'a dependency was cancelled';
    case undefined:
      return 'skipped';
  }
}

export const count = (n: number): string => n.toLocaleString('en-US');

/** "37/100 items · 4 running · 2 failed": what a foreach step's items are doing (the parts that are not 0). */
export function formatItems(items: ItemProgress): string {
  const parts = [`${count(items.done)}/${count(items.total)} items`];
  if (items.running > 0) parts.push(`${count(items.running)} running`);
  if (items.failed > 0) parts.push(`${count(items.failed)} failed`);
  if (items.cancelled > 0) parts.push(`${count(items.cancelled)} cancelled`);
  if (items.reused > 0) parts.push(`${count(items.reused)} reused`);
  if (items.cached > 0) parts.push(`${count(items.cached)} cached`);
  return parts.join(' · ');
}

/**
 * Dollars as the views show them: cents from $1 up, four decimals below ("$0.0123"), and "<$0.0001" for what
 * would round to nothing but is not. Null (a model with no price) is "—", never $0. Only the display is rounded.
 */
export function formatUsd(usd: number | null): string {
  if (usd === null) return '—';
  if (usd === 0) return '$0.00';
  if (usd >= 0.99995) return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  return usd < 0.00005 ? '<$0.0001' : `$${usd.toFixed(4)}`;
}

/** "$0.0123 (openai:gpt-4o-mini $0.0100, anthropic:claude-sonnet-4-5 $0.0023)": a run's cost, and each model's. */
export function formatCost(usd: number | null, byModel: Iterable<[string, number | null]>): string {
  const models = [...byModel].map(([model, cost]) => `${model} ${formatUsd(cost)}`);
  return `${formatUsd(usd)}${models.length ? ` (${models.join(', ')})` : ''}`;
}

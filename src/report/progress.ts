/** Follows a run's events into a small model the reporters draw from. */
import type { RunEvent } from '../core/events.ts';
import type { StepStatus } from '../core/status.ts';

export interface StepProgress {
  id: string;
  status: StepStatus;
  startedAt?: number;
  durationMs?: number;
  error?: string;
  reused?: boolean;
  /** Set while the step waits out a rate limit or before a retry. */
  waiting?: { reason: string; untilMs: number };
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
      case 'step:end': {
        const step = this.#byId.get(event.stepId);
        if (step) {
          step.status = event.status;
          step.waiting = undefined;
          if (event.durationMs !== undefined) step.durationMs = event.durationMs;
          if (event.error !== undefined) step.error = event.error;
          if (event.reused) step.reused = true;
          const usage = event.properties?.['usage'] as { inputTokens?: number; outputTokens?: number } | undefined;
          if (usage && !event.reused) this.tokens += (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0);
        }
        return step;
      }
      case 'run:end':
        this.finishedAt = event.at;
        for (const [id, report] of Object.entries(event.report.steps)) {
          const step = this.#byId.get(id);
          if (step) step.status = report.status;
        }
        return undefined;
    }
  }

  counts(): Record<StepStatus, number> {
    return countStatuses(this.steps.map((s) => s.status));
  }
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

/** "3 succeeded, 1 failed, 2 cancelled" — only the statuses that occurred. */
export function formatCounts(counts: Record<StepStatus, number>): string {
  const order: StepStatus[] = ['succeeded', 'failed', 'cancelled', 'skipped', 'not_run', 'running', 'pending'];
  return order
    .filter((s) => counts[s] > 0)
    .map((s) => `${counts[s]} ${s === 'not_run' ? 'not run' : s === 'pending' ? 'waiting' : s}`)
    .join(', ');
}

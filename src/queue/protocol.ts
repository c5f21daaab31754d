/**
 * What crosses Redis between a run (the coordinator, dispatch.ts) and workers (worker.ts): job data, results,
 * key names. Everything here is data: a step's references travel as resolved values, bound to the reference
 * they answer, never spliced into its text; `${env.*}` never travels (each worker answers it from its own
 * environment), and neither does a secret (a step whose values hold one runs in the coordinator).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { hostname } from 'node:os';
import type { CachePolicy } from '../cache/policy.ts';
import type { UnitUsage } from '../core/report.ts';
import type { Reference } from '../template/parse.ts';

/** Bumped when the job format changes: a worker refuses jobs of another version instead of misreading them. */
export const PROTOCOL = 1;

/** The one queue steps are dispatched on (under the deployment's prefix). */
export const STEP_QUEUE = 'steps';

/** What a job carries. */
export interface StepJob {
  protocol: number;
  runId: string;
  stepId: string;
  /** An item of a foreach step: its index, and its key (a recorded success is reused only with the same key). */
  item?: { index: number; key: string };
  /** A foreach item over a list a step's output made: the item is data, and may not choose a destination. */
  itemIsData?: true;
  /** The workflow: the hash of its text (kept under `workflowKey`), and its path on the coordinator (for messages). */
  workflow: { hash: string; file: string };
  /** The run's settings the step sees (default model, limit, stated rate limits): never a secret. */
  defaults: { model?: string; maxConcurrency: number; rateLimits: Record<string, { rpm?: number; tpm?: number }> };
  /** The run's step cache policy, when the cache is on: the worker looks in its store's cache as the run would. */
  cache?: CachePolicy;
  /** The values of the step's references other than `${env.*}`, by `referenceKey`. */
  values: [key: string, value: unknown][];
  /** The signature of everything above, when the deployment has a key (see `signJob`). */
  sig?: string;
}

/** What a worker answers: the step's outcome, as plain data. */
export type JobResult = (
  | {
      status: 'succeeded';
      output: unknown;
      properties?: Record<string, unknown>;
      usage?: UnitUsage;
      /** Taken from the step cache: what it saved. */
      cached?: { usage?: UnitUsage; costUsd?: number | null };
      /** The cache's key for what it sent, when the run may keep its result there (the run keeps it). */
      cacheKey?: string;
    }
  | { status: 'failed'; error: { code: string; message: string; hint?: string; detail?: string; retryable: boolean }; usage?: UnitUsage }
  | { status: 'cancelled' }
) & {
  attempts?: number;
  /** `host:pid` of the worker that ran it. */
  worker: string;
  /** The result was recorded already (by an earlier try of the same job): it was not run again. */
  recorded?: boolean;
  /**
   * What the step ran with (see StepOutcome.input), with this worker's secrets masked and credential fields taken
   * out; the run redacts it again with its own. Absent from a worker of before it was sent (nothing is misread).
   */
  input?: unknown;
};

/**
 * A job signed with the deployment's key (`QueueLocation.key`): an HMAC-SHA256 of its data as JSON, so a worker
 * can tell a run's job from one written into Redis by anything else. The workflow's text is covered through its
 * hash, which the worker checks the text against.
 */
export function signJob(data: StepJob, key: string): StepJob {
  const { sig: _, ...unsigned } = data;
  return { ...unsigned, sig: createHmac('sha256', key).update(JSON.stringify(unsigned)).digest('hex') };
}

/** Whether `data` carries the signature `key` gives it. */
export function signedWith(data: StepJob, key: string): boolean {
  if (typeof data.sig !== 'string' || !/^[0-9a-f]{64}$/.test(data.sig)) return false;
  const expected = signJob(data, key).sig!;
  return timingSafeEqual(Buffer.from(data.sig, 'hex'), Buffer.from(expected, 'hex'));
}

/** One key per reference, the same on both sides (a Reference is plain data parsed from the same text). */
export function referenceKey(ref: Reference): string {
  switch (ref.root) {
    case 'steps':
      return JSON.stringify(['steps', ref.step, ref.property, ref.path]);
    case 'inputs':
    case 'item':
      return JSON.stringify([ref.root, ref.name, ref.path]);
    case 'env':
    case 'foreach':
      return JSON.stringify([ref.root, ref.name]);
  }
}

/** Keys under the deployment's prefix. */
export const keys = {
  /** A workflow's text, by its hash (kept a week; set again by every run that uses it). */
  workflow: (prefix: string, hash: string) => `${prefix}:conductor:workflow:${hash}`,
  /** Set when a run stopped: a worker that picks up one of its jobs later does not run it. */
  stopped: (prefix: string, runId: string) => `${prefix}:conductor:stopped:${runId}`,
  /** Where a run's stop is announced to every worker at once. */
  stopChannel: (prefix: string) => `${prefix}:conductor:stop`,
};

/** How long a workflow's text and a run's stop flag are kept. */
export const WORKFLOW_TTL_S = 7 * 24 * 3600;
export const STOPPED_TTL_S = 24 * 3600;

/**
 * A job's id: deterministic (a restarted coordinator finds its jobs by it), no `:` (BullMQ's separator), never
 * all digits. `dispatch` counts re-dispatches of the same unit by one coordinator.
 */
export function jobId(runId: string, stepId: string, index: number | undefined, dispatch: number): string {
  return `${runId}.${stepId}${index === undefined ? '' : `.i${index}`}.d${dispatch}`;
}

/**
 * BullMQ's priority (1 runs first … 2,097,152) from the longest remaining path in ms: the critical path first
 * across every run sharing the queue, in buckets of 100 ms (58 h fit). Every job gets one: a job without a
 * priority would run before all of them.
 */
export function jobPriority(remainingMs: number): number {
  const bucket = Math.round(Math.max(0, remainingMs) / 100);
  return 2_097_151 - Math.min(2_097_150, Number.isFinite(bucket) ? bucket : 2_097_150);
}

/** This process as a worker names itself in results. */
export const WORKER_NAME = `${hostname()}:${process.pid}`;

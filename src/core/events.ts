/** The events a run emits. The core never prints: reporters and stores subscribe to these. */
import type { UnitUsage } from './report.ts';
import type { RunReport } from './report.ts';
import type { FinalStepStatus, ItemStatus, SkipReason } from './status.ts';

export type RunEvent =
  | {
      type: 'run:start';
      runId: string;
      workflow: string;
      stepIds: readonly string[];
      maxConcurrency: number;
      /** The run's inputs as they may be shown: secret ones are `***`. */
      inputs: Readonly<Record<string, unknown>>;
      /** The inputs whose names say they are secret: not in `inputs` as given, so `resume` asks for them again. */
      secretInputs?: readonly string[];
      at: number;
    }
  | { type: 'step:start'; runId: string; stepId: string; at: number }
  | { type: 'step:notice'; runId: string; stepId: string; notice: ActionNotice; at: number }
  | (UnitEnd & {
      type: 'step:end';
      stepId: string;
      status: FinalStepStatus;
      /** Why a `skipped` step did not run. */
      skipReason?: SkipReason;
      /** `continueOnError`: the step failed (for a foreach step, some item did) and the run went on. */
      continued?: true;
      /** A foreach step: each item's final status (as `${steps.<id>.items}` reads it). */
      items?: readonly ItemSummary[];
    })
  /** A foreach step's list was resolved: `count` items will run (after `step:start`). */
  | { type: 'step:items'; runId: string; stepId: string; count: number; at: number }
  | { type: 'item:start'; runId: string; stepId: string; index: number; at: number }
  | (UnitEnd & {
      type: 'item:end';
      stepId: string;
      index: number;
      /**
       * Identifies what the item ran with: a hash of its value and of every other value its step's block uses
       * (secrets redacted). `resume` reuses a succeeded item only at the same index with the same key.
       */
      key: string;
      /** `not_run`: started, but its call was never made (the budget had no room). */
      status: ItemStatus;
    })
  | { type: 'run:end'; runId: string; report: RunReport; at: number };

/** What the end of a step and the end of an item of a foreach step both say. */
export interface UnitEnd {
  runId: string;
  at: number;
  durationMs?: number;
  attempts?: number;
  error?: string;
  errorCode?: string;
  hint?: string;
  /** The whole of what `error` shows part of (an error response's body). */
  errorDetail?: string;
  output?: unknown;
  properties?: Record<string, unknown>;
  /**
   * Its block with the templates resolved, as the action received it (or as resolved, when the action's schema
   * refused it), secrets replaced and credential headers taken out; absent when it never resolved (a template
   * that failed, a skip, a budget that made no room, a result reused from an earlier run) and on a foreach
   * step's own end (each item's end has its own). Never part of `redacted`, which is about the result.
   */
  input?: unknown;
  /** Model tokens it used (a foreach step: the sum over the items that ran in this run). */
  usage?: UnitUsage;
  /** What they cost in US dollars (null: a model with no price); absent when it made no model call. */
  costUsd?: number | null;
  /** Answered from the step cache (a foreach step: every item was). */
  cached?: true;
  /** The result was taken from an earlier run (`resume`), not executed. */
  reused?: true;
  /** A secret was replaced in `output` or `properties`: what is shown is not what later steps used. */
  redacted?: true;
  /** The worker that ran it (`host:pid`), when it ran on one (`--queue`). */
  worker?: string;
}

export type RunEventListener = (event: RunEvent) => void;

/** Progress a step reports that is not a result: waiting out a rate limit or a retry's backoff. */
export type ActionNotice = { type: 'waiting'; reason: string; untilMs: number };

/** One item of a foreach step, as `${steps.<id>.items}` and reports show it. */
export interface ItemSummary {
  index: number;
  status: ItemStatus;
  error?: string;
  attempts: number;
}

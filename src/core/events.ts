/** The events a run emits. The core never prints: reporters and stores subscribe to these. */
import type { RunReport } from './report.ts';
import type { FinalStepStatus } from './status.ts';

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
  | {
      type: 'step:end';
      runId: string;
      stepId: string;
      status: FinalStepStatus;
      at: number;
      durationMs?: number;
      error?: string;
      errorCode?: string;
      hint?: string;
      /** The whole of what `error` shows part of (an error response's body). */
      errorDetail?: string;
      output?: unknown;
      properties?: Record<string, unknown>;
      attempts?: number;
      /** The result was taken from an earlier run (`resume`), not executed. */
      reused?: true;
      /** A secret was replaced in `output` or `properties`: what is shown is not what later steps used. */
      redacted?: true;
    }
  | { type: 'run:end'; runId: string; report: RunReport; at: number };

export type RunEventListener = (event: RunEvent) => void;

/** Progress a step reports that is not a result: waiting out a rate limit or a retry's backoff. */
export type ActionNotice = { type: 'waiting'; reason: string; untilMs: number };

/**
 * Run history, behind an interface: the engine and the CLI see only `RunStore`, so another store (a server
 * database, say) can be added without touching either.
 */
import type { TokenCount } from '../core/report.ts';
import type { FinalStepStatus, RunStatus, StepStatus } from '../core/status.ts';

/** A run as recorded. `interrupted`: it was running when its process died (no live owner). */
export type RecordedRunStatus = RunStatus | 'running' | 'interrupted';

export interface RunRecord {
  id: string;
  workflow: string;
  workflowHash: string;
  inputs: Record<string, unknown>;
  status: RecordedRunStatus;
  error?: string;
  startedAt: number;
  finishedAt?: number;
  pid: number;
  host: string;
  resumedFrom?: string;
  stepCount: number;
  stepsDone: number;
  options?: RunSettings;
  /** Inputs recorded as `***` (secret): `resume` needs them given again. Absent in runs recorded before schema 6. */
  secretInputs?: string[];
  outputs?: Record<string, unknown>;
}

export interface StepRecord extends Omit<StepResult, 'status' | 'reused'> {
  stepId: string;
  position: number;
  /** Hash of what the step does (its definition, and the input values it uses): a changed step re-runs. */
  fingerprint: string;
  /** The steps it waited for in that run (every kind of dependency). */
  dependsOn: string[];
  /** `pending` for a step the run never got to. */
  status: StepStatus | FinalStepStatus;
  /** Taken from an earlier run by `resume`, not executed again. */
  reused: boolean;
}

/** What the command line set for a run, beside the workflow: `resume` runs with the same unless told otherwise. */
export interface RunSettings {
  model?: string;
  maxConcurrency?: number;
}

export interface NewRun {
  id: string;
  options?: RunSettings;
  /** Inputs recorded as `***` because their names say they are secret. */
  secretInputs?: readonly string[];
  workflow: string;
  workflowHash: string;
  inputs: Record<string, unknown>;
  startedAt: number;
  resumedFrom?: string;
  steps: { stepId: string; fingerprint: string; dependsOn: string[] }[];
  /**
   * Results a resume takes from an earlier run, written in the same transaction as the run: a run is never
   * recorded without the steps it reused.
   */
  reused?: (StepResult & { stepId: string })[];
}

export interface StepResult {
  status: FinalStepStatus;
  output?: unknown;
  properties?: Record<string, unknown>;
  /** `output` and `properties` already as JSON text (the recorder has it from redacting): saves a second pass. */
  outputJson?: string;
  propertiesJson?: string;
  error?: string;
  errorCode?: string;
  /** What to do about the error (`check OPENAI_API_KEY`, …). */
  hint?: string;
  /** The whole of what `error` shows part of (an error response's body). */
  errorDetail?: string;
  attempts?: number;
  startedAt?: number;
  finishedAt?: number;
  reused?: boolean;
  /**
   * Something was redacted from `output` or `properties` before they were stored: they hold `***` where the
   * step's result held a secret, so they must never stand in for running the step (resume, a cache).
   */
  redacted?: boolean;
}

/**
 * Every method that fails on the store itself throws a ConductorError with code `store_failed` (or
 * `store_unavailable` when the store cannot be opened) naming the store and the cause.
 */
export interface RunStore {
  startRun(run: NewRun): void;
  /**
   * Records one step's result, called the moment the step finishes; durable within a few milliseconds. A write
   * made after this returns that fails is thrown by the next call (and may be reported sooner, see
   * SqliteStoreOptions.onError).
   */
  recordStep(runId: string, stepId: string, result: StepResult): void;
  finishRun(runId: string, result: { status: RunStatus; error?: string; finishedAt: number; outputs: Record<string, unknown> }): void;
  /** Newest first. */
  listRuns(limit?: number): RunRecord[];
  getRun(id: string): { run: RunRecord; steps: StepRecord[] } | undefined;
  /**
   * How long steps took in recent runs of a workflow: the median duration in ms of each step fingerprint that
   * succeeded (and actually ran) in its last `runs` runs. The scheduler uses these as priorities.
   */
  durations(workflow: string, runs?: number): Map<string, number>;
  /** The median tokens of each step fingerprint whose result reported `usage` (llm steps), as for `durations`. */
  usage?(workflow: string, runs?: number): Map<string, TokenCount>;
  close(): void;
}

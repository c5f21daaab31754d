/**
 * Run history, behind an interface: the engine and the CLI see only `RunStore`, so another store (a server
 * database, say) can be added without touching either.
 */
import type { ConductorError } from '../core/errors.ts';
import type { UnitUsage } from '../core/report.ts';
import type { FinalStepStatus, ItemStatus, RunStatus, SkipReason, StepStatus } from '../core/status.ts';

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
  /** Steps that were skipped (an `if`, or a dependency that did not succeed). */
  stepsSkipped?: number;
  options?: RunSettings;
  /** Inputs recorded as `***` (secret): `resume` needs them given again. Absent in runs recorded before schema 6. */
  secretInputs?: string[];
  /**
   * What its model calls cost in US dollars: the sum of its steps' (reused steps and cache hits cost nothing);
   * null when a model it called has no price. Absent in a store read as it is, from before schema 8.
   */
  costUsd?: number | null;
  /**
   * Model tokens its steps used in this run (reused ones not counted): absent when none did, and in a store
   * read as it is, from before schema 8.
   */
  usage?: { inputTokens: number; outputTokens: number };
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
  /**
   * A foreach step: the items recorded for it, by index (a run that stopped mid-step has fewer than
   * `itemCount`; items it never started have none). Absent for other steps.
   */
  items?: ItemRecord[];
}

/** One item of a foreach step, as recorded. */
export interface ItemRecord extends Omit<ItemResult, 'outputJson' | 'propertiesJson' | 'inputJson' | 'reused' | 'redacted'> {
  reused: boolean;
  redacted: boolean;
}

/** What the command line set for a run, beside the workflow: `resume` runs with the same unless told otherwise. */
export interface RunSettings {
  model?: string;
  maxConcurrency?: number;
  /** `--max-cost`, US dollars: a resume keeps the budget it was given. */
  maxCost?: number;
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
  /**
   * Items of foreach steps that run again, as an earlier run finished them (`RunOptions.reuseItems`): written
   * with the run, marked reused, so a resume killed before it gets to those steps still has them for the next
   * resume. The run's own events then replace each one it runs instead (its key no longer matched).
   */
  reusedItems?: { stepId: string; items: ItemResult[] }[];
}

/** What a step and an item of a foreach step both record when they end. */
export interface ResultFields {
  output?: unknown;
  properties?: Record<string, unknown>;
  /** `output` and `properties` already as JSON text (the recorder has it from redacting): saves a second pass. */
  outputJson?: string;
  propertiesJson?: string;
  /**
   * What it ran with: its block with the templates resolved, secrets redacted (see the `step:end` event's
   * `input`). Shown, never reused: resume, the step cache and fingerprints do not read it. Absent when it never
   * resolved, for a reused result, and in a store read as it is from before it was kept (SQLite schema 10).
   */
  input?: unknown;
  /** `input` already as JSON text, as `outputJson`. */
  inputJson?: string;
  error?: string;
  errorCode?: string;
  /** What to do about the error (`check OPENAI_API_KEY`, …). */
  hint?: string;
  /** The whole of what `error` shows part of (an error response's body). */
  errorDetail?: string;
  attempts?: number;
  startedAt?: number;
  finishedAt?: number;
  /** Taken from an earlier run by `resume`, not executed. */
  reused?: boolean;
  /** Model tokens it used (a foreach step: the sum over its items that ran), as the action reported them. */
  usage?: UnitUsage;
  /** What `usage` cost in US dollars; null when a model had no price. */
  costUsd?: number | null;
  /** Answered from the step cache: nothing was sent or paid. */
  cached?: boolean;
  /**
   * Something was redacted from `output` or `properties` before they were stored: they hold `***` where the
   * result held a secret, so they must never stand in for running it again (resume, a cache).
   */
  redacted?: boolean;
  /** The worker that ran it (`host:pid`, see src/queue/), when it ran on one; absent when it ran in the run's own process. */
  worker?: string;
}

export interface StepResult extends ResultFields {
  status: FinalStepStatus;
  /** Why a `skipped` step did not run. */
  skipReason?: SkipReason;
  /** `continueOnError`: it failed (a foreach step: some item did) and the run went on. */
  continued?: boolean;
  /** A foreach step: how many items its list had. */
  itemCount?: number;
}

/** One item of a foreach step: its result, recorded the moment it finishes (see `RunStore.recordItem`). */
export interface ItemResult extends ResultFields {
  index: number;
  /** What the item ran with, as a hash (the `item:end` event's `key`): resume reuses it only when it matches. */
  key: string;
  status: Exclude<ItemStatus, 'not_run'>;
}

/**
 * Every method that fails on the store itself rejects with a ConductorError with code `store_failed` (or
 * `store_unavailable` when the store cannot be opened or reached) naming the store (a URL with its password
 * redacted) and the cause.
 *
 * Async, so a store may be a server (PostgreSQL, shared by coordinators and workers: src/queue/). Writes of
 * one store object are applied in the order they were called: a caller may fire `recordStep` without awaiting
 * it, and `finishRun` (or `close`) still lands after it.
 */
export interface RunStore {
  /** What the store is, for messages: a file's path, or a URL with its password redacted. */
  readonly location: string;
  startRun(run: NewRun): Promise<void>;
  /**
   * Records one step's result, called the moment the step finishes; durable within a few milliseconds. A write
   * that fails after this resolves is rejected by the next call (and may be reported sooner, see
   * StoreOptions.onError).
   */
  recordStep(runId: string, stepId: string, result: StepResult): Promise<void>;
  /**
   * Records one item of a foreach step, called the moment the item finishes; durable and failing as
   * recordStep does (the two are committed together). A second record of the same index replaces the first.
   */
  recordItem(runId: string, stepId: string, item: ItemResult): Promise<void>;
  /**
   * Fencing for workers (src/queue/): records a step's result unless the step already has one that succeeded
   * (a job run twice — its first worker stalled, or died after recording — never overwrites a recorded success).
   * Resolves true when this result was written, false when a success was there already. Durable when it resolves.
   * Does nothing (false) for a run or step the store does not know.
   */
  recordStepOnce(runId: string, stepId: string, result: StepResult): Promise<boolean>;
  /** The same for an item of a foreach step: written unless that index has a success recorded with the same `key`. */
  recordItemOnce(runId: string, stepId: string, item: ItemResult): Promise<boolean>;
  /**
   * What a worker checks before calling a provider: the recorded success of a step (`index` undefined) or of an
   * item of a foreach step (whose `key` must be `key`), else undefined. Its output and properties are as
   * recorded (with `redacted` set where a secret was masked: such a result must not stand in for running it).
   */
  recordedSuccess(runId: string, stepId: string, item?: { index: number; key: string }): Promise<ResultFields | undefined>;
  finishRun(runId: string, result: { status: RunStatus; error?: string; finishedAt: number; outputs: Record<string, unknown> }): Promise<void>;
  /** Newest first. */
  listRuns(limit?: number): Promise<RunRecord[]>;
  getRun(id: string): Promise<{ run: RunRecord; steps: StepRecord[] } | undefined>;
  /**
   * How long steps took in recent runs of a workflow: the median duration in ms of each step fingerprint that
   * succeeded (and actually ran) in its last `runs` runs. The scheduler uses these as priorities.
   */
  durations(workflow: string, runs?: number): Promise<Map<string, number>>;
  /**
   * How long one item of a foreach step took: the median duration in ms of the items that succeeded (and ran)
   * in the workflow's last `runs` runs, by *item* fingerprint (see `itemFingerprint`: what each item does,
   * whatever the list). For a foreach step, `durations` is the whole step's time.
   */
  itemDurations?(workflow: string, runs?: number): Promise<Map<string, number>>;
  /**
   * The median tokens of each step fingerprint whose result reported `usage` (llm steps), as for `durations`,
   * with the model they were used with when every sample names the same one.
   */
  usage?(workflow: string, runs?: number): Promise<Map<string, UnitUsage>>;
  /**
   * The step cache's entries, kept in the same store (see src/cache/); absent for a store that keeps none (one
   * of an older schema, read as it is).
   */
  readonly cache?: CacheEntries;
  /** Waits for writes still pending, then lets the store go; a write that failed rejects here. */
  close(): Promise<void>;
}

/** How a store is opened (`openRunStore` in open.ts): what the SQLite and the PostgreSQL store both take. */
export interface StoreOptions {
  /**
   * `read`: this connection only reads (`runs`, `plan`, `cache stats`): it takes no write lock, and a store it
   * cannot write is read as it is (an older schema is not migrated).
   */
  access?: 'read' | 'write';
  /** How often a running run's process says it is alive (default 5 s). */
  heartbeatMs?: number;
  /** How long a write waits for another writer's lock before it fails (default 10 s; CONDUCTOR_STORE_TIMEOUT). */
  busyTimeoutMs?: number;
  /**
   * A write that failed outside any call (a grouped commit, a heartbeat) is reported here as a `store_failed`
   * ConductorError (the CLI aborts the run on it), and rejected by the next write. Called at most once.
   */
  onError?: (error: ConductorError) => void;
}

/** A result kept in the step cache: what a step (or item) that sends the same request again is given. */
export interface CacheEntry {
  /** The action that made it (`llm`, `http`, …), for `cache stats`. */
  action: string;
  output: unknown;
  properties?: Record<string, unknown>;
  /** What the call that made it used and cost in US dollars (null: a model with no price): what each hit saves. */
  usage?: UnitUsage;
  costUsd?: number | null;
}

/** The entries of one action, for `conductor cache stats`. */
export interface CacheStats {
  action: string;
  entries: number;
  /** Bytes of the kept outputs and properties. */
  bytes: number;
  /** Times an entry was given to a step instead of sending its request. */
  hits: number;
  /** What those hits would have cost: each entry's cost × its hits; null when a hit entry's model has no price. */
  savedUsd: number | null;
  /** Model tokens those hits did not use. */
  savedTokens: number;
  /** When the oldest and newest entries were made, and when one was last hit (ms since the epoch). */
  oldest: number;
  newest: number;
  lastHitAt?: number;
}

/**
 * The step cache's table, by key (a hash of what a step sends, see src/cache/key.ts). Every method throws a
 * `store_failed` ConductorError when the store itself fails; the step cache takes that for a miss.
 */
export interface CacheEntries {
  /** The entry under `key` made at or after `notBefore` (ms since the epoch), counted as a hit; undefined when none is. */
  take(key: string, notBefore: number): Promise<CacheEntry | undefined>;
  /** Whether `take` would find one, without counting a hit (`plan`). */
  has(key: string, notBefore: number): Promise<boolean>;
  /** Keeps `entry` under `key`, replacing one there (its hits are kept: they were saved). */
  put(key: string, entry: CacheEntry): Promise<void>;
  /** By action, most entries first. */
  stats(): Promise<CacheStats[]>;
  /** Removes the entries made before `before` (ms since the epoch), or every one; returns how many went. */
  clear(before?: number): Promise<number>;
}

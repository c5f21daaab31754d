/**
 * Where a unit of work runs. The run loop decides *when* a step or an item starts (readiness, the critical
 * path, the limit); an executor decides *where*: in this process (`localExecutor`, the default), or on workers
 * behind a queue (src/queue/). Both come back with the same `StepOutcome`, so statuses, retries' results,
 * records and reports are the same wherever a step ran.
 */
import type { AnyAction } from '../actions/types.ts';
import type { StepSpec } from '../definition/types.ts';
import type { ReferenceLookup } from '../template/value.ts';
import type { Budget, StepCache } from './hooks.ts';
import type { PreparedRun } from './prepare.ts';
import { runStep, type StepEnvironment, type StepOutcome } from './step-runner.ts';

/** One unit of work: a step, or one item of a foreach step. */
export interface Unit {
  step: StepSpec;
  action: AnyAction;
  /** Answers the step's references (`${steps.…}`, `${inputs.…}`, `${item}`, `${env.…}`). */
  lookup: ReferenceLookup;
  environment: StepEnvironment;
  /** An item of a foreach step: its index and its key (see the `item:end` event), computed when asked. */
  item?: { index: number; key: () => string };
}

/** What a run's executor is opened with. */
export interface ExecutorRun {
  runId: string;
  prepared: PreparedRun;
  /** Aborted when the run stops (a failure, Ctrl-C, a failed store): nothing in flight anywhere may go on. */
  signal: AbortSignal;
  /** The run this one resumes, whose work still in flight may be taken over (see RunOptions.resumedFrom). */
  resumedFrom?: string;
  /** The run's budget and step cache, when it has them: an executor that cannot honour one must refuse the run. */
  budget?: Budget;
  cache?: StepCache;
}

/** Runs the units of one run. */
export interface RunExecutor {
  /** Runs `unit` to its outcome; never rejects (a failure is an outcome). */
  run(unit: Unit): Promise<StepOutcome>;
  /** The run is over: every unit has come back. Lets go of what the run held. */
  close(): Promise<void>;
}

/** Chosen by the composition root: opened once per run. */
export interface StepExecutor {
  open(run: ExecutorRun): Promise<RunExecutor>;
}

/** Every unit in this process. */
export const localExecutor: StepExecutor = {
  open: async () => ({
    run: (unit) => runStep(unit.step, unit.action, unit.lookup, unit.environment),
    close: async () => {},
  }),
};

/**
 * A run once its pieces are chosen, as `conductor run`, `conductor resume` and `conductor serve` all start one:
 * recorded into the store as it goes (when there is one), answered from the step cache where caching is on,
 * scheduled with the durations of earlier runs, and ending in one report. Opening and closing the store and the
 * executor is the caller's: a command owns one per run, the server shares them between its runs.
 */
import { StoreStepCache } from '../cache/step-cache.ts';
import { cacheUsed, type CachePolicy } from '../cache/policy.ts';
import { ConductorError } from '../core/errors.ts';
import type { RunEvent, RunEventListener } from '../core/events.ts';
import type { RunReport } from '../core/report.ts';
import type { CostControls } from '../cost/controls.ts';
import type { StepExecutor } from '../scheduler/executor.ts';
import { withEstimates, type PreparedRun } from '../scheduler/prepare.ts';
import { runPrepared, type RunOptions } from '../scheduler/run.ts';
import { historyDurations } from '../store/history.ts';
import { recorder, type RecordingListener } from '../store/recorder.ts';
import type { RunStore } from '../store/types.ts';

export interface RecordedRunOptions {
  prepared: PreparedRun;
  /** Where the run is recorded; absent: nowhere (`--no-store`), and no step cache either (it lives there). */
  store?: RunStore | undefined;
  costs: CostControls;
  cachePolicy: CachePolicy;
  /** Where steps run (workers); absent: in this process. */
  executor?: StepExecutor | undefined;
  /** Aborting it cancels the run (see RunOptions.signal). */
  signal: AbortSignal;
  /** Every event, in order, before it is recorded: a listener still sees the event whose recording failed. */
  onEvent?: RunEventListener;
  runId?: string;
  reuse?: RunOptions['reuse'];
  reuseItems?: RunOptions['reuseItems'];
  resumedFrom?: string | undefined;
}

export async function recordedRun(options: RecordedRunOptions): Promise<RunReport> {
  const { prepared, store, costs, reuse, reuseItems, resumedFrom } = options;
  const spec = prepared.spec;
  const { pricing, budget, maxCost } = costs;
  let record: RecordingListener | undefined;
  // The step cache lives in the store: without one, nothing is taken from it or kept.
  const cache = store?.cache && cacheUsed(options.cachePolicy, spec.steps) ? new StoreStepCache({ entries: store.cache, policy: options.cachePolicy, context: { env: prepared.env, defaults: prepared.defaults, baseDir: spec.baseDir } }) : undefined;
  try {
    // The run's events and report carry no secret (it redacts them as it goes): the recorder stores them as they are.
    record = store ? recorder(store, spec, { lateRedact: (text) => prepared.secrets.redact(text), fingerprints: prepared.fingerprints, settings: { ...prepared.settings, ...(maxCost === undefined ? {} : { maxCost }) }, ...(reuse ? { reuse } : {}), ...(reuseItems ? { reuseItems } : {}), ...(resumedFrom ? { resumedFrom } : {}) }) : undefined;
    // Durations from earlier runs of the same steps let the scheduler put the longest path in time first.
    const run = store ? withEstimates(prepared, await historyDurations(store, spec, prepared.fingerprints)) : prepared;
    let report = await runPrepared(run, {
      signal: options.signal,
      ...(options.runId ? { runId: options.runId } : {}),
      ...(reuse ? { reuse } : {}),
      ...(reuseItems ? { reuseItems } : {}),
      pricing,
      ...(budget ? { budget } : {}),
      ...(cache ? { cache } : {}),
      ...(options.executor ? { executor: options.executor } : {}),
      ...(resumedFrom ? { resumedFrom } : {}),
      // Shown first: if recording fails (the store is full, say), the listener still sees the event that failed it.
      onEvent: (event: RunEvent) => {
        options.onEvent?.(event);
        record?.(event);
      },
    });
    // The recorder's last writes (the outcome) settle after the run: one that failed fails the run, as a
    // listener that threw at run:end does (see runPrepared).
    try {
      await record?.flush();
    } catch (error) {
      const failure = error instanceof ConductorError ? error : new ConductorError('store_failed', String(error));
      report = { ...report, status: 'failed', error: prepared.secrets.redact(failure.message), errorCode: failure.code, ...(failure.hint ? { hint: failure.hint } : {}) };
    }
    return report;
  } finally {
    // After a run that threw, writes may still be on their way: the caller closes the store after them.
    await record?.flush().catch(() => undefined);
  }
}

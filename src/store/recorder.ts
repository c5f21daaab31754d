/**
 * Records a run into a store by following its events: the run when it starts (with the steps and items a resume
 * reused, in the same transaction), each step's and each foreach item's result the moment it finishes, the
 * outcome at the end. A result that lost a secret to redaction is marked so: it is not the step's (or item's)
 * real result, and is never reused.
 *
 * `runWorkflow`'s events carry no secret already (the run redacts each result once, and says so in `redacted`):
 * recording them needs no `redact`. Give one for events from elsewhere, and everything is redacted again here.
 *
 * The store is async and the listener is not: the listener starts each write at once, and the store applies them
 * in the order they were called (RunStore's promise; so a store that does its work before its promise, as SQLite
 * does, has committed the run when `run:start` returns). A write that failed (a
 * `store_failed` ConductorError) is thrown from the listener by the event after it is known, or by `flush`,
 * which the caller awaits before closing the store; see StoreOptions.onError for a store that reports a
 * failure sooner (and so aborts the run). Every write is still attempted after one failed: the store decides
 * what can still be written (the outcome, at least).
 */
import type { RunEventListener, UnitEnd } from '../core/events.ts';
import { redactDeep, type Redactor } from '../core/redact.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import type { ReusableItem } from '../scheduler/run.ts';
import { contentHash } from './fingerprint.ts';
import type { ItemResult, NewRun, ResultFields, RunSettings, RunStore, StepResult } from './types.ts';

export interface RecorderOptions {
  resumedFrom?: string;
  /** Applied to everything before it is written: for events that do not come from `runWorkflow` redacted. */
  redact?: Redactor;
  /** Each step's fingerprint, in file order (see `prepareFingerprints`). */
  fingerprints: readonly string[];
  /** What the command line set (`--model`, `--max-concurrency`): `resume` runs with the same by default. */
  settings?: RunSettings;
  /**
   * The results this run takes from an earlier one (`RunOptions.reuse`): recorded with the run itself. A foreach
   * step's entry may carry its items (as `planResume` gives them): recorded too, so that a later resume that
   * runs the step again still finds them.
   */
  reuse?: Readonly<Record<string, { output: unknown; properties?: Record<string, unknown>; items?: readonly ReusedItem[] }>>;
  /**
   * Items of foreach steps that run again, as an earlier run finished them (`RunOptions.reuseItems`): recorded
   * with the run as reused, so a resume killed before it reaches those steps loses none of them. Each one the
   * run runs instead (its key no longer matches) is replaced by what its `item:end` says.
   */
  reuseItems?: Readonly<Record<string, ReadonlyMap<number, ReusableItem>>>;
  /**
   * The run's own redactor, which learns as the run goes (`PreparedRun.secrets.redact`): when the run ends, a
   * result written before a secret in it was known (a later step sent part of it as a credential) is written
   * again with it redacted.
   */
  lateRedact?: Redactor;
}

/** An item of a foreach step reused whole (see RecorderOptions.reuse). */
export interface ReusedItem extends ReusableItem {
  index: number;
}

/** The recorder's listener, and the wait for its writes. */
export interface RecordingListener extends RunEventListener {
  /**
   * Resolves when every write asked for so far has settled; rejects with a failed write that no event has
   * thrown yet (the run's outcome, say, which no event follows).
   */
  flush(): Promise<void>;
}

export function recorder(store: RunStore, spec: WorkflowSpec, options: RecorderOptions): RecordingListener {
  // Redacted value by value, then written as JSON: redacting JSON text would miss escaped spellings and could
  // break it (a secret of digits inside a number). Values come back unchanged, uncopied, when nothing matched.
  const redact = options.redact;
  const clean = <T>(value: T): T => (redact ? (redactDeep(value, redact) as T) : value);
  const text = (value: string): string => (redact ? redact(value) : value);
  /**
   * A step's (or an item's) result as stored, into `into`, and whether anything had to be taken out of it.
   * Fields are set one by one rather than spread: a fan-out records thousands of results a second.
   */
  const result = <T extends ResultFields>(into: T, output: unknown, properties: Record<string, unknown> | undefined): T => {
    const cleanOutput = clean(output);
    const cleanProperties = clean(properties);
    if (cleanOutput !== undefined) into.outputJson = JSON.stringify(cleanOutput);
    if (cleanProperties !== undefined) into.propertiesJson = JSON.stringify(cleanProperties);
    if (cleanOutput !== output || cleanProperties !== properties) into.redacted = true;
    return into;
  };
  /** What a step's end and an item's end both say, as stored: tokens, cost, the error and the tries. */
  const ended = <T extends ResultFields>(into: T, event: UnitEnd): T => {
    if (event.usage) into.usage = event.usage;
    if (event.costUsd !== undefined) into.costUsd = event.costUsd;
    if (event.cached) into.cached = true;
    // The run redacts results before its events carry them; it says when it had to.
    if (event.redacted) into.redacted = true;
    if (event.error !== undefined) into.error = text(event.error);
    if (event.errorCode !== undefined) into.errorCode = event.errorCode;
    if (event.hint !== undefined) into.hint = text(event.hint);
    if (event.errorDetail !== undefined) into.errorDetail = text(event.errorDetail);
    if (event.attempts !== undefined) into.attempts = event.attempts;
    if (event.reused) into.reused = true;
    if (event.worker !== undefined) into.worker = event.worker;
    // What it ran with is shown, never reused: taking a secret out of it does not make the result `redacted`.
    if (event.input !== undefined) into.inputJson = JSON.stringify(clean(event.input));
    return into;
  };
  const started = new Map<string, number>();
  /** Items started and not yet ended, by step and index. */
  const itemsStarted = new Map<string, Map<number, number>>();
  const itemCounts = new Map<string, number>();
  const recordedWithRun = new Set<string>();
  /** Items written with the run (see RecorderOptions.reuseItems): a reused `item:end` for one changes nothing. */
  const carried = new Map<string, Set<number>>();
  /** The run's own redactor (see lateRedact), and what was written during the run for it to look at again. */
  const late = options.lateRedact;
  /** Results written during the run, as the events gave them: run:end writes again any a later secret is in. */
  const written: { stepId: string; step?: StepResult; item?: ItemResult; output: unknown; properties: Record<string, unknown> | undefined; input: unknown }[] = [];
  /** Steps with a record from during the run: run:end does not write them again. */
  const recorded = new Set<string>();
  const reusedItem = (index: number, item: ReusableItem): ItemResult => result({ index, key: item.key, status: 'succeeded', reused: true }, item.output, item.properties);

  /** The last write asked for, settled (never rejected: a failure is kept in `failure`). */
  let tail: Promise<void> = Promise.resolve();
  /** Writes asked for and not settled. */
  let unsettled = 0;
  /** The first write that failed, and whether it has been thrown (from an event or by flush). */
  let failure: { error: unknown; thrown: boolean } | undefined;
  const settled = () => {
    unsettled--;
  };
  const failed = (error: unknown) => {
    unsettled--;
    failure ??= { error, thrown: false };
  };
  /** Starts `call` at once: a store applies one object's writes in the order they were called (RunStore). */
  const write = (call: () => Promise<unknown>): void => {
    unsettled++;
    let started: Promise<unknown>;
    try {
      started = call();
    } catch (error) {
      started = Promise.reject(error);
    }
    tail = started.then(settled, failed);
  };
  const throwFailure = () => {
    if (!failure || failure.thrown) return;
    failure.thrown = true;
    throw failure.error;
  };

  const listener = (event: Parameters<RunEventListener>[0]): void => {
    handle(event);
    throwFailure();
  };
  listener.flush = async (): Promise<void> => {
    while (unsettled > 0) await tail;
    throwFailure();
  };
  return listener;

  function handle(event: Parameters<RunEventListener>[0]): void {
    switch (event.type) {
      case 'run:start': {
        const reused = Object.entries(options.reuse ?? {}).map(([stepId, r]) => result({ stepId, status: 'succeeded' as const, reused: true }, r.output, r.properties));
        const reusedItems: NonNullable<NewRun['reusedItems']> = [];
        for (const [stepId, r] of Object.entries(options.reuse ?? {})) if (r.items?.length) reusedItems.push({ stepId, items: r.items.map((item) => reusedItem(item.index, item)) });
        for (const [stepId, items] of Object.entries(options.reuseItems ?? {})) {
          if (items.size === 0 || stepId in (options.reuse ?? {})) continue;
          reusedItems.push({ stepId, items: Array.from(items, ([index, item]) => reusedItem(index, item)) });
          carried.set(stepId, new Set(items.keys()));
        }
        const run: NewRun = {
          id: event.runId,
          workflow: spec.file,
          workflowHash: contentHash(spec.source),
          inputs: clean(event.inputs),
          startedAt: event.at,
          ...(options.resumedFrom ? { resumedFrom: options.resumedFrom } : {}),
          ...(options.settings && Object.keys(options.settings).length ? { options: options.settings } : {}),
          ...(event.secretInputs?.length ? { secretInputs: event.secretInputs } : {}),
          steps: spec.steps.map((s, i) => ({
            stepId: s.id,
            fingerprint: options.fingerprints[i]!,
            dependsOn: spec.plan.steps[s.index]!.dependsOn.map((d) => spec.steps[d]!.id),
          })),
          reused,
          ...(reusedItems.length ? { reusedItems } : {}),
        };
        write(() => store.startRun(run));
        for (const r of reused) recordedWithRun.add(r.stepId);
        break;
      }
      case 'step:start':
        started.set(event.stepId, event.at);
        break;
      case 'step:items':
        itemCounts.set(event.stepId, event.count);
        break;
      case 'item:start': {
        const byIndex = itemsStarted.get(event.stepId);
        if (byIndex) byIndex.set(event.index, event.at);
        else itemsStarted.set(event.stepId, new Map([[event.index, event.at]]));
        break;
      }
      case 'item:end': {
        // Never ran (the budget had no room for its call): nothing to record; a resume runs it.
        if (event.status === 'not_run') break;
        // Already written with the run, with this very key: the run reuses an item only when its key matches.
        if (event.reused && carried.get(event.stepId)?.has(event.index)) break;
        const byIndex = itemsStarted.get(event.stepId);
        const startedAt = byIndex?.get(event.index);
        byIndex?.delete(event.index);
        const item = ended<ItemResult>({ index: event.index, key: event.key, status: event.status }, event);
        if (event.status === 'succeeded') result(item, event.output, event.properties);
        if (startedAt !== undefined) {
          item.startedAt = startedAt;
          item.finishedAt = event.at;
        } else if (event.durationMs !== undefined && !event.reused) {
          item.startedAt = event.at - event.durationMs;
          item.finishedAt = event.at;
        }
        const { runId, stepId } = event;
        write(() => store.recordItem(runId, stepId, item));
        if (late && (event.status === 'succeeded' || event.input !== undefined)) written.push({ stepId: event.stepId, item, output: event.output, properties: event.properties, input: event.input });
        break;
      }
      case 'step:end': {
        recorded.add(event.stepId);
        itemsStarted.delete(event.stepId);
        if (event.reused && recordedWithRun.has(event.stepId)) break;
        const itemCount = event.items?.length ?? itemCounts.get(event.stepId);
        const step = result(ended<StepResult>({ status: event.status }, event), event.output, event.properties);
        const startedAt = started.get(event.stepId);
        if (startedAt !== undefined) {
          step.startedAt = startedAt;
          step.finishedAt = event.at;
        }
        if (event.skipReason) step.skipReason = event.skipReason;
        if (event.continued) step.continued = true;
        if (itemCount !== undefined) step.itemCount = itemCount;
        const { runId, stepId } = event;
        write(() => store.recordStep(runId, stepId, step));
        if (late && (event.output !== undefined || event.properties !== undefined || event.input !== undefined)) written.push({ stepId: event.stepId, step, output: event.output, properties: event.properties, input: event.input });
        break;
      }
      case 'run:end': {
        // Steps left pending when the run stopped get no step:end; their final status (skipped with its reason,
        // not run) is in the report. A step recorded during the run (a skip the run settled as it went) is not
        // written again. The outcome is written even when a step's record fails: whatever can still be is.
        const { runId } = event;
        // A result written before a secret in it was known (a later step sent part of it as a credential) is
        // written again, redacted by everything the run learned.
        for (const w of written) {
          const output = redactDeep(w.output, late!);
          const properties = redactDeep(w.properties, late!);
          const input = redactDeep(w.input, late!);
          const changed = output !== w.output || properties !== w.properties;
          if (!changed && input === w.input) continue;
          // Only a secret in the result makes it `redacted` (never reused); one in the input is only taken out.
          const again: ResultFields = changed ? { ...result({}, output, properties as Record<string, unknown> | undefined), redacted: true } : {};
          if (input !== w.input) again.inputJson = JSON.stringify(input);
          if (w.item) write(() => store.recordItem(runId, w.stepId, { ...w.item!, ...again }));
          else write(() => store.recordStep(runId, w.stepId, { ...w.step!, ...again }));
        }
        for (const [stepId, step] of Object.entries(event.report.steps)) {
          if ((step.status !== 'skipped' && step.status !== 'not_run') || recorded.has(stepId)) continue;
          write(() => store.recordStep(runId, stepId, { status: step.status, ...(step.skipReason ? { skipReason: step.skipReason } : {}) }));
        }
        const outcome = {
          status: event.report.status,
          ...(event.report.error ? { error: text(event.report.error) } : {}),
          finishedAt: event.at,
          outputs: clean(event.report.outputs),
        };
        write(() => store.finishRun(runId, outcome));
        break;
      }
      case 'step:notice':
        break;
    }
  }
}

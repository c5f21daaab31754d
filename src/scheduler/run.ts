/**
 * The run loop. One loop owns all scheduling state (statuses and readiness in RunState, the ready queue, the
 * running count); steps and items only report back. A step starts the moment its own dependencies have settled
 * as its readiness rule wants (state.ts) and a slot is free: no waves, no barriers. Each item of a foreach step
 * is a unit of work of its own — a slot of the run's limit and of its step's, retries, a timeout, a record —
 * and takes its step's place in the queue (critical path first). A unit is marked running before it is
 * started, so it can never start twice.
 */
import { randomUUID } from 'node:crypto';
import type { RunEvent, RunEventListener } from '../core/events.ts';
import { ConductorError, UsageError } from '../core/errors.ts';
import { sumUsage, type BudgetReport, type RunReport } from '../core/report.ts';
import type { RunStatus, SkipReason } from '../core/status.ts';
import type { ConditionSpec, StepSpec, WorkflowSpec } from '../definition/types.ts';
import { evaluateCondition, type ConditionStep, type ConditionVariables } from '../condition/index.ts';
import type { Reference } from '../template/parse.ts';
import { referencesOf, resolveReference, resolveValue, type TemplateValue } from '../template/value.ts';
import { CancelScope } from './cancel-scope.ts';
import { ReadyQueue } from './ready-queue.ts';
import { secretInputName } from './secrets.ts';
import { leaves, MIN_GUESSED, MIN_NAMED } from '../core/redact.ts';
import { Lingering, lingerMs, type StepEnvironment, type StepOutcome } from './step-runner.ts';
import { Fanout, listProblem } from './fanout.ts';
import { prepareRun, type PrepareOptions, type PreparedRun } from './prepare.ts';
import { itemFingerprint } from '../store/fingerprint.ts';
import { UNREUSABLE } from '../store/resume.ts';
import type { Budget, CachedResult, Pricing, StepCache } from './hooks.ts';
import { RunState } from './state.ts';
import { localExecutor, type StepExecutor } from './executor.ts';
import { errorFields, RunResults, type StepFailure } from './results.ts';

export interface RunOptions extends PrepareOptions {
  /**
   * Aborting it cancels the run like Ctrl-C: in-flight steps are aborted, nothing new starts. Aborted with a
   * `ConductorError` as the reason (other than `interrupted`), the run fails with that error instead (the
   * store behind a listener failed, say).
   */
  signal?: AbortSignal;
  /**
   * Receives every event, synchronously, in order. Events carry no secret (see `secrets`). A listener that
   * throws ends the run: in-flight steps are aborted and waited for, and the run fails with that error.
   */
  onEvent?: RunEventListener;
  runId?: string;
  /**
   * Steps already done in an earlier run (`resume`): they are not executed; their recorded results feed the
   * steps that use them.
   */
  reuse?: Readonly<Record<string, { output: unknown; properties?: Record<string, unknown> }>>;
  /**
   * Items of foreach steps that run again, done in an earlier run (`resume`), by step id and item index: an
   * item is taken instead of run only when its `key` (see the `item:end` event) is the one this run computes —
   * the same value at the same index, with the same other values.
   */
  reuseItems?: Readonly<Record<string, ReadonlyMap<number, ReusableItem>>>;
  /** Prices of model tokens (src/cost/): without them every cost is unknown (null), never $0. */
  pricing?: Pricing;
  /** The step cache (src/cache/), when caching is on. */
  cache?: StepCache;
  /** The run's budget (src/cost/): each model call is reserved against it; a call that does not fit stops the run. */
  budget?: Budget;
  /** Where steps run (see executor.ts): in this process unless the composition root chose workers. */
  executor?: StepExecutor;
  /**
   * The run this one resumes (`resume`): an executor may take over what that run left in flight (a queue's
   * jobs still running on workers after their coordinator died) instead of starting it again.
   */
  resumedFrom?: string;
}

export interface ReusableItem {
  key: string;
  output: unknown;
  properties?: Record<string, unknown>;
}

/** A unit of work that ended: a step, or one item of a foreach step. */
interface Completion {
  index: number;
  item?: number;
  outcome: StepOutcome;
}


/** Prepare the run (`prepareRun`) and run it: the library's one call. */
export async function runWorkflow(spec: WorkflowSpec, options: RunOptions = {}): Promise<RunReport> {
  return runPrepared(prepareRun(spec, options), options);
}

/** What a prepared run is started with: how it is stopped and watched, and what it takes from an earlier one. */
export type RunControls = Pick<RunOptions, 'signal' | 'onEvent' | 'runId' | 'reuse' | 'reuseItems' | 'pricing' | 'cache' | 'budget' | 'executor' | 'resumedFrom'>;

/** Runs a prepared run (see prepare.ts); the CLI prepares once, records by the fingerprints, then calls this. */
export async function runPrepared(prepared: PreparedRun, options: RunControls = {}): Promise<RunReport> {
  const { spec, limit, env, inputs, stepActions, defaults, secrets, credentials } = prepared;
  const steps = spec.steps;
  const plan = spec.plan;
  const n = steps.length;

  // Clients are loaded now, for the actions this workflow uses: no step's recorded time includes loading one.
  await Promise.all([...new Set(stepActions)].map((action) => action.prepare?.()));

  const runId = options.runId ?? randomUUID();
  const redact = secrets.redact;
  const controller = new AbortController();
  // A listener that throws (a store that failed, a reporter with a bug) must not leave steps running behind
  // a rejected promise: the run stops the way a failed step stops it, and ends with that error.
  let listenerFailure: ConductorError | undefined;
  const emit = (event: RunEvent) => {
    try {
      options.onEvent?.(event);
    } catch (error) {
      if (listenerFailure) return;
      listenerFailure = asRunError(error, redact);
      controller.abort(listenerFailure);
    }
  };

  // Run state, owned by this function alone: statuses and readiness in `state`, results in `results`.
  const state = new RunState(
    plan,
    steps.map((s) => (s.condition ? new Set(s.condition.statusOf.map((id) => plan.byId.get(id)!)) : undefined)),
  );
  const results = new RunResults(steps, stepActions, secrets, state, options.pricing);
  const { outputs, properties, started, finished, attempts, reused, fanouts } = results;
  /** 1 while a step is in the ready queue: a foreach step goes back in while it has items to start. */
  const queued = new Uint8Array(n);
  const ready = new ReadyQueue(prepared.priority);
  /** Steps whose dependencies have all settled: each is admitted (run, condition, or skip) in turn. */
  const settledDeps: number[] = [];
  // A loop, not `push(...list)`: a spread of 150,000 steps overflows the call's arguments.
  const due = (list: readonly number[]) => {
    for (const d of list) settledDeps.push(d);
  };
  for (const [id, result] of Object.entries(options.reuse ?? {})) {
    const i = plan.byId.get(id);
    if (i === undefined) throw new UsageError(`cannot reuse \`${id}\`: the workflow has no such step`);
    reused[i] = 1;
    outputs[i] = result.output;
    properties[i] = result.properties;
  }
  for (const id of Object.keys(options.reuse ?? {})) {
    // A reused result stands for what its dependencies were then; they must be reused too.
    const missing = plan.steps[plan.byId.get(id)!]!.dependsOn.find((d) => !reused[d]);
    if (missing !== undefined) throw new UsageError(`cannot reuse \`${id}\` while \`${steps[missing]!.id}\`, which it depends on, runs again`);
  }
  for (let i = 0; i < n; i++) if (reused[i]) due(state.settle(i, 'succeeded'));
  due(state.roots());

  let interrupted = false;
  let externalFailure: ConductorError | undefined;
  const onExternalAbort = () => {
    const reason: unknown = options.signal?.reason;
    if (reason instanceof ConductorError && reason.code !== 'interrupted') externalFailure = asRunError(reason, redact);
    else interrupted = true;
    controller.abort(reason ?? new ConductorError('interrupted', 'the run was interrupted'));
  };
  if (options.signal?.aborted) onExternalAbort();
  else options.signal?.addEventListener('abort', onExternalAbort, { once: true });

  const lookup = (ref: Reference): unknown => {
    switch (ref.root) {
      case 'inputs':
        return inputs[ref.name];
      case 'env':
        return env[ref.name];
      case 'steps':
        return results.lookup(plan.byId.get(ref.step)!, ref);
      default:
        // `${item}` and `${foreach.*}` are resolved by each item's own lookup (see `itemLookup`).
        return undefined;
    }
  };
  const itemLookup = (fanout: Fanout, index: number) => (ref: Reference): unknown => {
    if (ref.root === 'item') return fanout.list[index];
    if (ref.root === 'foreach') return ref.name === 'index' ? index : fanout.count;
    return lookup(ref);
  };

  const completions: Completion[] = [];
  let wake: (() => void) | undefined;
  const environment: StepEnvironment = {
    scope: new CancelScope(controller.signal),
    baseDir: spec.baseDir,
    allowedDirs: spec.config.allowedDirs,
    allowedHosts: spec.config.allowedHosts,
    env,
    defaults: { ...defaults, ...(spec.config.timeout ? { timeout: spec.config.timeout } : {}) },
    runScope: new Map(),
    lingering: new Lingering(),
    ...(options.cache ? { cache: options.cache } : {}),
    ...(options.budget ? { budget: options.budget } : {}),
    notify: (stepId, notice) => emit({ type: 'step:notice', runId, stepId, notice: { ...notice, reason: redact(notice.reason) }, at: Date.now() }),
    secrets,
  };
  // Over a list a step's output made, a foreach item is data: it may not choose a destination (see confine.ts).
  // In a list written in the workflow, each item is decided on its own: the author's, unless it holds a step's value.
  const dataEnvironment: StepEnvironment = { ...environment, itemIsData: true };
  const fromSteps = (value: TemplateValue) => referencesOf(value).some((r) => r.root === 'steps');
  const itemEnvironment = (step: StepSpec, index: number): StepEnvironment => {
    const items = step.foreach!.items;
    if (items.kind === 'array') return items.items[index] && fromSteps(items.items[index]!) ? dataEnvironment : environment;
    return fromSteps(items) ? dataEnvironment : environment;
  };

  // Opened before the run starts: a queue that cannot be reached fails the run before anything is recorded.
  const executor = await (options.executor ?? localExecutor).open({ runId, prepared, signal: controller.signal, ...(options.resumedFrom ? { resumedFrom: options.resumedFrom } : {}), ...(options.budget ? { budget: options.budget } : {}), ...(options.cache ? { cache: options.cache } : {}) }).catch((error: unknown) => {
    options.signal?.removeEventListener('abort', onExternalAbort);
    throw error;
  });

  const startedAt = Date.now();
  // A secret input is never shown, whatever its length: `-i db_password=abc` is masked by its name.
  const secretInputs = Object.keys(inputs).filter(secretInputName);
  const shownInputs = secrets.redactValue({ ...inputs, ...Object.fromEntries(secretInputs.map((name) => [name, '***'])) }).value;
  emit({ type: 'run:start', runId, workflow: spec.file, stepIds: steps.map((s) => s.id), maxConcurrency: limit, inputs: shownInputs, ...(secretInputs.length ? { secretInputs } : {}), at: startedAt });
  for (let i = 0; i < n; i++) {
    if (reused[i]) emit({ type: 'step:end', runId, stepId: steps[i]!.id, status: 'succeeded', at: startedAt, ...results.show(i), reused: true });
  }

  let running = 0;
  let stopping = controller.signal.aborted;
  /** Results for the step cache, kept when the run ends (see `keep`). */
  const toKeep: [key: string, entry: CachedResult][] = [];
  let failure: number | undefined;
  /** The budget stopped the run: nothing new starts, and what is in flight finishes (its money is spent). */
  let overBudget = false;
  const budgetStop = () => {
    if (stopping) return;
    stopping = true;
    overBudget = true;
  };
  const continuedSteps: number[] = [];
  const enqueue = (i: number) => {
    if (queued[i]) return;
    queued[i] = 1;
    ready.push(i);
  };
  admit();
  for (;;) {
    // A listener that threw on step:start aborted the run inside this loop: nothing more starts.
    while (!stopping && !controller.signal.aborted && running < limit && ready.size > 0) {
      const i = ready.pop()!;
      queued[i] = 0;
      if (!steps[i]!.foreach) {
        startStep(i);
        continue;
      }
      const fanout = fanouts[i] ?? expand(i);
      if (!fanout) {
        admit(); // settled at once (a list that was empty, wrong, or reused whole): its dependents are due
        continue;
      }
      startItem(fanout);
      // Items take the step's priority: it goes back in the queue while it may start more.
      if (fanout.canStart) enqueue(i);
    }
    if (running === 0) break;
    if (completions.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
    // Drain every completion that arrived; each may free a slot and make dependents ready.
    for (let c = completions.shift(); c; c = completions.shift()) {
      running--;
      if (c.item === undefined) stepEnded(c.index, c.outcome);
      else itemEnded(fanouts[c.index]!, c.item, c.outcome);
      // A call's real usage crossed the budget (one without `maxTokens`): nothing new starts.
      if (options.budget?.exceeded) budgetStop();
    }
    if (controller.signal.aborted) stopping = true;
    admit();
  }
  options.signal?.removeEventListener('abort', onExternalAbort);
  await executor.close();
  // Actions given up on (a timeout, the run's fail-fast) may still be ending what they started: a command's
  // processes. The run is not over until they have.
  await environment.lingering.drain(lingerMs(stepActions));

  // Results for the step cache, unless a secret learned since turns up in one. A store that cannot keep one
  // costs a miss next time, nothing more: the run's own record fails the run if the store is broken.
  for (const [key, entry] of toKeep) {
    if (secrets.redactValue({ output: entry.output, properties: entry.properties }).redacted) continue;
    await options.cache!.put(key, entry).catch(() => {});
  }

  // Foreach steps the run stopped while they had items left: settled now, their unstarted items `not_run`.
  for (const fanout of fanouts) if (fanout && state.status[fanout.step] === 'running') settleFanout(fanout);
  // Steps that never started: `skipped` (with why) if something they depend on did not succeed, else `not_run`.
  state.finish();

  // What stopped the run: a step's failure first (it came first), then the run's own (a listener, the store).
  const runFailure = failure === undefined ? (listenerFailure ?? externalFailure) : undefined;
  // Over budget, but only if the budget left something undone: a last call that crossed it with nothing after
  // it leaves a run that did everything (its report still says what was spent).
  const leftUndone = overBudget && steps.some((_, i) => state.status[i] === 'not_run' || state.status[i] === 'cancelled');
  const runStatus: RunStatus = failure !== undefined || runFailure ? 'failed' : leftUndone ? 'budget_exceeded' : interrupted ? 'cancelled' : 'succeeded';
  const failed = failure === undefined ? undefined : results.errors[failure]!;
  const budget = runStatus === 'budget_exceeded' ? options.budget!.report() : undefined;
  let runError = failed
    ? `${steps[failure!]!.id}: ${failed.message}`
    : runFailure
      ? runFailure.message
      : budget
        ? `the budget stopped the run (${budgetSpent(budget)})`
        : interrupted
          ? 'the run was interrupted'
          : undefined;
  let finalOutputs: Record<string, unknown> = {};
  if (runStatus === 'succeeded') {
    try {
      // A skipped step's output is null (see RunResults.lookup): not a failure of a run that succeeded.
      finalOutputs = secrets.redactValue(Object.fromEntries(Object.entries(spec.outputs).map(([name, value]) => [name, resolveValue(value, lookup)]))).value;
    } catch (error) {
      runError = `outputs: ${redact((error as Error).message)}`;
    }
  }
  const runHint = failed ? failed.hint : (runFailure?.hint ?? (budget ? 'resume it with a larger budget (`conductor resume <run-id> --max-cost N`): what is done is not paid again' : undefined));
  const finishedAt = Date.now();
  const continued = continuedSteps.sort((a, b) => a - b).map((i) => steps[i]!.id);
  const report: RunReport = {
    runId,
    workflow: spec.file,
    status: runError && runStatus === 'succeeded' ? 'failed' : runStatus,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    durationMs: finishedAt - startedAt,
    steps: Object.fromEntries(steps.map((s, i) => [s.id, results.report(i)])),
    outputs: finalOutputs,
    usage: results.usage(),
    cost: results.cost(),
    ...(options.cache ? { cache: results.cacheSavings() } : {}),
    ...(budget ? { budget } : {}),
    ...(runError ? { error: runError } : {}),
    ...(runFailure ? { errorCode: runFailure.code } : {}),
    ...(runError && runHint ? { hint: runHint } : {}),
    ...(continued.length ? { continued } : {}),
  };
  const failedBefore = listenerFailure;
  emit({ type: 'run:end', runId, report, at: finishedAt });
  // The last event's listener failed (the store could not record the end): the run is not what it says.
  if (listenerFailure && !failedBefore) return { ...report, status: 'failed', error: listenerFailure.message, errorCode: listenerFailure.code, ...(listenerFailure.hint ? { hint: listenerFailure.hint } : {}) };
  return report;

  /**
   * Every step whose dependencies have all settled goes where the readiness rule sends it: into the ready
   * queue, through its condition first, or skipped (which settles it, and may free its own dependents).
   * A worklist, not recursion: a skip can cascade down a chain of thousands of steps.
   */
  function admit(): void {
    for (let i = settledDeps.pop(); i !== undefined; i = settledDeps.pop()) {
      if (stopping || state.status[i] !== 'pending') continue; // a stopping run settles what is left at the end
      const readiness = state.readiness(i);
      if (readiness.kind === 'skip') skip(i, readiness.reason);
      else if (readiness.kind === 'run') enqueue(i);
      else {
        const result = evaluateCondition(steps[i]!.condition!, conditionVariables(steps[i]!.condition!));
        if (!result.ok) failBeforeStart(i, { code: result.code, message: `if: ${result.message}`, ...(result.hint ? { hint: result.hint } : {}) });
        else if (result.value) enqueue(i);
        else skip(i, 'condition');
      }
    }
  }

  function skip(i: number, reason: SkipReason): void {
    due(state.settle(i, 'skipped', { skipReason: reason }));
    emit({ type: 'step:end', runId, stepId: steps[i]!.id, status: 'skipped', skipReason: reason, at: Date.now() });
  }

  /** What a condition reads: the steps it names, the inputs, and only the environment variables it names. */
  function conditionVariables(condition: ConditionSpec): ConditionVariables {
    const stepValues: Record<string, ConditionStep> = {};
    for (const id of condition.steps) stepValues[id] = results.conditionStep(plan.byId.get(id)!);
    return { steps: stepValues, inputs, env: Object.fromEntries(condition.env.map((name) => [name, env[name]])) };
  }

  function startStep(i: number): void {
    state.start(i);
    running++;
    started[i] = Date.now();
    emit({ type: 'step:start', runId, stepId: steps[i]!.id, at: started[i]! });
    // runStep turns every failure into an outcome; a bug that still throws must not leave the run hanging.
    track(executor.run({ step: steps[i]!, action: stepActions[i]!, lookup, environment }), { index: i });
  }

  function track(work: Promise<StepOutcome>, unit: Omit<Completion, 'outcome'>): void {
    const report = (outcome: StepOutcome) => {
      completions.push({ ...unit, outcome });
      wake?.();
    };
    work.then(report, (error: unknown) =>
      report({ status: 'failed', error: { code: 'internal_error', message: `internal error: ${(error as Error)?.message ?? String(error)}`, retryable: false, cause: error } }),
    );
  }

  /**
   * A foreach step takes its list when its first item is about to start: resolved, checked, and its items
   * taken from an earlier run where they match. Undefined when that settles the step at once.
   */
  function expand(i: number): Fanout | undefined {
    const step = steps[i]!;
    const foreach = step.foreach!;
    state.start(i);
    started[i] = Date.now();
    emit({ type: 'step:start', runId, stepId: step.id, at: started[i]! });
    let list: unknown;
    try {
      list = resolveValue(foreach.items, lookup);
    } catch (error) {
      failStarted(i, { code: 'template', message: `foreach: ${(error as Error).message}` });
      return undefined;
    }
    const problem = listProblem(list, spec.config.maxItems);
    if (problem || !Array.isArray(list)) {
      failStarted(i, problem!);
      return undefined;
    }
    const fanout = new Fanout(i, list, foreach.maxConcurrency ?? Infinity, baseKey(step, list.length));
    fanouts[i] = fanout;
    emit({ type: 'step:items', runId, stepId: step.id, count: list.length, at: Date.now() });
    const reusable = options.reuseItems?.[step.id];
    if (reusable) {
      for (let k = 0; k < list.length; k++) {
        const before = reusable.get(k);
        if (!before) continue;
        const key = itemKey(fanout, k);
        if (before.key !== key) continue;
        fanout.reuse(k, before.output, before.properties);
        emit({ type: 'item:end', runId, stepId: step.id, index: k, key, status: 'succeeded', at: Date.now(), ...results.showItem(i, before.output, before.properties), reused: true });
      }
    }
    if (fanout.done) {
      settleFanout(fanout);
      return undefined;
    }
    return fanout;
  }

  /**
   * An item's key (see Fanout.key). An item that is, or holds, a secret gets one that matches nothing: with the
   * secret replaced, every secret value would have the same key, and a resume would hand one account's result to
   * another. So does a value too deep to hash.
   */
  function itemKey(fanout: Fanout, index: number): string {
    const shown = secrets.redactValue(fanout.list[index]);
    try {
      if (!shown.redacted) return fanout.key(shown.value);
    } catch {
      // nested past what JSON.stringify can walk: not reusable, like a secret
    }
    return `${UNREUSABLE}${randomUUID()}`;
  }

  /** Hash of what a foreach step's items do besides their own value: with the item, an item's `key`. */
  function baseKey(step: StepSpec, count: number): string {
    const refs = referencesOf(step.input);
    const values = refs
      .filter((r) => r.root === 'steps' || r.root === 'inputs' || r.root === 'env')
      .map((r) => {
        const value = lookup(r);
        return [JSON.stringify(r), r.root === 'env' ? (value === undefined ? null : redact(String(value))) : secrets.redactValue(value ?? null).value];
      });
    // What each item does (the block as written, the action's version, its model…: the part of the step's
    // fingerprint that is not about the list), so an edited step never takes an item recorded before the edit.
    // `${foreach.count}` makes an item's input depend on the list's length ("item 1 of 3" is not "item 1 of 4").
    const usesCount = refs.some((r) => r.root === 'foreach' && r.name === 'count');
    return JSON.stringify([step.id, itemFingerprint(prepared.fingerprints[step.index]!), values, usesCount ? count : null]);
  }

  function startItem(fanout: Fanout): void {
    const at = Date.now();
    const index = fanout.start(at);
    running++;
    const step = steps[fanout.step]!;
    emit({ type: 'item:start', runId, stepId: step.id, index, at });
    track(executor.run({ step, action: stepActions[fanout.step]!, lookup: itemLookup(fanout, index), environment: itemEnvironment(step, index), item: { index, key: () => itemKey(fanout, index) } }), { index: fanout.step, item: index });
  }

  function itemEnded(fanout: Fanout, index: number, outcome: StepOutcome): void {
    const i = fanout.step;
    const step = steps[i]!;
    const at = Date.now();
    const tries = outcome.attempts ?? 1;
    if (outcome.worker !== undefined) fanout.workers[index] = outcome.worker;
    const ended = { type: 'item:end' as const, runId, stepId: step.id, index, key: itemKey(fanout, index), at, durationMs: at - fanout.started[index]!, attempts: tries, ...(outcome.worker === undefined ? {} : { worker: outcome.worker }) };
    // Shown once the result's own credentials are known (learnSecrets), as the result is.
    const input = (): { input?: unknown } => (outcome.input === undefined ? {} : { input: results.keepItemInput(fanout, index, outcome.input) });
    if (outcome.status === 'not_run') {
      // The budget had no room for its call: it never ran, and stays for a resume to run.
      fanout.unstart(index);
      emit({ ...ended, status: 'not_run', attempts: 0 });
      budgetStop();
    } else if (outcome.status === 'succeeded') {
      fanout.succeed(index, at, tries, outcome.output, outcome.properties, outcome.usage);
      if (outcome.cached) fanout.cached[index] = 1;
      learnSecrets(i, outcome.output, outcome.properties, index);
      const shown = results.showItem(i, outcome.output, outcome.properties);
      emit({ ...ended, status: 'succeeded', ...input(), ...shown, ...results.unitCost(outcome) });
      keep(outcome, shown.redacted);
    } else if (outcome.status === 'failed') {
      const { code, message, hint, detail } = outcome.error;
      const error = { code, message: redact(message), ...(hint ? { hint: redact(hint) } : {}), ...(detail === undefined ? {} : { detail: redact(detail) }) };
      fanout.fail(index, at, tries, error);
      // A failed call is often paid for all the same: its tokens count.
      if (outcome.usage) fanout.usage[index] = outcome.usage;
      emit({ ...ended, status: 'failed', ...input(), ...errorFields(error), ...results.unitCost(outcome) });
      // A retry the budget had no room for: the budget stops the run; what is in flight finishes, paid for.
      if (code === 'budget_exceeded') budgetStop();
      else if (!step.continueOnError && !stopping) {
        fanout.fatal = index;
        stop(i);
      }
    } else {
      fanout.cancel(index, at, tries);
      emit({ ...ended, status: 'cancelled', ...input() });
    }
    if (fanout.done || (stopping && fanout.running === 0)) settleFanout(fanout);
    else if (!stopping && fanout.canStart) enqueue(i);
  }

  /** A foreach step whose items have all ended (or whose run stopped): its result, from theirs. */
  function settleFanout(fanout: Fanout): void {
    const i = fanout.step;
    const status = fanout.outcome();
    finished[i] = Date.now();
    outputs[i] = fanout.outputs;
    properties[i] = fanout.mergedProperties();
    const usage = sumUsage(fanout.usage);
    const allCached = fanout.done && fanout.count > 0 && fanout.cached.every((c) => c === 1);
    const failedItems = status === 'failed' ? fanout.error() : undefined;
    const error = failedItems ? results.fail(i, failedItems) : undefined;
    const continuedHere = status === 'failed' && fanout.fatal === undefined && steps[i]!.continueOnError;
    if (continuedHere) continuedSteps.push(i);
    const shown = results.show(i);
    due(state.settle(i, status, { continued: continuedHere }));
    emit({
      type: 'step:end',
      runId,
      stepId: steps[i]!.id,
      status,
      at: finished[i]!,
      durationMs: finished[i]! - started[i]!,
      ...errorFields(error),
      ...(status !== 'cancelled' ? shown : {}),
      ...(usage ? { usage, costUsd: results.stepCost(i) } : {}),
      ...(allCached ? { cached: true as const } : {}),
      ...(continuedHere ? { continued: true as const } : {}),
      // Settled above: the summaries are made once here and kept for `${steps.<id>.items}` and conditions.
      items: results.summariesOf(i)!,
    });
  }

  function stepEnded(i: number, outcome: StepOutcome): void {
    finished[i] = Date.now();
    attempts[i] = outcome.status === 'not_run' ? 0 : (outcome.attempts ?? 1);
    if (outcome.worker !== undefined) results.workers[i] = outcome.worker;
    let continuedHere = false;
    let shown: ReturnType<RunResults['show']> | undefined;
    if (outcome.status === 'not_run') {
      // The budget had no room for its call: it never ran (no time, no attempt), and stays for a resume to run.
      const at = finished[i]!;
      started[i] = 0;
      finished[i] = 0;
      due(state.settle(i, 'not_run'));
      emit({ type: 'step:end', runId, stepId: steps[i]!.id, status: 'not_run', at });
      budgetStop();
      return;
    }
    if (outcome.status === 'succeeded') {
      outputs[i] = outcome.output;
      properties[i] = outcome.properties;
      results.usages[i] = outcome.usage;
      if (outcome.cached) results.cached[i] = 1;
      learnSecrets(i, outcome.output, outcome.properties);
      shown = results.show(i);
      keep(outcome, shown.redacted);
    } else if (outcome.status === 'failed') {
      results.fail(i, outcome.error);
      results.usages[i] = outcome.usage;
      continuedHere = steps[i]!.continueOnError && !stopping;
      if (continuedHere) continuedSteps.push(i);
    }
    // Shown once the result's own credentials are known (learnSecrets), as the result is.
    const input = outcome.input === undefined ? undefined : results.keepInput(i, outcome.input);
    due(state.settle(i, outcome.status, { continued: continuedHere }));
    emit({
      type: 'step:end',
      runId,
      stepId: steps[i]!.id,
      status: outcome.status,
      at: finished[i]!,
      durationMs: finished[i]! - started[i]!,
      attempts: attempts[i]!,
      ...(outcome.worker === undefined ? {} : { worker: outcome.worker }),
      ...(input === undefined ? {} : { input }),
      ...errorFields(results.errors[i]),
      ...shown,
      ...(outcome.status === 'succeeded' || outcome.status === 'failed' ? results.unitCost(outcome) : {}),
      ...(continuedHere ? { continued: true as const } : {}),
    });
    if (outcome.status === 'failed' && outcome.error.code === 'budget_exceeded') budgetStop();
    else if (outcome.status === 'failed' && !continuedHere && !stopping) stop(i);
  }

  /**
   * Keeps a result for the step cache when it may be: the step sent something cacheable, and nothing in the
   * result was a secret (a redacted result is never handed back). Kept when the run ends, once more checked
   * against every secret the run learned (a later step may send a value of it as a credential).
   */
  function keep(outcome: StepOutcome & { status: 'succeeded' }, redacted: true | undefined): void {
    if (!options.cache || outcome.cacheKey === undefined || redacted) return;
    const cost = outcome.usage ? results.costOf(outcome.usage) : undefined;
    const entry = {
      output: outcome.output,
      ...(outcome.properties ? { properties: outcome.properties } : {}),
      ...(outcome.usage ? { usage: outcome.usage } : {}),
      ...(cost === undefined ? {} : { costUsd: cost }),
    };
    toKeep.push([outcome.cacheKey, entry]);
  }

  /** A step failed before it could start (its condition could not be decided): it ends failed, without a slot. */
  function failBeforeStart(i: number, error: StepFailure): void {
    state.start(i);
    started[i] = Date.now();
    emit({ type: 'step:start', runId, stepId: steps[i]!.id, at: started[i]! });
    failStarted(i, error);
  }

  /** A started step that fails without running its action (a foreach list that is not one, say). */
  function failStarted(i: number, error: StepFailure): void {
    finished[i] = Date.now();
    const recorded = results.fail(i, error);
    const continuedHere = steps[i]!.continueOnError && !stopping;
    if (continuedHere) continuedSteps.push(i);
    due(state.settle(i, 'failed', { continued: continuedHere }));
    emit({ type: 'step:end', runId, stepId: steps[i]!.id, status: 'failed', at: finished[i]!, durationMs: finished[i]! - started[i]!, ...errorFields(recorded), ...(continuedHere ? { continued: true as const } : {}) });
    if (!continuedHere && !stopping) stop(i);
  }

  /** Fail fast: nothing new starts, and everything in flight is aborted through its signal. */
  function stop(i: number): void {
    failure = i;
    stopping = true;
    controller.abort(new ConductorError('run_failed', `step \`${steps[i]!.id}\` failed`));
  }

  /** Credentials a step's result holds: secrets from now on, wherever they turn up. */
  /** Credentials a result holds (a step's, or item `index` of a foreach step's): secrets from now on. */
  function learnSecrets(i: number, output: unknown, props: Record<string, unknown> | undefined, index?: number): void {
    // A session cookie or token the step received is a secret from now on, wherever it turns up.
    for (const [value, named] of stepActions[i]!.resultSecrets?.({ output, ...(props ? { properties: props } : {}) }) ?? []) secrets.add(value, named ? MIN_NAMED : MIN_GUESSED);
    // Parts of the result another step sends as a credential, masked before this result is shown. For an
    // item, only its own part of the step's result (`${steps.x.output}` is every item; `…output[3]…` one):
    // reading the whole array at every item would cost the square of the items.
    for (const { ref, raw } of credentials.get(i) ?? []) {
      try {
        const part = index === undefined ? resolveReference(ref, raw, lookup) : itemPart(ref, index, output, props);
        for (const leaf of leaves(part)) secrets.add(leaf, MIN_NAMED);
      } catch {
        // the part another step sends is missing: that step fails on it, and there is nothing to mask
      }
    }
  }

  /** What of item `index`'s result a reference into its foreach step's result reads (undefined: none of it). */
  function itemPart(ref: Reference, index: number, output: unknown, props: Record<string, unknown> | undefined): unknown {
    if (ref.root !== 'steps') return undefined;
    const [first, ...rest] = ref.path;
    const value = ref.property === 'output' ? output : props?.[ref.property];
    if (first === undefined) return value;
    if (first !== index) return undefined;
    return resolveReference({ ...ref, path: rest }, '', () => value);
  }
}

/** A listener's or the store's failure as the run's error: typed, one line, no secret. */
function asRunError(error: unknown, redact: (text: string) => string): ConductorError {
  if (error instanceof ConductorError) {
    return new ConductorError(error.code, redact(error.message), { ...(error.hint ? { hint: redact(error.hint) } : {}), cause: error });
  }
  const message = (error as Error)?.message ?? String(error);
  return new ConductorError('listener_failed', `an event listener failed: ${redact(message)}`, { cause: error });
}

/** What a budget report says was spent, against what was allowed ("$0.0120 of $0.01"). */
function budgetSpent(budget: BudgetReport): string {
  const parts: string[] = [];
  if (budget.usd !== undefined) parts.push(`$${budget.spentUsd.toFixed(4)} spent of $${budget.usd}`);
  if (budget.tokens !== undefined) parts.push(`${budget.spentTokens} tokens of ${budget.tokens}`);
  return parts.join(', ') || 'spent what it allowed';
}

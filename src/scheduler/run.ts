/**
 * The run loop. One loop owns all scheduling state (statuses, the ready queue, the running count); steps only
 * report back. A step starts the moment its own dependencies have succeeded and a slot is free: no waves, no
 * barriers. A step is marked running before it is started, so it can never start twice.
 */
import { randomUUID } from 'node:crypto';
import { builtinActions } from '../actions/builtin.ts';
import type { ActionRegistry } from '../actions/registry.ts';
import type { RunEvent, RunEventListener } from '../core/events.ts';
import { ConductorError, UsageError } from '../core/errors.ts';
import type { ModelUsage, RunReport, StepReport } from '../core/report.ts';
import type { RunStatus, StepStatus } from '../core/status.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import { weightedRemaining } from '../graph/plan.ts';
import type { Reference } from '../template/parse.ts';
import { resolveReference, resolveValue } from '../template/value.ts';
import { resolveInputs } from './inputs.ts';
import { checkBeforeRun, preflightContext } from './preflight.ts';
import { CancelScope } from './cancel-scope.ts';
import { ReadyQueue } from './ready-queue.ts';
import { credentialSources, runSecrets, secretInputName } from './secrets.ts';
import { leaves, MIN_GUESSED, MIN_NAMED, Secrets } from '../core/redact.ts';
import { expectedDurations } from './durations.ts';
import { runStep, type StepEnvironment, type StepOutcome } from './step-runner.ts';

export interface RunOptions {
  /** Input values by name (text is typed per the workflow's `inputs`). */
  inputs?: Readonly<Record<string, unknown>>;
  /**
   * Aborting it cancels the run like Ctrl-C: in-flight steps are aborted, nothing new starts. Aborted with a
   * `ConductorError` as the reason (other than `interrupted`), the run fails with that error instead (the
   * store behind a listener failed, say).
   */
  signal?: AbortSignal;
  /** Overrides `config.maxConcurrency`. */
  maxConcurrency?: number;
  /**
   * Receives every event, synchronously, in order. Events carry no secret (see `secrets`). A listener that
   * throws ends the run: in-flight steps are aborted and waited for, and the run fails with that error.
   */
  onEvent?: RunEventListener;
  /**
   * The run's secret values, when the caller wants to share them (the CLI redacts what it prints and stores
   * with the same set). The run adds every secret it knows of or learns; events, errors and the report come
   * with each one replaced by `***`.
   */
  secrets?: Secrets;
  actions?: ActionRegistry;
  /** Environment for `${env.*}` and providers (default: `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default model when neither the step nor `config.model` names one (the CLI's `--model`). */
  model?: string;
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
  /**
   * Step durations in ms from earlier runs of the same steps. The ready queue puts the longest remaining path
   * *in time* first; steps without one count as other steps of their action did, else as the action's
   * typical duration (see `expectedDurations`).
   */
  estimates?: Readonly<Record<string, number>>;
}

export interface ReusableItem {
  key: string;
  output: unknown;
  properties?: Record<string, unknown>;
}

interface Completion {
  index: number;
  outcome: StepOutcome;
}

export async function runWorkflow(spec: WorkflowSpec, options: RunOptions = {}): Promise<RunReport> {
  const limit = options.maxConcurrency ?? spec.config.maxConcurrency;
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`Expected \`maxConcurrency\` to be an integer ≥ 1, got \`${String(limit)}\``);
  const env = options.env ?? process.env;
  const inputs = resolveInputs(spec, options.inputs);
  const actions = options.actions ?? builtinActions();
  const steps = spec.steps;
  const plan = spec.plan;
  const n = steps.length;
  const stepActions = steps.map((s) => {
    const action = actions.get(s.action);
    if (!action) throw new UsageError(`step \`${s.id}\` uses the action \`${s.action}\`, which is not registered`);
    return action;
  });

  const { defaults } = preflightContext(spec, env, { ...(options.model ? { model: options.model } : {}), maxConcurrency: limit });
  checkBeforeRun(spec, stepActions, { env, defaults });

  // Clients are loaded now, for the actions this workflow uses: no step's recorded time includes loading one.
  await Promise.all([...new Set(stepActions)].map((action) => action.prepare?.()));

  const runId = options.runId ?? randomUUID();
  const secrets = runSecrets(spec, env, inputs, stepActions, options.secrets);
  // Results that other steps send as credentials (a login's token): masked in the result itself.
  const credentials = credentialSources(spec, stepActions);
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

  // Run state, owned by this function alone.
  const status: StepStatus[] = new Array<StepStatus>(n).fill('pending');
  const outputs: unknown[] = new Array(n);
  const properties: (Record<string, unknown> | undefined)[] = new Array(n);
  const started = new Float64Array(n);
  const finished = new Float64Array(n);
  const errors: ({ code: string; message: string; hint?: string; detail?: string } | undefined)[] = new Array(n);
  const attempts = new Int32Array(n);
  const waitingOn = Int32Array.from(plan.steps, (s) => s.dependsOn.length);
  const expected = expectedDurations(steps, stepActions, options.estimates);
  const priority = weightedRemaining(plan, expected);
  const ready = new ReadyQueue(priority);
  const reused = new Uint8Array(n);
  // Results as events and the report show them (secrets replaced); `outputs` keeps what later steps use.
  const shownOutputs: unknown[] = new Array(n);
  const shownProperties: (Record<string, unknown> | undefined)[] = new Array(n);
  const redacted = new Uint8Array(n);
  /** `secrets.version` when each step's shown result was made: a secret learned later redoes it for the report. */
  const shownAt = new Int32Array(n);
  const redactorsSince = new Map<number, (text: string) => string>();
  for (const [id, result] of Object.entries(options.reuse ?? {})) {
    const i = plan.byId.get(id);
    if (i === undefined) throw new UsageError(`cannot reuse \`${id}\`: the workflow has no such step`);
    reused[i] = 1;
    status[i] = 'succeeded';
    outputs[i] = result.output;
    properties[i] = result.properties;
    for (const d of plan.steps[i]!.dependents) waitingOn[d]!--;
  }
  for (const id of Object.keys(options.reuse ?? {})) {
    // A reused result stands for what its dependencies were then; they must be reused too.
    const missing = plan.steps[plan.byId.get(id)!]!.dependsOn.find((d) => !reused[d]);
    if (missing !== undefined) throw new UsageError(`cannot reuse \`${id}\` while \`${steps[missing]!.id}\`, which it depends on, runs again`);
  }
  for (let i = 0; i < n; i++) if (waitingOn[i] === 0 && !reused[i]) ready.push(i);

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
      case 'steps': {
        const i = plan.byId.get(ref.step)!;
        if (ref.property === 'output') return outputs[i];
        if (ref.property === 'status') return status[i];
        return properties[i]?.[ref.property];
      }
    }
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
    notify: (stepId, notice) => emit({ type: 'step:notice', runId, stepId, notice: { ...notice, reason: redact(notice.reason) }, at: Date.now() }),
    secrets,
  };

  const startedAt = Date.now();
  // A secret input is never shown, whatever its length: `-i db_password=abc` is masked by its name.
  const secretInputs = Object.keys(inputs).filter(secretInputName);
  const shownInputs = secrets.redactValue({ ...inputs, ...Object.fromEntries(secretInputs.map((name) => [name, '***'])) }).value;
  emit({ type: 'run:start', runId, workflow: spec.file, stepIds: steps.map((s) => s.id), maxConcurrency: limit, inputs: shownInputs, ...(secretInputs.length ? { secretInputs } : {}), at: startedAt });
  for (let i = 0; i < n; i++) {
    if (!reused[i]) continue;
    shown(i);
    emit({ type: 'step:end', runId, stepId: steps[i]!.id, status: 'succeeded', at: startedAt, output: shownOutputs[i], ...(shownProperties[i] ? { properties: shownProperties[i] } : {}), reused: true, ...(redacted[i] ? { redacted: true as const } : {}) });
  }

  let running = 0;
  let stopping = controller.signal.aborted;
  let failure: number | undefined;
  for (;;) {
    // A listener that threw on step:start aborted the run inside this loop: nothing more starts.
    while (!stopping && !controller.signal.aborted && running < limit && ready.size > 0) {
      const i = ready.pop()!;
      status[i] = 'running';
      running++;
      started[i] = Date.now();
      emit({ type: 'step:start', runId, stepId: steps[i]!.id, at: started[i]! });
      const report = (outcome: StepOutcome) => {
        completions.push({ index: i, outcome });
        wake?.();
      };
      // runStep turns every failure into an outcome; a bug that still throws must not leave the run hanging.
      runStep(steps[i]!, stepActions[i]!, lookup, environment).then(report, (error: unknown) =>
        report({ status: 'failed', error: { code: 'internal_error', message: `internal error: ${(error as Error)?.message ?? String(error)}`, retryable: false, cause: error } }),
      );
    }
    if (running === 0) break;
    if (completions.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
    // Drain every completion that arrived; each may free a slot and make dependents ready.
    for (let c = completions.shift(); c; c = completions.shift()) {
      const { index: i, outcome } = c;
      running--;
      finished[i] = Date.now();
      status[i] = outcome.status;
      attempts[i] = outcome.attempts ?? 1;
      if (outcome.status === 'succeeded') {
        outputs[i] = outcome.output;
        properties[i] = outcome.properties;
        // A session cookie or token the step received is a secret from now on, wherever it turns up.
        for (const [value, named] of stepActions[i]!.resultSecrets?.({ output: outcome.output, ...(outcome.properties ? { properties: outcome.properties } : {}) }) ?? []) secrets.add(value, named ? MIN_NAMED : MIN_GUESSED);
        for (const { ref, raw } of credentials.get(i) ?? []) {
          try {
            for (const leaf of leaves(resolveReference(ref, raw, lookup))) secrets.add(leaf, MIN_NAMED);
          } catch {
            // the part another step sends is missing: that step fails on it, and there is nothing to mask
          }
        }
        shown(i);
        for (const d of plan.steps[i]!.dependents) if (--waitingOn[d]! === 0) ready.push(d);
      } else if (outcome.status === 'failed') {
        const { code, message, hint, detail } = outcome.error;
        errors[i] = { code, message: redact(message), ...(hint ? { hint: redact(hint) } : {}), ...(detail === undefined ? {} : { detail: redact(detail) }) };
        if (!stopping) failure = i;
      }
      const error = errors[i];
      emit({
        type: 'step:end',
        runId,
        stepId: steps[i]!.id,
        status: outcome.status,
        at: finished[i]!,
        durationMs: finished[i]! - started[i]!,
        attempts: attempts[i]!,
        ...(error ? { error: error.message, errorCode: error.code, ...(error.hint ? { hint: error.hint } : {}), ...(error.detail === undefined ? {} : { errorDetail: error.detail }) } : {}),
        ...(outcome.status === 'succeeded' ? { output: shownOutputs[i], ...(shownProperties[i] ? { properties: shownProperties[i] } : {}), ...(redacted[i] ? { redacted: true as const } : {}) } : {}),
      });
      if (outcome.status === 'failed' && !stopping) {
        // Fail fast: nothing new starts, and everything in flight is aborted through its signal.
        stopping = true;
        controller.abort(new ConductorError('run_failed', `step \`${steps[i]!.id}\` failed`));
      }
    }
    if (controller.signal.aborted) stopping = true;
  }
  options.signal?.removeEventListener('abort', onExternalAbort);

  // Steps that never started: `skipped` if something they depend on did not succeed, else `not_run`.
  for (const i of plan.order) {
    if (status[i] !== 'pending') continue;
    const blocked = plan.steps[i]!.dependsOn.some((d) => status[d] === 'failed' || status[d] === 'cancelled' || status[d] === 'skipped');
    status[i] = blocked ? 'skipped' : 'not_run';
  }

  // What stopped the run: a step's failure first (it came first), then the run's own (a listener, the store).
  const runFailure = failure === undefined ? (listenerFailure ?? externalFailure) : undefined;
  const runStatus: RunStatus = failure !== undefined || runFailure ? 'failed' : interrupted ? 'cancelled' : 'succeeded';
  let runError = failure !== undefined ? `${steps[failure]!.id}: ${errors[failure]!.message}` : runFailure ? runFailure.message : interrupted ? 'the run was interrupted' : undefined;
  let finalOutputs: Record<string, unknown> = {};
  if (runStatus === 'succeeded') {
    try {
      finalOutputs = secrets.redactValue(Object.fromEntries(Object.entries(spec.outputs).map(([name, value]) => [name, resolveValue(value, lookup)]))).value;
    } catch (error) {
      runError = `outputs: ${redact((error as Error).message)}`;
    }
  }
  const runHint = failure !== undefined ? errors[failure]!.hint : runFailure?.hint;
  const finishedAt = Date.now();
  const report: RunReport = {
    runId,
    workflow: spec.file,
    status: runError && runStatus === 'succeeded' ? 'failed' : runStatus,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    durationMs: finishedAt - startedAt,
    steps: Object.fromEntries(steps.map((s, i) => [s.id, stepReport(i)])),
    outputs: finalOutputs,
    usage: usageByModel(properties.filter((_, i) => !reused[i])),
    ...(runError ? { error: runError } : {}),
    ...(runFailure ? { errorCode: runFailure.code } : {}),
    ...(runError && runHint ? { hint: runHint } : {}),
  };
  const failedBefore = listenerFailure;
  emit({ type: 'run:end', runId, report, at: finishedAt });
  // The last event's listener failed (the store could not record the end): the run is not what it says.
  if (listenerFailure && !failedBefore) return { ...report, status: 'failed', error: listenerFailure.message, errorCode: listenerFailure.code, ...(listenerFailure.hint ? { hint: listenerFailure.hint } : {}) };
  return report;

  /** What events and the report show of a step's result: secrets replaced, credential headers emptied. */
  function shown(i: number): void {
    const output = secrets.redactValue(outputs[i]);
    const kept = properties[i] ? (stepActions[i]!.withoutCredentials?.(properties[i]!) ?? properties[i]!) : undefined;
    const props = kept ? secrets.redactValue(kept) : undefined;
    shownOutputs[i] = output.value;
    shownProperties[i] = props?.value;
    redacted[i] = output.redacted || props?.redacted === true || kept !== properties[i] ? 1 : 0;
    shownAt[i] = secrets.version;
  }

  function stepReport(i: number): StepReport {
    const s = status[i] as StepReport['status'];
    if (s === 'succeeded' && shownAt[i] !== secrets.version) {
      // Only the secrets learned since: cheap even when a server sets a new cookie on every answer.
      const since = shownAt[i]!;
      const later = redactorsSince.get(since) ?? redactorsSince.set(since, secrets.redactorSince(since)).get(since)!;
      const output = secrets.redactValue(shownOutputs[i], later);
      const props = shownProperties[i] ? secrets.redactValue(shownProperties[i], later) : undefined;
      shownOutputs[i] = output.value;
      shownProperties[i] = props?.value;
    }
    const ran = started[i]! > 0;
    const error = errors[i];
    return {
      status: s,
      output: s === 'succeeded' ? shownOutputs[i] : null,
      // Redacted again: a secret may have been learned after the step ended.
      ...(error ? { error: redact(error.message), errorCode: error.code, ...(error.hint ? { hint: redact(error.hint) } : {}), ...(error.detail === undefined ? {} : { errorDetail: redact(error.detail) }) } : {}),
      ...(ran ? { startedAt: new Date(started[i]!).toISOString(), finishedAt: new Date(finished[i]!).toISOString(), durationMs: finished[i]! - started[i]!, attempts: attempts[i]! } : {}),
      ...(shownProperties[i] ? { properties: shownProperties[i] } : {}),
      ...(reused[i] ? { reused: true } : {}),
    };
  }
}

function usageByModel(properties: readonly (Record<string, unknown> | undefined)[]): Record<string, ModelUsage> {
  const totals: Record<string, ModelUsage> = {};
  for (const p of properties) {
    const usage = p?.['usage'] as { inputTokens?: number; outputTokens?: number } | undefined;
    const model = p?.['model'];
    if (!usage || typeof model !== 'string') continue;
    const total = (totals[model] ??= { calls: 0, inputTokens: 0, outputTokens: 0 });
    total.calls++;
    total.inputTokens += usage.inputTokens ?? 0;
    total.outputTokens += usage.outputTokens ?? 0;
  }
  return totals;
}

/** A listener's or the store's failure as the run's error: typed, one line, no secret. */
function asRunError(error: unknown, redact: (text: string) => string): ConductorError {
  if (error instanceof ConductorError) {
    return new ConductorError(error.code, redact(error.message), { ...(error.hint ? { hint: redact(error.hint) } : {}), cause: error });
  }
  const message = (error as Error)?.message ?? String(error);
  return new ConductorError('listener_failed', `an event listener failed: ${redact(message)}`, { cause: error });
}

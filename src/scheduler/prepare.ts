/**
 * A run, prepared once before it starts: its inputs typed and checked, its settings, the preflight checks, its
 * secrets, each step's fingerprint, expected durations and priorities. The CLI (`run`, `resume`), the library
 * API (`runWorkflow`) and the recorder all take them from here, so nothing is computed twice or two ways.
 * Synchronous and pure apart from reading the environment it is given: nothing is sent, nothing is loaded.
 */
import { defaultActions } from '../compose.ts';
import type { ActionRegistry } from '../actions/registry.ts';
import type { AnyAction, PreflightContext } from '../actions/types.ts';
import { UsageError } from '../core/errors.ts';
import type { Secrets } from '../core/redact.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import { weightedRemaining } from '../graph/plan.ts';
import { prepareFingerprints } from '../store/fingerprint.ts';
import { expectedDurations } from './durations.ts';
import { itemsMs, knownItemCount } from './estimate.ts';
import { resolveInputs } from './inputs.ts';
import { checkBeforeRun, preflightContext } from './preflight.ts';
import { credentialSources, runSecrets, type CredentialSource } from './secrets.ts';

export interface PrepareOptions {
  /** Input values by name (text is typed per the workflow's `inputs`). */
  inputs?: Readonly<Record<string, unknown>>;
  /** Overrides `config.maxConcurrency`. */
  maxConcurrency?: number;
  actions?: ActionRegistry;
  /** Environment for `${env.*}` and providers (default: `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default model for steps that name none, over `config.model` (the CLI's `--model`). */
  model?: string;
  /** A secret set to share (the caller's redaction then sees what the run learns); one is made otherwise. */
  secrets?: Secrets;
  /** Step durations in ms from earlier runs, by step id (see `withEstimates`). */
  estimates?: Readonly<Record<string, number>>;
  /** Steps of actions that run on workers will (`--queue`): their keys and `${env.*}` are checked there. */
  onWorkers?: boolean;
}

export interface PreparedRun {
  readonly spec: WorkflowSpec;
  /** Units of work at once: `maxConcurrency` given, else `config.maxConcurrency`. */
  readonly limit: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Inputs typed and checked, defaults filled in. */
  readonly inputs: Readonly<Record<string, unknown>>;
  /** Each step's action, in file order. */
  readonly stepActions: readonly AnyAction[];
  /** The settings actions see (the default model, the limit, stated rate limits). */
  readonly defaults: PreflightContext['defaults'];
  /** What the caller set beside the workflow (`--model`, `--max-concurrency`): a resume does the same. */
  readonly settings: { model?: string; maxConcurrency?: number };
  /** The run's secrets as known before it starts; the run adds what it learns. */
  readonly secrets: Secrets;
  /** For each step, the references into its result that other steps send as credentials. */
  readonly credentials: ReadonlyMap<number, readonly CredentialSource[]>;
  /** Each step's fingerprint, in file order: the record, the history and a resume match by them. */
  readonly fingerprints: readonly string[];
  /** Expected ms per step (history, else the action's typical time), and the longest remaining path from each. */
  readonly expected: Float64Array;
  readonly priority: Float64Array;
}

/** Throws `WorkflowInvalidError` (bad inputs, a missing variable or key) or `UsageError` before anything runs. */
export function prepareRun(spec: WorkflowSpec, options: PrepareOptions = {}): PreparedRun {
  const limit = options.maxConcurrency ?? spec.config.maxConcurrency;
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`Expected \`maxConcurrency\` to be an integer ≥ 1, got \`${String(limit)}\``);
  const env = options.env ?? process.env;
  const inputs = resolveInputs(spec, options.inputs);
  const registry = options.actions ?? defaultActions();
  const stepActions = spec.steps.map((s) => {
    const action = registry.get(s.action);
    if (!action) throw new UsageError(`step \`${s.id}\` uses the action \`${s.action}\`, which is not registered`);
    return action;
  });
  const settings = { ...(options.model ? { model: options.model } : {}), ...(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency }) };
  const ctx = preflightContext(spec, env, { ...settings, maxConcurrency: limit, ...(options.onWorkers ? { onWorkers: true } : {}) });
  checkBeforeRun(spec, stepActions, ctx);
  const secrets = runSecrets(spec, env, inputs, stepActions, options.secrets);
  const base = {
    spec,
    limit,
    env,
    inputs,
    stepActions,
    defaults: ctx.defaults,
    settings,
    secrets,
    credentials: credentialSources(spec, stepActions),
    fingerprints: prepareFingerprints(spec, inputs, ctx, registry, secrets),
  };
  return { ...base, ...priorities(spec, stepActions, limit, options.estimates, inputs) };
}

/** The same run, scheduled by durations from earlier runs (the store's, found by `fingerprints`). */
export function withEstimates(prepared: PreparedRun, estimates: Readonly<Record<string, number>> | undefined): PreparedRun {
  return estimates ? { ...prepared, ...priorities(prepared.spec, prepared.stepActions, prepared.limit, estimates, prepared.inputs) } : prepared;
}

/**
 * Each step's expected ms and the longest remaining path from it. A foreach step whose count is known before
 * the run (a list the file gives, or an input's list) takes its items in waves over the slots they may use
 * (its own cap inside the run's limit; nothing for an empty list), one item counting as one call of its action.
 * The history of a foreach step is its whole wall time already: it is not multiplied again, nor taken as
 * what one call of its action takes.
 */
function priorities(spec: WorkflowSpec, stepActions: readonly AnyAction[], limit: number, estimates: Readonly<Record<string, number>> | undefined, inputs: Readonly<Record<string, unknown>>): { expected: Float64Array; priority: Float64Array } {
  // A foreach step's whole time is many calls: it is not one call for the medians of its action.
  const calls = estimates && Object.fromEntries(Object.entries(estimates).filter(([id]) => !spec.steps[spec.plan.byId.get(id) ?? -1]?.foreach));
  const expected = expectedDurations(spec.steps, stepActions, calls);
  spec.steps.forEach((step, i) => {
    if (!step.foreach) return;
    const whole = estimates?.[step.id];
    const count = whole === undefined ? knownItemCount(step.foreach.items, inputs) : undefined;
    if (whole !== undefined) expected[i] = whole;
    else if (count !== undefined) expected[i] = itemsMs({ count, itemMs: expected[i]!, cap: step.foreach.maxConcurrency ?? Infinity }, limit);
  });
  return { expected, priority: weightedRemaining(spec.plan, expected) };
}

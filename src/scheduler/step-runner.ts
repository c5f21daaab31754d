/**
 * Runs one step: resolve its templates, check the resolved input, give it a signal that carries the run's
 * cancellation and the step's timeout, and turn whatever happens into an outcome. Never throws.
 */
import type { ActionContext, ActionNotice, AnyAction, ResolvedParts, SharedLimits } from '../actions/types.ts';
import { sumUsage, type UnitUsage } from '../core/report.ts';
import type { Budget, Reservation, StepCache } from './hooks.ts';
import { ConductorError } from '../core/errors.ts';
import { backoffMs, LONG_WAIT_HINT, MAX_PROVIDER_WAIT_MS, RATE_LIMIT_WAITS } from '../core/retry.ts';
import { MIN_NAMED, type Secrets } from '../core/redact.ts';
import type { StepSpec } from '../definition/types.ts';
import type { CancelScope } from './cancel-scope.ts';
import { valueAt } from '../template/known.ts';
import type { PathKey } from '../template/parse.ts';
import { referencesOf, resolveReference, resolveValue, splitString, stringify, TemplateResolveError, type ReferenceLookup } from '../template/value.ts';
import { resolveInput, type Confinement, type ResolvedInput } from './confine.ts';

export type StepOutcome = (
  | {
      status: 'succeeded';
      output: unknown;
      properties?: Record<string, unknown>;
      usage?: UnitUsage;
      /** Taken from the step cache: `usage` and `costUsd` are what it saved, not what it spent. */
      cached?: { usage?: UnitUsage; costUsd?: number | null };
      /** The step cache's key for what it sent, when its result may be kept there (see StepCache.put). */
      cacheKey?: string;
    }
  /** `usage`: what its tries used all the same (a failed call is often paid for). */
  | { status: 'failed'; error: StepError; usage?: UnitUsage }
  | { status: 'cancelled' }
  /** The budget had no room for the call: it was not made (the run stops, see Budget). */
  | { status: 'not_run'; reason: 'budget_exceeded' }
) & {
  attempts?: number;
  /** The worker that ran it (`host:pid`), when it ran on one (src/queue/). */
  worker?: string;
  /**
   * The step's block with its templates resolved, as the action received it (after its schema's defaults), or
   * as resolved when the schema refused it. Real values, secrets included: the run redacts it before any event
   * carries it (see RunResults.showInput). Absent when it never resolved, and when the budget kept the call
   * from being made (`not_run`).
   */
  input?: unknown;
};

export interface StepError {
  code: string;
  message: string;
  hint?: string;
  retryable: boolean;
  retryAfterMs?: number;
  rateLimited?: boolean;
  /** The whole story when `message` shows part of it (an error body): see ConductorErrorOptions.detail. */
  detail?: string;
  /** Tokens the failed try used all the same (see ConductorErrorOptions.usage). */
  usage?: UnitUsage;
  cause?: unknown;
}

export interface StepEnvironment {
  /** The run's cancellation; each try gets a child signal from it. */
  scope: CancelScope;
  baseDir: string;
  /** Where a destination chosen by a step's output may point besides `baseDir` (see confine.ts). */
  allowedDirs?: Confinement['allowedDirs'];
  allowedHosts?: Confinement['allowedHosts'];
  env: Readonly<Record<string, string | undefined>>;
  defaults: ActionContext['defaults'] & Readonly<{ timeout?: number }>;
  runScope: Map<string, unknown>;
  notify(stepId: string, notice: ActionNotice): void;
  /** The run's secrets: credentials found in a step's resolved input join them before the step runs. */
  secrets: Secrets;
  /** A foreach step over a list a step's output made: its item is data (see Confinement.itemIsData). */
  itemIsData?: boolean;
  /** Actions' work still settling after its step was given up on (see `stopGraceMs`): the run waits for it before it ends. */
  lingering: Lingering;
  /** The step cache, when caching is on for the run. */
  cache?: StepCache;
  /** The run's budget, when it has one: each model call is reserved against it first. */
  budget?: Budget;
  /** Rate limits shared with other processes (a queue's workers), when there are: see ActionContext.sharedLimits. */
  sharedLimits?: SharedLimits;
}

/** Work that may outlive its step (an aborted action still cleaning up), waited for before the run ends. */
export class Lingering {
  readonly #pending = new Set<Promise<unknown>>();

  track(work: Promise<unknown>): void {
    const settled: Promise<unknown> = work.then(
      (): void => void this.#pending.delete(settled),
      (): void => void this.#pending.delete(settled),
    );
    this.#pending.add(settled);
  }

  /** Waits until all of it settles, or `ms` pass (an action that ignores its signal is not waited for forever). */
  async drain(ms: number): Promise<void> {
    if (this.#pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.#pending]), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }
}

/**
 * How long the end of a run waits for actions still settling after they were aborted: the longest stop grace
 * its actions declare (`stopGraceMs`), and a second more for the last of it to be seen; 0 when none declares one.
 */
export function lingerMs(actions: readonly AnyAction[]): number {
  const grace = Math.max(0, ...actions.map((a) => a.stopGraceMs ?? 0));
  return grace > 0 ? grace + 1000 : 0;
}


/** How long each attempt of a step may run, and which key set it (for the hint when it runs out). */
interface Timeout {
  seconds: number | undefined;
  source: string;
}

export async function runStep(step: StepSpec, action: AnyAction, lookup: ReferenceLookup, environment: StepEnvironment): Promise<StepOutcome> {
  let input: unknown;
  let confine: ResolvedInput['confine'];
  try {
    // A destination a step's output chose (a model's answer in a `path` or `url`) is confined here, before any
    // try, and so is every later one (a redirect) through `ctx.confine`. The step was written in the workflow file.
    ({ value: input, confine } = await resolveInput(step.input, action, lookup, { ...environment, workflowFile: step.location.file }));
  } catch (error) {
    if (error instanceof TemplateResolveError) return failed('template', error.message);
    if (error instanceof ConductorError) return failed(error.code, error.message, error, error.hint);
    throw error;
  }
  const checked = action.schema.safeParse(input);
  if (!checked.success) {
    // Shown with the failure (it is what the user needs to see): credentials in it are secrets first, as far
    // as the action can read a block its schema refused.
    try {
      for (const value of action.secrets?.(input) ?? []) environment.secrets.add(value, MIN_NAMED);
    } catch {
      // a block too far from its shape to read: the credentials the run knew before it started still apply
    }
    const issue = checked.error.issues[0];
    const where = issue && issue.path.length ? `\`${issue.path.join('.')}\` ` : '';
    return { ...failed('invalid_input', `after resolving templates, ${where}${issue?.message.replace(/^Invalid input: /, '') ?? 'is invalid'}`), input: shownInput(step, input, lookup) };
  }
  const resolved = checked.data;
  for (const value of action.secrets?.(resolved) ?? []) environment.secrets.add(value, MIN_NAMED);
  const outcome = await runResolved(step, action, resolved, confine, lookup, environment);
  // A call the budget kept from being made did not run with it: it stays to be run, and shown, by a resume.
  return outcome.status === 'not_run' ? outcome : { ...outcome, input: shownInput(step, resolved, lookup) };
}

const readsEnv = new WeakMap<StepSpec, boolean>();

/**
 * The input as a user is shown it (events, the report, the store): what the step ran with, except that a value
 * from the environment is `***` — `${env.DB_PASS}` may be a password whose name does not say so, and the
 * record is no place for it. Such a step's input is its block resolved again with those values masked (before
 * its schema's defaults: it is what the block said).
 */
function shownInput(step: StepSpec, input: unknown, lookup: ReferenceLookup): unknown {
  let env = readsEnv.get(step);
  if (env === undefined) readsEnv.set(step, (env = referencesOf(step.input).some((ref) => ref.root === 'env')));
  if (!env) return input;
  try {
    return resolveValue(step.input, (ref) => (ref.root === 'env' ? '***' : lookup(ref)));
  } catch {
    return '***';
  }
}

/** The tries of a step whose input resolved and was accepted: the cache, the budget, retries and waits. */
async function runResolved(step: StepSpec, action: AnyAction, resolved: unknown, confine: ResolvedInput['confine'], lookup: ReferenceLookup, environment: StepEnvironment): Promise<StepOutcome> {
  const timeout = timeoutFor(step, action, resolved, environment);

  // The same request answered before (this run or an earlier one): nothing is sent, nothing paid.
  const cacheKey = environment.cache?.keyFor(step, action, resolved);
  if (cacheKey !== undefined) {
    const hit = await environment.cache!.get(cacheKey);
    if (hit) {
      const saved = { ...(hit.usage ? { usage: hit.usage } : {}), ...(hit.costUsd === undefined ? {} : { costUsd: hit.costUsd }) };
      return { status: 'succeeded', output: hit.output, ...(hit.properties ? { properties: hit.properties } : {}), cached: saved, attempts: 0 };
    }
  }
  const estimate = environment.budget ? action.estimate?.(resolved, { env: environment.env, defaults: environment.defaults }) : undefined;

  // Retries: rate limits (429) are waited out patiently and do not use up `attempts`; other transient
  // failures (5xx, dropped connections) get `attempts` tries in all. Waiting never outlives the run.
  let attempts = 0;
  let transientFailures = 0;
  let rateLimitWaits = 0;
  // What every try used, failed ones too: the step's usage and cost are what was paid.
  let spent: UnitUsage | undefined;
  const paid = (o: StepOutcome): StepOutcome => (spent && (o.status === 'succeeded' || o.status === 'failed') ? { ...o, usage: spent } : o);
  for (;;) {
    // Each try is a call: its worst case is held against the budget until it settles with what it used.
    let reservation: Reservation | undefined;
    try {
      reservation = estimate ? await environment.budget!.reserve(estimate, environment.scope.signal) : undefined;
    } catch (error) {
      if (error instanceof ConductorError) return { ...failed(error.code, error.message, error, error.hint), attempts };
      throw error;
    }
    if (environment.scope.signal.aborted) {
      if (reservation) environment.budget!.settle(reservation, undefined);
      return { status: 'cancelled', attempts };
    }
    if (estimate && !reservation) {
      if (attempts === 0) return { status: 'not_run', reason: 'budget_exceeded' };
      return paid({ status: 'failed', error: { code: 'budget_exceeded', message: `not tried again: the budget has no room for another call (after ${attempts} attempts)`, retryable: false }, attempts });
    }
    attempts++;
    const tried = await attempt(step, action, resolved, environment, timeout, confine, lookup);
    const used = tried.status === 'succeeded' ? tried.usage : tried.status === 'failed' ? tried.error.usage : undefined;
    spent = sumUsage([spent, used]);
    if (reservation) {
      // A call that timed out or was cut off may well have been paid for: held at its worst case.
      const cutOff = used === undefined && (tried.status === 'cancelled' || (tried.status === 'failed' && tried.error.code === 'timeout'));
      environment.budget!.settle(reservation, cutOff ? { model: estimate!.model, inputTokens: estimate!.inputTokens, outputTokens: estimate!.outputTokens ?? 0 } : used);
    }
    const outcome = paid(tried.status === 'succeeded' && cacheKey !== undefined ? { ...tried, cacheKey } : tried);
    if (outcome.status !== 'failed' || !outcome.error.retryable) return { ...outcome, attempts };
    if (action.retriesWhenAsked && !step.retry.stated && !outcome.error.rateLimited) return { ...outcome, attempts };
    const error = outcome.error;
    if (error.rateLimited) rateLimitWaits++;
    else transientFailures++;
    const exhausted = error.rateLimited ? rateLimitWaits > RATE_LIMIT_WAITS : transientFailures >= step.retry.attempts;
    if (exhausted) {
      const tries = attempts === 1 ? '' : ` (after ${attempts} attempts)`;
      return paid({ status: 'failed', error: { ...error, message: error.message + tries }, attempts });
    }
    // A provider that asks for a wait longer than the step may run (or than anyone should sit through) gets
    // no wait: the step fails now and says what was asked, instead of showing "waiting 1440 min".
    const bound = Math.min(MAX_PROVIDER_WAIT_MS, timeout.seconds === undefined ? Infinity : timeout.seconds * 1000);
    if (error.retryAfterMs !== undefined && error.retryAfterMs > bound) {
      const asked = formatWait(error.retryAfterMs);
      const limit = bound === MAX_PROVIDER_WAIT_MS ? `more than ${formatWait(MAX_PROVIDER_WAIT_MS)}` : `longer than the step's timeout (${timeout.seconds} s, ${timeout.source})`;
      return paid({
        status: 'failed',
        error: {
          ...error,
          retryable: false,
          message: `${error.message} — the provider asked to wait ${asked} before trying again, ${limit}`,
          hint: LONG_WAIT_HINT,
        },
        attempts,
      });
    }
    const delay = error.retryAfterMs ?? backoffMs(step.retry, error.rateLimited ? rateLimitWaits : transientFailures);
    const reason = error.rateLimited ? 'rate limited (429)' : `retry ${transientFailures} of ${step.retry.attempts - 1}: ${error.message}`;
    environment.notify(step.id, { type: 'waiting', reason, untilMs: Date.now() + delay });
    if (!(await sleep(delay, environment.scope.signal))) return { status: 'cancelled', attempts };
  }
}

/** Waits `ms`; false if the signal aborted first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function formatWait(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(ms < 36_000_000 ? 1 : 0)} h`;
}

/** The step's own `timeout:`, else its block's (`http.timeout`, kept as an alias), else `config.timeout`, else the action's. */
function timeoutFor(step: StepSpec, action: AnyAction, input: unknown, environment: StepEnvironment): Timeout {
  if (step.timeout !== undefined) return { seconds: step.timeout, source: 'set by the step\'s `timeout`' };
  const own = timeoutOf(input);
  if (own !== undefined) return { seconds: own, source: `set by \`${step.action}.timeout\`` };
  if (environment.defaults.timeout !== undefined) return { seconds: environment.defaults.timeout, source: 'set by `config.timeout`' };
  return { seconds: action.defaultTimeoutSeconds, source: `the \`${step.action}\` default` };
}

/** One try: its own timeout, the run's cancellation, and every failure turned into an outcome. */
async function attempt(step: StepSpec, action: AnyAction, input: unknown, environment: StepEnvironment, timeout: Timeout, confine: ResolvedInput['confine'], lookup: ReferenceLookup): Promise<StepOutcome> {
  const timeoutSeconds = timeout.seconds;
  // One controller per try, aborted by the run or by the step's own timer: the action sees one signal.
  const { controller, release } = environment.scope.child();
  const signal = controller.signal;
  let timedOut = false;
  // The clock runs while the step runs, and stops while it waits in `untimed` (a rate limiter's queue).
  let remainingMs = timeoutSeconds === undefined ? Infinity : timeoutSeconds * 1000;
  let armedAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let paused = 0;
  // Set when the attempt is over: an `untimed` wait that ends later (a limiter released by the abort) must not
  // start the clock again, or a finished step's timer would hold the process open.
  let over = false;
  const arm = () => {
    if (!Number.isFinite(remainingMs) || timedOut || over || signal.aborted) return;
    armedAt = performance.now();
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new ConductorError('timeout', `timed out after ${timeoutSeconds} s`));
    }, Math.max(0, remainingMs));
  };
  const disarm = () => {
    if (timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
    remainingMs -= performance.now() - armedAt;
  };
  arm();

  const ctx: ActionContext = {
    parts: (path) => partsOf(step, action, path, lookup, environment.itemIsData === true),
    signal,
    stepId: step.id,
    baseDir: environment.baseDir,
    env: environment.env,
    defaults: environment.defaults,
    runScope: environment.runScope,
    notify: (notice) => environment.notify(step.id, notice),
    confine,
    ...(environment.sharedLimits ? { sharedLimits: environment.sharedLimits } : {}),
    untimed: async (work) => {
      if (paused++ === 0) disarm();
      try {
        return await work;
      } finally {
        if (--paused === 0) arm();
      }
    },
  };
  try {
    // Race the action against its signal: an action that ignores the signal must not hold the run open. One
    // that says it needs time to stop (a command's process group: SIGTERM, then SIGKILL) is waited for, that
    // long, before the run ends (`lingering`).
    const running = action.run(input, ctx);
    if (action.stopGraceMs) environment.lingering.track(running);
    const result = await abortable(running, signal);
    if (timedOut) return timeoutFailure(action, input, timeout);
    return { status: 'succeeded', output: result.output, ...(result.properties ? { properties: result.properties } : {}), ...(result.usage ? { usage: result.usage } : {}) };
  } catch (error) {
    if (environment.scope.signal.aborted) return { status: 'cancelled' };
    if (timedOut) return timeoutFailure(action, input, timeout);
    if (error instanceof ConductorError) {
      return {
        status: 'failed',
        error: {
          code: error.code,
          message: error.message,
          retryable: error.retryable,
          rateLimited: error.rateLimited,
          cause: error,
          ...(error.hint ? { hint: error.hint } : {}),
          ...(error.detail === undefined ? {} : { detail: error.detail }),
          ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
          ...(error.usage ? { usage: error.usage } : {}),
        },
      };
    }
    const what = action.describe?.(input);
    return failed('action_error', `${what ? `${what}: ` : ''}${(error as Error)?.message ?? String(error)}`, error);
  } finally {
    over = true;
    disarm();
    release();
  }
}

/**
 * `ActionContext.parts`: a string the action keeps parts of (see keepsParts), at `path` in the block, as written
 * and resolved; each value marked when it is data (a step's output, or the item of a list a step made).
 */
function partsOf(step: StepSpec, action: AnyAction, path: string | readonly PathKey[], lookup: ReferenceLookup, itemIsData: boolean): ResolvedParts | undefined {
  const keys = typeof path === 'string' ? [path] : path;
  if (typeof keys[0] !== 'string' || !action.keepsParts?.includes(keys[0])) return undefined;
  const value = valueAt(step.input, keys);
  if (value?.kind === 'literal') return typeof value.value === 'string' ? { strings: [value.value], values: [], data: [] } : undefined;
  const split = splitString(value);
  if (!split) return undefined;
  return {
    strings: split.strings,
    values: split.refs.map(({ ref, raw }) => stringify(resolveReference(ref, raw, lookup))),
    data: split.refs.map(({ ref }) => ref.root === 'steps' || (ref.root === 'item' && itemIsData)),
  };
}

function timeoutOf(input: unknown): number | undefined {
  const t = (input as { timeout?: unknown } | null)?.timeout;
  return typeof t === 'number' ? t : undefined;
}

function timeoutFailure(action: AnyAction, input: unknown, timeout: Timeout): StepOutcome {
  const what = action.describe?.(input);
  // Not retried: a call that hung may still have been carried out (a POST, a paid model call), and a step that
  // times out should fail at its timeout, not four timeouts later.
  return failed('timeout', `${what ? `${what}: ` : ''}timed out after ${timeout.seconds} s (${timeout.source})`, undefined, 'raise `timeout:` on the step (seconds), or `config.timeout` for every step');
}

function failed(code: string, message: string, cause?: unknown, hint?: string): StepOutcome {
  return { status: 'failed', error: { code, message, retryable: false, ...(cause === undefined ? {} : { cause }), ...(hint ? { hint } : {}) } };
}


function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

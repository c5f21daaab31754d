/**
 * A worker: takes steps from the queue and runs them with the same step runner a run uses in-process (its
 * retries, timeouts, rate-limit waits, confinement), answering each with its outcome as data.
 *
 * - The workflow comes as text (kept in Redis under its hash, checked against it) and is validated here with
 *   the same code; a step's references come as values bound to them, `${env.*}` from this worker's own
 *   environment, so provider keys never travel.
 * - Results are fenced: before it calls anything, a worker asks the store for a recorded success of the step
 *   (or item) and hands that back instead; after a success it records the result unless one is there — a job
 *   picked up twice (its first worker stalled or died) never pays again for a recorded call.
 * - A run that stops is announced on a channel: its in-flight calls here are aborted (the provider sees the
 *   connection close); a job of a stopped run is not started.
 * - Secrets this worker knows (its environment's) are masked in what it answers and records.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job, Worker as BullWorker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ActionRegistry } from '../actions/registry.ts';
import type { AnyAction } from '../actions/types.ts';
import { ConductorError, SetupError } from '../core/errors.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import { parseWorkflow } from '../definition/load.ts';
import { MIN_GUESSED, MIN_NAMED, Secrets as SecretSet, type Secrets } from '../core/redact.ts';
import { CancelScope } from '../scheduler/cancel-scope.ts';
import { runSecrets } from '../scheduler/secrets.ts';
import { Lingering, runStep, type StepEnvironment, type StepOutcome } from '../scheduler/step-runner.ts';
import type { ResultFields, RunStore } from '../store/types.ts';
import { StoreStepCache } from '../cache/step-cache.ts';
import type { Reference } from '../template/parse.ts';
import { TemplateResolveError } from '../template/value.ts';
import { connectRedis, type QueueLocation } from './connection.ts';
import { keys, PROTOCOL, referenceKey, signedWith, STEP_QUEUE, WORKER_NAME, type JobResult, type StepJob } from './protocol.ts';
import { checkRedisPolicy } from './rate-bucket.ts';
import { redisSharedLimits } from './shared-limits.ts';

export interface WorkerOptions {
  location: QueueLocation;
  actions: ActionRegistry;
  /** Where results are fenced: the store the runs record into (shared, for workers on several machines). */
  store?: RunStore;
  /** Steps at once (default 50: they mostly wait on providers). */
  concurrency?: number;
  env: Readonly<Record<string, string | undefined>>;
  /**
   * The variables a step's `${env.*}` may read on this worker (`--env`); none unless named. Any run sent to the
   * queue could otherwise read this machine's whole environment (its provider keys, into a URL of its choosing).
   * Actions still read what they need themselves (a provider's key and endpoint).
   */
  allowEnv?: ReadonlySet<string>;
  /** How long a job's lock lasts before another worker may take it (BullMQ's lockDuration; default 30 s). */
  lockMs?: number;
  /** One line per job and per event worth knowing, for the worker's log. */
  log?: (line: string) => void;
}

export interface RunningWorker {
  readonly name: string;
  /** Takes no more jobs and waits for those in flight to finish. */
  close(): Promise<void>;
}

interface Loaded {
  spec: WorkflowSpec;
  actions: AnyAction[];
}

/** What one run shares on this worker: its actions' per-run state (a provider's limiter), its in-flight jobs. */
interface RunSlot {
  scope: Map<string, unknown>;
  /** Whether the worker's store has the run, with a job's workflow (see `knows`), by the workflow's hash. */
  known: Map<string, Promise<Known>>;
  /** The log has said the run is not in this worker's store. */
  told?: boolean;
  /** The run's secrets as this worker knows them (its environment's, and what steps' inputs showed), by workflow. */
  secrets: Map<string, Secrets>;
  inFlight: Set<AbortController>;
  lastUsed: number;
}

/** A run with nothing in flight here for this long lets its per-run state go. */
const RUN_IDLE_MS = 10 * 60_000;
const LOADED_KEPT = 32;

/** Starts taking jobs. Refuses (SetupError, exit 2) a Redis that cannot be reached or may evict keys. */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const { location, actions, store, env } = options;
  const allowEnv = options.allowEnv ?? new Set<string>();
  const log = options.log ?? (() => {});
  const redis = await connectRedis(location);
  const problem = await checkRedisPolicy(redis, location.shown);
  if (problem) {
    redis.disconnect();
    throw new SetupError('queue_unsafe', problem);
  }
  const subscriber = await connectRedis(location, { blocking: true });
  const blocking = await connectRedis(location, { blocking: true });
  const runs = new Map<string, RunSlot>();
  const noFolder = mkdtempSync(join(tmpdir(), 'conductor-worker-'));
  const sharedLimits = redisSharedLimits(redis, location.prefix);
  const loaded = new Map<string, Promise<Loaded>>();

  await subscriber.subscribe(keys.stopChannel(location.prefix));
  subscriber.on('message', (_channel: string, runId: string) => {
    const slot = runs.get(runId);
    if (!slot) return;
    for (const controller of slot.inFlight) controller.abort(new ConductorError('run_failed', 'the run stopped'));
  });

  const slotOf = (runId: string): RunSlot => {
    let slot = runs.get(runId);
    if (!slot) runs.set(runId, (slot = { scope: new Map(), inFlight: new Set(), known: new Map(), secrets: new Map(), lastUsed: Date.now() }));
    slot.lastUsed = Date.now();
    return slot;
  };
  const sweep = setInterval(() => {
    for (const [runId, slot] of runs) if (slot.inFlight.size === 0 && Date.now() - slot.lastUsed > RUN_IDLE_MS) runs.delete(runId);
  }, 60_000);
  sweep.unref();

  const load = (job: StepJob): Promise<Loaded> => {
    let entry = loaded.get(job.workflow.hash);
    if (!entry) {
      entry = loadWorkflow(redis, location, job, actions, noFolder);
      loaded.set(job.workflow.hash, entry);
      entry.catch(() => loaded.delete(job.workflow.hash));
      if (loaded.size > LOADED_KEPT) loaded.delete(loaded.keys().next().value!);
    }
    return entry;
  };

  const process = async (job: Job<StepJob>, _token?: string, bullSignal?: AbortSignal): Promise<JobResult> => {
    const problem = jobProblem(job.data);
    if (problem) return refuse(problem);
    // With the deployment's key, only a run's own jobs run here: one written into Redis by anything else is refused.
    if (location.key && !signedWith(job.data, location.key)) return refuse("a job not signed with this deployment's key (CONDUCTOR_QUEUE_KEY): it was not sent by a run that has the key");
    const data = job.data;
    const slot = slotOf(data.runId);
    const controller = new AbortController();
    const onBullAbort = () => controller.abort(new ConductorError('run_failed', 'the job was cancelled'));
    bullSignal?.addEventListener('abort', onBullAbort, { once: true });
    slot.inFlight.add(controller);
    const started = Date.now();
    try {
      if (await redis.exists(keys.stopped(location.prefix, data.runId))) return { status: 'cancelled', worker: WORKER_NAME };
      const known = store ? await knows(store, slot, data) : 'unknown';
      // A job whose workflow is not the one its run recorded (written into Redis by something else) must never
      // read or write that run's results.
      if (known === 'other') return refuse(`run ${data.runId.slice(0, 8)} recorded another workflow than this job's`);
      if (known === 'unknown' && store && !slot.told) {
        slot.told = true;
        log(`run ${data.runId.slice(0, 8)} is not in this worker's store (${store.location}): its results are not fenced here; give the worker the run's --store`);
      }
      // A success recorded already (an earlier try of this job, on a worker that died after recording) is the
      // answer: nothing is called again. A store that cannot say is not taken for "nothing recorded".
      const recorded = store && known === 'same' ? await recordedSuccess(store, data) : undefined;
      if (recorded) {
        log(`${label(data)} was recorded already: not run again`);
        return recorded;
      }
      const { spec, actions: stepActions } = await load(data);
      const index = spec.plan.byId.get(data.stepId);
      if (index === undefined) return refuse(`the workflow has no step \`${data.stepId}\``);
      const step = spec.steps[index]!;
      const action = stepActions[index]!;
      // Only what a worker may run: a job naming a `file` or `shell` step (written into Redis by hand) is refused.
      if (!action.runsOnWorkers) return refuse(`step \`${data.stepId}\` uses \`${step.action}\`, which runs only in the run's own process`);
      const values = new Map(data.values);
      const lookup = (ref: Reference): unknown => {
        if (ref.root !== 'env') return values.get(referenceKey(ref));
        if (!allowEnv.has(ref.name)) throw new TemplateResolveError(`\`\${env.${ref.name}}\` is not given to steps by this worker (${WORKER_NAME})`);
        return env[ref.name];
      };
      // One set per run and workflow, as a run in one process has: what a step's input shows to be a credential
      // stays masked in the run's later steps here too.
      let secrets = slot.secrets.get(data.workflow.hash);
      if (!secrets) slot.secrets.set(data.workflow.hash, (secrets = runSecrets(spec, env, {}, stepActions)));
      const environment: StepEnvironment = {
        scope: new CancelScope(controller.signal),
        baseDir: spec.baseDir,
        allowedDirs: spec.config.allowedDirs,
        allowedHosts: spec.config.allowedHosts,
        env,
        defaults: { ...data.defaults, ...(spec.config.timeout ? { timeout: spec.config.timeout } : {}) },
        runScope: slot.scope,
        lingering: new Lingering(),
        secrets,
        sharedLimits,
        ...(data.itemIsData ? { itemIsData: true } : {}),
        ...(data.cache && store?.cache ? { cache: new StoreStepCache({ entries: store.cache, policy: data.cache, context: { env, defaults: data.defaults, baseDir: spec.baseDir } }) } : {}),
        notify: (_stepId, notice) => void job.updateProgress({ notice: { ...notice, reason: secrets.redact(notice.reason) } }).catch(() => {}),
      };
      const outcome = await runStep(step, action, lookup, environment);
      let result = answer(outcome, secrets.redactValue.bind(secrets), secrets.redact, action);
      if (result.status === 'succeeded' && store && known === 'same') {
        const written = await fence(store, data, recordable(result, action), started).catch((error: unknown) => {
          log(`${label(data)}: could not record its result (${(error as Error).message}); the run records it`);
          return true;
        });
        // Another try of the same job recorded first: one answer, the recorded one.
        if (!written) result = (await recordedSuccess(store, data).catch(() => undefined)) ?? result;
      }
      log(`${label(data)} ${result.status} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return result;
    } catch (error) {
      if (controller.signal.aborted) return { status: 'cancelled', worker: WORKER_NAME };
      return refuse(error instanceof ConductorError ? error.message : `internal error: ${(error as Error)?.message ?? String(error)}`);
    } finally {
      slot.inFlight.delete(controller);
      bullSignal?.removeEventListener('abort', onBullAbort);
    }
  };

  const { Worker } = await import('bullmq');
  const lockDuration = options.lockMs ?? 30_000;
  const worker: BullWorker = new Worker<StepJob, JobResult>(STEP_QUEUE, process, {
    connection: blocking,
    prefix: location.prefix,
    concurrency: options.concurrency ?? 50,
    lockDuration,
    stalledInterval: Math.max(500, Math.round(lockDuration / 2)),
    // A job whose worker stalls (dies, or loses Redis past its lock) runs once more, fenced; a second stall
    // fails its step: a call is made at most twice.
    maxStalledCount: 1,
  });
  worker.on('error', (error) => log(`queue error: ${error.message.split('\n')[0]}`));
  await worker.waitUntilReady();

  return {
    name: WORKER_NAME,
    close: async () => {
      clearInterval(sweep);
      await worker.close();
      await subscriber.quit().catch(() => {});
      redis.disconnect();
      blocking.disconnect();
      rmSync(noFolder, { recursive: true, force: true });
    },
  };
}

/** A step's outcome as the answer: plain data, with this worker's secrets masked (and credential fields of its input, as the run shows it). */
function answer(outcome: StepOutcome, redactValue: <T>(value: T) => { value: T; redacted: boolean }, redact: (text: string) => string, action: AnyAction): JobResult {
  const input = outcome.input === undefined ? undefined : redactValue(withoutCredentials(outcome.input, action)).value;
  const common = { ...(outcome.attempts === undefined ? {} : { attempts: outcome.attempts }), worker: WORKER_NAME, ...(input === undefined ? {} : { input }) };
  switch (outcome.status) {
    case 'succeeded': {
      const shown = redactValue({ output: outcome.output, properties: outcome.properties });
      return {
        status: 'succeeded',
        output: shown.value.output,
        ...(shown.value.properties ? { properties: shown.value.properties } : {}),
        ...(outcome.usage ? { usage: outcome.usage } : {}),
        ...(outcome.cached ? { cached: outcome.cached } : {}),
        // A result with this worker's secret masked in it is never kept in the cache.
        ...(outcome.cacheKey !== undefined && !shown.redacted ? { cacheKey: outcome.cacheKey } : {}),
        ...common,
      };
    }
    case 'failed': {
      const { code, message, detail, retryable } = outcome.error;
      // `${env.*}` is read here, from this worker's environment, and only for the names it gives to steps.
      const hint = outcome.error.hint ?? (message.includes('${env.') ? `\`\${env.*}\` is read from the environment of the worker that runs the step (${WORKER_NAME}), for the names it was started with: \`conductor worker --env NAME,…\` (or CONDUCTOR_WORKER_ENV), with the variable set there` : undefined);
      return { status: 'failed', error: { code, message: redact(message), ...(hint ? { hint: redact(hint) } : {}), ...(detail === undefined ? {} : { detail: redact(detail) }), retryable }, ...(outcome.usage ? { usage: outcome.usage } : {}), ...common };
    }
    case 'not_run':
      // A run with a budget does not send steps to workers (see dispatch.ts): not reached.
      return { status: 'failed', error: { code: 'budget_exceeded', message: 'the budget had no room for the call', retryable: false }, ...common };
    default:
      return { status: 'cancelled', ...common };
  }
}

/** An input's credential fields taken out, as the run does before it shows one (RunResults.showInput). */
function withoutCredentials(input: unknown, action: AnyAction): unknown {
  return action.withoutCredentials && input !== null && typeof input === 'object' && !Array.isArray(input) ? action.withoutCredentials(input as Record<string, unknown>) : input;
}

/**
 * A success as it may be recorded: credentials the result itself holds (a session cookie an http step received)
 * masked, and marked redacted so it is never handed back as an answer. The answer to the run keeps them: later
 * steps may send them, and the run masks them where it shows or records anything.
 */
function recordable(result: JobResult & { status: 'succeeded' }, action: AnyAction): JobResult & { status: 'succeeded'; redacted?: true } {
  const found = [...(action.resultSecrets?.({ output: result.output, ...(result.properties ? { properties: result.properties } : {}) }) ?? [])];
  if (found.length === 0) return result;
  const secrets = new SecretSet();
  for (const [value, named] of found) secrets.add(value, named ? MIN_NAMED : MIN_GUESSED);
  const masked = secrets.redactValue({ output: result.output, properties: result.properties });
  // The input too (a value it sent that the answer shows to be a credential), without making the result `redacted`.
  const input = result.input === undefined ? undefined : secrets.redactValue(result.input).value;
  if (!masked.redacted) return input === result.input ? result : { ...result, input };
  return { ...result, output: masked.value.output, ...(masked.value.properties ? { properties: masked.value.properties } : {}), ...(input === undefined ? {} : { input }), redacted: true };
}

/** Records a success unless one is recorded (see RunStore.recordStepOnce); false when one was. */
async function fence(store: RunStore, job: StepJob, result: JobResult & { status: 'succeeded'; redacted?: true }, startedAt: number): Promise<boolean> {
  const fields: ResultFields = {
    output: result.output,
    ...(result.properties ? { properties: result.properties } : {}),
    ...(result.usage ? { usage: result.usage } : {}),
    attempts: result.attempts ?? 1,
    startedAt,
    finishedAt: Date.now(),
    worker: WORKER_NAME,
    ...(result.redacted ? { redacted: true } : {}),
    ...(result.input === undefined ? {} : { input: result.input }),
  };
  if (job.item) return store.recordItemOnce(job.runId, job.stepId, { ...fields, index: job.item.index, key: job.item.key, status: 'succeeded' });
  return store.recordStepOnce(job.runId, job.stepId, { ...fields, status: 'succeeded' });
}

/**
 * The success recorded for a job's step (or item) as its answer, else undefined; a redacted one is not an answer
 * (its output holds `***` where a secret was). Tried twice: a store that cannot say fails the job rather than
 * pay again for what may be recorded.
 */
async function recordedSuccess(store: RunStore, job: StepJob): Promise<JobResult | undefined> {
  let recorded: ResultFields | undefined;
  try {
    recorded = await store.recordedSuccess(job.runId, job.stepId, job.item);
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 500));
    recorded = await store.recordedSuccess(job.runId, job.stepId, job.item);
  }
  if (!recorded || recorded.redacted) return undefined;
  return { status: 'succeeded', output: recorded.output, ...(recorded.properties ? { properties: recorded.properties } : {}), ...(recorded.usage ? { usage: recorded.usage } : {}), attempts: recorded.attempts ?? 1, worker: recorded.worker ?? WORKER_NAME, recorded: true, ...(recorded.input === undefined ? {} : { input: recorded.input }) };
}

/**
 * Whether this worker's store has the job's run, with the job's workflow (asked once per run): `same`, `other`
 * (the run recorded another workflow), or `unknown` (no such run here, or the store cannot say) — fenced only
 * when `same`.
 */
async function knows(store: RunStore, slot: { known: Map<string, Promise<Known>> }, job: StepJob): Promise<Known> {
  let known = slot.known.get(job.workflow.hash);
  if (known) return known;
  known = store.getRun(job.runId).then(
    // The run records the start of its text's sha256 (store/fingerprint.ts contentHash); the job carries all of it.
    (found) => (found === undefined ? 'unknown' : found.run.workflowHash.length >= 32 && job.workflow.hash.startsWith(found.run.workflowHash) ? 'same' : 'other'),
    () => 'unknown' as const,
  );
  slot.known.set(job.workflow.hash, known);
  // Not there (yet: a server store may commit the run a moment after its first job is sent), or the store could
  // not say: asked again a little later, not for every job (getRun reads the whole run).
  void known.then((answer) => {
    if (answer === 'unknown') setTimeout(() => slot.known.delete(job.workflow.hash), UNKNOWN_RUN_RECHECK_MS).unref();
  });
  return known;
}

/** How long "this run is not in the store" holds before the store is asked again. */
const UNKNOWN_RUN_RECHECK_MS = 2_000;

type Known = 'same' | 'other' | 'unknown';

/** Why a job cannot be run as it is (data written into Redis by something else, or another version), if so. */
export function jobProblem(data: unknown): string | undefined {
  const job = data as Partial<StepJob> | undefined;
  if (!job || typeof job !== 'object') return 'a job with no data';
  if (job.protocol !== PROTOCOL) return `a job of protocol ${String(job.protocol)}: this worker speaks ${PROTOCOL} (run the same Conductor version on the coordinator and the workers)`;
  const text = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= 200;
  if (!text(job.runId) || !text(job.stepId)) return 'a job without a run and step';
  if (!job.workflow || !/^[0-9a-f]{64}$/.test(String(job.workflow.hash)) || typeof job.workflow.file !== 'string') return 'a job without its workflow';
  if (!job.defaults || typeof job.defaults !== 'object' || !Number.isInteger(job.defaults.maxConcurrency) || typeof job.defaults.rateLimits !== 'object') return 'a job without its settings';
  if (!Array.isArray(job.values) || !job.values.every((pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string')) return 'a job whose values are not pairs';
  if (job.item !== undefined && (typeof job.item !== 'object' || !Number.isInteger(job.item.index) || typeof job.item.key !== 'string')) return 'a job with a malformed item';
  return undefined;
}

/** The workflow of a job: its text from Redis, checked against its hash, validated as `run` validates it. */
async function loadWorkflow(redis: Redis, location: QueueLocation, job: StepJob, actions: ActionRegistry, noFolder: string): Promise<Loaded> {
  const text = await redis.get(keys.workflow(location.prefix, job.workflow.hash));
  if (text === null) throw new ConductorError('queue_failed', `the workflow of run ${job.runId} is gone from the queue (kept a week)`);
  if (createHash('sha256').update(text).digest('hex') !== job.workflow.hash) throw new ConductorError('queue_failed', `the workflow of run ${job.runId} in the queue does not match its hash`);
  // Nothing a worker runs reads the workflow's folder (it is on the run's machine): an empty folder of the worker's
  // own stands in for it, so a path in the job can never point into this machine.
  const spec = parseWorkflow(text, job.workflow.file, { actions, baseDir: noFolder });
  const stepActions = spec.steps.map((s) => {
    const action = actions.get(s.action);
    if (!action) throw new ConductorError('queue_failed', `step \`${s.id}\` uses the action \`${s.action}\`, which this worker does not have`);
    return action;
  });
  return { spec, actions: stepActions };
}

function refuse(message: string): JobResult {
  return { status: 'failed', error: { code: 'worker_refused', message, retryable: false }, worker: WORKER_NAME };
}

function label(job: StepJob): string {
  return `run ${job.runId.slice(0, 8)} step ${job.stepId}${job.item ? `[${job.item.index}]` : ''}`;
}

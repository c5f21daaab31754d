/**
 * The coordinator's side of the queue: a StepExecutor that sends each unit a worker may run (its action
 * `runsOnWorkers`) to the queue as a BullMQ job, and waits for its result. The run loop is unchanged: it still
 * decides when a unit starts (so at most the run's limit of its jobs are in the queue at once, in critical-path
 * order); this decides where. Units of other actions (`file`, `shell`: the workflow's folder is here) run here.
 *
 * A unit travels as data (protocol.ts): the workflow's text once per run under its hash, and per job the values
 * of the step's references. `${env.*}` is answered by the worker's own environment; a unit whose values hold a
 * secret (a secret input, a credential a step returned) runs here instead, so no secret crosses Redis.
 *
 * Results come back through BullMQ's event stream; a sweep every few seconds asks Redis for the state of jobs
 * still out, so an event lost to a reconnect delays a result but never loses it. When the run stops (a failure,
 * Ctrl-C, a failed store), its stop is announced on a channel every worker listens to — each aborts that run's
 * in-flight calls — and set as a flag a worker checks before it starts one of its jobs; its waiting jobs are
 * taken off the queue.
 */
import { createHash } from 'node:crypto';
import type { Queue as BullQueue, QueueEvents as BullQueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { ConductorError, SetupError, UsageError } from '../core/errors.ts';
import { secretInputName } from '../scheduler/secrets.ts';
import type { ExecutorRun, RunExecutor, StepExecutor, Unit } from '../scheduler/executor.ts';
import { runStep, type StepOutcome } from '../scheduler/step-runner.ts';
import { referencesOf } from '../template/value.ts';
import { connectRedis, type QueueLocation } from './connection.ts';
import { jobId, jobPriority, keys, PROTOCOL, referenceKey, signJob, STEP_QUEUE, STOPPED_TTL_S, WORKFLOW_TTL_S, type JobResult, type StepJob } from './protocol.ts';

/** How often jobs still out are looked up in Redis (an event may be lost to a reconnect). */
const SWEEP_MS = 3_000;
/**
 * After a run stops, how long its jobs still out may take to answer: a live worker aborts them at once and says
 * `cancelled`; one whose worker died answers nothing (its lock outlives it), so it is taken for cancelled then.
 * Its result, if it had one, is fenced in the store, where nothing but a success replaces it.
 */
const STOP_GRACE_MS = 5_000;
/** Tries of sending a job before the step fails (Redis gone for a moment: a reconnect, a failover). */
const ADD_TRIES = 4;

/** The fields of a job's hash that say whether and how it finished (`timestamp`: that it exists). */
const JOB_FIELDS = ['finishedOn', 'returnvalue', 'failedReason', 'timestamp'] as const;

/** HMGET's answer for JOB_FIELDS; a job that is not there has all of them null. */
function jobFields([finishedOn, returnvalue, failedReason, timestamp]: (string | null)[]): JobFields {
  return { exists: timestamp != null, ...(finishedOn ? { finishedOn } : {}), ...(returnvalue != null ? { returnvalue } : {}), ...(failedReason ? { failedReason } : {}) };
}

/** A job's answer as its hash holds it (see #jobFields). */
interface JobFields {
  exists: boolean;
  finishedOn?: string;
  returnvalue?: string;
  failedReason?: string;
}

interface Pending {
  runId: string;
  unit: Unit;
  resolve: (outcome: StepOutcome) => void;
  /** The job is in Redis (its `add` answered): the sweep may look it up. */
  added: boolean;
  /** Sweeps in a row that found no such job (one could be a lookup racing its removal). */
  missing: number;
}

export class QueueDispatcher implements StepExecutor {
  readonly #location: QueueLocation;
  readonly #redis: Redis;
  /** QueueEvents' connection: BullMQ does not close a connection it was given, so dispose does. */
  readonly #blocking: Redis;
  readonly #queue: BullQueue;
  readonly #events: BullQueueEvents;
  readonly #pending = new Map<string, Pending>();
  /** Runs that stopped, and when: their jobs still out get STOP_GRACE_MS to answer. */
  readonly #stopped = new Map<string, number>();
  /** Steps told that no worker is there (see #noWorker). */
  readonly #told = new Set<string>();
  /** Runs whose jobs a resumed run took over: stopped with it. */
  readonly #adopted = new Set<string>();
  #sweep: NodeJS.Timeout | undefined;

  readonly #warn: ((line: string) => void) | undefined;

  private constructor(location: QueueLocation, connections: { redis: Redis; blocking: Redis }, queue: BullQueue, events: BullQueueEvents, warn: ((line: string) => void) | undefined) {
    this.#location = location;
    this.#warn = warn;
    this.#redis = connections.redis;
    this.#blocking = connections.blocking;
    this.#queue = queue;
    this.#events = events;
    events.on('completed', ({ jobId: id, returnvalue }) => this.#settle(id, parseResult(returnvalue)));
    events.on('failed', ({ jobId: id, failedReason }) => this.#settle(id, lostJob(failedReason)));
    events.on('progress', ({ jobId: id, data }) => this.#progress(id, data));
  }

  /**
   * Connects to the queue's Redis: a SetupError (exit 2) naming the URL when it does not answer. `warn` is told,
   * once each time, when steps wait with no worker taking them (besides each step's notice): for a caller that
   * shows no step notices (`--json`, `--quiet`).
   */
  static async connect(location: QueueLocation, options: { warn?: (line: string) => void } = {}): Promise<QueueDispatcher> {
    const { Queue, QueueEvents } = await import('bullmq');
    const redis = await connectRedis(location);
    let blocking: Redis | undefined;
    try {
      blocking = await connectRedis(location, { blocking: true });
      // Answers pass through BullMQ's event stream too: it keeps about the last thousand, not ten thousand.
      const queue = new Queue(STEP_QUEUE, { connection: redis, prefix: location.prefix, streams: { events: { maxLen: 1000 } } });
      const events = new QueueEvents(STEP_QUEUE, { connection: blocking, prefix: location.prefix });
      queue.on('error', () => {});
      events.on('error', () => {});
      await events.waitUntilReady();
      return new QueueDispatcher(location, { redis, blocking }, queue, events, options.warn);
    } catch (error) {
      // Nothing may stay open to keep the process alive past the error it exits with.
      redis.disconnect();
      blocking?.disconnect();
      throw error;
    }
  }

  async open(run: ExecutorRun): Promise<RunExecutor> {
    const { runId, prepared, signal } = run;
    // A budget reserves each model call before it is made, in the run's own process: a worker has no share of
    // it yet. Refused rather than ignored: a budget that does not hold is worse than none.
    if (run.budget) {
      throw new UsageError('a budget (`--max-cost`, `config.budget`) cannot hold yet when steps run on workers (`--queue`)', {
        hint: 'run without --queue to keep the budget, or without the budget to run on workers',
      });
    }
    const { spec } = prepared;
    const hash = createHash('sha256').update(spec.source).digest('hex');
    await this.#redis.set(keys.workflow(this.#location.prefix, hash), spec.source, 'EX', WORKFLOW_TTL_S).catch((error: unknown) => {
      throw new SetupError('queue_unavailable', `cannot send the workflow to the queue at ${this.#location.shown}: ${((error as Error)?.message ?? String(error)).split('\n')[0]}`, { hint: 'is Redis still there?' });
    });
    const dispatches = new Map<string, number>();
    const stop = () => void this.#stop(runId, run.resumedFrom);
    signal.addEventListener('abort', stop, { once: true });
    const defaults = { ...(prepared.defaults.model ? { model: prepared.defaults.model } : {}), maxConcurrency: prepared.defaults.maxConcurrency, rateLimits: { ...prepared.defaults.rateLimits } };
    const cachePolicy = run.cache?.policy;
    const here = (unit: Unit) => runStep(unit.step, unit.action, unit.lookup, unit.environment);
    return {
      run: async (unit) => {
        if (!unit.action.runsOnWorkers) return here(unit);
        const values = this.#values(unit);
        // A value that is (or holds) a secret stays in this process: the unit runs here.
        if (values === undefined) return here(unit);
        if (signal.aborted) return { status: 'cancelled' };
        const unsigned: StepJob = {
          protocol: PROTOCOL,
          runId,
          stepId: unit.step.id,
          ...(unit.item ? { item: { index: unit.item.index, key: unit.item.key() } } : {}),
          ...(unit.environment.itemIsData ? { itemIsData: true } : {}),
          workflow: { hash, file: spec.file },
          defaults,
          ...(cachePolicy ? { cache: cachePolicy } : {}),
          values,
        };
        const data = this.#location.key ? signJob(unsigned, this.#location.key) : unsigned;
        const adopted = await this.#adopt(run, unit, data);
        if (adopted) return adopted;
        // Stopped while it looked: nothing more is sent.
        if (signal.aborted) return { status: 'cancelled' };
        const unitKey = `${unit.step.id}#${unit.item?.index ?? ''}`;
        const dispatch = (dispatches.get(unitKey) ?? 0) + 1;
        dispatches.set(unitKey, dispatch);
        return this.#send(jobId(runId, unit.step.id, unit.item?.index, dispatch), data, runId, unit, prepared.priority[unit.step.index] ?? 0);
      },
      close: async () => {
        signal.removeEventListener('abort', stop);
        this.#stopped.delete(runId);
      },
    };
  }

  #send(id: string, data: StepJob, runId: string, unit: Unit, remainingMs: number): Promise<StepOutcome> {
    return new Promise<StepOutcome>((resolve) => {
      const pending: Pending = { runId, unit, resolve, added: false, missing: 0 };
      this.#pending.set(id, pending);
      const options = { jobId: id, priority: jobPriority(remainingMs), attempts: 1, removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } };
      const add = async (tries: number): Promise<void> => {
        try {
          await this.#queue.add('step', data, options);
        } catch (error) {
          // Redis away for a moment: a step fails only when it stays away.
          if (tries + 1 >= ADD_TRIES || !this.#pending.has(id)) throw error;
          await new Promise((r) => setTimeout(r, 250 * 2 ** tries));
          return add(tries + 1);
        }
      };
      add(0).then(
        () => {
          pending.added = true;
          // The run stopped while it was being sent: taken back off the queue.
          if (this.#stopped.has(runId)) void this.#withdraw(id);
          this.#sweepSoon();
        },
        (error: unknown) => this.#settle(id, { status: 'failed', error: queueFailed(this.#location, error) }),
      );
    });
  }

  /**
   * A resumed run's unit that the run it resumes left in the queue (its coordinator died, its workers went on):
   * awaited — or its answer taken, when that answer is a success — instead of sent again, when it was sent with
   * the very same values. Undefined when there is none to take over (a job that failed or was cancelled runs again).
   */
  async #adopt(run: ExecutorRun, unit: Unit, data: StepJob): Promise<StepOutcome | undefined> {
    if (!run.resumedFrom) return undefined;
    const { Job } = await import('bullmq');
    for (let dispatch = 3; dispatch >= 1; dispatch--) {
      const id = jobId(run.resumedFrom, unit.step.id, unit.item?.index, dispatch);
      let job: Awaited<ReturnType<typeof Job.fromId<StepJob>>>;
      try {
        job = await Job.fromId<StepJob>(this.#queue, id).catch(() => Job.fromId<StepJob>(this.#queue, id));
      } catch (error) {
        // Not knowing whether the old run's job is there, sending it again could pay for it twice.
        return { status: 'failed', error: queueFailed(this.#location, error) };
      }
      if (!job) continue;
      const same = job.data?.workflow?.hash === data.workflow.hash && JSON.stringify(job.data.values) === JSON.stringify(data.values) && job.data.item?.key === data.item?.key;
      if (!same || job.failedReason) return undefined;
      if (job.finishedOn) {
        const outcome = parseResult(job.returnvalue);
        return outcome.status === 'succeeded' ? outcome : undefined;
      }
      this.#adopted.add(run.resumedFrom);
      return new Promise<StepOutcome>((resolve) => {
        this.#pending.set(id, { runId: run.runId, unit, resolve, added: true, missing: 0 });
        // The run stopped while this was looked up: the stop reaches the job taken over too.
        if (run.signal.aborted) void this.#stop(run.runId, run.resumedFrom);
        this.#sweepSoon();
      });
    }
    return undefined;
  }

  /** Lets go of Redis. Runs still out get nothing more. */
  async dispose(): Promise<void> {
    clearTimeout(this.#sweep);
    await Promise.allSettled([this.#events.close(), this.#queue.close()]);
    this.#redis.disconnect();
    this.#blocking.disconnect();
  }

  /**
   * The values of a unit's references, `${env.*}` apart, as the worker's lookup answers them; undefined when
   * one is or holds a secret — an input whose name says it is one (whatever its length), or a value the run
   * knows as a secret. A reference whose value is undefined is left out (the worker reads undefined).
   */
  #values(unit: Unit): StepJob['values'] | undefined {
    const out: StepJob['values'] = [];
    const seen = new Set<string>();
    for (const ref of referencesOf(unit.step.input)) {
      if (ref.root === 'env') continue;
      if (ref.root === 'inputs' && secretInputName(ref.name)) return undefined;
      const key = JSON.stringify(ref);
      if (seen.has(key)) continue;
      seen.add(key);
      const value = unit.lookup(ref);
      if (value !== undefined) out.push([referenceKey(ref), value]);
    }
    if (out.length > 0 && unit.environment.secrets.redactValue(out).redacted) return undefined;
    return out;
  }

  #settle(id: string, outcome: StepOutcome): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    pending.resolve(outcome);
    // Its answer (an output, maybe a credential a step returned) is read: it does not wait in Redis for an hour.
    if (outcome.status !== 'cancelled') void this.#queue.remove(id).catch(() => {});
  }

  #progress(id: string, data: unknown): void {
    const pending = this.#pending.get(id);
    const notice = (data as { notice?: { type?: unknown; reason?: unknown; untilMs?: unknown } } | null)?.notice;
    if (!pending || !notice || notice.type !== 'waiting' || typeof notice.reason !== 'string' || typeof notice.untilMs !== 'number') return;
    pending.unit.environment.notify(pending.unit.step.id, { type: 'waiting', reason: notice.reason, untilMs: notice.untilMs });
  }

  /** A run stopped: every worker aborts its in-flight jobs; jobs not yet taken are taken off the queue. */
  async #stop(runId: string, resumedFrom?: string): Promise<void> {
    this.#stopped.set(runId, Date.now());
    const prefix = this.#location.prefix;
    for (const id of [runId, ...(resumedFrom && this.#adopted.has(resumedFrom) ? [resumedFrom] : [])]) {
      await this.#redis.set(keys.stopped(prefix, id), '1', 'EX', STOPPED_TTL_S).catch(() => {});
      await this.#redis.publish(keys.stopChannel(prefix), id).catch(() => {});
    }
    await Promise.all([...this.#pending].filter(([, p]) => p.runId === runId && p.added).map(([id]) => this.#withdraw(id)));
    this.#sweepSoon();
  }

  /**
   * Takes a stopped run's job back: one that finished answers as it finished (a success is kept, never thrown
   * away); one no worker has taken leaves the queue, cancelled; one a worker holds is left to that worker, which
   * aborts it and answers.
   */
  async #withdraw(id: string): Promise<void> {
    const found = await this.#jobFields(id).catch(() => undefined);
    if (found?.finishedOn) return this.#settle(id, found.failedReason ? lostJob(found.failedReason) : parseResult(found.returnvalue));
    // Only a job no worker has taken leaves: BullMQ's remove would also take a job that finished a moment ago
    // (its answer with it). A job a worker holds is left to that worker, which aborts it and answers.
    const state = await this.#queue.getJobState(id).catch(() => 'unknown');
    if (state !== 'waiting' && state !== 'prioritized' && state !== 'delayed') return;
    const removed = await this.#queue.remove(id).catch(() => 0);
    if (removed === 1) this.#settle(id, { status: 'cancelled' });
  }

  /** What a job's answer is, read from its hash (not the whole job: its data may be large). */
  async #jobFields(id: string): Promise<JobFields> {
    return jobFields(await this.#redis.hmget(this.#jobKey(id), ...JOB_FIELDS));
  }

  #jobKey(id: string): string {
    return `${this.#location.prefix}:${STEP_QUEUE}:${id}`;
  }

  /**
   * Steps waiting for a worker when none is taking jobs from the queue: each says so once (the run would
   * otherwise wait without a word), until workers come back.
   */
  async #noWorker(): Promise<void> {
    const count = await this.#queue.getWorkersCount().catch(() => undefined);
    if (count !== 0) {
      if (count !== undefined) this.#told.clear();
      return;
    }
    const reason = `no worker is taking steps from ${this.#location.shown} (start one: conductor worker --queue …)`;
    if (this.#told.size === 0 && this.#pending.size > 0) this.#warn?.(reason);
    for (const pending of this.#pending.values()) {
      const key = `${pending.runId} ${pending.unit.step.id}`;
      if (this.#told.has(key)) continue;
      this.#told.add(key);
      pending.unit.environment.notify(pending.unit.step.id, { type: 'waiting', reason, untilMs: Date.now() + SWEEP_MS });
    }
  }

  #sweepSoon(): void {
    if (this.#sweep) return;
    this.#sweep = setTimeout(() => {
      this.#sweep = undefined;
      void this.#lookUp().finally(() => {
        if (this.#pending.size > 0) this.#sweepSoon();
      });
    }, SWEEP_MS);
    this.#sweep.unref();
  }

  /**
   * Jobs still out, looked up in Redis: a result whose event was lost is taken from the job itself; a job that
   * is gone (twice in a row: a lookup can race its removal) fails its step; a stopped run's jobs that no worker
   * answered within STOP_GRACE_MS are taken for cancelled. A lookup that fails (Redis away) changes nothing.
   */
  async #lookUp(): Promise<void> {
    await this.#noWorker();
    const now = Date.now();
    const out: [string, Pending][] = [];
    for (const [id, pending] of [...this.#pending]) {
      const stoppedAt = this.#stopped.get(pending.runId);
      if (stoppedAt !== undefined && now - stoppedAt > STOP_GRACE_MS) this.#settle(id, { status: 'cancelled' });
      else if (pending.added) out.push([id, pending]);
    }
    if (out.length === 0) return;
    // Every job still out in one round trip, not one each.
    const pipeline = this.#redis.pipeline();
    for (const [id] of out) pipeline.hmget(this.#jobKey(id), ...JOB_FIELDS);
    const answers = await pipeline.exec().catch(() => null);
    if (!answers) return;
    for (const [k, [id, pending]] of out.entries()) {
      const [error, fields] = answers[k] ?? [new Error('no answer')];
      if (error || !this.#pending.has(id)) continue;
      const found = jobFields(fields as (string | null)[]);
      if (found.finishedOn) {
        this.#settle(id, found.failedReason ? lostJob(found.failedReason) : parseResult(found.returnvalue));
      } else if (!found.exists && ++pending.missing >= 2) {
        this.#settle(id, { status: 'failed', error: { code: 'queue_failed', message: `its job ${id} is gone from the queue at ${this.#location.shown}`, hint: 'was the queue flushed, or its keys evicted? `conductor resume` runs it again', retryable: false } });
      } else if (found.exists) {
        pending.missing = 0;
      }
    }
  }
}

/** A worker's answer as the run loop's outcome. */
export function parseResult(value: unknown): StepOutcome {
  let result: JobResult;
  try {
    result = (typeof value === 'string' ? JSON.parse(value) : value) as JobResult;
  } catch {
    result = undefined as unknown as JobResult;
  }
  if (!result || typeof result !== 'object' || typeof result.status !== 'string') {
    return { status: 'failed', error: { code: 'queue_failed', message: 'a worker answered something that is not a result', retryable: false } };
  }
  const common = { ...(result.attempts === undefined ? {} : { attempts: result.attempts }), ...(typeof result.worker === 'string' ? { worker: result.worker } : {}), ...(result.input === undefined ? {} : { input: result.input }) };
  switch (result.status) {
    case 'succeeded':
      return {
        status: 'succeeded',
        output: result.output,
        ...(result.properties ? { properties: result.properties } : {}),
        ...(result.usage ? { usage: result.usage } : {}),
        ...(result.cached ? { cached: result.cached } : {}),
        ...(typeof result.cacheKey === 'string' ? { cacheKey: result.cacheKey } : {}),
        ...common,
      };
    case 'failed':
      return { status: 'failed', error: { ...result.error, retryable: false }, ...(result.usage ? { usage: result.usage } : {}), ...common };
    default:
      return { status: 'cancelled', ...common };
  }
}

/** A job BullMQ gave up on: its workers died with it more often than it allows, or a worker refused it. */
function lostJob(reason: string | undefined): StepOutcome {
  return { status: 'failed', error: { code: 'worker_lost', message: `its job failed on the queue: ${reason ?? 'no reason given'}`, hint: 'the workers that took it stopped (killed, or lost Redis) too often; see their logs', retryable: false } };
}

function queueFailed(location: QueueLocation, error: unknown): { code: string; message: string; retryable: boolean; hint: string } {
  const message = error instanceof ConductorError ? error.message : ((error as Error)?.message ?? String(error)).split('\n')[0]!;
  return { code: 'queue_failed', message: `cannot send it to the queue at ${location.shown}: ${message}`, retryable: false, hint: 'is Redis still there?' };
}

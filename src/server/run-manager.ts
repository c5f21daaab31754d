/**
 * The runs `conductor serve` starts: each one exactly as `conductor run` would run it (recordedRun: the same
 * store, history, cache, prices and budget), with its own limits and state — concurrency, rate limiters and
 * budget are per run, as they are per process for the CLI — and its own AbortController, so one can be
 * cancelled without touching the others. Their events are kept in a RunLog each, for clients to follow.
 */
import { randomUUID } from 'node:crypto';
import { cachePolicy } from '../cache/policy.ts';
import { ConductorError } from '../core/errors.ts';
import type { RunEvent } from '../core/events.ts';
import { costControls, type CostPlace } from '../cost/controls.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import type { ActionRegistry } from '../actions/registry.ts';
import { recordedRun } from '../runs/recorded-run.ts';
import type { StepExecutor } from '../scheduler/executor.ts';
import { prepareRun, type PreparedRun } from '../scheduler/prepare.ts';
import type { RunOptions } from '../scheduler/run.ts';
import type { RunStore } from '../store/types.ts';
import { RunLog } from './run-log.ts';

export interface RunSettingsGiven {
  model?: string | undefined;
  maxConcurrency?: number | undefined;
  /** US dollars (`--max-cost`). */
  maxCost?: number | undefined;
}

export interface ManagerOptions {
  /** The store every run is recorded in (opened by the caller, for writing). */
  store: () => Promise<RunStore>;
  /** Where steps run (`--queue`); absent: in this process. */
  executor?: StepExecutor | undefined;
  /** The server's environment and folder: keys, `$CONDUCTOR_HOME` (prices), `${env.*}`. */
  place: CostPlace;
  actions?: ActionRegistry;
  /** How many finished runs keep their events in memory for replay (older ones replay from the store). */
  keepFinished?: number;
  /** How much event text finished runs may keep in memory, in all (default 256 MB): past it, the oldest go first. */
  keepBytes?: number;
  /** How many runs may go at once (default 100): one more is refused, as `server_busy`. */
  maxActive?: number;
  /** Told of a run that could not run at all (its store failed as it started, say): the server logs it. */
  warn?: (line: string) => void;
}

interface Managed {
  log: RunLog;
  controller: AbortController;
  done: Promise<void>;
  spec: WorkflowSpec;
  inputs: Record<string, unknown>;
  startedAt: number;
  /** Steps started and not yet ended. */
  running: Set<string>;
  /** Why it could not run at all (its record may not exist): shown by GET /api/runs/{id}. */
  failure?: { error: string; errorCode: string; hint?: string };
}

export interface Resumption {
  resumedFrom: string;
  reuse?: RunOptions['reuse'];
  reuseItems?: RunOptions['reuseItems'];
}

export class RunManager {
  readonly #options: ManagerOptions;
  readonly #runs = new Map<string, Managed>();
  readonly #finished: string[] = [];
  #finishedBytes = 0;
  #closing = false;

  constructor(options: ManagerOptions) {
    this.#options = options;
  }

  /** The environment and folder runs are prepared with (keys, `$CONDUCTOR_HOME`). */
  get place(): CostPlace {
    return this.#options.place;
  }

  /** Inputs typed and checked, keys and `${env.*}` preflighted: throws WorkflowInvalidError or UsageError, nothing run. */
  prepare(spec: WorkflowSpec, inputs: Readonly<Record<string, unknown>>, settings: RunSettingsGiven): PreparedRun {
    const onWorkers = this.#options.executor !== undefined;
    return prepareRun(spec, {
      inputs,
      env: this.#options.place.env,
      ...(this.#options.actions ? { actions: this.#options.actions } : {}),
      ...(settings.model ? { model: settings.model } : {}),
      ...(settings.maxConcurrency === undefined ? {} : { maxConcurrency: settings.maxConcurrency }),
      ...(onWorkers ? { onWorkers } : {}),
    });
  }

  /**
   * Starts the run and resolves with its id once everything that can refuse it has (prices, the budget, the
   * store): the run goes on in the background. Throws as `conductor run` would exit 2, nothing run.
   */
  async start(prepared: PreparedRun, settings: RunSettingsGiven, resumption?: Resumption): Promise<string> {
    this.#open();
    const costs = await costControls(prepared, settings.maxCost, this.#options.place);
    const store = await this.#options.store();
    // Checked again: the server may have begun to shut down, or filled up, while the store was opened.
    this.#open();
    const runId = randomUUID();
    const controller = new AbortController();
    const log = new RunLog();
    let ending: Extract<RunEvent, { type: 'run:end' }> | undefined;
    const managed: Managed = { log, controller, done: Promise.resolve(), spec: prepared.spec, inputs: { ...prepared.inputs }, startedAt: Date.now(), running: new Set() };
    this.#runs.set(runId, managed);
    managed.done = recordedRun({
      prepared,
      store,
      costs,
      // As `conductor run` without --cache/--no-cache: the workflow's own `config.cache` and steps' `cache`.
      cachePolicy: cachePolicy(prepared.spec.config, { cache: false, noCache: false }),
      executor: this.#options.executor,
      signal: controller.signal,
      // run:end goes out once the run is recorded, with the report as it stands then (a store that failed at
      // the end makes it `failed`): a client that has it finds the same in the store.
      onEvent: (event) => {
        if (event.type === 'run:end') return void (ending = event);
        // The record says `pending` until a step ends: what runs now is known here.
        if (event.type === 'step:start') managed.running.add(event.stepId);
        else if (event.type === 'step:end') managed.running.delete(event.stepId);
        log.append(event);
      },
      runId,
      ...(resumption?.reuse ? { reuse: resumption.reuse } : {}),
      ...(resumption?.reuseItems ? { reuseItems: resumption.reuseItems } : {}),
      ...(resumption ? { resumedFrom: resumption.resumedFrom } : {}),
    }).then(
      (report) => {
        if (ending) log.append({ ...ending, report });
      },
      (error: unknown) => {
        // A run that could not run at all (its store failed as it started, say): its followers are told how it
        // ended, and the server's log says why (redacted: the message may quote a value).
        const failure = error instanceof ConductorError ? error : new ConductorError('run_failed', String(error));
        const message = prepared.secrets.redact(failure.message);
        managed.failure = { error: message, errorCode: failure.code, ...(failure.hint ? { hint: failure.hint } : {}) };
        this.#options.warn?.(`run ${runId} could not run: ${message}`);
        const at = Date.now();
        log.append({ type: 'run:end', runId, at, report: { runId, workflow: prepared.spec.file, status: 'failed', startedAt: new Date(managed.startedAt).toISOString(), finishedAt: new Date(at).toISOString(), durationMs: at - managed.startedAt, steps: {}, outputs: {}, usage: {}, cost: { usd: 0, byModel: {} }, error: message, errorCode: failure.code, ...(failure.hint ? { hint: failure.hint } : {}) } });
      },
    ).finally(() => {
      // A run that threw before its run:end (its store failed as it started, say) still ends its followers' streams.
      log.end();
      this.#retire(runId);
    });
    return runId;
  }

  /** The run, while this server runs it or keeps its events. */
  get(runId: string): Readonly<Managed> | undefined {
    return this.#runs.get(runId);
  }

  running(runId: string): boolean {
    const run = this.#runs.get(runId);
    return run !== undefined && !run.log.ended;
  }

  /** Cancels a run as Ctrl-C does: in-flight steps are aborted, nothing new starts. False when it is not running here. */
  cancel(runId: string): boolean {
    const run = this.#runs.get(runId);
    if (!run || run.log.ended) return false;
    run.controller.abort();
    return true;
  }

  /** Stops every run (a failed store, say: each fails with that error); resolves once they have ended. */
  abortAll(reason?: unknown): Promise<void> {
    const ending: Promise<void>[] = [];
    for (const run of this.#runs.values()) {
      if (run.log.ended) continue;
      run.controller.abort(reason);
      ending.push(run.done);
    }
    return Promise.all(ending).then(() => undefined);
  }

  /** Cancels what is running and waits for every run to end and be recorded. */
  async close(): Promise<void> {
    this.#closing = true;
    this.abortAll();
    await Promise.all([...this.#runs.values()].map((run) => run.done));
  }

  get active(): number {
    let count = 0;
    for (const run of this.#runs.values()) if (!run.log.ended) count++;
    return count;
  }

  #open(): void {
    if (this.#closing) throw new ConductorError('server_closing', 'the server is shutting down', { hint: 'start the run again once it is back' });
    const most = this.#options.maxActive ?? 100;
    if (this.active >= most) throw new ConductorError('server_busy', `the server runs ${most} runs already`, { hint: 'start it again when one has ended' });
  }

  #retire(runId: string): void {
    this.#finished.push(runId);
    this.#finishedBytes += this.#runs.get(runId)?.log.bytes ?? 0;
    const keep = this.#options.keepFinished ?? 100;
    const budget = this.#options.keepBytes ?? 256 * 1024 * 1024;
    while (this.#finished.length > keep || (this.#finishedBytes > budget && this.#finished.length > 0)) {
      const old = this.#finished.shift()!;
      this.#finishedBytes -= this.#runs.get(old)?.log.bytes ?? 0;
      this.#runs.delete(old);
    }
  }
}

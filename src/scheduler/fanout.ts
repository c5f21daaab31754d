/**
 * The items of one `foreach` step while it runs: which have started, how each ended, and what the step's
 * result is once they all have. Pure bookkeeping; the run loop owns it and decides when items start.
 */
import { hash } from 'node:crypto';
import type { ItemSummary } from '../core/events.ts';
import type { ItemReport, UnitUsage } from '../core/report.ts';
import type { ItemStatus } from '../core/status.ts';
import type { StepFailure } from './results.ts';

/** Why a foreach step's resolved list cannot be run over, or undefined: not an array, or longer than `maxItems`. */
export function listProblem(list: unknown, maxItems: number): StepFailure | undefined {
  if (!Array.isArray(list)) {
    const what = list === null ? 'null' : typeof list === 'string' ? 'a string' : typeof list === 'object' ? 'an object' : `a ${typeof list}`;
    return {
      code: 'foreach_not_list',
      message: `foreach: the list is ${what}, not an array`,
      hint:
        typeof list === 'string'
          ? 'a string is never split into items: make the step before it return a JSON array (an `llm` step with a `schema` of type array, say), or give the list as an input (`-i items=@list.json`)'
          : 'point `foreach` at an array (a field of the output, perhaps: `${steps.<id>.output.items}`)',
    };
  }
  if (list.length > maxItems) {
    return { code: 'too_many_items', message: `foreach: the list has ${list.length.toLocaleString('en-US')} items, more than \`config.maxItems\` (${maxItems.toLocaleString('en-US')})`, hint: 'raise `config.maxItems` if that many calls are meant, or narrow the list first' };
  }
  return undefined;
}


const PENDING = 0;
const RUNNING = 1;
const SUCCEEDED = 2;
const FAILED = 3;
const CANCELLED = 4;
const STATUS: readonly ItemStatus[] = ['not_run', 'not_run', 'succeeded', 'failed', 'cancelled'];

export class Fanout {
  readonly step: number;
  readonly list: readonly unknown[];
  /** Items of this step at once (the step's `maxConcurrency`), inside the run's limit. */
  readonly cap: number;
  readonly #base: string;
  readonly #state: Uint8Array;
  readonly outputs: unknown[];
  readonly properties: (Record<string, unknown> | undefined)[];
  /** Tokens each item that ran in this run used (none for reused ones). */
  readonly usage: (UnitUsage | undefined)[] = [];
  readonly attempts: Int32Array;
  /** The worker each item ran on, when it ran on one (src/queue/). */
  readonly workers: (string | undefined)[] = [];
  /** Each item's resolved input as its event showed it, and the secrets' version it was shown at (see RunResults.showInput). */
  readonly inputs: unknown[] = [];
  readonly inputAt: number[] = [];
  readonly started: Float64Array;
  readonly finished: Float64Array;
  readonly errors: (StepFailure | undefined)[] = [];
  readonly reused: Uint8Array;
  /** 1 for an item answered from the step cache. */
  readonly cached: Uint8Array;
  /** Items not yet started are taken from here on. */
  #next = 0;
  running = 0;
  settled = 0;
  failed = 0;
  cancelled = 0;
  /** The item whose failure stopped the run (not continued), if one did. */
  fatal: number | undefined;

  /** `base`: a hash of every value the step's block uses besides the item (see `key`). */
  constructor(step: number, list: readonly unknown[], cap: number, base: string) {
    const n = list.length;
    this.step = step;
    this.list = list;
    this.cap = cap;
    this.#base = base;
    this.#state = new Uint8Array(n);
    this.outputs = new Array(n).fill(null);
    this.properties = new Array(n);
    this.attempts = new Int32Array(n);
    this.started = new Float64Array(n);
    this.finished = new Float64Array(n);
    this.reused = new Uint8Array(n);
    this.cached = new Uint8Array(n);
  }

  get count(): number {
    return this.list.length;
  }

  /**
   * What item `index` runs with, as a key: its value (as shown: secrets redacted) with every other value the
   * block uses. A resume takes a recorded item only at the same index under the same key.
   */
  key(shownValue: unknown): string {
    return hash('sha256', `${this.#base}\u0000${JSON.stringify(shownValue) ?? 'undefined'}`).slice(0, 32);
  }

  /** Whether an item is left to start. */
  get hasNext(): boolean {
    while (this.#next < this.#state.length && this.#state[this.#next] !== PENDING) this.#next++;
    return this.#next < this.#state.length;
  }

  /** Whether another item may start now (one is left, and the step is below its own cap). */
  get canStart(): boolean {
    return this.running < this.cap && this.hasNext;
  }

  /** The next item to run, marked running. */
  start(at: number): number {
    if (!this.hasNext) throw new Error('no item left to start');
    const index = this.#next++;
    this.#state[index] = RUNNING;
    this.started[index] = at;
    this.running++;
    return index;
  }

  /** An item taken from an earlier run: settled before anything starts. */
  reuse(index: number, output: unknown, properties: Record<string, unknown> | undefined): void {
    this.#state[index] = SUCCEEDED;
    this.reused[index] = 1;
    this.outputs[index] = output;
    this.properties[index] = properties;
    this.settled++;
  }

  succeed(index: number, at: number, attempts: number, output: unknown, properties: Record<string, unknown> | undefined, usage?: UnitUsage): void {
    this.#end(index, SUCCEEDED, at, attempts);
    this.outputs[index] = output;
    this.properties[index] = properties;
    if (usage) this.usage[index] = usage;
  }

  fail(index: number, at: number, attempts: number, error: StepFailure): void {
    this.#end(index, FAILED, at, attempts);
    this.errors[index] = error;
    this.failed++;
  }

  /** A started item whose call was never made (the budget had no room): it stays to be run, by a resume. */
  unstart(index: number): void {
    this.#state[index] = PENDING;
    this.started[index] = 0;
    this.running--;
    if (index < this.#next) this.#next = index;
  }

  cancel(index: number, at: number, attempts: number): void {
    this.#end(index, CANCELLED, at, attempts);
    this.cancelled++;
  }

  get done(): boolean {
    return this.settled === this.#state.length;
  }

  status(index: number): ItemStatus {
    return STATUS[this.#state[index]!]!;
  }

  /**
   * The step's status once no item runs: `failed` when one of its items stopped the run; `cancelled` when the
   * run stopped it before every item ended (an item cancelled in flight, or one never started) — it did not
   * finish, so nothing of it may pass for a result; else `failed` (continued) if an item failed, or `succeeded`.
   */
  outcome(): 'succeeded' | 'failed' | 'cancelled' {
    if (this.fatal !== undefined) return 'failed';
    if (this.cancelled > 0 || !this.done) return 'cancelled';
    return this.failed > 0 ? 'failed' : 'succeeded';
  }

  /** The error the step reports: the fatal item's, or how many failed and the first. */
  error(): StepFailure | undefined {
    const first = this.fatal ?? this.errors.findIndex((e) => e !== undefined);
    const error = first === -1 ? undefined : this.errors[first];
    if (!error) return undefined;
    const prefix = this.fatal !== undefined ? `item ${first}` : `${this.failed} of ${this.count} items failed; item ${first}`;
    return { ...error, message: `${prefix}: ${error.message}` };
  }

  /** `${steps.<id>.items}`: each item's status, in item order. */
  summaries(): ItemSummary[] {
    const out: ItemSummary[] = new Array(this.count);
    for (let i = 0; i < this.count; i++) {
      const error = this.errors[i];
      out[i] = { index: i, status: this.status(i), ...(error ? { error: error.message } : {}), attempts: this.attempts[i]! };
    }
    return out;
  }

  /**
   * The report's items: the summaries with codes, hints, durations, reuse, what each that ran cost, and what it
   * was given (`shownInput` redoes an input shown at an older secrets version).
   */
  reports(redact: (text: string) => string, costOf?: (usage: UnitUsage) => number | null, shownInput: (input: unknown, at: number) => unknown = (input) => input): ItemReport[] {
    const out: ItemReport[] = new Array(this.count);
    for (let i = 0; i < this.count; i++) {
      const error = this.errors[i];
      const ran = this.started[i]! > 0 && this.finished[i]! > 0;
      const input = this.inputs[i] === undefined ? undefined : shownInput(this.inputs[i], this.inputAt[i]!);
      out[i] = {
        index: i,
        status: this.status(i),
        attempts: this.attempts[i]!,
        ...(input === undefined ? {} : { input }),
        ...(error ? { error: redact(error.message), errorCode: error.code, ...(error.hint ? { hint: redact(error.hint) } : {}) } : {}),
        ...(ran ? { durationMs: this.finished[i]! - this.started[i]! } : {}),
        ...(this.reused[i] ? { reused: true as const } : {}),
        ...(this.cached[i] ? { cached: true as const } : {}),
        ...(costOf && this.usage[i] ? { costUsd: costOf(this.usage[i]!) } : {}),
        ...(this.workers[i] === undefined ? {} : { worker: this.workers[i] }),
      };
    }
    return out;
  }

  /** Each property the items' results expose, as an array in item order (`null` where an item has none). */
  mergedProperties(each: (properties: Record<string, unknown>) => Record<string, unknown> = (p) => p): Record<string, unknown[]> | undefined {
    const items = this.properties.map((p) => (p ? each(p) : undefined));
    let names: Set<string> | undefined;
    for (const p of items) if (p) for (const name of Object.keys(p)) (names ??= new Set()).add(name);
    if (!names) return undefined;
    const out: Record<string, unknown[]> = {};
    for (const name of names) out[name] = items.map((p) => p?.[name] ?? null);
    return out;
  }

  #end(index: number, state: number, at: number, attempts: number): void {
    this.#state[index] = state;
    this.finished[index] = at;
    this.attempts[index] = attempts;
    this.running--;
    this.settled++;
  }
}

/**
 * What a run's steps produced, and how it may be shown. The run loop writes results here as units end; later
 * steps read the real values (`lookup`), while events and the report get them with every secret replaced and
 * credential headers taken out (`shown`), redone for the report when a secret was learned after a step ended.
 * The loop owns it: nothing else writes here.
 */
import type { AnyAction } from '../actions/types.ts';
import type { ConditionStep } from '../condition/index.ts';
import type { ItemSummary } from '../core/events.ts';
import type { Secrets } from '../core/redact.ts';
import { addCost, type ModelUsage, type RunCost, type StepReport, type UnitUsage } from '../core/report.ts';
import type { Pricing } from './hooks.ts';
import type { StepSpec } from '../definition/types.ts';
import type { Reference } from '../template/parse.ts';
import type { Fanout } from './fanout.ts';
import type { RunState } from './state.ts';

export type StepFailure = { code: string; message: string; hint?: string; detail?: string };

/** A result as events show it. */
export interface Shown {
  output: unknown;
  properties?: Record<string, unknown>;
  redacted?: true;
}

export class RunResults {
  readonly outputs: unknown[];
  readonly properties: (Record<string, unknown> | undefined)[];
  /** Tokens each step used in this run (a foreach step: see its Fanout's). */
  readonly usages: (UnitUsage | undefined)[];
  readonly started: Float64Array;
  readonly finished: Float64Array;
  readonly errors: (StepFailure | undefined)[];
  readonly attempts: Int32Array;
  /** The worker each step ran on, when it ran on one. */
  readonly workers: (string | undefined)[] = [];
  /** 1 for a step taken from an earlier run (`resume`), not executed. */
  readonly reused: Uint8Array;
  readonly fanouts: (Fanout | undefined)[];
  readonly #steps: readonly StepSpec[];
  readonly #actions: readonly AnyAction[];
  readonly #secrets: Secrets;
  readonly #state: RunState;
  readonly #shownOutputs: unknown[];
  readonly #shownProperties: (Record<string, unknown> | undefined)[];
  readonly #redacted: Uint8Array;
  /** `secrets.version` when each step's shown result was made: a secret learned later redoes it for the report. */
  readonly #shownAt: Int32Array;
  readonly #redactorsSince = new Map<number, (text: string) => string>();
  /** A foreach step's item statuses once it has settled (templates may read them once per item of another step). */
  readonly #itemSummaries: (ItemSummary[] | undefined)[];
  /** Each step's resolved input as shown (see showInput), and `secrets.version` when it was made. */
  readonly #shownInputs: unknown[];
  readonly #inputAt: Int32Array;

  /** 1 for a step answered from the step cache. */
  readonly cached: Uint8Array;
  readonly #pricing: Pricing | undefined;
  /** What cache hits saved: calls, dollars (null once one had no price), tokens. */
  readonly #saved = { hits: 0, usd: 0 as number | null, tokens: 0 };

  constructor(steps: readonly StepSpec[], actions: readonly AnyAction[], secrets: Secrets, state: RunState, pricing?: Pricing) {
    this.cached = new Uint8Array(steps.length);
    this.#pricing = pricing;
    const n = steps.length;
    this.#steps = steps;
    this.#actions = actions;
    this.#secrets = secrets;
    this.#state = state;
    this.outputs = new Array(n);
    this.properties = new Array(n);
    this.usages = new Array(n);
    this.started = new Float64Array(n);
    this.finished = new Float64Array(n);
    this.errors = new Array(n);
    this.attempts = new Int32Array(n);
    this.reused = new Uint8Array(n);
    this.fanouts = new Array(n);
    this.#shownOutputs = new Array(n);
    this.#shownProperties = new Array(n);
    this.#redacted = new Uint8Array(n);
    this.#shownAt = new Int32Array(n);
    this.#itemSummaries = new Array(n);
    this.#shownInputs = new Array(n);
    this.#inputAt = new Int32Array(n);
  }

  /** `${steps.<id>.<property>}` of step `i`, as later steps use it (the real values). */
  lookup(i: number, ref: Extract<Reference, { root: 'steps' }>): unknown {
    if (ref.property === 'status') return this.#state.status[i];
    if (ref.property === 'items') return this.summariesOf(i) ?? (this.resultless(i) ? null : undefined);
    // A step that was skipped, or failed and was continued, has no result: a step whose `if` chose to run
    // after it (or an output naming it) reads `null` there, not a template error.
    if (this.resultless(i)) return null;
    if (ref.property === 'output') return this.outputs[i];
    return this.properties[i]?.[ref.property];
  }

  /** Skipped, or failed and continued without a result (a continued foreach step keeps its items' outputs). */
  resultless(i: number): boolean {
    const status = this.#state.status[i];
    return status === 'skipped' || (status === 'failed' && this.#state.continued[i] === 1 && !this.fanouts[i]);
  }

  /** What `steps.<id>` reads in a condition: status, and output, properties and items where the step has them. */
  conditionStep(i: number): ConditionStep {
    const status = this.#state.status[i]!;
    // A continued foreach step keeps its items' outputs (null where one failed); other failures have none.
    const has = status === 'succeeded' || (status === 'failed' && this.#state.continued[i] === 1 && this.fanouts[i] !== undefined);
    const items = this.summariesOf(i);
    return { ...(has ? this.properties[i] : {}), status, ...(has ? { output: this.outputs[i] } : {}), ...(items ? { items } : {}) };
  }

  /** `${steps.<id>.items}` of a foreach step: live while it runs, kept once it settled (or taken whole from a record). */
  summariesOf(i: number): ItemSummary[] | undefined {
    const known = this.#itemSummaries[i];
    if (known) return known;
    const fanout = this.fanouts[i];
    if (fanout) {
      const list = fanout.summaries();
      if (this.#state.status[i] !== 'running') this.#itemSummaries[i] = list;
      return list;
    }
    if (!this.#steps[i]!.foreach) return undefined;
    // Reused whole (every item succeeded then: each counted as tried once, as a first run of it reads), or
    // failed before its list could be taken: no item ran now.
    if (this.reused[i]) return (this.#itemSummaries[i] = Array.isArray(this.outputs[i]) ? (this.outputs[i] as unknown[]).map((_, index) => ({ index, status: 'succeeded', attempts: 1 })) : []);
    return this.#state.status[i] === 'failed' ? (this.#itemSummaries[i] = []) : undefined;
  }

  /** Records a failure with its texts redacted; returns what was recorded. */
  fail(i: number, error: StepFailure): StepFailure {
    const redact = this.#secrets.redact;
    return (this.errors[i] = { code: error.code, message: redact(error.message), ...(error.hint ? { hint: redact(error.hint) } : {}), ...(error.detail === undefined ? {} : { detail: redact(error.detail) }) });
  }

  /** Makes step `i`'s shown result from its real one: secrets replaced, credential headers taken out. */
  show(i: number): Shown {
    const secrets = this.#secrets;
    const output = secrets.redactValue(this.outputs[i]);
    const strip = this.#strip(i);
    const fanout = this.fanouts[i];
    // A foreach step's properties are its items', each with its credentials taken out before they are merged.
    const own = this.properties[i];
    const kept = own ? (fanout ? fanout.mergedProperties(strip) : strip(own)) : undefined;
    const stripped = fanout ? fanout.properties.some((p) => p !== undefined && strip(p) !== p) : kept !== own;
    const props = kept ? secrets.redactValue(kept) : undefined;
    this.#shownOutputs[i] = output.value;
    this.#shownProperties[i] = props?.value;
    this.#redacted[i] = output.redacted || props?.redacted === true || stripped ? 1 : 0;
    this.#shownAt[i] = secrets.version;
    return this.shown(i);
  }

  /** Step `i`'s shown result, as last made by `show`. */
  shown(i: number): Shown {
    const properties = this.#shownProperties[i];
    return { output: this.#shownOutputs[i], ...(properties ? { properties } : {}), ...(this.#redacted[i] ? { redacted: true as const } : {}) };
  }

  /** One item's result as its event shows it: credentials taken out, secrets replaced. */
  showItem(i: number, output: unknown, props: Record<string, unknown> | undefined): Shown {
    const shownOutput = this.#secrets.redactValue(output);
    const kept = props ? this.#strip(i)(props) : undefined;
    const shownProps = kept ? this.#secrets.redactValue(kept) : undefined;
    const redacted = shownOutput.redacted || shownProps?.redacted === true || kept !== props;
    return { output: shownOutput.value, ...(shownProps ? { properties: shownProps.value } : {}), ...(redacted ? { redacted: true as const } : {}) };
  }

  /**
   * A resolved input as it may be shown (step `i`'s, or one of its items'): the fields its action says hold
   * credentials taken out (http: the values of credential `headers`, as in its properties), then every secret
   * replaced. Never marks the result `redacted`: what a step was given is not what it produced.
   */
  showInput(i: number, input: unknown): unknown {
    const kept = input !== null && typeof input === 'object' && !Array.isArray(input) ? this.#strip(i)(input as Record<string, unknown>) : input;
    return this.#secrets.redactValue(kept).value;
  }

  /** Step `i` (not a foreach step) ended with `input`: shown now for its event, kept for the report. */
  keepInput(i: number, input: unknown): unknown {
    this.#inputAt[i] = this.#secrets.version;
    return (this.#shownInputs[i] = this.showInput(i, input));
  }

  /** Item `index` of a foreach step ended with `input`: shown now for its event, kept for the report. */
  keepItemInput(fanout: Fanout, index: number, input: unknown): unknown {
    fanout.inputAt[index] = this.#secrets.version;
    return (fanout.inputs[index] = this.showInput(fanout.step, input));
  }

  /** A shown value made at secrets version `at`, with the secrets learned since replaced too. */
  #redoneSince(value: unknown, at: number): unknown {
    const secrets = this.#secrets;
    if (value === undefined || at === secrets.version) return value;
    const later = this.#redactorsSince.get(at) ?? this.#redactorsSince.set(at, secrets.redactorSince(at)).get(at)!;
    return secrets.redactValue(value, later).value;
  }

  /** A step's entry in the report. */
  report(i: number): StepReport {
    const state = this.#state;
    const s = state.status[i] as StepReport['status'];
    const fanout = this.fanouts[i];
    const hasOutput = s === 'succeeded' || (s === 'failed' && fanout !== undefined && state.continued[i] === 1);
    const secrets = this.#secrets;
    if (hasOutput && this.#shownAt[i] !== secrets.version) {
      // Only the secrets learned since: cheap even when a server sets a new cookie on every answer.
      const since = this.#shownAt[i]!;
      const later = this.#redactorsSince.get(since) ?? this.#redactorsSince.set(since, secrets.redactorSince(since)).get(since)!;
      this.#shownOutputs[i] = secrets.redactValue(this.#shownOutputs[i], later).value;
      if (this.#shownProperties[i]) this.#shownProperties[i] = secrets.redactValue(this.#shownProperties[i], later).value;
    }
    const started = this.started[i]!;
    const finished = this.finished[i]! || started;
    const error = this.errors[i];
    const redact = secrets.redact;
    const skipReason = state.skipReason[i];
    const input = this.#redoneSince(this.#shownInputs[i], this.#inputAt[i]!);
    return {
      status: s,
      output: hasOutput ? this.#shownOutputs[i] : null,
      ...(input === undefined ? {} : { input }),
      // Redacted again: a secret may have been learned after the step ended.
      ...(error ? { error: redact(error.message), errorCode: error.code, ...(error.hint ? { hint: redact(error.hint) } : {}), ...(error.detail === undefined ? {} : { errorDetail: redact(error.detail) }) } : {}),
      ...(started > 0 ? { startedAt: new Date(started).toISOString(), finishedAt: new Date(finished).toISOString(), durationMs: finished - started, ...(fanout ? {} : { attempts: this.attempts[i]! }) } : {}),
      ...(hasOutput && this.#shownProperties[i] ? { properties: this.#shownProperties[i] } : {}),
      ...(this.reused[i] ? { reused: true } : {}),
      ...(this.cached[i] || (fanout && fanout.count > 0 && fanout.cached.every((c) => c === 1)) ? { cached: true as const } : {}),
      ...(this.#hasUsage(i) ? { costUsd: this.stepCost(i) } : {}),
      ...(skipReason ? { skipReason } : {}),
      ...(this.workers[i] === undefined ? {} : { worker: this.workers[i] }),
      ...(state.continued[i] ? { continued: true } : {}),
      ...(fanout ? { items: fanout.reports(redact, (usage) => this.costOf(usage), (input, at) => this.#redoneSince(input, at)) } : {}),
    };
  }

  /** What `usage` cost in dollars: null when it has no price (or no prices were given). */
  costOf(usage: UnitUsage): number | null {
    return this.#pricing ? this.#pricing.costOf(usage) : null;
  }

  /**
   * A step or item succeeded: what it spent (its usage and cost) or, from the cache, what it saved (counted
   * here, once). The fields its end event carries.
   */
  unitCost(outcome: { usage?: UnitUsage; cached?: { usage?: UnitUsage; costUsd?: number | null } }): { usage?: UnitUsage; costUsd?: number | null; cached?: true } {
    if (outcome.cached) {
      const saved = this.#saved;
      saved.hits++;
      const usage = outcome.cached.usage;
      if (usage) saved.tokens += usage.inputTokens + usage.outputTokens;
      const usd = outcome.cached.costUsd ?? (usage ? this.costOf(usage) : 0);
      saved.usd = addCost(saved.usd, usd);
      return { cached: true };
    }
    return outcome.usage ? { usage: outcome.usage, costUsd: this.costOf(outcome.usage) } : {};
  }

  /** What step `i` cost in this run (a foreach step: its items that ran); null when a model has no price. */
  stepCost(i: number): number | null {
    const fanout = this.fanouts[i];
    const units = fanout ? fanout.usage : [this.usages[i]];
    let total: number | null = 0;
    for (const u of units) if (u) total = addCost(total, this.costOf(u));
    return total;
  }

  #hasUsage(i: number): boolean {
    const fanout = this.fanouts[i];
    return fanout ? fanout.usage.some((u) => u !== undefined) : this.usages[i] !== undefined;
  }

  /** What the run's calls cost, by model (reused results and cache hits cost nothing). */
  cost(): RunCost {
    const byModel: Record<string, number | null> = {};
    let usd: number | null = 0;
    const add = (usage: UnitUsage | undefined) => {
      if (!usage) return;
      const c = this.costOf(usage);
      const model = usage.model ?? 'unknown';
      byModel[model] = addCost(byModel[model], c);
      usd = addCost(usd, c);
    };
    for (let i = 0; i < this.#steps.length; i++) {
      if (this.reused[i]) continue;
      const fanout = this.fanouts[i];
      if (!fanout) add(this.usages[i]);
      else for (const u of fanout.usage) add(u);
    }
    return { usd, byModel };
  }

  /** What the step cache saved this run. */
  cacheSavings(): { hits: number; savedUsd: number | null; savedTokens: number } {
    return { hits: this.#saved.hits, savedUsd: this.#saved.usd, savedTokens: this.#saved.tokens };
  }

  /** Tokens by model over what ran in this run (each item of a foreach step; nothing reused). */
  usage(): Record<string, ModelUsage> {
    const totals: Record<string, ModelUsage> = {};
    const add = (usage: UnitUsage | undefined) => {
      if (!usage?.model) return;
      const total = (totals[usage.model] ??= { calls: 0, inputTokens: 0, outputTokens: 0 });
      total.calls++;
      total.inputTokens += usage.inputTokens;
      total.outputTokens += usage.outputTokens;
    };
    for (let i = 0; i < this.#steps.length; i++) {
      if (this.reused[i]) continue;
      const fanout = this.fanouts[i];
      if (!fanout) add(this.usages[i]);
      else for (const u of fanout.usage) add(u);
    }
    return totals;
  }

  #strip(i: number): (properties: Record<string, unknown>) => Record<string, unknown> {
    const without = this.#actions[i]!.withoutCredentials;
    return without ? (p) => without(p) : (p) => p;
  }
}

/** The error fields of a `step:end` or `item:end` event. */
export function errorFields(error: StepFailure | undefined): { error?: string; errorCode?: string; hint?: string; errorDetail?: string } {
  if (!error) return {};
  return { error: error.message, errorCode: error.code, ...(error.hint ? { hint: error.hint } : {}), ...(error.detail === undefined ? {} : { errorDetail: error.detail }) };
}

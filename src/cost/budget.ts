/**
 * The run's budget (`Budget`, see scheduler/hooks.ts): dollars and tokens, `config.budget` and `--max-cost`.
 *
 * Each model call reserves its worst case first (its prompt's tokens at most, plus `maxTokens`), held until
 * it settles with what it really used. A call fits when what was spent, what calls in flight hold, and its own
 * worst case stay within the limits. So with `maxTokens` set, spend never exceeds the budget; without it the
 * worst case is only the prompt, and the run stops at the first call whose answer crosses the limit.
 *
 * A call that does not fit while others are in flight waits for them, in the order the calls asked, rather
 * than stopping the run: their worst cases are only held, and what they really spend is usually far less. It
 * is refused only when it cannot fit with nothing else held — then the budget closes, every call waiting or
 * asking later is refused too, and the run ends `budget_exceeded`. How many calls a budget allows is then the
 * same at any concurrency, never fewer because more calls happened to be in flight.
 */
import { ConductorError } from '../core/errors.ts';
import type { TokenEstimate } from '../actions/types.ts';
import type { BudgetReport, UnitUsage } from '../core/report.ts';
import type { Budget, Pricing, Reservation } from '../scheduler/hooks.ts';

export interface BudgetLimits {
  /** US dollars. */
  usd?: number;
  tokens?: number;
}

interface Held extends Reservation {
  readonly usd: number;
  readonly tokens: number;
}

interface Waiter {
  held: Held;
  resolve: (reservation: Reservation | undefined) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * Comparisons allow a billionth of the limit for floating-point error: $0.004 + $0.004 + $0.002 is
 * 0.010000000000000002 in binary, and must fit a budget of $0.01.
 */
const SLACK = 1e-9;

export class RunBudget implements Budget {
  readonly #limits: BudgetLimits;
  readonly #pricing: Pricing;
  #spentUsd = 0;
  #spentTokens = 0;
  #heldUsd = 0;
  #heldTokens = 0;
  #inFlight = 0;
  readonly #waiting: Waiter[] = [];
  /** A call was refused, or spend crossed a limit: every call from now on is refused. */
  #closed = false;
  #exceeded = false;

  constructor(limits: BudgetLimits, pricing: Pricing) {
    for (const [name, value] of Object.entries(limits)) {
      if (value !== undefined && !(Number.isFinite(value) && value > 0)) throw new RangeError(`Expected the budget's \`${name}\` to be a number > 0, got \`${String(value)}\``);
    }
    this.#limits = limits;
    this.#pricing = pricing;
  }

  /**
   * Holds the call's worst case once it fits; undefined when it never will (the budget is closed then), or when
   * `signal` aborts while it waits. Rejects with a ConductorError (`no_price`) for a model with no price under
   * a budget in dollars: what it would cost cannot be known, so it is not made.
   */
  reserve(estimate: TokenEstimate, signal?: AbortSignal): Promise<Reservation | undefined> {
    let held: Held;
    try {
      held = this.#worstCase(estimate);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed || signal?.aborted) return Promise.resolve(undefined);
    if (this.#waiting.length === 0) {
      if (this.#fits(held)) return Promise.resolve(this.#hold(held));
      if (this.#inFlight === 0) {
        this.#close();
        return Promise.resolve(undefined);
      }
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        held,
        resolve,
        signal,
        onAbort: () => {
          const at = this.#waiting.indexOf(waiter);
          if (at !== -1) this.#waiting.splice(at, 1);
          resolve(undefined);
          // The one that left may have been holding up the rest.
          this.#admit();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  settle(reservation: Reservation, usage: UnitUsage | undefined): void {
    const held = reservation as Held;
    this.#heldUsd -= held.usd;
    this.#heldTokens -= held.tokens;
    this.#inFlight--;
    if (usage) {
      this.#spentTokens += usage.inputTokens + usage.outputTokens;
      // A call answered under another model than it asked for, and one with no price: its worst case stands in.
      this.#spentUsd += this.#pricing.costOf(usage) ?? held.usd;
    }
    const { usd, tokens } = this.#limits;
    if ((usd !== undefined && this.#spentUsd > usd * (1 + SLACK)) || (tokens !== undefined && this.#spentTokens > tokens)) {
      this.#exceeded = true;
      this.#close();
    }
    this.#admit();
  }

  get exceeded(): boolean {
    return this.#exceeded;
  }

  report(): BudgetReport {
    return { ...this.#limits, spentUsd: this.#spentUsd, spentTokens: this.#spentTokens };
  }

  #worstCase(estimate: TokenEstimate): Held {
    // `echo` is no model: it sends nothing and uses nothing.
    if (estimate.model === 'echo') return { estimate, usd: 0, tokens: 0 };
    const usage = { model: estimate.model, inputTokens: estimate.inputTokens, outputTokens: estimate.outputTokens ?? 0 };
    const usd = this.#pricing.costOf(usage);
    if (usd === null && this.#limits.usd !== undefined) {
      throw new ConductorError('no_price', `\`${estimate.model}\` has no price, and the run has a budget in dollars: what a call would cost cannot be known, so it is not made`, {
        hint: `give its price in config.prices or $CONDUCTOR_HOME/prices.yaml: \`${estimate.model}: { input: …, output: … }\` (US dollars per million tokens)`,
      });
    }
    return { estimate, usd: usd ?? 0, tokens: usage.inputTokens + usage.outputTokens };
  }

  #fits(held: Held): boolean {
    const { usd, tokens } = this.#limits;
    if (usd !== undefined && this.#spentUsd + this.#heldUsd + held.usd > usd * (1 + SLACK)) return false;
    return tokens === undefined || this.#spentTokens + this.#heldTokens + held.tokens <= tokens;
  }

  #hold(held: Held): Reservation {
    this.#heldUsd += held.usd;
    this.#heldTokens += held.tokens;
    this.#inFlight++;
    return held;
  }

  /** Calls waiting, in order, while the first fits; refused all when it never will. */
  #admit(): void {
    while (this.#waiting.length > 0) {
      const first = this.#waiting[0]!;
      if (!this.#closed && !this.#fits(first.held)) {
        if (this.#inFlight > 0) return;
        this.#close();
      }
      this.#waiting.shift();
      first.signal?.removeEventListener('abort', first.onAbort);
      first.resolve(this.#closed ? undefined : this.#hold(first.held));
    }
  }

  #close(): void {
    this.#closed = true;
  }
}

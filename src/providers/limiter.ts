/**
 * Adaptive limits per provider endpoint, so a fan-out wider than the provider allows slows down instead of
 * failing. Three mechanisms, each from the provider's own signals:
 * - concurrency, AIMD: it starts at the run's limit (a provider that never says 429 sees exactly that many
 *   calls at once), halves on a 429 (once per burst), and grows back by about one per round of successes;
 * - a pause: Retry-After, or rate-limit headers saying nothing is left until a reset, hold every new call;
 * - a request rate: `config.rateLimits` states one up front; a 429 sets it to the rate the provider accepted
 *   in the last second, and it then creeps back up (about one request per second, per second).
 */

import { ConductorError } from '../core/errors.ts';
import { LONG_WAIT_HINT, MAX_PROVIDER_WAIT_MS } from '../core/retry.ts';

export interface LimiterOptions {
  maxConcurrency: number;
  /** Requests per minute, when the user states it. */
  rpm?: number;
  now?: () => number;
}

export interface CallFeedback {
  rateLimited: boolean;
  retryAfterMs?: number;
  headers?: Readonly<Record<string, string | undefined>>;
}

export type Release = (feedback: CallFeedback) => void;
export type WaitNotice = (reason: string, untilMs: number) => void;

interface Waiter {
  resolve: (release: Release) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

export class AdaptiveLimiter {
  readonly #max: number;
  readonly #now: () => number;
  /** Current concurrency ceiling (fractional while growing back). */
  limit: number;
  inFlight = 0;
  pausedUntil = 0;
  /** Requests per second allowed to start, or Infinity. */
  rate: number;
  rateLimitedCount = 0;
  readonly #statedRate: number;
  #tokens: number;
  #lastRefill: number;
  #lastDecrease = -Infinity;
  /** When recent calls started, and when those it refused had started: their difference is what it accepts. */
  #starts: number[] = [];
  #refusedStarts: number[] = [];
  #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(options: LimiterOptions) {
    this.#max = Math.max(1, options.maxConcurrency);
    this.#now = options.now ?? Date.now;
    this.limit = this.#max;
    this.#statedRate = options.rpm ? options.rpm / 60 : Infinity;
    this.rate = this.#statedRate;
    this.#tokens = Number.isFinite(this.rate) ? Math.max(1, this.rate) : Infinity;
    this.#lastRefill = this.#now();
  }

  /**
   * Waits for a slot (calling `notice` when the wait is the provider's doing), then returns its release. A
   * provider pause that ends more than `maxPauseMs` from now (its rate-limit headers said "reset in 2 h") is
   * not waited out: the call is refused at once with a `rate_limited` error that says how long it would be.
   */
  acquire(signal: AbortSignal, notice?: WaitNotice, maxPauseMs = MAX_PROVIDER_WAIT_MS): Promise<Release> {
    signal.throwIfAborted();
    const pause = this.pausedUntil - this.#now();
    if (pause > maxPauseMs) {
      return Promise.reject(
        new ConductorError('rate_limited', `the provider asked to pause all calls for ${Math.round(pause / 60_000)} min, more than ${Math.round(maxPauseMs / 60_000)} min`, {
          hint: LONG_WAIT_HINT,
        }),
      );
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          this.#disarmIfIdle();
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#pump();
      if (this.#waiters.includes(waiter) && notice) {
        const until = Math.max(this.pausedUntil, this.#nextTokenAt());
        if (until > this.#now()) notice(this.pausedUntil > this.#now() ? 'rate limited: waiting for the provider' : 'rate limit: pacing requests', until);
      }
    });
  }

  #nextTokenAt(): number {
    if (!Number.isFinite(this.rate) || this.#tokens >= 1) return 0;
    return this.#now() + ((1 - this.#tokens) / this.rate) * 1000;
  }

  #refill(now: number): void {
    if (!Number.isFinite(this.rate)) return;
    this.#tokens = Math.min(Math.max(1, this.rate), this.#tokens + ((now - this.#lastRefill) / 1000) * this.rate);
    this.#lastRefill = now;
  }

  #pump(): void {
    const now = this.#now();
    this.#refill(now);
    while (this.#waiters.length > 0 && now >= this.pausedUntil && this.inFlight < Math.floor(this.limit) && this.#tokens >= 1) {
      const waiter = this.#waiters.shift()!;
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      this.inFlight++;
      if (Number.isFinite(this.rate)) this.#tokens -= 1;
      const startedAt = now;
      this.#starts.push(now);
      if (this.#starts.length > 4096) this.#starts = this.#starts.filter((t) => t > now - 1000);
      let released = false;
      waiter.resolve((feedback) => {
        if (released) return;
        released = true;
        this.inFlight--;
        this.#feedback(feedback, startedAt);
        this.#pump();
      });
    }
    this.#disarmIfIdle();
    this.#schedule(now);
  }

  /**
   * Wake up when a pause ends or a token arrives, if someone is waiting for it. The timer is not unref'd: a
   * call waiting here is work in progress, and the process must stay alive for it (an unref'd timer let Node
   * exit mid-run, code 13, as soon as every call was waiting). It never outlives its waiters instead: when the
   * last one is served or aborted, it is cleared.
   */
  #schedule(now: number): void {
    if (this.#timer || this.#waiters.length === 0 || this.inFlight >= Math.floor(this.limit)) return;
    const at = Math.max(this.pausedUntil, this.#nextTokenAt());
    if (at <= now) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, at - now);
  }

  #disarmIfIdle(): void {
    if (this.#timer === undefined || this.#waiters.length > 0) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Calls waiting for a slot, a token or the end of a pause. */
  get waiting(): number {
    return this.#waiters.length;
  }

  #feedback(feedback: CallFeedback, startedAt: number): void {
    const now = this.#now();
    this.#applyHeaders(feedback.headers, now);
    if (!feedback.rateLimited) {
      this.limit = Math.min(this.#max, this.limit + 1 / Math.max(1, this.limit));
      // Probe for more throughput: a learned rate creeps up by ~1 request/s each second without a 429.
      // Never above a stated rate (Infinity when none was stated).
      if (Number.isFinite(this.rate)) this.rate = Math.min(this.#statedRate, this.rate + 1 / Math.max(1, this.rate));
      return;
    }
    this.rateLimitedCount++;
    this.#refusedStarts.push(startedAt);
    if (feedback.retryAfterMs !== undefined) this.pausedUntil = Math.max(this.pausedUntil, now + feedback.retryAfterMs);
    // One decrease per burst: calls that started before the last decrease were sent under the old limit.
    if (startedAt < this.#lastDecrease) return;
    this.#lastDecrease = now;
    this.limit = Math.max(1, this.limit / 2);
    // What the provider accepted of the calls started in the last second is the rate to pace at. A caller
    // with little traffic (fewer than two accepted) learns nothing here, and just waits out the pause.
    const since = now - 1000;
    this.#starts = this.#starts.filter((t) => t > since);
    this.#refusedStarts = this.#refusedStarts.filter((t) => t > since);
    const acceptedLately = this.#starts.length - this.#refusedStarts.length;
    if (acceptedLately >= 2) {
      this.rate = Math.min(this.rate, acceptedLately);
      this.#tokens = Math.min(this.#tokens, 0);
      this.#lastRefill = now;
    }
  }

  /** OpenAI's `x-ratelimit-*` and Anthropic's `anthropic-ratelimit-*`: nothing left means pause until reset. */
  #applyHeaders(headers: CallFeedback['headers'], now: number): void {
    if (!headers) return;
    const remaining = headers['x-ratelimit-remaining-requests'] ?? headers['anthropic-ratelimit-requests-remaining'];
    if (remaining === undefined || Number(remaining) > 0) return;
    const reset = headers['x-ratelimit-reset-requests'] ?? headers['anthropic-ratelimit-requests-reset'];
    const until = reset === undefined ? undefined : resetTime(reset, now);
    if (until !== undefined) this.pausedUntil = Math.max(this.pausedUntil, until);
  }
}

/** `6m0s`, `1.5s`, `20ms` (OpenAI) or an RFC 3339 time (Anthropic). */
function resetTime(value: string, now: number): number | undefined {
  const date = Date.parse(value);
  if (!Number.isNaN(date) && /\d{4}-\d{2}-\d{2}/.test(value)) return date;
  let ms = 0;
  let matched = false;
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    matched = true;
    ms += Number(amount) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
  }
  return matched ? now + ms : undefined;
}

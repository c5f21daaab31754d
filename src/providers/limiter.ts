/**
 * Adaptive limits per provider endpoint, so a fan-out wider than the provider allows slows down instead of
 * failing. Four mechanisms, each from the provider's own signals or the user's statement:
 * - concurrency, AIMD: it starts at the run's limit (a provider that never says 429 sees exactly that many
 *   calls at once), halves on a 429 (once per burst), and grows back by about one per round of successes;
 * - a pause: Retry-After, or rate-limit headers saying nothing is left until a reset, hold every new call;
 * - a request rate: `config.rateLimits` states one up front; a 429 sets it to the rate the provider accepted
 *   in the last second, and it then creeps back up (about one request per second, per second);
 * - tokens per minute, when `config.rateLimits` states them: a call spends its estimate from a bucket before
 *   it starts, and the real count corrects it after (see tokens.ts); the provider's word (what its headers say
 *   is left, a 429) lowers the bucket.
 */

import { ConductorError } from '../core/errors.ts';
import { LONG_WAIT_HINT, MAX_PROVIDER_WAIT_MS } from '../core/retry.ts';
import { requestsLeft, tokensLeft } from './rate-headers.ts';
import { TokenBucket } from './tokens.ts';

export interface LimiterOptions {
  maxConcurrency: number;
  /** Requests per minute, when the user states it. */
  rpm?: number;
  /** Tokens per minute (input and output together), when the user states it. */
  tpm?: number;
  /** Where the stated limits come from, for messages (`config.rateLimits.openai`). */
  source?: string;
  /** How long a minute of `rpm` and `tpm` is: 60 000 ms, shorter only in tests. */
  minuteMs?: number;
  now?: () => number;
}

/** What a call is expected to cost: its prompt (a typical estimate, see tokens.ts) and its `maxTokens`, if set. */
export interface CallTokens {
  input: number;
  maxOutput?: number;
}

export interface AcquireOptions {
  /** Called when the wait is the provider's doing (a pause, pacing), with when it should end. */
  notice?: WaitNotice;
  /** A provider pause ending further away than this refuses the call instead (default 10 minutes). */
  maxPauseMs?: number;
  /** Spent against a tokens-per-minute limit (ignored without one). */
  tokens?: CallTokens;
}

export interface CallFeedback {
  rateLimited: boolean;
  retryAfterMs?: number;
  headers?: Readonly<Record<string, string | undefined>>;
  /** The tokens the provider says the call used: they correct its estimate. */
  usage?: { inputTokens: number; outputTokens: number };
}

export type Release = (feedback: CallFeedback) => void;
export type WaitNotice = (reason: string, untilMs: number) => void;

/**
 * An answer's length before any call has said (no `maxTokens`): a few paragraphs. Once calls have come back,
 * their average is used instead: a typical answer, as the prompt's estimate is a typical prompt.
 */
const FIRST_OUTPUT_GUESS = 256;

interface Waiter {
  resolve: (release: Release) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal;
  onAbort: () => void;
  /** Tokens it spends when it starts (0 without a tokens-per-minute limit). */
  tokens: number;
}

/** A started call, as its release needs it: when, its estimate, and the tokens spent by all calls up to its own. */
interface Started {
  at: number;
  tokens: number;
  spentThrough: number;
}

export class AdaptiveLimiter {
  readonly #max: number;
  readonly #now: () => number;
  readonly #source: string;
  /** Current concurrency ceiling (fractional while growing back). */
  limit: number;
  inFlight = 0;
  pausedUntil = 0;
  /** Requests per second allowed to start, or Infinity. */
  rate: number;
  rateLimitedCount = 0;
  readonly #statedRate: number;
  /** Requests that may start now (a bucket of one second's worth), Infinity without a rate. */
  #credit: number;
  #lastRefill: number;
  /** Tokens per minute, when stated. */
  readonly #tpm: TokenBucket | undefined;
  /** Tokens spent by every call started so far: what calls started after one have spent is the difference. */
  #spent = 0;
  /** Output tokens of the calls that reported them: their average is a typical answer. */
  #outputs = { tokens: 0, calls: 0 };
  #lastDecrease = -Infinity;
  /** When recent calls started, and when those it refused had started: their difference is what it accepts. */
  #starts: number[] = [];
  /** Past this many, `#starts` is trimmed to the last second; then set to twice what is left (see `#pump`). */
  #startsCap = 4096;
  #refusedStarts: number[] = [];
  #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(options: LimiterOptions) {
    this.#max = Math.max(1, options.maxConcurrency);
    this.#now = options.now ?? Date.now;
    this.#source = options.source ?? 'the stated limit';
    const minuteMs = options.minuteMs ?? 60_000;
    this.limit = this.#max;
    this.#statedRate = options.rpm ? (options.rpm / minuteMs) * 1000 : Infinity;
    this.rate = this.#statedRate;
    this.#credit = Number.isFinite(this.rate) ? Math.max(1, this.rate) : Infinity;
    this.#lastRefill = this.#now();
    this.#tpm = options.tpm ? new TokenBucket(options.tpm, minuteMs, this.#lastRefill) : undefined;
  }

  /**
   * Waits for a slot (calling `notice` when the wait is the provider's doing), then returns its release. A
   * provider pause that ends more than `maxPauseMs` from now (its rate-limit headers said "reset in 2 h") is
   * not waited out: the call is refused at once with a `rate_limited` error that says how long it would be.
   * So is a call that needs more tokens than a whole minute allows (`too_many_tokens`).
   */
  /**
   * A slot now, if the call can start at once (nobody waiting, room, no pause, its tokens in the bucket): no
   * promise, no abort listener, and the caller need not wait at all. Undefined otherwise: then `acquire`.
   */
  tryAcquire(signal: AbortSignal, tokens?: CallTokens): Release | undefined {
    if (signal.aborted || this.#waiters.length > 0) return undefined;
    let spends: number;
    try {
      spends = this.#tokensFor(tokens);
    } catch {
      return undefined; // `acquire` says why
    }
    const now = this.#now();
    this.#refill(now);
    return this.#canStart(now, spends) ? this.#start(spends, now) : undefined;
  }

  acquire(signal: AbortSignal, options: AcquireOptions = {}): Promise<Release> {
    signal.throwIfAborted();
    const maxPauseMs = options.maxPauseMs ?? MAX_PROVIDER_WAIT_MS;
    const pause = this.pausedUntil - this.#now();
    if (pause > maxPauseMs) {
      return Promise.reject(
        new ConductorError('rate_limited', `the provider asked to pause all calls for ${Math.round(pause / 60_000)} min, more than ${Math.round(maxPauseMs / 60_000)} min`, {
          hint: LONG_WAIT_HINT,
        }),
      );
    }
    let tokens: number;
    try {
      tokens = this.#tokensFor(options.tokens);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        tokens,
        onAbort: () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          this.#disarmIfIdle();
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#pump();
      if (this.#waiters.includes(waiter) && options.notice) this.#noticeWait(waiter, options.notice);
    });
  }

  /**
   * What a call spends from the tokens-per-minute bucket: its prompt, and its `maxTokens` or else a typical
   * answer. One whose prompt and `maxTokens` alone are more than the whole minute allows is refused: the
   * bucket never holds that much, and the providers refuse such a request too (OpenAI: "Request too large").
   * One that fits only without its guessed answer waits for a full bucket.
   */
  #tokensFor(call: CallTokens | undefined): number {
    if (!this.#tpm || !call) return 0;
    const capacity = this.#tpm.capacity;
    const known = call.input + (call.maxOutput ?? 0);
    if (known > capacity) {
      const what = call.maxOutput === undefined ? 'its prompt' : 'its prompt and maxTokens';
      throw new ConductorError('too_many_tokens', `the call needs about ${count(known)} tokens (${what}), more than the ${count(capacity)} a minute that ${this.#source}.tpm allows`, {
        hint: `shorten the prompt${call.maxOutput === undefined ? '' : ' or lower maxTokens'}, or raise ${this.#source}.tpm if the provider allows more`,
      });
    }
    const output = call.maxOutput ?? (this.#outputs.calls > 0 ? Math.ceil(this.#outputs.tokens / this.#outputs.calls) : FIRST_OUTPUT_GUESS);
    return Math.min(capacity, call.input + output);
  }

  #noticeWait(waiter: Waiter, notice: WaitNotice): void {
    const now = this.#now();
    const requests = this.#nextRequestAt();
    const tokens = this.#tokensReadyAt(waiter, now);
    const until = Math.max(this.pausedUntil, requests, tokens);
    if (until <= now) return;
    notice(this.pausedUntil > now ? 'rate limited: waiting for the provider' : tokens > requests ? 'rate limit: pacing tokens' : 'rate limit: pacing requests', until);
  }

  /** When the bucket will hold what `waiter` and the calls queued ahead of it spend (0 without a bucket). */
  #tokensReadyAt(waiter: Waiter, now: number): number {
    if (!this.#tpm) return 0;
    let ahead = 0;
    for (const w of this.#waiters) {
      ahead += w.tokens;
      if (w === waiter) break;
    }
    return this.#tpm.readyAt(ahead, now);
  }

  #nextRequestAt(): number {
    if (!Number.isFinite(this.rate) || this.#credit >= 1) return 0;
    return this.#now() + ((1 - this.#credit) / this.rate) * 1000;
  }

  #refill(now: number): void {
    if (!Number.isFinite(this.rate)) return;
    this.#credit = Math.min(Math.max(1, this.rate), this.#credit + ((now - this.#lastRefill) / 1000) * this.rate);
    this.#lastRefill = now;
  }

  /** Calls start in the order they came: one waiting for more tokens holds back smaller ones behind it. */
  #canStart(now: number, tokens: number): boolean {
    if (now < this.pausedUntil || this.inFlight >= Math.floor(this.limit) || this.#credit < 1) return false;
    return !this.#tpm || this.#tpm.level(now) >= tokens;
  }

  #pump(): void {
    const now = this.#now();
    this.#refill(now);
    while (this.#waiters.length > 0 && this.#canStart(now, this.#waiters[0]!.tokens)) {
      const waiter = this.#waiters.shift()!;
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(this.#start(waiter.tokens, now));
    }
    this.#disarmIfIdle();
    this.#schedule(now);
  }

  /** Starts a call that spends `tokens`: its release. */
  #start(tokens: number, now: number): Release {
    this.inFlight++;
    if (Number.isFinite(this.rate)) this.#credit -= 1;
    this.#tpm?.spend(tokens, now);
    this.#spent += tokens;
    const call: Started = { at: now, tokens, spentThrough: this.#spent };
    this.#starts.push(now);
    if (this.#starts.length > this.#startsCap) {
      this.#starts = this.#starts.filter((t) => t > now - 1000);
      // Trimmed again only once it has doubled: above 4,096 calls a second, a fixed cap had it copy the
      // whole last second on every call.
      this.#startsCap = Math.max(4096, 2 * this.#starts.length);
    }
    let released = false;
    return (feedback) => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.#feedback(feedback, call);
      this.#pump();
    };
  }

  /**
   * Wake up when a pause ends or a request or the tokens arrive, if someone is waiting for it. The timer is
   * not unref'd: a call waiting here is work in progress, and the process must stay alive for it (an unref'd
   * timer let Node exit mid-run, code 13, as soon as every call was waiting). It never outlives its waiters
   * instead: when the last one is served or aborted, it is cleared.
   */
  #schedule(now: number): void {
    const head = this.#waiters[0];
    if (this.#timer || !head || this.inFlight >= Math.floor(this.limit)) return;
    const at = Math.max(this.pausedUntil, this.#nextRequestAt(), this.#tpm ? this.#tpm.readyAt(head.tokens, now) : 0);
    if (at <= now) return;
    // At most what a timer can hold (about 24.8 days): past it Node fires at once, and the queue would spin.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, Math.min(Math.ceil(at - now), 2 ** 31 - 1));
  }

  #disarmIfIdle(): void {
    if (this.#timer === undefined || this.#waiters.length > 0) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Calls waiting for a slot, a request, tokens or the end of a pause. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Tokens in the bucket now (Infinity without a tokens-per-minute limit). */
  get tokensLeft(): number {
    return this.#tpm ? this.#tpm.level(this.#now()) : Infinity;
  }

  #feedback(feedback: CallFeedback, call: Started): void {
    const now = this.#now();
    this.#settleTokens(feedback, call, now);
    this.#applyHeaders(feedback.headers, now);
    if (!feedback.rateLimited) {
      this.limit = Math.min(this.#max, this.limit + 1 / Math.max(1, this.limit));
      // Probe for more throughput: a learned rate creeps up by ~1 request/s each second without a 429.
      // Never above a stated rate (Infinity when none was stated).
      if (Number.isFinite(this.rate)) this.rate = Math.min(this.#statedRate, this.rate + 1 / Math.max(1, this.rate));
      return;
    }
    this.rateLimitedCount++;
    this.#refusedStarts.push(call.at);
    if (feedback.retryAfterMs !== undefined) this.pausedUntil = Math.max(this.pausedUntil, now + feedback.retryAfterMs);
    // One decrease per burst: calls that started before the last decrease were sent under the old limit.
    if (call.at < this.#lastDecrease) return;
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
      this.#credit = Math.min(this.#credit, 0);
      this.#lastRefill = now;
    }
  }

  /**
   * Settles a call's tokens: its estimate is replaced by what it really used. A 429 used nothing, but says the
   * provider has nothing left; headers say how much is. Either was true when the provider answered, before
   * what the calls started since will spend: that is taken off (the estimates of those still running count
   * twice if the provider had already counted them; the bucket errs low, never high).
   */
  #settleTokens(feedback: CallFeedback, call: Started, now: number): void {
    const usage = feedback.usage;
    const used = usage ? usage.inputTokens + usage.outputTokens : 0;
    if (usage && used > 0) {
      this.#outputs.tokens += usage.outputTokens;
      this.#outputs.calls++;
    }
    const bucket = this.#tpm;
    if (!bucket) return;
    const spentSince = this.#spent - call.spentThrough;
    if (feedback.rateLimited) {
      bucket.spend(-call.tokens, now);
      bucket.atMost(0 - spentSince, now);
      return;
    }
    // A call that failed otherwise, or whose provider reports no usage, keeps its estimate: it may have been counted.
    if (used > 0) bucket.spend(used - call.tokens, now);
    const left = feedback.headers && tokensLeft(feedback.headers, now);
    // A provider cannot have fewer than no tokens left: a count below zero is a mistake, read as none.
    if (left) bucket.atMost(Math.max(0, left.remaining) - spentSince, now);
  }

  /**
   * OpenAI's `x-ratelimit-*` and Anthropic's `anthropic-ratelimit-*`: no requests left, or no tokens left when
   * no bucket meters them, pauses every call until the reset. (A bucket has its own, finer pace: the reset is
   * when the provider's is full again, not when it holds the next call.)
   */
  #applyHeaders(headers: CallFeedback['headers'], now: number): void {
    if (!headers) return;
    for (const left of [requestsLeft(headers, now), this.#tpm ? undefined : tokensLeft(headers, now)]) {
      if (left && left.remaining <= 0 && left.resetAt !== undefined) this.pausedUntil = Math.max(this.pausedUntil, left.resetAt);
    }
  }
}

function count(tokens: number): string {
  return Math.round(tokens).toLocaleString('en-US');
}

/**
 * Org-wide rate limits in Redis: every process calling one provider endpoint shares one limit of requests per
 * minute and tokens per minute, and a 429 anywhere pauses that endpoint everywhere (issue #17; design in
 * scale-out.md §2.7 and §4.10).
 *
 * Each limit is a GCRA bucket (the "theoretical arrival time" form of a token bucket, as redis-cell and
 * redis_rate): one key per limit holding the time at which the bucket would be full again. One Lua script
 * checks the pause and both limits and spends from both, or from neither (a call refused for its tokens does
 * not spend a request), atomically, on Redis's clock (`TIME`): hosts' clocks never enter. It answers "go" with
 * the Redis time of the grant, or "wait N ms": the caller sleeps that long and asks again — no polling.
 * - rpm: requests are spaced evenly (`burst` 1 by default: at most `rpm` grants in any window of a minute, as
 *   OpenAI enforces a per-minute limit per second); a larger `burst` lets that many go at once.
 * - tpm: a call spends its estimate when it starts, and `correct` moves the bucket by the real count after (a
 *   refund or a debt), as `TokenBucket` does in process; the bucket holds a minute's worth.
 * - pause: `pause(forMs)` holds every acquirer until Redis time + forMs (the later of two pauses wins); the key
 *   expires by itself.
 *
 * Not wired into the engine yet: it is meant to sit behind the per-process `AdaptiveLimiter`
 * (providers/limiter.ts) when a run uses `--queue`, which later work adds. A Redis that evicts keys loses
 * limits (and BullMQ's locks): `checkRedisPolicy` says so.
 */

import type { Redis } from 'ioredis';
import { ConductorError } from '../core/errors.ts';

export interface RateBucketOptions {
  /** Prefix of every key (a deployment's, or a test's own). */
  prefix: string;
  /** The endpoint the limits belong to, e.g. `openai` or `openai:gpt-4o`. */
  key: string;
  /** Requests per minute. */
  rpm?: number;
  /** Requests that may go at once (default 1: evenly spaced). */
  burst?: number;
  /** Tokens per minute (input and output together). */
  tpm?: number;
  /** How long a minute is: 60 000 ms, shorter only in tests. */
  minuteMs?: number;
}

export interface BucketAcquireOptions {
  /** The call's estimated tokens, spent against `tpm` (ignored without one). */
  tokens?: number;
  /** Called before each wait, with why and how long. */
  notice?: (reason: BucketWaitReason, waitMs: number) => void;
}

export type BucketWaitReason = 'paused' | 'rpm' | 'tpm';

/** A granted call: when Redis granted it (µs of Redis time) and the tokens it spent. */
export interface Grant {
  atMicros: number;
  tokens: number;
}

/**
 * KEYS: rpm tat, tpm tat, pause. ARGV: rpm interval µs (0 = no limit), rpm tolerance µs, tpm interval µs per
 * token (0 = none), tpm tolerance µs, tokens. Returns {0, grant µs} or {1, wait ms, reason}.
 * tat: the Redis time (µs) at which the bucket is full again; a grant moves it by cost × interval, and is
 * allowed while the moved tat stays within the tolerance (the bucket's size × interval) ahead of now.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pause = tonumber(redis.call('GET', KEYS[3]) or '0')
if pause > now then return {1, math.ceil((pause - now) / 1000), 'paused'} end
local names = {'rpm', 'tpm'}
local costs = {1, tonumber(ARGV[5])}
local tats = {}
for i = 1, 2 do
  local interval = tonumber(ARGV[2 * i - 1])
  if interval > 0 then
    local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), now)
    local moved = tat + costs[i] * interval
    local over = moved - now - tonumber(ARGV[2 * i])
    if over > 0 then return {1, math.ceil(over / 1000), names[i]} end
    tats[i] = moved
  end
end
for i = 1, 2 do
  if tats[i] then redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1) end
end
return {0, now}
`;

/** KEYS: tpm tat. ARGV: µs to move it by (negative: a refund). */
const CORRECT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now) + tonumber(ARGV[1])
if tat <= now then redis.call('DEL', KEYS[1]) return 0 end
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
return 1
`;

/** KEYS: pause. ARGV: ms. Returns the pause's end, µs of Redis time (a later one already set stands). */
const PAUSE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untilUs = now + tonumber(ARGV[1]) * 1000
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= untilUs then return current end
redis.call('SET', KEYS[1], string.format('%.0f', untilUs), 'PX', tonumber(ARGV[1]))
return untilUs
`;

interface BucketCommands {
  conductorRateAcquire(rpm: string, tpm: string, pause: string, ...args: (string | number)[]): Promise<[0, number] | [1, number, BucketWaitReason]>;
  conductorRateCorrect(tpm: string, micros: number): Promise<number>;
  conductorRatePause(pause: string, ms: number): Promise<number>;
}

export class RedisRateBucket {
  readonly #redis: Redis & BucketCommands;
  readonly #keys: { rpm: string; tpm: string; pause: string };
  /** µs between requests (0: no rpm limit), and how far ahead of now a grant may move the tat (burst × interval). */
  readonly #rpm: { interval: number; tolerance: number };
  /** µs per token (0: no tpm limit), how far ahead of now the tat may go (a minute), and the bucket in tokens. */
  readonly #tpm: { interval: number; tolerance: number; capacity: number };

  constructor(redis: Redis, options: RateBucketOptions) {
    const minuteUs = (options.minuteMs ?? 60_000) * 1000;
    for (const [name, value] of [['rpm', options.rpm], ['tpm', options.tpm], ['minuteMs', options.minuteMs]] as const) {
      if (value !== undefined && !(Number.isFinite(value) && value > 0)) throw new ConductorError('RATE_LIMIT_INVALID', `${name} must be a positive number, not ${value}`);
    }
    // Below one request at once, not even an empty bucket would ever let a call go.
    if (options.burst !== undefined && !(Number.isFinite(options.burst) && options.burst >= 1)) throw new ConductorError('RATE_LIMIT_INVALID', `burst must be a number ≥ 1, not ${options.burst}`);
    // An empty key would make an empty hash tag: the three keys would fall into different cluster slots.
    if (!options.key) throw new ConductorError('RATE_LIMIT_INVALID', 'the endpoint key must not be empty');
    defineCommands(redis);
    this.#redis = redis as Redis & BucketCommands;
    // One hash tag per endpoint: the three keys share a slot on a cluster.
    const base = `${options.prefix}rl:{${options.key}}:`;
    this.#keys = { rpm: `${base}rpm`, tpm: `${base}tpm`, pause: `${base}pause` };
    // Whole µs, rounded up: grants are never closer than the limit allows.
    const rpmInterval = options.rpm === undefined ? 0 : Math.ceil(minuteUs / options.rpm);
    this.#rpm = { interval: rpmInterval, tolerance: rpmInterval * (options.burst ?? 1) };
    // Not rounded: past a million tokens a minute a token takes under a µs, and whole µs would refill too slowly
    // (the script's numbers are doubles; the tat it stores is rounded once per grant, not per token).
    const tpmInterval = options.tpm === undefined ? 0 : minuteUs / options.tpm;
    // A bucket of a minute's worth: a call may spend up to `tpm` at once.
    this.#tpm = { interval: tpmInterval, tolerance: tpmInterval * (options.tpm ?? 0), capacity: options.tpm ?? Infinity };
  }

  /**
   * Waits until the endpoint's limits let one call go, and spends from them. Rejects with the signal's
   * reason when it aborts (a wait ends at once), and refuses a call whose tokens exceed the whole bucket.
   */
  async acquire(options: BucketAcquireOptions = {}, signal?: AbortSignal): Promise<Grant> {
    const estimate = options.tokens ?? 0;
    if (!(Number.isFinite(estimate) && estimate >= 0)) throw new ConductorError('RATE_LIMIT_INVALID', `a call's tokens must be a number ≥ 0, not ${estimate}`);
    const tokens = this.#tpm.interval > 0 ? Math.ceil(estimate) : 0;
    if (tokens > this.#tpm.capacity) {
      throw new ConductorError('RATE_LIMIT_TOO_LARGE', `a call estimated at ${tokens} tokens exceeds the limit of ${this.#tpm.capacity} tokens per minute: it can never go`);
    }
    for (;;) {
      signal?.throwIfAborted();
      const answer = await this.#redis.conductorRateAcquire(
        this.#keys.rpm, this.#keys.tpm, this.#keys.pause,
        this.#rpm.interval, this.#rpm.tolerance, this.#tpm.interval, this.#tpm.tolerance, tokens,
      );
      if (answer[0] === 0) return { atMicros: answer[1], tokens };
      const [, waitMs, reason] = answer;
      options.notice?.(reason, waitMs);
      await sleep(Math.max(1, waitMs), signal);
    }
  }

  /** After a call: the real token count moves the tokens-per-minute bucket by the difference from the estimate. */
  async correct(tokensEstimated: number, tokensUsed: number): Promise<void> {
    const difference = tokensUsed - tokensEstimated;
    if (this.#tpm.interval === 0 || !Number.isFinite(difference) || difference === 0) return;
    await this.#redis.conductorRateCorrect(this.#keys.tpm, Math.round(difference * this.#tpm.interval));
  }

  /** A 429 (or Retry-After): every acquirer of this endpoint, in every process, waits `forMs` from now. Returns its end (µs of Redis time). */
  async pause(forMs: number): Promise<number> {
    if (!Number.isFinite(forMs)) throw new ConductorError('RATE_LIMIT_INVALID', `a pause must be a finite number of ms, not ${forMs}`);
    const ms = Math.ceil(forMs);
    if (!(ms > 0)) return 0;
    return this.#redis.conductorRatePause(this.#keys.pause, ms);
  }

  /** The connection is the caller's (one is shared with BullMQ): nothing to close here but our hold on it. */
  close(): void {}
}

/**
 * Why this Redis must not be used for Conductor's queue and limits, if it must not: a `maxmemory-policy`
 * other than `noeviction` evicts keys under memory pressure — limits reset and queue locks vanish, so work runs
 * twice. Undefined when the policy is `noeviction`.
 */
export async function checkRedisPolicy(redis: Pick<Redis, 'info'>, shownUrl = 'this Redis'): Promise<string | undefined> {
  let policy: string | undefined;
  try {
    // From INFO, as BullMQ reads it: managed Redis services (ElastiCache, Memorystore, Upstash) refuse CONFIG.
    policy = /^maxmemory_policy:(\S+)/m.exec(await redis.info('memory'))?.[1];
  } catch (error) {
    return `cannot read maxmemory-policy of ${shownUrl} (${(error as Error).message.split('\n')[0]}): Conductor needs it to be noeviction`;
  }
  return policyProblem(policy, shownUrl);
}

/** The message for a policy that is not `noeviction` (see `checkRedisPolicy`). */
export function policyProblem(policy: string | undefined, shownUrl = 'this Redis'): string | undefined {
  if (policy === 'noeviction') return undefined;
  return `${shownUrl} has maxmemory-policy ${policy ?? '(unknown)'}: Conductor needs noeviction, or evicted keys lose rate limits and job locks (work would run twice). Set it with \`CONFIG SET maxmemory-policy noeviction\` or in redis.conf.`;
}

const defined = new WeakSet<Redis>();

/** The scripts, loaded once per connection: ioredis runs them by EVALSHA and falls back to EVAL. */
function defineCommands(redis: Redis): void {
  if (defined.has(redis)) return;
  redis.defineCommand('conductorRateAcquire', { numberOfKeys: 3, lua: ACQUIRE });
  redis.defineCommand('conductorRateCorrect', { numberOfKeys: 1, lua: CORRECT });
  redis.defineCommand('conductorRatePause', { numberOfKeys: 1, lua: PAUSE });
  defined.add(redis);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

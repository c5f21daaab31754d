/**
 * The queue's shared rate limits (ActionContext.sharedLimits): one Redis GCRA bucket per endpoint and stated
 * limits (rate-bucket.ts), so every worker calling a provider together stays under `config.rateLimits`, and a
 * 429 anywhere pauses that endpoint everywhere. Without stated limits a call only waits out a shared pause.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SharedGrant, SharedLimits, SharedLimitSettings } from '../actions/types.ts';
import { RedisRateBucket, type BucketWaitReason } from './rate-bucket.ts';

/** How long every process holds off an endpoint after a 429 that gave no Retry-After. */
const PAUSE_WITHOUT_RETRY_AFTER_MS = 1_000;

const REASONS: Record<BucketWaitReason, string> = {
  paused: 'the provider said to wait (a 429 seen by a worker)',
  rpm: 'the requests-per-minute limit shared by the workers',
  tpm: 'the tokens-per-minute limit shared by the workers',
};

export function redisSharedLimits(redis: Redis, prefix: string): SharedLimits {
  const buckets = new Map<string, RedisRateBucket>();
  const bucketFor = (endpoint: string, limits: SharedLimitSettings): RedisRateBucket => {
    const id = `${endpoint}\u0000${limits.rpm ?? ''}\u0000${limits.tpm ?? ''}\u0000${limits.minuteMs ?? ''}`;
    let bucket = buckets.get(id);
    if (!bucket) {
      // The endpoint's key holds its base URL: hashed, so no URL (nor a brace that splits a cluster slot) is in a key.
      const key = createHash('sha256').update(endpoint).digest('hex').slice(0, 24);
      bucket = new RedisRateBucket(redis, { prefix: `${prefix}:conductor:`, key, ...limits });
      buckets.set(id, bucket);
    }
    return bucket;
  };
  return {
    async acquire(endpoint, limits, tokens, signal, notice): Promise<SharedGrant> {
      const bucket = bucketFor(endpoint, limits);
      await bucket.acquire({ tokens, notice: (reason, waitMs) => notice(REASONS[reason], Date.now() + waitMs) }, signal);
      return {
        done: (feedback) => {
          if (feedback.usage && limits.tpm) void bucket.correct(tokens, feedback.usage.inputTokens + feedback.usage.outputTokens).catch(() => {});
          if (feedback.rateLimited) void bucket.pause(feedback.retryAfterMs ?? PAUSE_WITHOUT_RETRY_AFTER_MS).catch(() => {});
        },
      };
    },
  };
}

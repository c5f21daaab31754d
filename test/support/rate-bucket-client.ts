/**
 * A separate process acquiring from a shared `RedisRateBucket` (for src/queue/rate-bucket.test.ts): its own connection,
 * a fixed number of grants, each printed as one line holding the grant's Redis time (µs).
 * argv: prefix, endpoint key, rpm, minuteMs, grants; the URL is CONDUCTOR_TEST_REDIS.
 */

import { Redis } from 'ioredis';
import { RedisRateBucket } from '../../src/queue/rate-bucket.ts';

const [prefix, key, rpm, minuteMs, grants] = process.argv.slice(2);
const redis = new Redis(process.env['CONDUCTOR_TEST_REDIS']!, { maxRetriesPerRequest: 0, retryStrategy: () => null });
const bucket = new RedisRateBucket(redis, { prefix: prefix!, key: key!, rpm: Number(rpm), minuteMs: Number(minuteMs) });
try {
  for (let i = 0; i < Number(grants); i++) {
    const grant = await bucket.acquire();
    process.stdout.write(`${grant.atMicros}\n`);
  }
} finally {
  redis.disconnect();
}

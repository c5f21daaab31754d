import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { deleteKeys, redisService, testPrefix, testRedis } from '../../test/support/services.ts';
import { checkRedisPolicy, policyProblem, RedisRateBucket, type BucketWaitReason } from './rate-bucket.ts';

const service = await redisService();

/** A connection and a key prefix of the test's own; both cleaned up after the file. */
const opened: { redis: Redis; prefix: string }[] = [];
function connection(prefix: string): Redis {
  service.assertReachable();
  const redis = testRedis(service.url);
  opened.push({ redis, prefix });
  return redis;
}
after(async () => {
  for (const { redis, prefix } of opened) {
    if (redis.status === 'ready') await deleteKeys(redis, prefix);
    redis.disconnect();
  }
});

/** Grants (µs of Redis time) within any window of `windowUs`, at most: the largest count over all windows starting at a grant. */
function mostInAnyWindow(grants: number[], windowUs: number): number {
  const sorted = [...grants].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + windowUs) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

/** Acquires, but aborts at the first wait instead of waiting: says whether (and why) the call would have waited. */
async function waitsFor(bucket: RedisRateBucket, tokens?: number): Promise<BucketWaitReason | 'go'> {
  const controller = new AbortController();
  let reason: BucketWaitReason | undefined;
  const options = {
    ...(tokens === undefined ? {} : { tokens }),
    notice: (why: BucketWaitReason) => {
      reason = why;
      controller.abort(new Error('would wait'));
    },
  };
  try {
    await bucket.acquire(options, controller.signal);
    return 'go';
  } catch (error) {
    if (reason === undefined) throw error;
    return reason;
  }
}

// Each test skips on its own where Redis is absent, so the runner counts them one by one.
describe('RedisRateBucket against the real Redis', () => {
  test('3 processes with their own connections share one rpm: never more than the limit in any minute, all served', { ...service.options, timeout: 180_000 }, async () => {
    const prefix = testPrefix();
    connection(prefix); // cleans the prefix up after
    const rpm = 20;
    const minuteMs = 1_000;
    const each = 10;
    const child = fileURLToPath(new URL('../../test/support/rate-bucket-client.ts', import.meta.url));
    const runs = [0, 1, 2].map(
      () =>
        new Promise<number[]>((resolve, reject) => {
          // The URL goes by the environment, not argv: a password in it stays out of process listings.
          const env = { ...process.env, CONDUCTOR_TEST_REDIS: service.url };
          const proc = spawn(process.execPath, [child, prefix, 'shared', String(rpm), String(minuteMs), String(each)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          let err = '';
          proc.stdout.on('data', (chunk) => (out += chunk));
          proc.stderr.on('data', (chunk) => (err += chunk));
          proc.on('error', reject);
          proc.on('close', (code) => (code === 0 ? resolve(out.trim().split('\n').map(Number)) : reject(new Error(`child exited ${code}: ${err}`))));
        }),
    );
    const perProcess = await Promise.all(runs);
    for (const grants of perProcess) assert.equal(grants.length, each, 'every process got all its grants');
    const all = perProcess.flat();
    assert.equal(new Set(all).size, all.length);
    assert.ok(mostInAnyWindow(all, minuteMs * 1000) <= rpm, `at most ${rpm} grants in any ${minuteMs} ms of Redis time`);
    // Spaced evenly (burst 1): no two grants closer than a minute / rpm.
    const sorted = all.sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]! - sorted[i - 1]! >= (minuteMs * 1000) / rpm);
  });

  test('a burst of 3 lets 3 go at once, and the 4th waits', service.options, async () => {
    const prefix = testPrefix();
    // An hour's "minute": a request a minute, so however slow the machine, the 4th finds the bucket empty.
    const bucket = new RedisRateBucket(connection(prefix), { prefix, key: 'burst', rpm: 60, burst: 3, minuteMs: 3_600_000 });
    for (let i = 0; i < 3; i++) assert.equal(await waitsFor(bucket), 'go');
    assert.equal(await waitsFor(bucket), 'rpm');
  });

  test('a pause set by one client holds the others until its end, on Redis time', service.options, async () => {
    const prefix = testPrefix();
    const options = { prefix, key: 'paused', rpm: 6_000 };
    const a = new RedisRateBucket(connection(prefix), options);
    const b = new RedisRateBucket(connection(prefix), options);
    const long = new RedisRateBucket(connection(prefix), { ...options, key: 'paused-long' });
    const hour = await long.pause(3_600_000);
    assert.equal(await long.pause(50), hour, 'a shorter pause does not cut a longer one short');
    const until = await a.pause(300);
    const notices: BucketWaitReason[] = [];
    const grant = await b.acquire({ notice: (reason) => notices.push(reason) });
    assert.ok(notices.includes('paused'));
    assert.ok(grant.atMicros >= until, 'granted only once the pause ended');
  });

  test('an abort during a wait rejects with the signal\'s reason, and a pre-aborted signal spends nothing', { ...service.options, timeout: 10_000 }, async () => {
    const prefix = testPrefix();
    const bucket = new RedisRateBucket(connection(prefix), { prefix, key: 'abort', rpm: 1, minuteMs: 60_000 });
    const aborted = AbortSignal.abort(new Error('before'));
    await assert.rejects(bucket.acquire({}, aborted), /before/);
    await bucket.acquire(); // the one request of this minute: not spent by the aborted call
    const controller = new AbortController();
    const reason = new Error('stop');
    const waiting = bucket.acquire({ notice: () => setImmediate(() => controller.abort(reason)) }, controller.signal);
    await assert.rejects(waiting, (error) => error === reason);
  });

  test('tpm: a call spends its estimate; a correction refunds or charges the difference', service.options, async () => {
    const prefix = testPrefix();
    const bucket = new RedisRateBucket(connection(prefix), { prefix, key: 'tokens', tpm: 100, minuteMs: 3_600_000 });
    assert.equal(await waitsFor(bucket, 100), 'go', 'a whole minute\'s worth goes at once');
    assert.equal(await waitsFor(bucket, 10), 'tpm', 'the bucket is empty');
    await bucket.correct(100, 20); // it used 20: 80 come back
    assert.equal(await waitsFor(bucket, 70), 'go');
    assert.equal(await waitsFor(bucket, 20), 'tpm');
    await bucket.correct(70, 60); // 10 back: 20 left
    assert.equal(await waitsFor(bucket, 20), 'go');
    await bucket.correct(20, 70); // it used 50 more than estimated: a debt later calls wait out
    assert.equal(await waitsFor(bucket, 1), 'tpm');
    await assert.rejects(bucket.acquire({ tokens: 101 }), { code: 'RATE_LIMIT_TOO_LARGE' });
  });

  test('a call refused for its tokens does not spend a request', service.options, async () => {
    const prefix = testPrefix();
    const bucket = new RedisRateBucket(connection(prefix), { prefix, key: 'both', rpm: 60, burst: 2, tpm: 100, minuteMs: 3_600_000 });
    assert.equal(await waitsFor(bucket, 90), 'go');
    assert.equal(await waitsFor(bucket, 50), 'tpm');
    assert.equal(await waitsFor(bucket, 10), 'go', 'the second request of the burst was still there');
    assert.equal(await waitsFor(bucket, 0), 'rpm');
  });

  test('keys expire by themselves once the limits are full again', service.options, async () => {
    const prefix = testPrefix();
    const redis = connection(prefix);
    const bucket = new RedisRateBucket(redis, { prefix, key: 'ttl', rpm: 60, tpm: 100, minuteMs: 60_000 });
    await bucket.acquire({ tokens: 10 });
    await bucket.pause(1_000);
    const keys = (await redis.keys(`${prefix}*`)).sort();
    assert.deepEqual(keys, [`${prefix}rl:{ttl}:pause`, `${prefix}rl:{ttl}:rpm`, `${prefix}rl:{ttl}:tpm`]);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      assert.ok(ttl > 0 && ttl <= 60_001, `${key} expires (${ttl} ms)`);
    }
  });

  test('checkRedisPolicy reads the server\'s maxmemory-policy', service.options, async () => {
    const redis = connection(testPrefix());
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as unknown as string[];
    assert.equal(await checkRedisPolicy(redis), policyProblem(policy));
  });
});

test('a policy other than noeviction is refused with a clear message', async () => {
  assert.equal(policyProblem('noeviction'), undefined);
  const message = policyProblem('allkeys-lru', 'redis://***@db:6379');
  assert.match(message!, /redis:\/\/\*\*\*@db:6379 has maxmemory-policy allkeys-lru: Conductor needs noeviction/);
  // Read from INFO (a managed Redis refuses CONFIG), as BullMQ reads it.
  const stub = { info: async () => '# Memory\r\nused_memory:1000\r\nmaxmemory_policy:volatile-lru\r\n' } as unknown as Parameters<typeof checkRedisPolicy>[0];
  assert.match((await checkRedisPolicy(stub))!, /volatile-lru/);
  const locked = { info: async () => { throw new Error("ERR unknown command 'INFO'"); } } as unknown as Parameters<typeof checkRedisPolicy>[0];
  assert.match((await checkRedisPolicy(locked))!, /cannot read maxmemory-policy .*unknown command/);
});

test('limits must be positive numbers', () => {
  const redis = {} as Redis;
  assert.throws(() => new RedisRateBucket(redis, { prefix: 'p:', key: 'k', rpm: 0 }), { code: 'RATE_LIMIT_INVALID' });
  assert.throws(() => new RedisRateBucket(redis, { prefix: 'p:', key: 'k', tpm: Number.NaN }), { code: 'RATE_LIMIT_INVALID' });
  // Under one request at once, not even an empty bucket would let a call go: it would wait for ever.
  assert.throws(() => new RedisRateBucket(redis, { prefix: 'p:', key: 'k', rpm: 600, burst: 0.5 }), { code: 'RATE_LIMIT_INVALID' });
  assert.throws(() => new RedisRateBucket(redis, { prefix: 'p:', key: '', rpm: 600 }), { code: 'RATE_LIMIT_INVALID' });
});

test('a call\'s tokens and a pause must be finite: nothing reaches Redis half-spent', service.options, async () => {
  const prefix = testPrefix();
  const redis = connection(prefix);
  const bucket = new RedisRateBucket(redis, { prefix, key: 'finite', rpm: 60, tpm: 100, minuteMs: 3_600_000 });
  await assert.rejects(bucket.acquire({ tokens: Number.NaN }), { code: 'RATE_LIMIT_INVALID' });
  await assert.rejects(bucket.pause(Number.POSITIVE_INFINITY), { code: 'RATE_LIMIT_INVALID' });
  assert.deepEqual(await redis.keys(`${prefix}*`), [], 'no request spent, no pause set');
});

test('a large tpm refills at its rate: under a µs a token is not rounded up to one', service.options, async () => {
  const prefix = testPrefix();
  const redis = connection(prefix);
  const bucket = new RedisRateBucket(redis, { prefix, key: 'large', tpm: 150_000_000 });
  await bucket.acquire({ tokens: 150_000_000 });
  // The whole bucket spent: full again a minute later (it was 150 s with whole µs a token).
  const ttl = await redis.pttl(`${prefix}rl:{large}:tpm`);
  assert.ok(ttl > 0 && ttl <= 60_001, `full again within a minute, not ${ttl} ms`);
});

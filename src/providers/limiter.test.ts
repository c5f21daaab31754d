import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdaptiveLimiter, type Release } from './limiter.ts';

const signal = new AbortController().signal;

/** Acquire `n` slots; returns the releases of those granted at once (the rest stay queued). */
async function grab(limiter: AdaptiveLimiter, n: number): Promise<{ granted: Release[]; pending: Promise<Release>[] }> {
  const granted: Release[] = [];
  const pending = Array.from({ length: n }, () => limiter.acquire(signal).then((r) => (granted.push(r), r)));
  await new Promise((r) => setImmediate(r));
  return { granted, pending };
}

describe('AdaptiveLimiter', () => {
  it('starts at the run’s limit: a provider that never says 429 sees exactly that many at once', async () => {
    const limiter = new AdaptiveLimiter({ maxConcurrency: 10 });
    const { granted } = await grab(limiter, 25);
    assert.equal(granted.length, 10);
    assert.equal(limiter.inFlight, 10);
    granted[0]!({ rateLimited: false });
    await new Promise((r) => setImmediate(r));
    assert.equal(limiter.inFlight, 10, 'a release lets exactly one more in');
    assert.equal(limiter.limit, 10, 'never above the run’s limit');
  });

  it('halves once per burst of 429s, then grows back additively', async () => {
    let now = 1_000;
    const limiter = new AdaptiveLimiter({ maxConcurrency: 8, now: () => now });
    const { granted } = await grab(limiter, 8);
    now += 10;
    for (const release of granted.slice(0, 4)) release({ rateLimited: true });
    assert.equal(limiter.limit, 4, 'four 429s from one burst halve the limit once');
    now += 10;
    const next = await grab(limiter, 4);
    for (const release of [...granted.slice(4), ...next.granted]) release({ rateLimited: false });
    assert.ok(limiter.limit > 4 && limiter.limit < 6, `grows by about one per round, got ${limiter.limit}`);
  });

  it('holds every new call until Retry-After has passed', async () => {
    const limiter = new AdaptiveLimiter({ maxConcurrency: 4 });
    const first = await limiter.acquire(signal);
    first({ rateLimited: true, retryAfterMs: 30 });
    const notices: string[] = [];
    const waitedFrom = Date.now();
    const release = await limiter.acquire(signal, (reason) => notices.push(reason));
    assert.ok(Date.now() >= limiter.pausedUntil && limiter.pausedUntil >= waitedFrom, 'granted only after the pause');
    assert.deepEqual(notices, ['rate limited: waiting for the provider']);
    release({ rateLimited: false });
  });

  it('pauses when the rate-limit headers say nothing is left until the reset', () => {
    let now = 5_000;
    const limiter = new AdaptiveLimiter({ maxConcurrency: 4, now: () => now });
    return limiter.acquire(signal).then((release) => {
      release({ rateLimited: false, headers: { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1.5s' } });
      assert.equal(limiter.pausedUntil, 6_500);
      now = 7_000;
    });
  });

  it('paces to a stated requests-per-minute', async () => {
    let now = 0;
    const limiter = new AdaptiveLimiter({ maxConcurrency: 100, rpm: 120, now: () => now });
    const { granted } = await grab(limiter, 10);
    assert.equal(granted.length, 2, 'a bucket of one second: 2 requests');
    for (const r of granted) r({ rateLimited: false });
  });

  it('a waiting caller leaves when its signal aborts', async () => {
    const limiter = new AdaptiveLimiter({ maxConcurrency: 1 });
    const held = await limiter.acquire(signal);
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort(new Error('stop'));
    await assert.rejects(waiting, /stop/);
    held({ rateLimited: false });
    assert.equal(limiter.inFlight, 0);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdaptiveLimiter, type Release } from './limiter.ts';

const signal = new AbortController().signal;

/** Acquire `n` slots; returns the releases of those granted at once (the rest stay queued). */
async function grab(limiter: AdaptiveLimiter, n: number, on = signal): Promise<{ granted: Release[]; pending: Promise<Release>[] }> {
  const granted: Release[] = [];
  const pending = Array.from({ length: n }, () => limiter.acquire(on).then((r) => (granted.push(r), r)));
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

  it('tryAcquire starts a call only when it could start at once, and never ahead of one waiting', async () => {
    let now = 1_000;
    const limiter = new AdaptiveLimiter({ maxConcurrency: 2, now: () => now });
    const first = limiter.tryAcquire(signal)!;
    const second = limiter.tryAcquire(signal)!;
    assert.ok(second);
    assert.equal(limiter.tryAcquire(signal), undefined, 'no room');
    const queued = limiter.acquire(signal);
    first({ rateLimited: false });
    assert.equal(limiter.tryAcquire(signal), undefined, 'the queued call goes first');
    assert.equal(limiter.inFlight, 2);
    second({ rateLimited: false });
    (await queued)({ rateLimited: true, retryAfterMs: 5_000 });
    assert.equal(limiter.inFlight, 0);
    assert.equal(limiter.tryAcquire(signal), undefined, 'paused');
    now += 6_000;
    assert.ok(limiter.tryAcquire(signal));
    const aborted = new AbortController();
    aborted.abort();
    assert.equal(new AdaptiveLimiter({ maxConcurrency: 2 }).tryAcquire(aborted.signal), undefined, 'an aborted call is for acquire to refuse');
    const tokens = new AdaptiveLimiter({ maxConcurrency: 2, tpm: 1_000 });
    assert.equal(tokens.tryAcquire(signal, { input: 2_000 }), undefined, 'a call too large for a minute is for acquire to refuse');
    assert.ok(tokens.tryAcquire(signal, { input: 600, maxOutput: 100 }));
    assert.equal(tokens.tryAcquire(signal, { input: 600, maxOutput: 100 }), undefined, 'its tokens are not in the bucket yet');
  });

  it('halves once per burst of 429s, then grows back additively', async () => {
    let now = 1_000;
    const limiter = new AdaptiveLimiter({ maxConcurrency: 8, now: () => now });
    const { granted } = await grab(limiter, 8);
    now += 10;
    for (const release of granted.slice(0, 4)) release({ rateLimited: true });
    assert.equal(limiter.limit, 4, 'four 429s from one burst halve the limit once');
    now += 10;
    // The 429s also set a pace, and this clock never moves: calls still waiting for it are let go at the end.
    const controller = new AbortController();
    const next = await grab(limiter, 4, controller.signal);
    for (const release of [...granted.slice(4), ...next.granted]) release({ rateLimited: false });
    assert.ok(limiter.limit > 4 && limiter.limit < 6, `grows by about one per round, got ${limiter.limit}`);
    controller.abort();
    await Promise.allSettled(next.pending);
  });

  it('holds every new call until Retry-After has passed', async () => {
    const limiter = new AdaptiveLimiter({ maxConcurrency: 4 });
    const first = await limiter.acquire(signal);
    first({ rateLimited: true, retryAfterMs: 30 });
    const notices: string[] = [];
    const waitedFrom = Date.now();
    const release = await limiter.acquire(signal, { notice: (reason) => notices.push(reason) });
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
    const controller = new AbortController();
    const granted: Release[] = [];
    const pending = Array.from({ length: 10 }, () => limiter.acquire(controller.signal).then((r) => granted.push(r), () => undefined));
    await new Promise((r) => setImmediate(r));
    assert.equal(granted.length, 2, 'a bucket of one second: 2 requests');
    for (const r of granted) r({ rateLimited: false });
    controller.abort();
    await Promise.all(pending);
  });

  // The CLI has nothing else holding the event loop open while every call waits: the wake-up timer must.
  it('a call waiting for its turn keeps the process alive, and stops doing so when it is aborted', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const limiter = new AdaptiveLimiter({ maxConcurrency: 4, rpm: 1 });
    const first = await limiter.acquire(signal);
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    assert.equal(limiter.waiting, 1);
    assert.equal(timers(), before + 1, 'a live (ref’d) timer for the next token');
    controller.abort(new Error('run over'));
    await assert.rejects(waiting, /run over/);
    assert.equal(timers(), before, 'the wait never outlives the run: no timer is left behind');
    first({ rateLimited: false });
    assert.equal(timers(), before);
  });

  it('a wake-up timer is cleared when its waiter is served before it fires', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const limiter = new AdaptiveLimiter({ maxConcurrency: 2 });
    const first = await limiter.acquire(signal);
    limiter.pausedUntil = Date.now() + 60_000;
    const waiting = limiter.acquire(signal);
    assert.equal(timers(), before + 1);
    // The pause ends early (as a learned rate can rise on a success): the next release lets the waiter in.
    limiter.pausedUntil = 0;
    first({ rateLimited: false });
    const release = await waiting;
    assert.equal(timers(), before, 'no timer waits for nobody');
    release({ rateLimited: false });
  });

  it('refuses at once a call that would wait out a provider pause of more than 10 minutes', async () => {
    let now = 0;
    const limiter = new AdaptiveLimiter({ maxConcurrency: 4, now: () => now });
    limiter.pausedUntil = 2 * 3_600_000;
    await assert.rejects(limiter.acquire(new AbortController().signal), (error: Error & { code?: string; hint?: string }) => {
      assert.equal(error.code, 'rate_limited');
      assert.match(error.message, /pause all calls for 120 min, more than 10 min/);
      assert.match(error.hint ?? '', /config\.rateLimits/);
      return true;
    });
    now = 2 * 3_600_000 - 60_000; // a minute left: waited out, not refused
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort(new Error('done'));
    await assert.rejects(waiting, /done/);
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

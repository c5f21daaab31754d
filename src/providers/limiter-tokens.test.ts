/**
 * The limiter's tokens-per-minute accounting, on an injected clock: what a call spends before it starts, how
 * the real count and the provider's word correct it, and what waits or is refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdaptiveLimiter, type CallTokens, type Release } from './limiter.ts';

const signal = new AbortController().signal;
const tick = () => new Promise((r) => setImmediate(r));

/** A limiter of `tpm` tokens a minute (100 a second at 6000) on a clock the test moves. */
function metered(tpm: number, options: { minuteMs?: number; maxConcurrency?: number } = {}) {
  const clock = { now: 0 };
  const limiter = new AdaptiveLimiter({ maxConcurrency: options.maxConcurrency ?? 10, tpm, source: 'config.rateLimits.openai', now: () => clock.now, ...(options.minuteMs ? { minuteMs: options.minuteMs } : {}) });
  return { limiter, clock };
}

/** Asks for a slot; `granted` says whether it was given yet, `notices` what the wait was shown as. */
function ask(limiter: AdaptiveLimiter, tokens: CallTokens, on = signal) {
  const state = { granted: undefined as Release | undefined, notices: [] as { reason: string; untilMs: number }[] };
  const done = limiter.acquire(on, { tokens, notice: (reason, untilMs) => state.notices.push({ reason, untilMs }) }).then((r) => (state.granted = r));
  done.catch(() => undefined); // a call left waiting is aborted when its test ends
  return Object.assign(state, { done });
}

describe('AdaptiveLimiter: tokens per minute', () => {
  it('spends a call’s estimate before it starts and settles with the real count after', async () => {
    const { limiter } = metered(6000);
    const call = ask(limiter, { input: 1000, maxOutput: 500 });
    await call.done;
    assert.equal(limiter.tokensLeft, 4500, 'prompt and maxTokens');
    call.granted!({ rateLimited: false, usage: { inputTokens: 300, outputTokens: 200 } });
    assert.equal(limiter.tokensLeft, 5500, 'the 500 really used');
  });

  it('a call that used more than its estimate leaves the bucket below zero: the next ones wait longer', async () => {
    const { limiter, clock } = metered(6000);
    const first = ask(limiter, { input: 100, maxOutput: 100 });
    await first.done;
    first.granted!({ rateLimited: false, usage: { inputTokens: 6000, outputTokens: 1000 } });
    assert.equal(limiter.tokensLeft, -1000);
    const next = ask(limiter, { input: 100, maxOutput: 100 });
    await tick();
    assert.equal(next.granted, undefined);
    assert.deepEqual(next.notices, [{ reason: 'rate limit: pacing tokens', untilMs: 12_000 }], '1200 tokens at 100 a second');
    clock.now = 11_999;
    await kick(limiter);
    assert.equal(next.granted, undefined);
    clock.now = 12_000;
    await kick(limiter);
    assert.ok(next.granted, 'let go once 1200 tokens have come in');
  });

  it('paces to the stated tpm: calls past a minute’s worth wait, in the order they came', async (t) => {
    const { limiter } = metered(6000);
    const stop = new AbortController();
    t.after(() => stop.abort());
    const calls = [2500, 2500, 2500, 100].map((input) => ask(limiter, { input, maxOutput: 0 }, stop.signal));
    await tick();
    assert.deepEqual(calls.map((c) => c.granted !== undefined), [true, true, false, false], 'the small one waits behind the large one');
    assert.deepEqual(calls[2]!.notices, [{ reason: 'rate limit: pacing tokens', untilMs: 15_000 }]);
    assert.deepEqual(calls[3]!.notices, [{ reason: 'rate limit: pacing tokens', untilMs: 16_000 }], 'after those ahead of it');
  });

  it('without maxTokens, guesses a typical answer, then uses the average of the answers reported', async () => {
    const { limiter } = metered(60_000);
    const first = ask(limiter, { input: 1000 });
    await first.done;
    assert.equal(limiter.tokensLeft, 60_000 - 1000 - 256);
    first.granted!({ rateLimited: false, usage: { inputTokens: 900, outputTokens: 40 } });
    const second = ask(limiter, { input: 1000 });
    await second.done;
    assert.equal(limiter.tokensLeft, 60_000 - 940 - 1040);
    second.granted!({ rateLimited: false, usage: { inputTokens: 900, outputTokens: 60 } });
    const third = ask(limiter, { input: 0 });
    await third.done;
    assert.equal(limiter.tokensLeft, 60_000 - 940 - 960 - 50);
  });

  it('a call whose prompt and maxTokens are more than a whole minute allows is refused at once, clearly', async () => {
    const { limiter } = metered(1000);
    await assert.rejects(limiter.acquire(signal, { tokens: { input: 800, maxOutput: 300 } }), (error: Error & { code?: string; hint?: string }) => {
      assert.equal(error.code, 'too_many_tokens');
      assert.equal(error.message, 'the call needs about 1,100 tokens (its prompt and maxTokens), more than the 1,000 a minute that config.rateLimits.openai.tpm allows');
      assert.equal(error.hint, 'shorten the prompt or lower maxTokens, or raise config.rateLimits.openai.tpm if the provider allows more');
      return true;
    });
    assert.equal(limiter.waiting, 0);
    // Only the guessed answer takes it over: it goes when the bucket is full, alone, spending all of it.
    const fits = ask(limiter, { input: 800 });
    await fits.done;
    assert.equal(limiter.tokensLeft, 0);
  });

  it('a 429 spent nothing, but says the provider has nothing left: less what calls started since will spend', async () => {
    const { limiter } = metered(6000);
    const refused = ask(limiter, { input: 1000, maxOutput: 0 });
    const later = ask(limiter, { input: 500, maxOutput: 0 });
    await Promise.all([refused.done, later.done]);
    assert.equal(limiter.tokensLeft, 4500);
    refused.granted!({ rateLimited: true });
    assert.equal(limiter.tokensLeft, -500);
    later.granted!({ rateLimited: true });
    assert.equal(limiter.tokensLeft, 0, 'the later one spent nothing either');
  });

  it('learns from x-ratelimit-remaining-tokens: never more than the provider says is left', async () => {
    const { limiter } = metered(6000);
    const first = ask(limiter, { input: 1000, maxOutput: 0 });
    const second = ask(limiter, { input: 1000, maxOutput: 0 });
    await Promise.all([first.done, second.done]);
    first.granted!({ rateLimited: false, usage: { inputTokens: 1000, outputTokens: 0 }, headers: { 'x-ratelimit-remaining-tokens': '3000', 'x-ratelimit-reset-tokens': '30s' } });
    assert.equal(limiter.tokensLeft, 2000, 'what it said, less the call started after the first');
    second.granted!({ rateLimited: false, usage: { inputTokens: 1000, outputTokens: 0 }, headers: { 'x-ratelimit-remaining-tokens': '5900' } });
    assert.equal(limiter.tokensLeft, 2000, 'more left than it thought does not raise it');
    assert.equal(limiter.pausedUntil, 0, 'a bucket paces itself: no pause');
  });

  it('learns from Anthropic’s input and output token headers: the tightest counts', async () => {
    const { limiter } = metered(60_000);
    const call = ask(limiter, { input: 1000, maxOutput: 0 });
    await call.done;
    call.granted!({
      rateLimited: false,
      usage: { inputTokens: 1000, outputTokens: 0 },
      headers: { 'anthropic-ratelimit-input-tokens-remaining': '40000', 'anthropic-ratelimit-output-tokens-remaining': '8000' },
    });
    assert.equal(limiter.tokensLeft, 8000);
  });

  it('without a stated tpm, tokens are not metered, but no tokens left pauses every call until the reset', async () => {
    const clock = { now: 1000 };
    const limiter = new AdaptiveLimiter({ maxConcurrency: 4, now: () => clock.now });
    const call = ask(limiter, { input: 1_000_000, maxOutput: 1_000_000 });
    await call.done;
    assert.equal(limiter.tokensLeft, Infinity);
    call.granted!({ rateLimited: false, headers: { 'anthropic-ratelimit-tokens-remaining': '0', 'anthropic-ratelimit-tokens-reset': new Date(5000).toISOString() } });
    assert.equal(limiter.pausedUntil, 5000);
  });

  it('a call whose provider reports no usage keeps its estimate spent', async () => {
    const { limiter } = metered(6000);
    const call = ask(limiter, { input: 1000, maxOutput: 0 });
    await call.done;
    call.granted!({ rateLimited: false, usage: { inputTokens: 0, outputTokens: 0 } });
    assert.equal(limiter.tokensLeft, 5000);
  });

  it('rpm and tpm together: a call waits for both', async (t) => {
    const clock = { now: 0 };
    const limiter = new AdaptiveLimiter({ maxConcurrency: 10, rpm: 60, tpm: 6000, now: () => clock.now });
    const stop = new AbortController();
    t.after(() => stop.abort());
    const first = ask(limiter, { input: 100, maxOutput: 0 }, stop.signal);
    const second = ask(limiter, { input: 100, maxOutput: 0 }, stop.signal);
    const third = ask(limiter, { input: 6000, maxOutput: 0 }, stop.signal);
    await first.done;
    await tick();
    assert.equal(second.granted, undefined);
    assert.deepEqual(second.notices, [{ reason: 'rate limit: pacing requests', untilMs: 1000 }], 'a request a second');
    assert.deepEqual(third.notices, [{ reason: 'rate limit: pacing tokens', untilMs: 2000 }], 'tokens take longer: 200 more at 100 a second');
  });

  // The acceptance test's short minute, on the real clock: the wake-up timer lets waiting calls go as tokens
  // arrive. Asserts who was served, not when.
  it('a call waiting for tokens is let go when they have arrived', async () => {
    const limiter = new AdaptiveLimiter({ maxConcurrency: 10, tpm: 1000, minuteMs: 50 });
    const calls = Array.from({ length: 5 }, () => limiter.acquire(signal, { tokens: { input: 600, maxOutput: 0 } }));
    for (const release of await Promise.all(calls)) release({ rateLimited: false, usage: { inputTokens: 600, outputTokens: 0 } });
    assert.equal(limiter.waiting, 0);
  });
});

/** Wakes the queue, as the wake-up timer would at that time: any acquire pumps it. This one leaves at once. */
async function kick(limiter: AdaptiveLimiter): Promise<void> {
  const controller = new AbortController();
  const extra = limiter.acquire(controller.signal);
  await tick();
  controller.abort();
  await extra.catch(() => undefined);
}

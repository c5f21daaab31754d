import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestsLeft, resetTime, tokensLeft } from './rate-headers.ts';
import { promptTokens, TokenBucket } from './tokens.ts';

describe('promptTokens', () => {
  it('is about a token per four bytes of each text, and a little for each one’s framing', () => {
    assert.equal(promptTokens(['x'.repeat(400)]), 104);
    assert.equal(promptTokens([undefined, 'x'.repeat(400), 'abc']), 104 + 1 + 4);
    // Bytes, not characters: text outside ASCII is more tokens a character.
    assert.equal(promptTokens(['é'.repeat(200)]), 104);
  });
});

describe('TokenBucket', () => {
  it('holds a minute’s worth and refills continuously, never above it', () => {
    const bucket = new TokenBucket(6000, 60_000, 0);
    bucket.spend(6000, 0);
    assert.equal(bucket.level(0), 0);
    assert.equal(bucket.level(1000), 100, '100 tokens a second');
    assert.equal(bucket.level(120_000), 6000);
  });

  it('may go below zero when a call used more than its estimate, and says when tokens will be there', () => {
    const bucket = new TokenBucket(6000, 60_000, 0);
    bucket.spend(7000, 0);
    assert.equal(bucket.level(0), -1000);
    assert.equal(bucket.readyAt(500, 0), 15_000);
    assert.equal(bucket.readyAt(500, 15_000), 15_000);
    bucket.spend(-50_000, 15_000);
    assert.equal(bucket.level(15_000), 6000, 'giving back never overfills it');
  });

  it('takes the provider’s word when it says less is left', () => {
    const bucket = new TokenBucket(6000, 60_000, 0);
    bucket.atMost(2000, 0);
    assert.equal(bucket.level(0), 2000);
    bucket.atMost(4000, 0);
    assert.equal(bucket.level(0), 2000, 'never raised by it');
  });

  it('a short minute (tests) refills as fast, scaled', () => {
    const bucket = new TokenBucket(1000, 100, 0);
    bucket.spend(1000, 0);
    assert.equal(bucket.level(50), 500);
  });
});

describe('rate-limit headers', () => {
  it('reads OpenAI’s and Anthropic’s reset times', () => {
    assert.equal(resetTime('6m0s', 1000), 361_000);
    assert.equal(resetTime('1.5s', 0), 1500);
    assert.equal(resetTime('20ms', 0), 20);
    assert.equal(resetTime('2026-01-01T00:00:10Z', 0), Date.parse('2026-01-01T00:00:10Z'));
    assert.equal(resetTime('soon', 0), undefined);
  });

  it('requests: OpenAI or Anthropic', () => {
    assert.deepEqual(requestsLeft({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '2s' }, 0), { remaining: 0, resetAt: 2000 });
    assert.deepEqual(requestsLeft({ 'anthropic-ratelimit-requests-remaining': '4' }, 0), { remaining: 4 });
    assert.equal(requestsLeft({ 'x-ratelimit-remaining-tokens': '4' }, 0), undefined);
  });

  it('tokens: the tightest of OpenAI’s, Anthropic’s combined, input and output limits', () => {
    assert.deepEqual(tokensLeft({ 'x-ratelimit-remaining-tokens': '149984', 'x-ratelimit-reset-tokens': '6ms' }, 0), { remaining: 149_984, resetAt: 6 });
    const anthropic = {
      'anthropic-ratelimit-input-tokens-remaining': '27000',
      'anthropic-ratelimit-input-tokens-reset': '2026-01-01T00:00:05Z',
      'anthropic-ratelimit-output-tokens-remaining': '7000',
      'anthropic-ratelimit-output-tokens-reset': '2026-01-01T00:00:02Z',
    };
    assert.deepEqual(tokensLeft(anthropic, 0), { remaining: 7000, resetAt: Date.parse('2026-01-01T00:00:02Z') });
    const exhausted = { ...anthropic, 'anthropic-ratelimit-input-tokens-remaining': '0', 'anthropic-ratelimit-output-tokens-remaining': '0', 'anthropic-ratelimit-tokens-remaining': '0' };
    assert.equal(tokensLeft(exhausted, 0)?.resetAt, Date.parse('2026-01-01T00:00:05Z'), 'of two at 0, the later reset');
    assert.equal(tokensLeft({ 'x-ratelimit-remaining-tokens': 'lots' }, 0), undefined);
  });
});

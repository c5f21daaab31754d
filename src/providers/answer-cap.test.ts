import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AnswerTooLargeError, cappedFetch, STREAM_ANSWER_FACTOR } from './answer-cap.ts';
import { droppedConnection, firstLine } from './failure.ts';

/** A fetch answering `total` bytes in chunks, counting what was pulled from it and whether it was cancelled. */
function source(total: number, headers: Record<string, string> = {}) {
  const state = { pulled: 0, cancelled: false };
  const fetch = (async () => {
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (state.pulled >= total) return controller.close();
        const chunk = new Uint8Array(Math.min(1000, total - state.pulled)).fill(97);
        state.pulled += chunk.length;
        controller.enqueue(chunk);
      },
      cancel() {
        state.cancelled = true;
      },
    });
    return new Response(body, { headers });
  }) as typeof globalThis.fetch;
  return { fetch, state };
}

describe('cappedFetch', () => {
  it('passes an answer within the cap through unchanged', async () => {
    const { fetch } = source(5000, { 'x-ratelimit-remaining-requests': '3' });
    const response = await cappedFetch(5000, fetch)('http://x');
    assert.equal((await response.text()).length, 5000);
    assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '3');
  });

  it('stops reading past the cap, and cancels the source (the connection closes)', async () => {
    const { fetch, state } = source(1_000_000);
    const response = await cappedFetch(10_000, fetch)('http://x');
    await assert.rejects(response.text(), (e: unknown) => e instanceof AnswerTooLargeError && e.limit === 10_000);
    assert.ok(state.pulled < 20_000, `read ${state.pulled} bytes of 1,000,000`);
    assert.equal(state.cancelled, true);
  });

  it('refuses a declared length past the cap before reading any of it', async () => {
    const { fetch, state } = source(1_000_000, { 'content-length': '1000000' });
    await assert.rejects(cappedFetch(10_000, fetch)('http://x'), AnswerTooLargeError);
    assert.equal(state.cancelled, true);
  });

  it('gives a stream (SSE, NDJSON) room for the envelope around every token', async () => {
    for (const type of ['text/event-stream', 'application/x-ndjson']) {
      const { fetch } = source(10_000 * STREAM_ANSWER_FACTOR, { 'content-type': type });
      assert.equal((await (await cappedFetch(10_000, fetch)('http://x')).text()).length, 10_000 * STREAM_ANSWER_FACTOR);
    }
  });
});

describe('failure texts', () => {
  it('an error page shows as one line: its title, or its first line with text, cut short', () => {
    assert.equal(firstLine('<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>…</body></html>'), '502 Bad Gateway');
    assert.equal(firstLine('\n\n  upstream timed out\nat line 2\n'), 'upstream timed out');
    assert.equal(firstLine('x'.repeat(500)).length, 200);
  });

  it('a connection that went away is told from an answer the server gave', () => {
    assert.equal(droppedConnection(new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) })), 'UND_ERR_SOCKET');
    assert.equal(droppedConnection(new TypeError('terminated')), 'terminated');
    assert.equal(droppedConnection(new Error('Unexpected token < in JSON')), undefined);
  });
});

/**
 * A bound on how much of a provider's answer is read. The provider SDKs buffer a response whole before
 * parsing it, so a server that answers without end (a proxy's error page looping, a misconfigured gateway, a
 * hostile endpoint) would otherwise take all the memory there is. The SDKs take a custom `fetch`: this one
 * counts body bytes as they arrive (after decompression, so a gzip bomb counts at its real size) and stops
 * reading, closing the connection, past the cap.
 */
import { formatBytes } from '../core/bytes.ts';

/**
 * 10 MB of body. The longest answer a model gives today (128k output tokens) is about 0.6 MB of JSON, so a
 * real answer never comes near; a runaway one is stopped while its memory is still small.
 */
export const MAX_ANSWER_BYTES = 10 * 1024 * 1024;
/**
 * A stream wraps every token in its own event (~200 bytes of JSON envelope around a few bytes of text on
 * OpenAI), so the same longest answer streamed is ~25 MB on the wire. Streams get four times the cap; what the
 * SDK keeps of them is the text, not the envelopes.
 */
export const STREAM_ANSWER_FACTOR = 4;

/** Thrown (as the body's read error) when an answer passes its cap. Not a network failure: never retried. */
export class AnswerTooLargeError extends Error {
  readonly code = 'response_too_large';
  readonly limit: number;

  constructor(limit: number) {
    super(`the answer is larger than ${formatBytes(limit)}`);
    this.name = 'AnswerTooLargeError';
    this.limit = limit;
  }
}

/** `fetch` with every response body bounded to `limit` bytes (`limit × STREAM_ANSWER_FACTOR` for a stream). */
export function cappedFetch(limit = MAX_ANSWER_BYTES, base: typeof fetch = globalThis.fetch): typeof fetch {
  return async (input, init) => {
    const response = await base(input, init);
    if (!response.body) return response;
    const type = response.headers.get('content-type') ?? '';
    const cap = /event-stream|ndjson/i.test(type) ? limit * STREAM_ANSWER_FACTOR : limit;
    const declared = Number(response.headers.get('content-length') ?? NaN);
    const encoded = response.headers.has('content-encoding');
    if (declared > cap && !encoded) {
      await response.body.cancel().catch(() => {});
      throw new AnswerTooLargeError(cap);
    }
    // A declared length within the cap, sent as it is, bounds the body already (the client reads no more than
    // it declares): no wrapping, which costs a web stream per call (~14 % of the CPU of a 1,000-call fan-out).
    if (Number.isFinite(declared) && !encoded) return response;
    return new Response(bounded(response.body, cap), { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/** The body, passed through as it is read; past `cap` bytes it errors, and the source is cancelled. */
export function bounded(body: ReadableStream<Uint8Array>, cap: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let seen = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      seen += value.byteLength;
      if (seen > cap) {
        const error = new AnswerTooLargeError(cap);
        // Cancelling the source closes the connection: the server stops sending, and nothing more is held.
        void reader.cancel(error).catch(() => {});
        controller.error(error);
        return;
      }
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

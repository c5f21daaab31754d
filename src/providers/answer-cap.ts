/**
 * A bound on how much of a provider's answer is read. The provider SDKs buffer a response whole before
 * parsing it, so a server that answers without end (a proxy's error page looping, a misconfigured gateway, a
 * hostile endpoint) would otherwise take all the memory there is. The `fetch` they are given (transport.ts)
 * counts body bytes as they arrive and stops reading, closing the connection, past the cap.
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

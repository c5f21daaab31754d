/**
 * The `fetch` the provider SDKs are given: undici's `request` (the library under Node's own `fetch`) through one
 * keep-alive pool for the whole process. Node's `fetch` builds a Request, a web stream for each body and the
 * machinery its specification asks for around them; in a 5,000-call fan-out that was most of the CPU a call
 * cost beyond the SDK's own work. The SDKs need only a `Response`: a whole answer is read here and handed over
 * as one buffer; a streamed one (SSE, NDJSON) is handed over as a stream, so it still arrives as it is written.
 *
 * What `fetch` did for the SDKs is kept: the AbortSignal aborts the request, its body included (the server sees
 * the connection close); failures to connect are a `TypeError('fetch failed')` with the cause beneath, and a
 * connection lost mid-body a `TypeError('terminated')`, as the SDKs and failure.ts expect. Not kept: following
 * redirects (no provider API redirects a POST) and asking for compressed answers (an answer is a few KB); an
 * answer compressed all the same (a proxy may) is decompressed, and the cap counts what it decompresses to.
 * Every body is bounded (answer-cap.ts): a whole answer stops being read past the cap, a stream past four times it.
 */
import { pipeline, Readable } from 'node:stream';
import { Agent, EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import { CONTENT_DECODERS, newDispatcher } from '../core/wire.ts';
import { AnswerTooLargeError, bounded, MAX_ANSWER_BYTES, STREAM_ANSWER_FACTOR } from './answer-cap.ts';

/** One pool for every provider call of the process: connections are kept and reused across steps and runs. */
let pool: Dispatcher | undefined;

/** Statuses whose response has no body (a `Response` refuses one). */
const NULL_BODY = new Set([204, 205, 304]);

/** A `fetch` for the provider SDKs (see above), every answer bounded to `limit` bytes. */
export function providerFetch(limit = MAX_ANSWER_BYTES, dispatcher?: Dispatcher): typeof fetch {
  return async (input, init) => {
    const signal = init?.signal ?? undefined;
    signal?.throwIfAborted();
    const url = typeof input === 'string' || input instanceof URL ? input : input.url;
    let answer: Dispatcher.ResponseData;
    try {
      answer = await request(url, {
        method: (init?.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: plainHeaders(init?.headers),
        body: init?.body as string | Uint8Array | null | undefined,
        ...(signal ? { signal } : {}),
        dispatcher: dispatcher ?? (pool ??= newDispatcher({ Agent, EnvHttpProxyAgent })),
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new TypeError('fetch failed', { cause: error });
    }
    // undici gives the headers as a record (names in lower case, a repeated one as a list): read here as they are,
    // and handed to the Response as pairs, from which it builds the only `Headers` of the call.
    const raw = answer.headers;
    const status = answer.statusCode;
    if (NULL_BODY.has(status) || init?.method === 'HEAD') {
      // Consumed, not destroyed: destroying a finished body emits an error nobody listens for (a crash), and
      // reading it to its (empty) end keeps the connection for the next call.
      await answer.body.dump().catch(() => undefined);
      return new Response(null, { status, statusText: answer.statusText ?? '', headers: pairs(raw) });
    }
    const body = decoded(answer.body, first(raw['content-encoding']));
    // A decompressed body no longer has the encoding or the length the server gave.
    const fields = { status, statusText: answer.statusText ?? '', headers: pairs(raw, body !== answer.body) };
    if (/event-stream|ndjson/i.test(first(raw['content-type']) ?? '')) {
      const stream = Readable.toWeb(body) as ReadableStream<Uint8Array>;
      return new Response(bounded(stream, limit * STREAM_ANSWER_FACTOR), fields);
    }
    if (body === answer.body && Number(first(raw['content-length'])) > limit) {
      answer.body.on('error', () => undefined).destroy();
      throw new AnswerTooLargeError(limit);
    }
    // An error answer cut short is still the server's error: what arrived goes to the SDK with its status, as
    // `fetch` let it see the status before the body failed (a 500 stays `HTTP 500`, not a dropped connection).
    return new Response(oneChunk(await readWhole(body, limit, signal, status >= 400)), fields);
  };
}

/**
 * The whole body, or an error: past `limit` bytes (the connection is closed), aborted, or cut short (unless
 * `partialIsAnswer`: then what arrived). Read by its events: an async iterator over the stream costs more than
 * the rest of this function together.
 */
async function readWhole(body: Readable, limit: number, signal: AbortSignal | undefined, partialIsAnswer = false): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      body.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= limit) return void chunks.push(chunk);
        body.destroy();
        reject(new AnswerTooLargeError(limit));
      });
      let ended = false;
      body.on('end', () => {
        ended = true;
        resolve();
      });
      body.on('error', reject);
      body.on('close', () => ended || reject(new Error('closed before the end')));
    });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (error instanceof AnswerTooLargeError) throw error;
    if (!partialIsAnswer) throw new TypeError('terminated', { cause: error });
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/**
 * A whole answer as the stream a `Response` body is: given bytes, a `Response` copies them twice and feeds them
 * to a stream of its own through an async helper (~4 µs a call, a third of what making the Response costs); given
 * a stream, it takes it as it is.
 */
function oneChunk(bytes: Buffer): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      if (bytes.length) controller.enqueue(bytes);
      controller.close();
    },
  });
}

/**
 * The body as the server meant it: decompressed when it says it is compressed (gzip, deflate, br). Destroying the
 * result destroys the connection's body.
 */
function decoded(body: Readable, encoding: string | undefined): Readable {
  const decoder = encoding === undefined ? undefined : CONTENT_DECODERS.get(encoding.trim().toLowerCase());
  return decoder ? pipeline(body, decoder(), () => undefined) : body;
}

type RawHeaders = Dispatcher.ResponseData['headers'];

/** A header's (first) value. */
const first = (value: RawHeaders[string]): string | undefined => (Array.isArray(value) ? value[0] : value);

/** The answer's headers as name–value pairs, a repeated one (`set-cookie`) once per value; without the encoding and length of a body decompressed here. */
function pairs(raw: RawHeaders, decompressed = false): [string, string][] {
  const list: [string, string][] = [];
  for (const name in raw) {
    if (decompressed && (name === 'content-encoding' || name === 'content-length')) continue;
    const value = raw[name];
    if (Array.isArray(value)) for (const v of value) list.push([name, v]);
    else if (value !== undefined) list.push([name, value]);
  }
  return list;
}

/** The SDKs pass a plain record; a `Headers` or a list of pairs is taken too. */
function plainHeaders(headers: RequestInit["headers"]): Record<string, string> | undefined {
  if (headers === undefined || (!Array.isArray(headers) && !(headers instanceof Headers))) return headers as Record<string, string> | undefined;
  return Object.fromEntries(headers instanceof Headers ? headers.entries() : headers);
}

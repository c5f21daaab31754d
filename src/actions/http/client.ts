/**
 * The `http` action's transport: undici's `request` API (the library behind Node's own `fetch`), through one
 * keep-alive connection pool per origin for the whole process. `fetch` spends much of its CPU on the web
 * streams and Request/Response objects its specification requires; `request` skips them, and in a
 * 2,000-request fan-out costs less than half the CPU per call. What `fetch` did for us is kept: redirects are
 * followed (up to 20), and gzip, deflate and brotli bodies are decoded.
 *
 * A body is read as a stream and counted after decoding, so neither a huge answer nor a small gzip bomb can
 * take more memory than `maxBytes` (and the zlib window) before the read stops.
 */
import { pipeline } from 'node:stream/promises';
import { Transform, Writable, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Dispatcher } from 'undici';

export interface HttpRequest {
  method: string;
  url: URL;
  /** Lower-case names. */
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  /** The most bytes of body (after decoding) to accept (default 10 MB). */
  maxBytes?: number;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names; a header sent more than once has its values joined with ", ". */
  headers: Record<string, string>;
  text: string;
}

export const MAX_REDIRECTS = 20;
/** 10 MB: a large API answer fits; a runaway one (or a gzip bomb) stops long before it hurts. */
export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

/** The body went past `maxBytes`: reading stopped there and the connection was closed. */
export class ResponseTooLargeError extends Error {
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    super(`the response is larger than ${maxBytes} bytes`);
    this.name = 'ResponseTooLargeError';
    this.maxBytes = maxBytes;
  }
}

/** The redirects went round: more than MAX_REDIRECTS of them, or back to an address already visited. */
export class RedirectLoopError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'RedirectLoopError';
  }
}

const decoders: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};
const ACCEPT_ENCODING = 'gzip, deflate, br';

type Client = { request: typeof import('undici').request; pool: Dispatcher };

/** undici and its pool, loaded once: by `prepare` before a run that has `http` steps, else by the first request. */
let client: Promise<Client> | undefined;

async function load(): Promise<Client> {
  const { Agent, interceptors, request } = await import('undici');
  return { request, pool: new Agent().compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS, throwOnMaxRedirect: true })) };
}

/** Loads undici and builds the pool now, so no step's recorded time includes it (~45 ms). */
export async function prepare(): Promise<void> {
  await (client ??= load());
}

export async function send(req: HttpRequest): Promise<HttpResponse> {
  const { request, pool } = await (client ??= load());
  const headers = 'accept-encoding' in req.headers ? req.headers : { ...req.headers, 'accept-encoding': ACCEPT_ENCODING };
  let response: Dispatcher.ResponseData;
  try {
    response = await request(req.url, {
      method: req.method as Dispatcher.HttpMethod,
      headers,
      ...(req.body === undefined ? {} : { body: req.body }),
      signal: req.signal,
      dispatcher: pool,
    });
  } catch (error) {
    throw redirectLoop(error) ?? error;
  }
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const body = await readBody(response.body, flat, req.method, req.maxBytes ?? DEFAULT_MAX_BYTES);
  return { status: response.statusCode, headers: flat, text: body.toString('utf8') };
}

/** undici's two ways of giving up on redirects, as one error that says what happened. */
function redirectLoop(error: unknown): RedirectLoopError | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code === 'UND_ERR_REDIRECT_MAX') return new RedirectLoopError(`redirect loop: more than ${MAX_REDIRECTS} redirects`, { cause: error });
  if (code === 'UND_ERR_INVALID_ARG' && typeof message === 'string' && /redirect loop/i.test(message)) {
    return new RedirectLoopError('redirect loop: redirected back to an address already visited', { cause: error });
  }
  return undefined;
}

/**
 * The body, decoded, stopping past `maxBytes`: a declared length over the cap fails before reading; otherwise
 * the decoded bytes are counted as they stream in. Undoes the content encodings last applied first; at an
 * unknown one, the body is kept as it is from there.
 */
async function readBody(body: Readable, headers: Record<string, string>, method: string, maxBytes: number): Promise<Buffer> {
  const applied = (headers['content-encoding'] ?? '')
    .toLowerCase()
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e && e !== 'identity')
    .reverse();
  const known = applied.findIndex((name) => !decoders[name]);
  const stages = (known === -1 ? applied : applied.slice(0, known)).map((name) => decoders[name]!());
  const declared = Number(headers['content-length']);
  if (method !== 'HEAD' && applied.length === 0 && declared > maxBytes) {
    body.destroy();
    throw new ResponseTooLargeError(maxBytes);
  }
  let raw = 0;
  let size = 0;
  const chunks: Buffer[] = [];
  const countRaw = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      raw += chunk.length;
      done(null, chunk);
    },
  });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > maxBytes) return done(new ResponseTooLargeError(maxBytes));
      chunks.push(chunk);
      done();
    },
  });
  try {
    await pipeline([body, ...(stages.length ? [countRaw, ...stages] : []), sink]);
  } catch (error) {
    // An empty body (a HEAD, a 204) with a content encoding is not a truncated one.
    if (raw === 0 && stages.length > 0 && String((error as { code?: unknown }).code).startsWith('Z_')) return Buffer.alloc(0);
    throw error;
  }
  return Buffer.concat(chunks, size);
}

/**
 * The `http` action's transport: undici's `request` API (the library behind Node's own `fetch`), through one
 * keep-alive connection pool per origin for the whole process. `fetch` spends much of its CPU on the web
 * streams and Request/Response objects its specification requires; `request` skips them, and in a
 * 2,000-request fan-out costs less than half the CPU per call. What `fetch` did for us is kept: gzip, deflate
 * and brotli bodies are decoded, and redirects are followed (up to 20) — here, by hand, so that each one can be
 * checked before it is sent (`HttpRequest.redirecting`) and the workflow's headers stay with the origin they
 * were written for.
 *
 * A body is read as a stream and counted after decoding, so neither a huge answer nor a small gzip bomb can
 * take more memory than `maxBytes` (and the zlib window) before the read stops.
 */
import { pipeline } from 'node:stream/promises';
import { Transform, Writable, type Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { CONTENT_DECODERS, newDispatcher } from '../../core/wire.ts';

export interface HttpRequest {
  method: string;
  url: URL;
  /** Lower-case names. */
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  /** The most bytes of body (after decoding) to accept (default 10 MB). */
  maxBytes?: number;
  /** Called with a redirect's target before it is requested: throwing stops there, with nothing sent. */
  redirecting?(to: URL): void;
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
  constructor(message: string) {
    super(message);
    this.name = 'RedirectLoopError';
  }
}

/** A redirect that cannot be followed: its `location` is not an http(s) URL. */
export class BadRedirectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadRedirectError';
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/**
 * The headers a request keeps when a redirect takes it to another origin: none that could be a credential,
 * whether it came from the environment or was written into the workflow — they were meant for the first origin.
 */
const CROSS_ORIGIN_SAFE = new Set(['accept', 'accept-encoding', 'user-agent', 'content-type']);
/** Headers that describe a body: dropped with it (fetch's "request-body-header names", and the length). */
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];

const ACCEPT_ENCODING = 'gzip, deflate, br';

type Client = { request: typeof import('undici').request; pool: Dispatcher };

/** undici and its pool, loaded once: by `prepare` before a run that has `http` steps, else by the first request. */
let client: Promise<Client> | undefined;

async function load(): Promise<Client> {
  const undici = await import('undici');
  return { request: undici.request, pool: newDispatcher(undici) };
}

/** Loads undici and builds the pool now, so no step's recorded time includes it (~45 ms). */
export async function prepare(): Promise<void> {
  await (client ??= load());
}

export async function send(req: HttpRequest): Promise<HttpResponse> {
  const { request, pool } = await (client ??= load());
  let hop: Hop = { url: req.url, method: req.method, headers: 'accept-encoding' in req.headers ? req.headers : { ...req.headers, 'accept-encoding': ACCEPT_ENCODING }, body: req.body };
  const visited = new Set<string>();
  for (let redirects = 0; ; redirects++) {
    visited.add(`${hop.method} ${hop.url.href}`);
    const response = await request(hop.url, {
      method: hop.method as Dispatcher.HttpMethod,
      headers: hop.headers,
      ...(hop.body === undefined ? {} : { body: hop.body }),
      signal: req.signal,
      dispatcher: pool,
    });
    const flat: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const location = REDIRECTS.has(response.statusCode) ? flat['location'] : undefined;
    if (location === undefined) {
      const text = await readBody(response.body, flat, hop.method, req.maxBytes ?? DEFAULT_MAX_BYTES);
      return { status: response.statusCode, headers: flat, text: text.toString('utf8') };
    }
    // A redirect's own body is not wanted: read a little of it so the connection can be reused, else drop it.
    await response.body.dump({ limit: 128 * 1024, signal: req.signal }).catch(() => {});
    if (redirects === MAX_REDIRECTS) throw new RedirectLoopError(`redirect loop: more than ${MAX_REDIRECTS} redirects`);
    const next = redirect(hop, response.statusCode, location);
    if (visited.has(`${next.method} ${next.url.href}`)) throw new RedirectLoopError('redirect loop: redirected back to an address already visited');
    req.redirecting?.(next.url);
    hop = next;
  }
}

/** One request of a chain of redirects. */
interface Hop {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** The request a redirect asks for, as the fetch standard says, less the headers that must not follow it. */
function redirect(from: Hop, status: number, location: string): Hop {
  let url: URL;
  try {
    url = new URL(location, from.url);
  } catch {
    throw new BadRedirectError(`redirected to \`${location}\`, which is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BadRedirectError(`redirected to \`${url.href}\`, which is not an http or https URL`);
  // After a 303, and after a 301 or 302 to a POST, the request goes on as a GET without its body; a 307 or 308
  // keeps both.
  const toGet = (status === 303 && from.method !== 'GET' && from.method !== 'HEAD') || ((status === 301 || status === 302) && from.method === 'POST');
  const body = toGet ? undefined : from.body;
  const crossOrigin = url.origin !== from.url.origin;
  const headers = Object.fromEntries(
    Object.entries(from.headers).filter(([name]) => {
      if (name === 'host') return false; // the Host written was for the first URL
      if (body === undefined && BODY_HEADERS.includes(name)) return false;
      return !crossOrigin || CROSS_ORIGIN_SAFE.has(name);
    }),
  );
  return { url, method: toGet ? 'GET' : from.method, headers, body };
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
  const known = applied.findIndex((name) => !CONTENT_DECODERS.has(name));
  const stages = (known === -1 ? applied : applied.slice(0, known)).map((name) => CONTENT_DECODERS.get(name)!());
  const declared = Number(headers['content-length']);
  if (method !== 'HEAD' && applied.length === 0 && declared > maxBytes) {
    body.destroy();
    throw new ResponseTooLargeError(maxBytes);
  }
  // The common case, a body sent as it is: read it directly. A stream pipeline costs an AbortController (and a
  // DOMException at its end) per response, which was a third of the engine's CPU in a 2,000-request fan-out.
  if (stages.length === 0) {
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        body.destroy();
        throw new ResponseTooLargeError(maxBytes);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, size);
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
    await pipeline([body, countRaw, ...stages, sink]);
  } catch (error) {
    // An empty body (a HEAD, a 204) with a content encoding is not a truncated one.
    if (raw === 0 && stages.length > 0 && String((error as { code?: unknown }).code).startsWith('Z_')) return Buffer.alloc(0);
    throw error;
  }
  return Buffer.concat(chunks, size);
}

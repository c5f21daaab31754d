/**
 * The `http` action's transport: undici's `request` API (the library behind Node's own `fetch`), through one
 * keep-alive connection pool per origin for the whole process. `fetch` spends much of its CPU on the web
 * streams and Request/Response objects its specification requires; `request` skips them, and in a
 * 2,000-request fan-out costs less than half the CPU per call. What `fetch` did for us is kept: redirects are
 * followed (up to 20), and gzip, deflate and brotli bodies are decoded.
 */
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import type { Dispatcher } from 'undici';

export interface HttpRequest {
  method: string;
  url: URL;
  /** Lower-case names. */
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names; a header sent more than once has its values joined with ", ". */
  headers: Record<string, string>;
  text: string;
}

const MAX_REDIRECTS = 20;
const decoders: Record<string, (data: Buffer) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
};
const ACCEPT_ENCODING = 'gzip, deflate, br';

/** undici and its pool, loaded on the first request: `validate` and `plan` never pay for loading it (~45 ms). */
let client: Promise<{ request: typeof import('undici').request; pool: Dispatcher }> | undefined;

async function load(): Promise<{ request: typeof import('undici').request; pool: Dispatcher }> {
  const { Agent, interceptors, request } = await import('undici');
  return { request, pool: new Agent().compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS })) };
}

export async function send(req: HttpRequest): Promise<HttpResponse> {
  const { request, pool } = await (client ??= load());
  const headers = 'accept-encoding' in req.headers ? req.headers : { ...req.headers, 'accept-encoding': ACCEPT_ENCODING };
  const response = await request(req.url, {
    method: req.method as Dispatcher.HttpMethod,
    headers,
    ...(req.body === undefined ? {} : { body: req.body }),
    signal: req.signal,
    dispatcher: pool,
  });
  const raw = Buffer.from(await response.body.arrayBuffer());
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { status: response.statusCode, headers: flat, text: (await decode(raw, flat['content-encoding'])).toString('utf8') };
}

/** Undoes the content encodings the server applied, last applied first; an unknown one is left as sent. */
async function decode(data: Buffer, encoding: string | undefined): Promise<Buffer> {
  if (!encoding || data.length === 0) return data;
  const applied = encoding.toLowerCase().split(',').map((e) => e.trim()).filter((e) => e && e !== 'identity');
  for (const name of applied.reverse()) {
    const decoder = decoders[name];
    if (!decoder) return data;
    data = await decoder(data);
  }
  return data;
}

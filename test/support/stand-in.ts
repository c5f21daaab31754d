/**
 * A stand-in HTTP server on 127.0.0.1 that records what it received and when: every request's start and end,
 * whether the client closed the connection before the response (an aborted call), and how many requests
 * were in flight at once. Handlers decide the response; `gate` holds requests until the test releases them,
 * so concurrency tests are driven by events, never by sleeping.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  seq: number;
  method: string;
  path: string;
  /** Path and query, as requested. */
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Order of arrival and of completion, on one counter shared by both. */
  startedAt: number;
  endedAt?: number;
  /** The client went away before the response was finished. */
  aborted: boolean;
  /** In-flight requests (this one included) when it arrived. */
  inFlightAtStart: number;
}

export type Handler = (req: RecordedRequest, res: ServerResponse) => void | Promise<void>;

/** A port nothing listens on: 1 (tcpmux) is privileged and unused. One the system just gave out and took back
 * could be taken meanwhile by the test file running beside this one. */
export const CLOSED_PORT = 1;

export class StandIn {
  readonly requests: RecordedRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  #clock = 0;
  #record = true;
  #server: Server;
  #routes = new Map<string, Handler>();
  #fallback: Handler = (_req, res) => reply(res, 200, { ok: true });
  #waiters: { test: () => boolean; resolve: () => void }[] = [];

  constructor() {
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  /** `record: false` keeps no request log (for benchmarks that send tens of thousands). */
  static async start(options: { record?: boolean } = {}): Promise<StandIn> {
    const s = new StandIn();
    s.#record = options.record ?? true;
    s.#server.listen(0, '127.0.0.1');
    await once(s.#server, 'listening');
    return s;
  }

  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  route(path: string, handler: Handler): this {
    this.#routes.set(path, handler);
    return this;
  }

  fallback(handler: Handler): this {
    this.#fallback = handler;
    return this;
  }

  /** Resolves once `test` holds (checked after every request event). */
  until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  byPath(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const record: RecordedRequest = {
      seq: this.requests.length,
      method: req.method ?? 'GET',
      path: url.pathname,
      url: url.pathname + url.search,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      startedAt: ++this.#clock,
      aborted: false,
      inFlightAtStart: this.inFlight,
    };
    if (this.#record) this.requests.push(record);
    let done = false;
    const finish = (aborted: boolean) => {
      if (done) return;
      done = true;
      record.aborted = aborted;
      record.endedAt = ++this.#clock;
      this.inFlight--;
      this.#notify();
    };
    res.on('finish', () => finish(false));
    res.on('close', () => finish(!res.writableFinished));
    this.#notify();
    try {
      await (this.#routes.get(record.path) ?? this.#fallback)(record, res);
    } catch (error) {
      if (!res.headersSent) reply(res, 500, { error: String(error) });
    }
  }

  #notify(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }
}

export function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', ...headers });
  res.end(text);
}

/** `path?to=URL&code=N` answers N (default 307) with `location: URL` (default `/`): a redirect a test chooses. */
export function addRedirects(server: StandIn, path = '/hop'): StandIn {
  return server.route(path, (req, res) => {
    const url = new URL(req.url, 'http://x');
    res.writeHead(Number(url.searchParams.get('code') ?? 307), { location: url.searchParams.get('to') ?? '/' });
    res.end();
  });
}

/** A latch: requests wait on it until the test opens it. */
export class Gate {
  #open = false;
  #waiting: (() => void)[] = [];
  wait(): Promise<void> {
    if (this.#open) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  open(): void {
    this.#open = true;
    for (const w of this.#waiting.splice(0)) w();
  }
}

/**
 * Sends `total` bytes of `fill` (default 'x'), chunk by chunk as the client takes them, and stops early if the
 * client goes away — so a client that stops reading is seen as an aborted request, not a finished one.
 */
export async function streamBytes(res: ServerResponse, total: number, headers: Record<string, string> = {}, fill = 'x'): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/plain', ...headers });
  const chunk = Buffer.alloc(64 * 1024, fill);
  for (let sent = 0; sent < total && !res.destroyed; sent += chunk.length) {
    if (!res.write(total - sent < chunk.length ? chunk.subarray(0, total - sent) : chunk)) {
      await new Promise((resolve) => {
        res.once('drain', resolve);
        res.once('close', resolve);
      });
    }
  }
  if (!res.destroyed) res.end();
}

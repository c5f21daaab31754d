/**
 * The `http` action against a stand-in server: what it sends, what it makes of what comes back, and how it
 * fails. The server records every request, so the assertions are about what crossed the wire.
 */
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { CLOSED_PORT, Gate, reply, StandIn, streamBytes } from '../../../test/support/stand-in.ts';
import { ConductorError, StepFailedError } from '../../core/errors.ts';
import type { ActionContext } from '../types.ts';
import { httpAction, type HttpInput } from './index.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

function context(signal = new AbortController().signal): ActionContext {
  return { signal, stepId: 'call', baseDir: process.cwd(), env: {}, defaults: { maxConcurrency: 10, rateLimits: {} }, runScope: new Map(), notify: () => {}, untimed: (work) => work };
}

const call = (input: HttpInput, ctx = context()) => httpAction.run(input, ctx);

async function failure(input: HttpInput): Promise<StepFailedError> {
  try {
    await call(input);
  } catch (error) {
    assert.ok(error instanceof StepFailedError, String(error));
    return error;
  }
  assert.fail('expected the step to fail');
}

describe('http action', () => {
  it('parses a JSON answer and exposes the status and the headers, lower-cased', async () => {
    server.route('/json', (_req, res) => {
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      reply(res, 200, { items: [1, 2] }, { 'X-Request-Id': 'r1' });
    });
    const result = await call({ url: `${server.url}/json` });
    assert.deepEqual(result.output, { items: [1, 2] });
    assert.equal(result.properties?.['statusCode'], 200);
    const headers = result.properties?.['headers'] as Record<string, string>;
    assert.equal(headers['x-request-id'], 'r1');
    assert.equal(headers['set-cookie'], 'a=1, b=2');
  });

  it('keeps a body that is not JSON as text, and one that only claims to be JSON too', async () => {
    server.route('/text', (_req, res) => reply(res, 200, 'plain words'));
    server.route('/liar', (_req, res) => reply(res, 200, 'not json', { 'content-type': 'application/json' }));
    assert.equal((await call({ url: `${server.url}/text` })).output, 'plain words');
    assert.equal((await call({ url: `${server.url}/liar` })).output, 'not json');
  });

  it('sends a map body as JSON with its content type, and the headers given', async () => {
    server.route('/post', (req, res) => reply(res, 200, { got: req.body }));
    await call({ method: 'POST', url: `${server.url}/post`, body: { name: 'x', n: 1 }, headers: { Authorization: 'Bearer t', 'X-Count': 3 } });
    const [sent] = server.byPath('/post');
    assert.equal(sent?.method, 'POST');
    assert.deepEqual(JSON.parse(sent!.body), { name: 'x', n: 1 });
    assert.equal(sent?.headers['content-type'], 'application/json');
    assert.equal(sent?.headers['authorization'], 'Bearer t');
    assert.equal(sent?.headers['x-count'], '3');
  });

  it('leaves a content type the step sets alone, and sends a text body as written', async () => {
    server.route('/put', (_req, res) => reply(res, 200, 'ok'));
    await call({ method: 'PUT', url: `${server.url}/put`, body: { a: 1 }, headers: { 'Content-Type': 'application/vnd.api+json' } });
    await call({ method: 'PUT', url: `${server.url}/put`, body: 'raw text' });
    const [typed, raw] = server.byPath('/put');
    assert.equal(typed?.headers['content-type'], 'application/vnd.api+json');
    assert.equal(raw?.body, 'raw text');
  });

  it('follows redirects', async () => {
    server.route('/old', (_req, res) => {
      res.writeHead(302, { location: '/new' });
      res.end();
    });
    server.route('/new', (_req, res) => reply(res, 200, { here: true }));
    const result = await call({ url: `${server.url}/old` });
    assert.deepEqual(result.output, { here: true });
    assert.equal(server.byPath('/new').length, 1);
  });

  it('asks ctx.confine about each redirect before following it: a refusal stops there, with nothing sent', async () => {
    server.route('/to-forbidden', (_req, res) => {
      res.writeHead(307, { location: '/old' });
      res.end();
    });
    server.route('/forbidden-hop', (_req, res) => {
      res.writeHead(302, { location: '/forbidden' });
      res.end();
    });
    const asked: string[] = [];
    const ctx: ActionContext = {
      ...context(),
      confine: (key, value) => {
        asked.push(`${key} ${new URL(value).pathname}`);
        if (value.endsWith('/forbidden')) throw new ConductorError('not_allowed', `refused ${value}`);
      },
    };
    assert.deepEqual((await call({ url: `${server.url}/to-forbidden` }, ctx)).output, { here: true });
    assert.deepEqual(asked, ['url /old', 'url /new']);
    await assert.rejects(call({ url: `${server.url}/forbidden-hop` }, ctx), (e) => e instanceof ConductorError && e.code === 'not_allowed');
    assert.deepEqual(server.byPath('/forbidden'), []);
  });

  it('fails without retrying on a redirect to a URL that is not http(s)', async () => {
    server.route('/to-file', (_req, res) => {
      res.writeHead(301, { location: 'file:///etc/passwd' });
      res.end();
    });
    const error = await failure({ url: `${server.url}/to-file` });
    assert.equal(error.code, 'http_bad_redirect');
    assert.equal(error.retryable, false);
    assert.match(error.message, /redirected to `file:\/\/\/etc\/passwd`, which is not an http or https URL$/);
  });

  it('asks for compressed answers and decodes gzip and brotli', async () => {
    const body = JSON.stringify({ text: 'squeezed '.repeat(100) });
    server.route('/gzip', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(body));
    });
    server.route('/br', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'br' });
      res.end(brotliCompressSync(body));
    });
    assert.deepEqual((await call({ url: `${server.url}/gzip` })).output, JSON.parse(body));
    assert.deepEqual((await call({ url: `${server.url}/br` })).output, JSON.parse(body));
    assert.match(String(server.byPath('/gzip')[0]?.headers['accept-encoding']), /gzip/);
  });

  it('keeps a body whose encoding it does not know as it is, whatever the name (`constructor`, `__proto__`)', async () => {
    for (const name of ['x-unknown', 'constructor', 'gzip, __proto__']) {
      server.route('/odd', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': name });
        res.end('as sent');
      });
      assert.equal((await call({ url: `${server.url}/odd` })).output, 'as sent', name);
    }
  });

  it('fails on a non-2xx answer, retryable only for 429 and 5xx, with the wait the server asks for', async () => {
    server.route('/missing', (_req, res) => reply(res, 404, { error: 'no such thing' }));
    server.route('/down', (_req, res) => reply(res, 503, 'try later'));
    server.route('/busy', (_req, res) => reply(res, 429, 'slow down', { 'retry-after': '2' }));
    const missing = await failure({ url: `${server.url}/missing` });
    assert.equal(missing.code, 'http_status');
    assert.match(missing.message, /HTTP 404: \{"error":"no such thing"\}/);
    assert.equal(missing.retryable, false);
    const down = await failure({ url: `${server.url}/down` });
    assert.equal(down.retryable, true);
    assert.equal(down.rateLimited, false);
    const busy = await failure({ url: `${server.url}/busy` });
    assert.equal(busy.rateLimited, true);
    assert.equal(busy.retryAfterMs, 2000);
  });

  it('reports a refused connection as a retryable network failure, naming the reason', async () => {
    const port = CLOSED_PORT;
    const error = await failure({ url: `http://127.0.0.1:${port}/nothing` });
    assert.equal(error.code, 'http_network');
    assert.equal(error.retryable, true);
    assert.match(error.message, /request failed \(ECONNREFUSED\)/);
  });

  it('fails at once on a host that does not exist: not worth retrying, and says what to check', async (t) => {
    // `.invalid` never resolves (RFC 2606); a machine with no resolver at all answers EAI_AGAIN instead.
    const probe = await lookup('conductor-test.invalid').then(() => 'resolved', (error: NodeJS.ErrnoException) => error.code);
    if (probe !== 'ENOTFOUND') return t.skip(`this machine's resolver answers ${probe} for .invalid`);
    const error = await failure({ url: 'http://conductor-test.invalid/x' });
    assert.equal(error.code, 'http_network');
    assert.equal(error.retryable, false);
    assert.match(error.message, /request failed \(ENOTFOUND\)/);
    assert.equal(error.hint, 'no such host: check the host name in the URL');
  });

  it('rejects a URL without a scheme before sending anything', async () => {
    const error = await failure({ url: 'example.com/path' });
    assert.equal(error.code, 'http_bad_url');
  });

  it('aborts the request in flight when its signal fires: the server sees the connection close', async () => {
    const gate = new Gate();
    server.route('/slow', async () => gate.wait());
    const controller = new AbortController();
    const pending = call({ url: `${server.url}/slow` }, context(controller.signal));
    await server.until(() => server.byPath('/slow').length === 1);
    controller.abort(new Error('run cancelled'));
    await assert.rejects(pending);
    await server.until(() => server.byPath('/slow')[0]?.aborted === true);
    gate.open();
  });
});

describe('http action: bounds', () => {
  const MB = 1024 * 1024;

  it('stops reading a body past `maxBytes`, counted as it streams: the server sees the client leave', async () => {
    server.route('/huge', (_req, res) => streamBytes(res, 30 * MB));
    const error = await failure({ url: `${server.url}/huge`, maxBytes: MB });
    assert.equal(error.code, 'response_too_large');
    assert.equal(error.retryable, false);
    assert.match(error.message, /^GET .*\/huge: the response is larger than 1 MB; reading stopped there$/);
    assert.match(error.hint!, /raise `maxBytes`/);
    await server.until(() => server.byPath('/huge')[0]?.endedAt !== undefined);
    assert.equal(server.byPath('/huge')[0]!.aborted, true);
  });

  it('fails on a declared length over the cap before reading, and takes a body of exactly the cap', async () => {
    server.route('/declared', (_req, res) => streamBytes(res, 2 * MB, { 'content-length': String(2 * MB) }));
    assert.equal((await failure({ url: `${server.url}/declared`, maxBytes: MB })).code, 'response_too_large');
    server.route('/exact', (_req, res) => streamBytes(res, 1000));
    assert.equal(((await call({ url: `${server.url}/exact`, maxBytes: 1000 })).output as string).length, 1000);
    assert.equal((await failure({ url: `${server.url}/exact`, maxBytes: 999 })).code, 'response_too_large');
  });

  it('counts after decompression: a gzip bomb stops at the cap (default 10 MB)', async () => {
    const bomb = gzipSync(Buffer.alloc(20 * MB));
    assert.ok(bomb.length < 100 * 1024, 'the bomb itself is small');
    server.route('/bomb', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      res.end(bomb);
    });
    assert.equal((await failure({ url: `${server.url}/bomb` })).code, 'response_too_large');
    assert.match((await failure({ url: `${server.url}/bomb`, maxBytes: 64 * 1024 })).message, /larger than 64 KB/);
  });

  it('reads an empty encoded body (a HEAD) as empty, and a HEAD’s declared length is no body', async () => {
    server.route('/head', (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(50 * MB) });
      res.end();
    });
    assert.equal((await call({ method: 'HEAD', url: `${server.url}/head`, maxBytes: 10 })).output, '');
  });
});

describe('http action: failures that say what happened', () => {
  it('does not retry 501 and 505 (the server cannot do this at all); other 5xx still are', async () => {
    for (const status of [501, 505, 502]) server.route(`/status/${status}`, (_req, res) => reply(res, status, 'no'));
    assert.equal((await failure({ url: `${server.url}/status/501` })).retryable, false);
    assert.equal((await failure({ url: `${server.url}/status/505` })).retryable, false);
    assert.equal((await failure({ url: `${server.url}/status/502` })).retryable, true);
  });

  it('shows the first non-empty line of an error body, cut short', async () => {
    server.route('/html', (_req, res) => reply(res, 500, `\n\n  <!DOCTYPE html>\n<html>\n${'<p>noise</p>\n'.repeat(50)}</html>`));
    server.route('/long', (_req, res) => reply(res, 400, 'e'.repeat(1000)));
    assert.match((await failure({ url: `${server.url}/html` })).message, /→ HTTP 500: <!DOCTYPE html>…$/);
    assert.match((await failure({ url: `${server.url}/long` })).message, /→ HTTP 400: e{200}…$/);
    // The whole body is kept beside the message, for --json and the store.
    assert.match((await failure({ url: `${server.url}/html` })).detail ?? '', /<p>noise<\/p>\n<p>noise<\/p>[\s\S]*<\/html>$/);
    assert.equal((await failure({ url: `${server.url}/long` })).detail, 'e'.repeat(1000));
  });

  it('says so on a redirect loop, to the same address or round more than 20, and does not retry it', async () => {
    server.route('/loop', (_req, res) => {
      res.writeHead(302, { location: '/loop' });
      res.end();
    });
    server.fallback((req, res) => {
      const n = /^\/chain\/(\d+)$/.exec(req.path);
      if (!n) return reply(res, 404, 'no');
      res.writeHead(302, { location: `/chain/${Number(n[1]) + 1}` });
      res.end();
    });
    const same = await failure({ url: `${server.url}/loop` });
    assert.equal(same.code, 'http_redirect_loop');
    assert.equal(same.retryable, false);
    assert.match(same.message, /^GET .*\/loop: redirect loop: redirected back to an address already visited$/);
    const before = server.requests.length;
    const chain = await failure({ url: `${server.url}/chain/0` });
    assert.match(chain.message, /redirect loop: more than 20 redirects$/);
    assert.equal(chain.retryable, false);
    assert.equal(server.requests.length - before, 21, 'the first request and 20 redirects');
    server.fallback((_req, res) => reply(res, 200, { ok: true }));
  });

  it('prepare() loads the client ahead, once', async () => {
    await httpAction.prepare!();
    await httpAction.prepare!();
    server.route('/after-prepare', (_req, res) => reply(res, 200, 'ready'));
    assert.equal((await call({ url: `${server.url}/after-prepare` })).output, 'ready');
    assert.equal(httpAction.version, 1);
  });
});


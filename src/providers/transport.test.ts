import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Gate, reply, StandIn, streamBytes } from '../../test/support/stand-in.ts';
import { AnswerTooLargeError, STREAM_ANSWER_FACTOR } from './answer-cap.ts';
import { droppedConnection } from './failure.ts';
import { providerFetch } from './transport.ts';

describe('providerFetch', () => {
  let server: StandIn;
  const held = new Gate();
  before(async () => {
    server = await StandIn.start();
    server.route('/json', (req, res) => reply(res, 200, { echo: req.body, method: req.method, auth: req.headers['authorization'] }, { 'x-ratelimit-remaining-requests': '3' }));
    // Far more than the socket buffers hold: the server is still writing when the client stops reading.
    server.route('/big', (_req, res) => streamBytes(res, 100_000_000));
    server.route('/declared', (_req, res) => streamBytes(res, 1_000_000, { 'content-length': '1000000' }));
    server.route('/stream', (_req, res) => streamBytes(res, 10_000 * STREAM_ANSWER_FACTOR, { 'content-type': 'text/event-stream' }));
    server.route('/held', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":');
      await held.wait();
      res.end('1}');
    });
    server.route('/cut', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"half":', () => res.destroy());
    });
    server.route('/gzip', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify({ text: 'x'.repeat(50_000) })));
    });
    server.route('/stream-big', (_req, res) => streamBytes(res, 100_000_000, { 'content-type': 'text/event-stream' }));
    server.route('/cut-500', (_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"error":', () => res.destroy());
    });
    server.route('/empty', (_req, res) => {
      res.writeHead(204);
      res.end();
    });
    server.route('/cookies', (_req, res) => {
      res.writeHead(200, [['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-twice', 'one'], ['x-twice', 'two']]);
      res.end('ok');
    });
    server.route('/error', (_req, res) => reply(res, 429, { error: { message: 'slow down' } }, { 'retry-after-ms': '20' }));
  });
  after(async () => {
    held.open();
    await server.close();
  });

  it('sends the method, headers and body, and answers a Response with the status, headers and whole body', async () => {
    const response = await providerFetch()(`${server.url}/json`, { method: 'POST', headers: { authorization: 'Bearer k', 'content-type': 'application/json' }, body: '{"a":1}' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '3');
    assert.deepEqual(await response.json(), { echo: '{"a":1}', method: 'POST', auth: 'Bearer k' });
    const refused = await providerFetch()(`${server.url}/error`, { method: 'POST', body: '{}' });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after-ms'), '20');
    assert.match(await refused.text(), /slow down/);
  });

  it('keeps a header given twice: each `set-cookie` on its own, any other joined as fetch joins it', async () => {
    const response = await providerFetch()(`${server.url}/cookies`);
    assert.deepEqual(response.headers.getSetCookie(), ['a=1', 'b=2']);
    assert.equal(response.headers.get('x-twice'), 'one, two');
    assert.equal(await response.text(), 'ok');
  });

  it('stops reading an answer past the cap, closing the connection', async () => {
    await assert.rejects(providerFetch(10_000)(`${server.url}/big`), (e: unknown) => e instanceof AnswerTooLargeError && e.limit === 10_000);
    const call = server.byPath('/big').at(-1)!;
    await server.until(() => call.endedAt !== undefined);
    assert.equal(call.aborted, true);
  });

  it('an error answer cut short is still the server\'s answer, with its status and what arrived', async () => {
    const response = await providerFetch()(`${server.url}/cut-500`, { method: 'POST', body: '{}' });
    assert.equal(response.status, 500);
    assert.equal(await response.text(), '{"error":');
  });

  it('answers a 204 and a HEAD with no body, and the next call still goes through', async () => {
    const empty = await providerFetch()(`${server.url}/empty`, { method: 'POST', body: '{}' });
    assert.equal(empty.status, 204);
    assert.equal(await empty.text(), '');
    const head = await providerFetch()(`${server.url}/json`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const next = await providerFetch()(`${server.url}/json`, { method: 'POST', body: '{"b":2}' });
    assert.deepEqual(((await next.json()) as { echo: string }).echo, '{"b":2}');
  });

  it('decompresses an answer compressed without being asked, and caps what it decompresses to', async () => {
    const response = await providerFetch()(`${server.url}/gzip`, { method: 'POST', body: '{}' });
    assert.equal(response.headers.get('content-encoding'), null);
    assert.equal(((await response.json()) as { text: string }).text.length, 50_000);
    // 50 KB of JSON compresses to well under 10 KB: the cap is on the answer, not on the bytes sent.
    await assert.rejects(providerFetch(10_000)(`${server.url}/gzip`, { method: 'POST', body: '{}' }), AnswerTooLargeError);
  });

  it('stops a stream past its cap, closing the connection', async () => {
    const response = await providerFetch(10_000)(`${server.url}/stream-big`);
    await assert.rejects(response.text(), AnswerTooLargeError);
    const call = server.byPath('/stream-big').at(-1)!;
    await server.until(() => call.endedAt !== undefined);
    assert.equal(call.aborted, true);
  });

  it('refuses a declared length past the cap before reading it', async () => {
    await assert.rejects(providerFetch(10_000)(`${server.url}/declared`), AnswerTooLargeError);
  });

  it('hands a stream (SSE) over as it comes, with room for the envelope around every token', async () => {
    const response = await providerFetch(10_000)(`${server.url}/stream`);
    assert.equal((await response.text()).length, 10_000 * STREAM_ANSWER_FACTOR);
  });

  it('an aborted call rejects with the signal’s reason, and the server sees the connection close', async () => {
    const controller = new AbortController();
    const pending = providerFetch()(`${server.url}/held`, { signal: controller.signal });
    await server.until(() => server.byPath('/held').length === 1);
    controller.abort(new Error('stopped'));
    await assert.rejects(pending, /stopped/);
    const call = server.byPath('/held')[0]!;
    await server.until(() => call.endedAt !== undefined);
    assert.equal(call.aborted, true);
  });

  it('fails as fetch does: `fetch failed` when it cannot connect, `terminated` when the body is cut', async () => {
    const closed = await StandIn.start();
    const url = closed.url;
    await closed.close();
    await assert.rejects(providerFetch()(url), (e: unknown) => e instanceof TypeError && e.message === 'fetch failed' && (e.cause as { code?: string }).code === 'ECONNREFUSED');
    await assert.rejects(providerFetch()(`${server.url}/cut`), (e: unknown) => e instanceof TypeError && e.message === 'terminated' && droppedConnection(e) !== undefined);
  });
});

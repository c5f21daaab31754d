/**
 * `http` steps through the real CLI where a server misbehaves: a body too big, a gzip bomb, an error page of
 * many lines, a status that will never change, a redirect loop. Each must fail once, clearly, and not be retried.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { run } from './support/cli.ts';
import { reply, StandIn, streamBytes } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

const MB = 1024 * 1024;

/** One `http` step named `get` (fast retries, so a wrongly retried failure shows in the request count). */
async function step(t: { after(fn: () => unknown): void }, block: string): Promise<string> {
  return writeWorkflow(await tempDir(t), `steps:\n  - id: get\n    retry: { attempts: 4, backoff: 0 }\n    http: ${block}\n`);
}

describe('http bodies are bounded', () => {
  it('a 30 MB body over `maxBytes: 1048576` fails with response_too_large after one request', async (t) => {
    server.route('/thirty', (_req, res) => streamBytes(res, 30 * MB));
    const file = await step(t, `{ url: "${server.url}/thirty", maxBytes: 1048576 }`);
    const result = await run(['run', file, '--json']);
    assert.equal(result.code, 1);
    const get = JSON.parse(result.stdout).steps.get;
    assert.equal(get.errorCode, 'response_too_large');
    assert.equal(get.attempts, 1);
    assert.match(get.hint, /raise `maxBytes`/);
    assert.equal(server.byPath('/thirty').length, 1);
    await server.until(() => server.byPath('/thirty')[0]!.endedAt !== undefined);
    assert.equal(server.byPath('/thirty')[0]!.aborted, true, 'reading stopped: the server never finished sending');
  });

  it('a gzip bomb (20 MB of zeros in ~20 KB) fails at the default cap, after one request', async (t) => {
    const bomb = gzipSync(Buffer.alloc(20 * MB));
    server.route('/bomb', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(bomb);
    });
    const file = await step(t, `{ url: "${server.url}/bomb" }`);
    const result = await run(['run', file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /get: GET .*\/bomb: the response is larger than 10 MB; reading stopped there\n {2}hint: raise `maxBytes`/);
    assert.equal(server.byPath('/bomb').length, 1);
  });
});

describe('http failures', () => {
  it('an HTML error page shows its first line in the retry lines and the summary, not the page', async (t) => {
    const page = `<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body>\n${'<p>upstream noise</p>\n'.repeat(40)}</body></html>\n`;
    server.route('/page', (_req, res) => reply(res, 502, page, { 'content-type': 'text/html' }));
    const file = await writeWorkflow(await tempDir(t), `steps:\n  - id: get\n    retry: { attempts: 2, backoff: 0 }\n    http: { url: "${server.url}/page" }\n`);
    const result = await run(['run', file]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /HTTP 502: <!DOCTYPE html>…/);
    assert.doesNotMatch(result.stderr, /upstream noise|Bad Gateway/);
    assert.equal(server.byPath('/page').length, 2, '502 is still retried');
  });

  it('501 and 505 are not retried', async (t) => {
    for (const status of [501, 505]) {
      server.route(`/never/${status}`, (_req, res) => reply(res, status, 'not here'));
      const file = await step(t, `{ url: "${server.url}/never/${status}" }`);
      const get = JSON.parse((await run(['run', file, '--json'])).stdout).steps.get;
      assert.equal(get.attempts, 1, `HTTP ${status}`);
      assert.equal(server.byPath(`/never/${status}`).length, 1);
    }
  });

  it('a redirect loop says so and is not retried', async (t) => {
    server.route('/round', (_req, res) => {
      res.writeHead(307, { location: '/round' });
      res.end();
    });
    const file = await step(t, `{ url: "${server.url}/round" }`);
    const result = await run(['run', file, '--json']);
    assert.equal(result.code, 1);
    const get = JSON.parse(result.stdout).steps.get;
    assert.equal(get.errorCode, 'http_redirect_loop');
    assert.match(get.error, /redirect loop/);
    assert.equal(get.attempts, 1);
    assert.equal(server.byPath('/round').length, 1);
  });
});

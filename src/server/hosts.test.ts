import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isLoopback } from './hosts.ts';

it('tells loopback addresses (no token needed) from the rest', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.equal(isLoopback(host), true, host);
  for (const host of ['0.0.0.0', '::', '192.168.1.2', '10.0.0.1', 'example.com', '128.0.0.1', '::ffff:10.0.0.1', 'localhost.evil.com']) assert.equal(isLoopback(host), false, host);
});

it('answers only requests addressed to a loopback name when asked to (DNS rebinding)', async () => {
  const { createApp } = await import('./app.ts');
  const { tmpdir } = await import('node:os');
  const { RunManager } = await import('./run-manager.ts');
  const store = async () => {
    throw new Error('not opened');
  };
  const app = createApp({ root: tmpdir(), loopbackOnly: true, store, runs: new RunManager({ store, place: { env: {}, cwd: tmpdir() } }), postedRoot: tmpdir() });
  for (const host of ['127.0.0.1:7070', 'localhost:7070', 'localhost', '[::1]:7070']) {
    assert.equal((await app.request('/api/openapi.json', { headers: { host } })).status, 200, host);
  }
  for (const host of ['evil.example:7070', 'evil.example', '127.0.0.1.evil.example', '', 'localhost:x']) {
    const res = await app.request('/api/openapi.json', { headers: { host } });
    assert.equal(res.status, 403, host);
    assert.equal(typeof ((await res.json()) as { hint?: string }).hint, 'string');
  }
});

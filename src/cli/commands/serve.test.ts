import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isLoopback } from './serve.ts';

it('tells loopback addresses (no token needed) from the rest', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.equal(isLoopback(host), true, host);
  for (const host of ['0.0.0.0', '::', '192.168.1.2', '10.0.0.1', 'example.com', '128.0.0.1', '::ffff:10.0.0.1', 'localhost.evil.com']) assert.equal(isLoopback(host), false, host);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl } from './service-url.ts';

test('a service URL is shown without its user, password or credential parameters', () => {
  assert.equal(redactUrl('redis://admin:hunter2@cache.internal:6380/2'), 'redis://***@cache.internal:6380/2');
  assert.equal(redactUrl('postgres://:hunter2@db/test'), 'postgres://***@db/test');
  assert.equal(redactUrl('postgres://db/test?sslmode=require&password=hunter2&schema=s1'), 'postgres://db/test?sslmode=require&password=***&schema=s1');
  assert.equal(redactUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
  assert.equal(redactUrl('not a url hunter2'), '(an unparsable URL)');
  for (const url of ['rediss://u:p%40ss@h/0?api_key=zz9', 'postgresql://x:y@h?sslpassword=q1w2']) {
    const shown = redactUrl(url);
    for (const secret of ['p%40ss', 'p@ss', 'zz9', 'q1w2', ':y@']) assert.ok(!shown.includes(secret), shown);
  }
});

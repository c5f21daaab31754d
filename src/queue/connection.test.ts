import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SetupError } from '../core/errors.ts';
import { parseQueueUrl } from './connection.ts';

test('a queue URL: its prefix apart, its password never shown, its database a number', () => {
  assert.deepEqual(parseQueueUrl('redis://u:hunter2@cache:6380/2?prefix=team-a'), { url: 'redis://u:hunter2@cache:6380/2', shown: 'redis://***@cache:6380/2?prefix=team-a', prefix: 'team-a' });
  assert.equal(parseQueueUrl('rediss://cache').prefix, 'conductor');
  const refused = (url: string, pattern: RegExp) => {
    assert.throws(() => parseQueueUrl(url), (error: unknown) => error instanceof SetupError && pattern.test(error.message) && !error.message.includes('hunter2'));
  };
  refused('http://cache:6379', /redis:\/\/ or rediss:\/\//);
  refused('not a url hunter2', /expects a Redis URL/);
  refused('redis://:hunter2@cache:6379/abc', /path is the database's number/);
  refused('redis:///tmp/socket', /path is the database's number/);
  refused('redis://cache?prefix=a%0Ab', /prefix must be .*"a\\nb"/);
  refused('redis://cache?prefix=:x', /prefix must be/);
});

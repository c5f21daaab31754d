import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { droppedConnection, firstLine } from './failure.ts';

describe('failure texts', () => {
  it('an error page shows as one line: its title, or its first line with text, cut short', () => {
    assert.equal(firstLine('<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>…</body></html>'), '502 Bad Gateway');
    assert.equal(firstLine('\n\n  upstream timed out\nat line 2\n'), 'upstream timed out');
    assert.equal(firstLine('x'.repeat(500)).length, 200);
  });

  it('a connection that went away is told from an answer the server gave', () => {
    assert.equal(droppedConnection(new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) })), 'UND_ERR_SOCKET');
    assert.equal(droppedConnection(new TypeError('terminated')), 'terminated');
    assert.equal(droppedConnection(new Error('Unexpected token < in JSON')), undefined);
  });
});

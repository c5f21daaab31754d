/** The run's secrets: every spelling, what is left at a cut, and values of any shape — in linear time. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIN_NAMED, redactDeep, Secrets } from './redact.ts';

describe('Secrets', () => {
  const KEY = 'sk-live-ABCDEFGHIJKLMNOP0123';

  it('replaces a secret as written, escaped in JSON and percent-encoded', () => {
    const secrets = new Secrets([KEY, 'pa"ss word-1234']);
    assert.equal(secrets.redact(`a ${KEY} b`), 'a *** b');
    assert.equal(secrets.redact(JSON.stringify({ k: 'pa"ss word-1234' })), '{"k":"***"}');
    assert.equal(secrets.redact('?q=pa%22ss%20word-1234'), '?q=***');
  });

  it('masks what is left of a secret at a cut, and leaves ordinary words alone', () => {
    const secrets = new Secrets([KEY]);
    assert.equal(secrets.redact(`${'x'.repeat(20)} ${KEY.slice(0, 12)}…`), `${'x'.repeat(20)} ***…`);
    assert.equal(secrets.redact(`…${KEY.slice(-10)} after`), '…*** after');
    assert.equal(new Secrets(['hello-world-0123']).redact('Oh hell… no'), 'Oh hell… no');
  });

  it('stays linear on long texts with cuts and long runs without spaces', () => {
    const secrets = new Secrets([KEY]);
    const text = `Loading… ${'A'.repeat(400_000)}…${'b'.repeat(400_000)} …`;
    // Quadratic work here would take hours; linear work takes milliseconds.
    assert.equal(secrets.redact(text), text);
  });

  it('a lone surrogate is a secret with no URL spelling, not a crash', () => {
    const secrets = new Secrets();
    secrets.add('abc\uD800defghij', MIN_NAMED);
    assert.equal(secrets.redact('x abc\uD800defghij y'), 'x *** y');
  });

  it('walks values: keys, strings and numbers; copies only what changed', () => {
    const secrets = new Secrets(['12345678', KEY]);
    const plain = { a: [1, 'two'], b: { c: true } };
    assert.equal(secrets.redactValue(plain).value, plain);
    assert.deepEqual(secrets.redactValue({ n: 12345678, [KEY]: 'v', list: [`x${KEY}`] }).value, { n: '***', '***': 'v', list: ['x***'] });
  });

  it('a value nested too deeply to walk is shown as a placeholder, never as it is', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const out = redactDeep(deep, new Secrets([KEY]).redact);
    assert.match(JSON.stringify(out), /nested too deeply to check for secrets: not shown/);
  });

  it('a redactor with only the secrets added since a version', () => {
    const secrets = new Secrets([KEY]);
    const since = secrets.version;
    secrets.add('later-secret-value');
    const later = secrets.redactorSince(since);
    assert.equal(later(`${KEY} later-secret-value`), `${KEY} ***`);
  });
});

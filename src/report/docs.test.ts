import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { docsFor, docsLink } from './docs.ts';

describe('links into the docs', () => {
  it('finds the page for a code by the longest matching prefix or whole code', () => {
    assert.equal(docsFor('shell_empty'), 'docs/shell.md');
    assert.equal(docsFor('condition_syntax'), 'docs/language.md#if');
    assert.equal(docsFor('timeout'), 'docs/failures.md#timeouts');
    assert.equal(docsFor('missing_key'), 'docs/language.md#key-reference', 'a key missing from the YAML');
    assert.equal(docsFor('missing_api_key'), 'docs/providers.md#keys-and-endpoints');
    assert.equal(docsFor('timeouts'), undefined, 'a whole code matches only itself');
    assert.equal(docsFor('no_such_code'), undefined);
    assert.equal(docsFor(undefined), undefined);
  });

  it('shows a page relative to the folder the user is in when it is inside the package, else absolute', () => {
    const root = join(import.meta.dirname, '../..');
    assert.equal(docsLink('docs/cli.md#conductor-run', root), 'docs/cli.md#conductor-run');
    assert.equal(docsLink('docs/cli.md', join(root, 'docs')), 'cli.md');
    assert.equal(docsLink('README.md', '/'), join(root, 'README.md').replace(/^\//, ''));
    assert.equal(docsLink('README.md', '/elsewhere'), join(root, 'README.md'));
  });
});

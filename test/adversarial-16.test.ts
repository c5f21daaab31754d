/**
 * Adversarial round 16: the fast path (js-yaml events, src/definition/fast-parse.ts) against the located path
 * (`yaml`'s Document). Where the fast path does not decline, its answer must be the located path's, field for
 * field (as src/definition/fast-path.test.ts compares them). Each `todo` is a document the fast path answers
 * differently today; the unmarked tests are agreements worth keeping.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtinActions } from '../src/actions/builtin.ts';
import { checkFast, checkLocated } from '../src/definition/load.ts';

const actions = builtinActions();
const FILE = '/tmp/workflows/adversarial-16.yaml';
const BASE = '/tmp/workflows';

/** Asserts the two paths give `text` the same answer; which way the fast path went. */
function agree(text: string): 'accepted' | 'rejected' | 'declined' {
  const fast = checkFast(text, FILE, actions, BASE);
  if (!fast) return 'declined';
  const located = checkLocated(text, FILE, actions, BASE);
  assert.deepStrictEqual(fast, located, `the paths differ on:\n${text}`);
  return fast.ok ? 'accepted' : 'rejected';
}

const STEPS = 'steps:\n  - id: a\n    llm: { prompt: hi }\n';
/** A valid workflow whose output `o` is written as `lines` (indented under `outputs:`). */
const withOutput = (lines: string) => `${STEPS}outputs:\n${lines}`;

describe('adversarial 16: fast path vs located path', () => {
  describe('disagreements', () => {
    it('a \\U escape past U+10FFFF: fast gives two lone surrogates, located a yaml_syntax error', () => {
      agree(withOutput('  o: "\\U00110000"\n'));
    });

    it('a \\U escape of 0x80000000: fast gives a NUL character, located a yaml_syntax error', () => {
      agree(withOutput('  o: "\\U80000000"\n'));
    });

    it('an escaped line break followed by an empty line: fast "xy", located "x y"', () => {
      agree(withOutput('  o: "x\\\n\n    y"\n'));
    });

    it('an escaped line break followed by two empty lines: fast "xy", located "x\\ny"', () => {
      agree(withOutput('  o: "x\\\n\n\n    y"\n'));
    });

    it('an empty key whose value is a compact map on the same line (`: a: b`): fast accepts, located a yaml_syntax error', () => {
      agree(withOutput('  o:\n    : a: b\n'));
    });

    it('an empty key with a block sequence on the same line (`: - x`): fast accepts, located a yaml_syntax error', () => {
      agree(withOutput('  o:\n    : - x\n'));
    });

    it('a document-end marker `...` before the workflow: fast accepts, located "a second YAML document"', () => {
      agree(`...\n${STEPS}`);
    });

    it('an unknown directive (`%FOO bar`): fast accepts, located a yaml_warning', () => {
      agree(`%FOO bar\n---\n${STEPS}`);
    });

    it('a `|2` block scalar whose only line is whitespace past the indentation: fast " \\n", located ""', () => {
      agree(withOutput('  o: |2\n     \n'));
    });

    it('a `|+` block scalar ending in a blank line and a line of spaces with no final newline: fast "\\n\\n", located "\\n"', () => {
      agree(withOutput('  o: |+\n\n '));
    });

    it('a scalar on its own line after a blank line and a comment at column 1, then another key: fast accepts, located a yaml_syntax error', () => {
      agree(`name:\n\n# the name\n  x\n${STEPS}`);
      agree(withOutput('  o:\n\n# c\n    2\n  p: 1\n'));
    });
  });

  describe('agreements worth keeping', () => {
    it('lone and paired surrogate escapes', () => {
      for (const value of ['"\\uD800"', '"\\uDC00x"', '"\\uD83D\\uDE00"', '"\\U0000D800"', '"\\U0010FFFF"']) agree(withOutput(`  o: ${value}\n`));
    });

    it('keys that are numbers, booleans and nulls, and the same number written twice', () => {
      for (const key of ['1', '1e3', '0x1F', '0o17', '.nan', '-.inf', '-0', 'true', 'TRUE', 'null', '~', '"1"']) agree(withOutput(`  o:\n    ${key}: x\n`));
      for (const keys of [['1', '0x1'], ['1', '1.0'], ['-0', '0'], ['null', '~'], ['.nan', '.NaN'], ['a', '"a"'], ['a', '"\\x61"']]) {
        agree(withOutput(`  o:\n    ${keys[0]}: x\n    ${keys[1]}: y\n`));
      }
    });

    it('keys named like Object.prototype members', () => {
      for (const key of ['__proto__', '"__proto__"', 'constructor', 'prototype', 'toString', 'hasOwnProperty']) {
        agree(withOutput(`  o:\n    ${key}: { polluted: true }\n`));
        agree(`${STEPS}${key}: 1\n`);
      }
      assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    });

    it('block scalars with CRLF, indentation indicators, chomping and more-indented blank lines', () => {
      const values = ['|+\n    x\n\n', '|2-\n     x\n', '>+\n    x\n     \n', '>\n    x\n\n     y\n\n    z\n', '|-\n    x\n     \n\n', '>\n\n    x\n'];
      for (const value of values) {
        agree(withOutput(`  o: ${value}`));
        agree(withOutput(`  o: ${value}`).replace(/\n/g, '\r\n'));
      }
    });

    it('nesting at the depth limit, block maps then flow lists', () => {
      for (const depth of [99, 100, 101]) {
        const blocks = Array.from({ length: 50 }, (_, i) => `${' '.repeat(i + 2)}k${i}:`).join('\n');
        agree(withOutput(`${blocks} ${'['.repeat(depth - 50)}${']'.repeat(depth - 50)}\n`));
      }
    });
  });
});

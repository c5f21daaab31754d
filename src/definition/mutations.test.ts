/**
 * Mistakes nobody thought to write a fixture for: the examples and fixtures, mutated at random (a token
 * inserted, a few characters deleted, two lines swapped), thousands of times, with fixed seeds. Whatever the
 * text, validation must answer with located problems and never throw (a throw is an "internal error" in the
 * CLI). This found an alias with no anchor crashing the validator, and (with bytes that are not UTF-8) a bad
 * first byte reported on the last line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeWorkflow } from './decode.ts';
import { checkWorkflow } from './load.ts';
import { generator, mutate, seeds } from './mutation-corpus.ts';

/** Bytes that are not UTF-8 on their own, or begin a character the next bytes may not finish. */
const BYTES = [0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xf5, 0xff];

describe('validation of mutated workflows', () => {
  for (const seed of [1, 7, 11]) {
    it(`answers 1,000 random mistakes (seed ${seed}) with located problems, never a throw`, () => {
      const rand = generator(seed);
      for (let k = 0; k < 1000; k++) {
        const text = mutate(seeds[rand(seeds.length)]!, rand);
        let diagnostics, warnings;
        try {
          ({ diagnostics, warnings } = checkWorkflow(text, '/tmp/mutated.yaml'));
        } catch (error) {
          assert.fail(`threw ${(error as Error).message} on:\n${text}`);
        }
        const lines = text.split('\n').length;
        for (const d of [...diagnostics, ...warnings]) {
          assert.ok(d.message && d.line >= 1 && d.line <= lines && d.column >= 1, `${JSON.stringify(d)} on:\n${text}`);
        }
      }
    });
  }

  it('answers 1,000 files with stray bytes with their line and column, or reads them', () => {
    const rand = generator(3);
    for (let k = 0; k < 1000; k++) {
      const bytes = Buffer.from(seeds[rand(seeds.length)]!, 'utf8');
      const at = rand(bytes.length + 1);
      const mutated = Buffer.concat([bytes.subarray(0, at), Buffer.from([BYTES[rand(BYTES.length)]!]), bytes.subarray(at + rand(2))]);
      const decoded = decodeWorkflow(mutated, '/tmp/mutated.yaml');
      if (decoded.ok) {
        assert.doesNotThrow(() => checkWorkflow(decoded.text, '/tmp/mutated.yaml'));
        continue;
      }
      const lines = mutated.toString('utf8').split('\n');
      const { line, column } = decoded.problem;
      assert.ok(line >= 1 && line <= lines.length && column >= 1 && column <= lines[line - 1]!.length + 1, `${line}:${column} in ${JSON.stringify(mutated.toString('latin1'))}`);
      // Everything before the byte is text; the byte is where the decoder's replacement begins.
      assert.equal(lines[line - 1]![column - 1], '\uFFFD', `${line}:${column} in ${JSON.stringify(mutated.toString('latin1'))}`);
    }
  });
});

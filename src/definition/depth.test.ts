import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_DEPTH } from './depth.ts';
import { checkWorkflow } from './load.ts';

/** A workflow whose `llm.schema` is `value`, written on line 5 from column 15. */
const withSchema = (value: string) => `steps:\n  - id: a\n    llm:\n      prompt: hi\n      schema: ${value}\n`;
/** The levels around the schema: the workflow (map) → steps (list) → the step (map) → llm (map). */
const OWN = 4;

describe('nesting', () => {
  it(`accepts ${MAX_DEPTH} levels of lists and maps, and refuses one more where it starts`, () => {
    const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
    assert.deepEqual(checkWorkflow(withSchema(nest(MAX_DEPTH - OWN)), 'x.yaml').diagnostics.filter((d) => d.code === 'too_deep'), []);
    const deep = checkWorkflow(withSchema(nest(MAX_DEPTH - OWN + 1)), 'x.yaml');
    assert.deepEqual(deep.diagnostics.map((d) => [d.line, d.column, d.code, d.message]), [[5, 15 + MAX_DEPTH - OWN, 'too_deep', `nested too deeply: more than ${MAX_DEPTH} levels of lists and maps`]]);
  });

  it('refuses 50,000 levels of `[`, of `{a: `, and of indented maps with one problem, without overflowing the stack', () => {
    const n = 50_000;
    const block = ['steps:', ...Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i + 1)}a${i}:`)].join('\n');
    for (const text of [`steps: ${'['.repeat(n)}${']'.repeat(n)}\n`, `steps: ${'{a: '.repeat(n)}x${'}'.repeat(n)}\n`, block]) {
      const result = checkWorkflow(text, 'x.yaml');
      assert.deepEqual(result.diagnostics.map((d) => d.code), ['too_deep']);
      // Where the 101st level begins: the 100th `[` (the top-level map is the first level), or line 101.
      assert.ok(result.diagnostics[0]!.line === 1 ? result.diagnostics[0]!.column < 500 : result.diagnostics[0]!.line === MAX_DEPTH + 1, JSON.stringify(result.diagnostics[0]));
    }
  });

  it('refuses an alias that makes a value contain itself, at the alias', () => {
    const result = checkWorkflow('x: &loop\n  - *loop\nsteps:\n  - id: a\n    llm: { prompt: hi, schema: *loop }\n', 'x.yaml');
    assert.deepEqual(result.diagnostics.map((d) => [d.line, d.column, d.code]), [[2, 5, 'yaml_alias']]);
    assert.match(result.diagnostics[0]!.message, /repeats a list or map inside itself/);
  });

  it('counts the levels an alias brings in', () => {
    // 60 levels under the anchor, 60 around the alias: each part is within the limit as written, not once expanded.
    const result = checkWorkflow(`deep: &d ${'['.repeat(60)}${']'.repeat(60)}\n${withSchema(`${'['.repeat(60)}*d${']'.repeat(60)}`)}`, 'x.yaml');
    assert.deepEqual(result.diagnostics.map((d) => [d.line, d.code]), [[6, 'too_deep']]);
  });
});

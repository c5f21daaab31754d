/** Every validation rule, on fixture files, with the exact line and column of each problem. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkWorkflow, loadWorkflow } from './load.ts';
import { WorkflowInvalidError } from '../core/errors.ts';

const FIXTURES = join(import.meta.dirname, '../../test/fixtures/invalid');

/** [line, column, code, message pattern, hint pattern?] */
type Expected = [number, number, string, RegExp, RegExp?];

const cases: Record<string, Expected[]> = {
  'yaml-syntax.yaml': [[4, 15, 'yaml_syntax', /Missing closing "quote/]],
  'aliases.yaml': [[3, 11, 'yaml_alias', /^`\*astring` refers to no anchor: there is no `&astring` before it$/, /set the anchor before the alias/]],
  'tags.yaml': [[4, 15, 'yaml_tag', /^unknown tag `!include`: workflows are plain YAML$/, /read it in a `file` step/]],
  'keys.yaml': [
    [2, 3, 'invalid_key', /^`inputs`: `my input`: an input name starts with a letter/],
    [5, 7, 'unknown_key', /^unknown key `\[ x, y \]` in step `a`$/],
    [11, 18, 'invalid_key', /^step `b` → http\.headers: `X Bad`: not a header name/],
    [13, 5, 'unknown_key', /^a key with no name \(empty, `~` or `null`\) in step `c`$/],
  ],
  'unknown-keys.yaml': [
    [2, 1, 'unknown_key', /unknown key `confg` in the workflow/, /did you mean `config`/],
    [7, 7, 'unknown_key', /unknown key `promtp` in step `a` → llm/, /did you mean `prompt`/],
    [9, 5, 'unknown_key', /unknown key `llmm` in step `b`/, /did you mean `llm`/],
  ],
  'missing-id.yaml': [[2, 5, 'missing_key', /step 1 needs `id`/]],
  'duplicate-id.yaml': [[8, 9, 'duplicate_id', /duplicate step id `fetch`: already used by the step at line 2/]],
  'actions.yaml': [
    [2, 5, 'no_action', /step `none` has no action/, /`llm`, `http`, `file`/],
    [7, 5, 'multiple_actions', /step `two` has more than one action \(`llm`, `http`\)/],
  ],
  'references.yaml': [
    [7, 26, 'unknown_step', /unknown step `proces1` in `\$\{steps\.proces1\.output\}`/, /did you mean `process1`/],
    [7, 56, 'unknown_input', /unknown input `topik`/, /did you mean `topic`/],
    [10, 23, 'self_reference', /step `loop` refers to itself/],
    [13, 16, 'unknown_property', /an `llm` step has no `outptu`/, /did you mean `output`/],
    [15, 18, 'unknown_step', /unknown step `nobody` in `depends_on`/],
  ],
  'malformed-templates.yaml': [
    [4, 22, 'bad_template', /unterminated `\$\{`/, /`\$\$\{`/],
    [7, 16, 'bad_template', /unknown reference root `foo`/],
    [7, 31, 'bad_template', /empty reference/],
  ],
  'cycle.yaml': [[4, 16, 'cycle', /^dependency cycle: a → c → b → a$/]],
  'bad-values.yaml': [
    [2, 19, 'invalid_value', /`config\.maxConcurrency`: expected an integer from 1 to 1000, got `0`/],
    [6, 15, 'invalid_value', /http\.method: expected one of GET, POST, PUT, PATCH, DELETE, HEAD, got `"FETCH"`/],
    [10, 15, 'invalid_value', /file\.action: expected one of read, write, append, exists, list, delete, glob, got `"remove"`/],
    [14, 7, 'missing_key', /a `write` needs `content`/],
  ],
  'max-concurrency-3.yaml': [[2, 19, 'invalid_value', /expected an integer from 1 to 1000, got `-3`/]],
  'max-concurrency-25.yaml': [[2, 19, 'invalid_type', /expected an integer from 1 to 1000, got `2\.5`/]],
  'max-concurrency-ten.yaml': [[2, 19, 'invalid_type', /expected an integer from 1 to 1000, got `"ten"`/]],
  'max-concurrency-1001.yaml': [[2, 19, 'invalid_value', /expected an integer from 1 to 1000, got `1001`/]],
};

describe('validation reports every problem, located', () => {
  for (const [fixture, expected] of Object.entries(cases)) {
    it(fixture, async () => {
      const file = join(FIXTURES, fixture);
      const result = checkWorkflow(await readFile(file, 'utf8'), file);
      assert.equal(result.ok, false);
      const got = result.diagnostics.map((d) => [d.line, d.column, d.code, d.message, d.hint ?? '']);
      assert.equal(got.length, expected.length, `diagnostics: ${JSON.stringify(got, null, 1)}`);
      expected.forEach(([line, column, code, message, hint], i) => {
        const d = result.diagnostics[i]!;
        assert.equal(d.file, file);
        assert.deepEqual([d.line, d.column, d.code], [line, column, code], `#${i}: ${d.message}`);
        assert.match(d.message, message);
        if (hint) assert.match(d.hint ?? '', hint);
      });
    });
  }

  it('names a file that is not there', async () => {
    await assert.rejects(loadWorkflow(join(FIXTURES, 'no-such.yaml')), (e: unknown) => {
      assert.ok(e instanceof WorkflowInvalidError);
      assert.deepEqual([e.diagnostics[0]!.code, e.diagnostics[0]!.line, e.diagnostics[0]!.message], ['file_unreadable', 0, 'no such file']);
      assert.match(e.diagnostics[0]!.file, /no-such\.yaml$/);
      return true;
    });
  });

  it('reports a YAML syntax mistake once, where it was made, however many errors the parser reports for it', () => {
    const cases: [string, number, number, RegExp][] = [
      // The parser also reports the flow map as unclosed, at the end of the file.
      ['steps:\n  - id: a\n    llm: {prompt: "x}\n', 3, 19, /Missing closing "quote/],
      ["steps:\n  - id: a\n    llm:\n      prompt: 'hello\n", 4, 15, /Missing closing 'quote/],
      // "Nested mappings are not allowed in compact mappings" and "Implicit keys need to be on a single line".
      ['name: x\n  steps: y\n', 1, 7, /Nested mappings/],
      ['steps:\n  - id: a\n\tllm: { prompt: hi }\n', 3, 1, /Tabs are not allowed/],
      // A comment after a plain line ends the document: the parser reports each of the 15 tokens after it.
      ['---\n$schema=x\n# a comment\nname: y\nsteps:\n  - id: a\n    llm: { prompt: hi }\n', 4, 1, /Unexpected scalar token/],
      ['steps: []\n---\nsteps: []\n', 2, 1, /^a second YAML document starts here: a workflow file holds one$/],
    ];
    for (const [text, line, column, message] of cases) {
      const { diagnostics } = checkWorkflow(text, 'x.yaml');
      assert.deepEqual(diagnostics.map((d) => [d.line, d.column, d.code]), [[line, column, 'yaml_syntax']], JSON.stringify(text));
      assert.match(diagnostics[0]!.message, message);
    }
  });

  it('rejects an empty file and a file that is not a map', () => {
    assert.equal(checkWorkflow('', 'x.yaml').diagnostics[0]?.code, 'empty');
    assert.match(checkWorkflow('- a\n- b\n', 'x.yaml').diagnostics[0]?.message ?? '', /a workflow is a map with `steps`/);
    assert.match(checkWorkflow('steps: []\n', 'x.yaml').diagnostics[0]?.message ?? '', /at least one step/);
  });

  it('refuses aliases that expand without end (a "billion laughs") with one clear problem', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefg'.split('').map((c, i) => `${c}: &${c} [${Array(10).fill(`*${'abcdefg'[i]}`).join(', ')}]`)];
    const result = checkWorkflow(`${levels.join('\n')}\nsteps:\n  - id: s\n    llm: { prompt: hi }\n`, 'x.yaml');
    assert.deepEqual(result.diagnostics.map((d) => d.code), ['yaml_alias']);
    assert.match(result.diagnostics[0]!.message, /^aliases expand too far/);
  });

  it('checks input defaults, model strings and content on non-writing file actions', () => {
    const result = checkWorkflow(
      ['inputs:', '  n: { type: number, default: "x" }', 'config:', '  model: opneai:gpt-4o', 'steps:', '  - id: r', '    file: { action: read, path: a, content: b }', ''].join('\n'),
      'x.yaml',
    );
    assert.deepEqual(
      result.diagnostics.map((d) => [d.line, d.code]),
      [[2, 'invalid_value'], [4, 'invalid_model'], [7, 'invalid_value']],
    );
    assert.match(result.diagnostics[1]!.hint ?? '', /did you mean `openai`/);
  });

  it('refuses a reference in config.model, which is read before any input or output is known', () => {
    const result = checkWorkflow(['inputs:', '  m: { type: string, default: "openai:gpt-4o" }', 'config:', '  model: ${inputs.m}', 'steps:', '  - id: r', '    llm: { prompt: hi }', ''].join('\n'), 'x.yaml');
    assert.deepEqual(result.diagnostics.map((d) => [d.line, d.column]), [[4, 10]]);
    assert.match(result.diagnostics[0]!.message, /cannot hold a `\$\{…\}` reference/);
  });
});

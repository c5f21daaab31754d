/**
 * The fast path (js-yaml, no positions) and the located path (yaml's Document) must agree on every document
 * the fast path does not decline, accepted or not: the same spec (locations included: the fast path's are read
 * here, which builds its SourceFile), or the same problems and warnings, every field, in the same order — and
 * so the same code frames. Where the fast path declines, the located path's answer stands alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtinActions } from '../actions/builtin.ts';
import { formatDiagnostics } from '../cli/diagnostics.ts';
import { createStyle } from '../report/style.ts';
import { checkFast, checkLocated } from './load.ts';
import { generator, mutate, seeds } from './mutation-corpus.ts';

const actions = builtinActions();
const FILE = '/tmp/workflows/differential.yaml';
const BASE = '/tmp/workflows';
const plain = createStyle({ isTTY: false }, {});

/** Asserts the two paths give `text` the same answer; which way the fast path went. */
function agree(text: string): 'accepted' | 'rejected' | 'declined' {
  const fast = checkFast(text, FILE, actions, BASE);
  if (!fast) return 'declined';
  const located = checkLocated(text, FILE, actions, BASE);
  assert.deepStrictEqual(fast, located, `the paths differ on:\n${text}`);
  const shown = (list: typeof fast.diagnostics) => formatDiagnostics(list, plain, new Map([[FILE, text]]));
  assert.equal(shown([...fast.diagnostics, ...fast.warnings]), shown([...located.diagnostics, ...located.warnings]));
  return fast.ok ? 'accepted' : 'rejected';
}

describe('the fast path agrees with the located path', () => {
  it('on the examples and fixtures as written, and accepts the valid ones', () => {
    const verdicts = seeds.map(agree);
    const validPlain = seeds.filter((text) => {
      const located = checkLocated(text, FILE, actions, BASE);
      return located.ok && !/[&*!]\w/.test(text);
    });
    assert.ok(validPlain.length >= 4, 'the corpus has valid workflows');
    for (const text of validPlain) assert.equal(agree(text), 'accepted', `declined a plain valid workflow:\n${text}`);
    assert.ok(verdicts.includes('rejected'), 'the fast path answers for invalid fixtures too');
    assert.ok(verdicts.includes('declined'));
  });

  for (const seed of [1, 7, 11]) {
    it(`on 1,000 mutants (seed ${seed}, as in mutations.test.ts)`, (t) => {
      const rand = generator(seed);
      const count = { accepted: 0, rejected: 0, declined: 0 };
      for (let k = 0; k < 1000; k++) count[agree(mutate(seeds[rand(seeds.length)]!, rand))]++;
      // Both verdicts of the fast path must be exercised, or the agreement proves little.
      t.diagnostic(`of 1,000: ${count.accepted} accepted and ${count.rejected} rejected by the fast path, ${count.declined} declined`);
      assert.ok(count.accepted >= 40, `only ${count.accepted} mutants accepted the fast way`);
      assert.ok(count.rejected >= 200, `only ${count.rejected} mutants rejected the fast way`);
    });
  }

  /** A valid workflow with `value` as an output: the value must come out as yaml reads it, or be declined. */
  const withOutput = (value: string) => `steps:\n  - id: a\n    llm: { prompt: hi }\noutputs:\n  o: ${value}\n`;
  const SCALARS = [
    '0o17', '0x1F', '0X1F', '017', '0b101', '.inf', '-.Inf', '+.INF', '.nan', '.NaN', '~', 'null', 'Null', 'NULL', 'nULL', '', 'yes', 'no', 'on', 'off', 'y', 'n',
    'True', 'TRUE', 'tRUE', 'false', 'FALSE', '1_000', '1,000', '+12', '-0', '+0', '-0.0', '1.', '.5', '1e3', '1E-3', '+1.5e+3', '1.5e', '12:30:00', '2001-12-14', '2001-12-14t21:59:43.10-05:00',
    '123456789012345678901234567890', '0.1e400', '"0x1F"', "'~'", '!!binary R0lG', '!!str 12', '!!int "3"', '!!timestamp 2001-12-14', '!!float 1', '!custom x',
    '&a 1', '[&a 1, *a]', '{ <<: { a: 1 }, b: 2 }', '"\\x41\\u00e9\\U0001F600\\t"', "'it''s'", '"a\\\n  b"', '[a, b, [c, {d: e}]]', '{a: , b}', '{ ? a }', '[a: 1]',
    '|\n    line\n     indented\n    trailing  \n', '>-\n    folded\n    text\n\n    para\n', '|+\n    kept\n\n', '>2\n     two\n', 'plain\n    continued\n    lines',
    '"quoted\n    across\n\n    lines"', "'single\n    folded'", 'a # comment', 'a#not-comment', '- dash', '"é ☃ 😀"', '\u00a0nbsp',
  ];
  it('on scalars and collections where js-yaml and yaml read differently', () => {
    for (const value of SCALARS) agree(withOutput(value));
    // The common ones must not be declined.
    for (const value of ['0o17', '0x1F', '.inf', '~', 'yes', '1_000', '-0', 'True', '[a, {b: c}]', '"\\u00e9"', '|\n    text\n']) {
      assert.equal(agree(withOutput(value)), 'accepted', value);
    }
  });

  it('on whole documents: BOM, CRLF, tabs, markers, directives, keys, depth', () => {
    const base = withOutput('1');
    const documents = [
      `\uFEFF${base}`,
      base.replace(/\n/g, '\r\n'),
      base.replace(/\n/g, '\r'),
      base.replace('  o: 1', '\to: 1'),
      base.replace('prompt: hi', 'prompt: "a\tb"'),
      base.replace('prompt: hi', 'prompt:\thi'),
      `---\n${base}`,
      `--- \n${base}`,
      `${base}...\n`,
      `${base}---\n`,
      `${base}---\nx: 1\n`,
      `%YAML 1.2\n---\n${base}`,
      `%YAML 1.1\n---\n${base}`,
      `%TAG !e! tag:example.com,2000:\n---\n${base}`,
      base.replace('  o: 1', '  o: 1\n  o: 2'),
      base.replace('  o: 1', '  o: 1\n  "o": 2'),
      base.replace('  o: 1', '  1: a\n  "1": b'),
      base.replace('  o: 1', '  ~: a'),
      base.replace('  o: 1', '  null: a'),
      base.replace('  o: 1', '  __proto__: a'),
      base.replace('  o: 1', '  <<: { a: 1 }'),
      base.replace('  o: 1', `  ? ${'k'.repeat(1100)}\n  : v`),
      base.replace('  o: 1', `  ${'k'.repeat(1100)}: v`),
      base.replace('  o: 1', '  ? [a, b]\n  : v'),
      base.replace('  o: 1', '  ? { a: 1 }\n  : v'),
      base.replace('  o: 1', '  o: [\n    1,\n  ]'),
      base.replace('  o: 1', '  o: [\n    1,\n    ]'),
      base.replace('  o: 1', '  o: {\n  a: 1 }'),
      base.replace('  o: 1', '  o: 1 # comment'),
      base.replace('  o: 1', '  o: "unclosed'),
      base.replace('  o: 1', '  o: @reserved'),
      base.replace('  o: 1', '  o: `reserved'),
      base.replace('  o: 1', '  o: \u0085'),
      base.replace('  o: 1', '  o: a\u2028b'),
      base.replace('  o: 1', '  o: \x7f'),
      base.replace('prompt: hi', 'prompt: !!str hi'),
      `${base}\n\n# trailing comment`,
      `# leading comment\n${base}`,
      base.replace('  o: 1', `  o: ${'['.repeat(98)}${']'.repeat(98)}`),
      base.replace('  o: 1', `  o: ${'['.repeat(99)}${']'.repeat(99)}`),
      base.replace('  o: 1', `  o: ${'['.repeat(100)}${']'.repeat(100)}`),
      base.replace('  o: 1', `  o: ${'['.repeat(101)}${']'.repeat(101)}`),
      'steps:\n- id: a\n  llm:\n    prompt: hi\n',
      'steps: [{ id: a, llm: { prompt: hi } }]\n',
      '{ steps: [{ id: a, llm: { prompt: hi } }] }',
      'steps:\n  -   id: a\n      llm: { prompt: hi }\n  - id: b\n    llm: { prompt: "${steps.a.output}" }\n',
      'inputs:\n  "q": { default: x }\n  \'r\': { type: number, default: 0x10 }\nsteps:\n  - id: a\n    if: inputs.r > 1\n    llm: { prompt: "${inputs.q}" }\n',
    ];
    for (const text of documents) agree(text);
    assert.equal(agree(base.replace(/\n/g, '\r\n')), 'accepted', 'CRLF');
    assert.equal(agree(`---\n${base}`), 'accepted', 'a leading ---');
  });

  it('gives a valid workflow the locations the located path gives it', () => {
    const text = 'inputs:\n  "q": { default: x }\nsteps:\n  - id: a\n    llm: { prompt: "${inputs.q}" }\n  -   id: b\n      if: steps.a.status == "succeeded"\n      llm: { prompt: "${steps.a.output}" }\n';
    const fast = checkFast(text, FILE, actions, BASE);
    assert.ok(fast?.ok);
    assert.deepEqual({ ...fast.spec.steps[1]!.location }, { file: FILE, line: 6, column: 7 });
    assert.deepEqual({ ...fast.spec.inputs['q']!.location }, { file: FILE, line: 2, column: 3 });
    assert.deepEqual({ ...fast.spec.steps[1]!.condition!.location }, { file: FILE, line: 7, column: 11 });
  });
});

/** The flow-control keys: what the spec holds for them, the plan's edges, and every mistake, located. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkWorkflow, parseWorkflow } from './load.ts';

const lines = (...text: string[]) => `${text.join('\n')}\n`;
const problems = (text: string) => {
  const result = checkWorkflow(text, 'x.yaml');
  assert.equal(result.ok, false, 'expected problems');
  return result.diagnostics.map((d) => [d.line, d.column, d.code, d.message, d.hint ?? '']);
};

describe('the spec of a workflow with foreach, if and continueOnError', () => {
  const spec = parseWorkflow(
    lines(
      'inputs:',
      '  mode: { type: string, default: fast }',
      'config: { maxItems: 500 }',
      'steps:',
      '  - id: list',
      '    file: { action: list, path: notes }',
      '  - id: fetch-data',
      '    http: { url: "http://127.0.0.1:1/x" }',
      '    continueOnError: true',
      '  - id: summarize',
      '    foreach: ${steps.list.output}',
      '    as: doc',
      '    maxConcurrency: 4',
      '    llm: { prompt: "Summarise ${doc.path} (${foreach.index} of ${foreach.count}) for ${steps.list.output}" }',
      '  - id: urgent',
      '    if: steps.summarize.output.exists(s, s.contains("urgent")) && inputs.mode != "dry-run" && env.CI != "1"',
      '    llm: { prompt: "Escalate" }',
      '  - id: fallback',
      '    if: ${ steps["fetch-data"].status == "failed" && size(steps.summarize.items) > 0 }',
      '    dependsOn: [urgent]',
      '    llm: { prompt: "Fallback ${steps.summarize.output}" }',
      '  - id: literal',
      '    foreach: [a.txt, "${inputs.mode}.txt"]',
      '    depends_on: [list]',
      '    file: { action: read, path: "${item}" }',
    ),
    '/w/x.yaml',
  );
  const step = (id: string) => spec.steps.find((s) => s.id === id)!;

  it('fills foreach with the compiled list, the item name and the step cap', () => {
    assert.deepEqual(step('summarize').foreach, {
      items: { kind: 'single', ref: { root: 'steps', step: 'list', property: 'output', path: [] }, raw: '${steps.list.output}' },
      as: 'doc',
      maxConcurrency: 4,
    });
    // A literal list may hold references: each item is resolved like any value.
    assert.deepEqual(step('literal').foreach, {
      items: { kind: 'array', items: [{ kind: 'literal', value: 'a.txt' }, { kind: 'concat', parts: [{ ref: { root: 'inputs', name: 'mode', path: [] }, raw: '${inputs.mode}' }, { text: '.txt' }] }] },
      as: 'item',
    });
    assert.equal(step('list').foreach, undefined);
    assert.deepEqual(step('summarize').input, {
      kind: 'object',
      entries: [
        [
          'prompt',
          {
            kind: 'concat',
            parts: [
              { text: 'Summarise ' },
              { ref: { root: 'item', name: 'doc', path: ['path'] }, raw: '${doc.path}' },
              { text: ' (' },
              { ref: { root: 'foreach', name: 'index' }, raw: '${foreach.index}' },
              { text: ' of ' },
              { ref: { root: 'foreach', name: 'count' }, raw: '${foreach.count}' },
              { text: ') for ' },
              { ref: { root: 'steps', step: 'list', property: 'output', path: [] }, raw: '${steps.list.output}' },
            ],
          },
        ],
      ],
    });
  });

  it('fills condition with the expression (without its ${ }), where it is, and what it names', () => {
    assert.deepEqual(step('urgent').condition, {
      expression: 'steps.summarize.output.exists(s, s.contains("urgent")) && inputs.mode != "dry-run" && env.CI != "1"',
      location: { file: '/w/x.yaml', line: 16, column: 9 },
      steps: ['summarize'],
      statusOf: [],
      inputs: ['mode'],
      env: ['CI'],
    });
    assert.deepEqual(step('fallback').condition, {
      expression: 'steps["fetch-data"].status == "failed" && size(steps.summarize.items) > 0',
      location: { file: '/w/x.yaml', line: 19, column: 9 },
      steps: ['fetch-data', 'summarize'],
      statusOf: ['fetch-data'],
      inputs: [],
      env: [],
    });
    assert.equal(step('list').condition, undefined);
  });

  it('fills continueOnError, both spellings of dependsOn, and config.maxItems (default 10,000)', () => {
    assert.deepEqual(spec.steps.map((s) => s.continueOnError), [false, true, false, false, false, false]);
    assert.deepEqual(step('fallback').dependsOn, ['urgent']);
    assert.deepEqual(step('literal').dependsOn, ['list']);
    assert.equal(spec.config.maxItems, 500);
    assert.equal(parseWorkflow('steps:\n  - id: a\n    llm: { prompt: x }\n').config.maxItems, 10_000);
  });

  it('makes the foreach list and each step a condition names edges; the item and foreach.… make none', () => {
    const reasons = (id: string) => Object.fromEntries([...spec.plan.steps[spec.plan.byId.get(id)!]!.reasons].map(([d, r]) => [spec.plan.steps[d]!.id, r]));
    assert.deepEqual(reasons('summarize'), { list: [{ kind: 'reference', ref: '${steps.list.output}' }] });
    const fallback = step('fallback').condition!.expression;
    assert.deepEqual(reasons('fallback'), {
      'fetch-data': [{ kind: 'condition', expression: fallback }],
      // Named in the condition and in the block: both reasons.
      summarize: [{ kind: 'condition', expression: fallback }, { kind: 'reference', ref: '${steps.summarize.output}' }],
      urgent: [{ kind: 'depends_on' }],
    });
    assert.deepEqual(reasons('urgent'), { summarize: [{ kind: 'condition', expression: step('urgent').condition!.expression }] });
    assert.deepEqual(reasons('literal'), { list: [{ kind: 'depends_on' }] });
  });

  it('reads `inputs` whole as every input', () => {
    const whole = parseWorkflow(lines('inputs: { a: { default: x }, b: { default: y } }', 'steps:', '  - id: s', '    if: \'"a" in inputs\'', '    llm: { prompt: x }'));
    assert.deepEqual(whole.steps[0]!.condition!.inputs, ['a', 'b']);
  });
});

describe('mistakes with the flow keys, all in one pass, each where it was written', () => {
  it('foreach that is not a list, and foreach keys without foreach', () => {
    const got = problems(
      lines(
        'inputs: { mode: { default: x }, files: { type: array, default: [] } }',
        'steps:',
        '  - id: list',
        '    file: { action: list, path: notes }',
        '  - id: a',
        '    foreach: notes/a.txt',
        '    llm: { prompt: "${item}" }',
        '  - id: b',
        '    foreach: { a: 1 }',
        '    as: steps',
        '    llm: { prompt: x }',
        '  - id: c',
        '    as: doc',
        '    maxConcurrency: 2',
        '    llm: { prompt: "${item} ${foreach.index}" }',
        '  - id: d',
        '    foreach: "${steps.list.output} and more"',
        '    llm: { prompt: x }',
        '  - id: e',
        '    foreach: ${inputs.mode}',
        '    as: doc',
        '    llm: { prompt: "${item}" }',
        '  - id: f',
        '    foreach: ${item}',
        '    llm: { prompt: x }',
        '  - id: g',
        '    foreach: ${env.FILES}',
        '    llm: { prompt: x }',
        '  - id: h',
        '    foreach: ${steps.lsit.output}',
        '    llm: { prompt: x }',
        '  - id: ok',
        '    foreach: ${inputs.files}',
        '    maxConcurrency: 0',
        '    llm: { prompt: x }',
        'outputs:',
        '  all: ${foreach.count}',
      ),
    );
    const LIST = /write a YAML list \(`foreach: \[a, b\]`\) or exactly one reference to a list/;
    const expected: [number, number, string, RegExp, RegExp?][] = [
      [6, 14, 'foreach_not_list', /^step `a` → foreach: expected a list, got a string \(`"notes\/a\.txt"`\)$/, LIST],
      [9, 14, 'foreach_not_list', /^step `b` → foreach: expected a list, got a map$/, LIST],
      [10, 9, 'as_shadows_root', /^step `b` → as: `steps` would hide the `\$\{steps\.…\}` references$/, /as: doc/],
      [13, 5, 'needs_foreach', /^step `c`: `as` applies only to a step with `foreach`$/, /add `foreach:`/],
      [14, 5, 'needs_foreach', /^step `c`: `maxConcurrency` applies only to a step with `foreach`$/],
      [15, 21, 'bad_template', /^`\$\{item\}` only exists inside a `foreach` step$/, /a step with `foreach:`/],
      [15, 29, 'bad_template', /^`\$\{foreach\.index\}` only exists inside a `foreach` step$/],
      [17, 15, 'foreach_not_list', /^step `d` → foreach: text around `\$\{steps\.list\.output\}` makes a string, not a list$/, /write `foreach: \$\{steps\.list\.output\}` alone/],
      [20, 14, 'foreach_not_list', /^step `e` → foreach: `\$\{inputs\.mode\}` is input `mode`, declared `string`, not a list$/, /type: array/],
      [22, 21, 'bad_template', /^unknown reference root `item` in `\$\{item\}`$/, /`as: doc`\): write `\$\{doc\}`/],
      [24, 14, 'bad_template', /^`\$\{item\}` in the list of a `foreach`: the item and `foreach\.…` exist only in the step's block$/],
      [27, 14, 'foreach_not_list', /`\$\{env\.FILES\}` is an environment variable \(a string\), not a list/],
      [30, 14, 'unknown_step', /^unknown step `lsit` in `\$\{steps\.lsit\.output\}`$/, /did you mean `list`/],
      [34, 21, 'invalid_value', /maxConcurrency: expected an integer from 1 to 1000, got `0`/],
      [37, 8, 'bad_template', /^`\$\{foreach\.count\}` only exists inside a `foreach` step$/],
    ];
    assertProblems(got, expected);
  });

  it('conditions: syntax, type, unknown ids, inputs and properties, dashes, self, text around ${}', () => {
    const got = problems(
      lines(
        'inputs: { mode: { default: fast } }',
        'steps:',
        '  - id: fetch-data',
        '    http: { url: "http://127.0.0.1:1/x" }',
        '  - id: a',
        '    if: steps.fetch-data.status == "failed"',
        '    llm: { prompt: x }',
        '  - id: b',
        '    if: steps.fetchdata.output.ok && inputs.mdoe == "x" && steps.b.status == "failed" && steps["fetch-data"].outptu == 1',
        '    llm: { prompt: x }',
        '  - id: c',
        '    if: |',
        '      steps["fetch-data"].output.count > 1 &&',
        '        steps["fetch-data"].status = "failed"',
        '    llm: { prompt: x }',
        '  - id: d',
        '    if: "ok: ${steps.a.output}"',
        '    llm: { prompt: x }',
        '  - id: e',
        '    if: 1 + 2',
        '    llm: { prompt: x }',
        '  - id: f',
        '    if: "steps.a.status == \\"x\\" && steps.a.items == [] && \\u0020mode == 1"',
        '    llm: { prompt: x }',
        '  - id: g',
        '    if: true',
        '    dependsOn: [a]',
        '    depends_on: [b]',
        '    llm: { prompt: x }',
        '  - id: h',
        "    if: '${ steps.a.status == ''x'' && a.output.ok }'",
        '    llm: { prompt: x }',
      ),
    );
    const expected: [number, number, string, RegExp, RegExp?][] = [
      [6, 9, 'condition_dashed_id', /^`steps\.fetch-data` reads as `steps\.fetch` minus `data`$/, /^write `steps\["fetch-data"\]`/],
      [9, 9, 'unknown_step', /^unknown step `fetchdata` in the condition$/, /did you mean `fetch-data`/],
      [9, 38, 'unknown_input', /^unknown input `mdoe` in the condition$/, /did you mean `mode`/],
      [9, 60, 'self_reference', /^step `b`: its condition names the step itself$/, /only other steps/],
      [9, 90, 'unknown_property', /^`steps\["fetch-data"\]\.outptu`: an `http` step has no `outptu`$/, /did you mean `output`/],
      [14, 36, 'condition_syntax', /^syntax error in the condition: unexpected character: =$/, /`==`/],
      [17, 14, 'condition_template', /^text around `\$\{…\}`/, /bare/],
      [20, 9, 'condition_not_boolean', /^the condition is an int, not a boolean$/, /compare it/],
      [23, 28, 'condition_unknown_status', /^`"x"` is not a status a step can have/, /"succeeded"/],
      [23, 37, 'unknown_property', /^`steps\.a\.items`: an `llm` step has no `items`$/, /only a step with `foreach` has `items`/],
      [23, 66, 'unknown_name', /^unknown name `mode` in the condition$/, /an input is read as `inputs\.mode`/],
      [26, 9, 'invalid_type', /if: expected a condition, a CEL expression as a string \(a constant is quoted: `if: "false"`\), got `true`/],
      [28, 5, 'duplicate_key', /^step `g` has both `dependsOn` and `depends_on`/, /keep `dependsOn`/],
      [31, 31, 'condition_unknown_status', /^`'x'` is not a status a step can have/],
      [31, 40, 'unknown_name', /^unknown name `a` in the condition$/, /a step is read as `steps\.a\.output`/],
    ];
    assertProblems(got, expected);
  });

  it('conditions and foreach lists join the cycle check', () => {
    const got = problems(lines('steps:', '  - id: a', '    if: steps.b.status == "failed"', '    llm: { prompt: x }', '  - id: b', '    foreach: ${steps.a.output}', '    llm: { prompt: x }'));
    assert.deepEqual(got.map((d) => d.slice(0, 4)), [[3, 9, 'cycle', 'dependency cycle: a → b → a']]);
  });
});

function assertProblems(got: unknown[][], expected: [number, number, string, RegExp, RegExp?][]) {
  assert.equal(got.length, expected.length, `got:\n${got.map((d) => JSON.stringify(d)).join('\n')}`);
  expected.forEach(([line, column, code, message, hint], i) => {
    const [l, c, co, m, h] = got[i] as [number, number, string, string, string];
    assert.deepEqual([l, c, co], [line, column, code], `#${i}: ${m}`);
    assert.match(m, message, `#${i}`);
    if (hint) assert.match(h, hint, `#${i}: ${m}`);
  });
}

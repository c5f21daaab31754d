import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConditionSpec } from '../definition/types.ts';
import { analyzeCondition, CONDITION_LIMITS, evaluateCondition, unwrapCondition, type ConditionVariables } from './index.ts';

const spec = (expression: string): ConditionSpec => ({ expression, location: { file: 'x.yaml', line: 1, column: 1 }, steps: [], statusOf: [], inputs: [], env: [] });
const vars = (steps: ConditionVariables['steps'] = {}, inputs: ConditionVariables['inputs'] = {}, env: ConditionVariables['env'] = {}): ConditionVariables => ({ steps, inputs, env });
const evaluate = (expression: string, variables = vars()) => evaluateCondition(spec(expression), variables);
const value = (expression: string, variables = vars()) => {
  const result = evaluate(expression, variables);
  assert.ok(result.ok, `${expression}: ${JSON.stringify(result)}`);
  return result.value;
};

describe('evaluateCondition', () => {
  const fetch = { status: 'succeeded', output: { count: 11.5, whole: 11, urgency: 4, items: [1, 2, 3], text: 'hello world', tags: ['a', 'b'], nested: { ok: true }, none: null } };

  it('compares JSON numbers with int and double literals alike', () => {
    for (const count of [11, 11.5]) {
      const steps = { x: { status: 'succeeded', output: { count } } };
      assert.equal(value('steps.x.output.count > 10', vars(steps)), true, String(count));
      assert.equal(value('steps.x.output.count > 10.0', vars(steps)), true, String(count));
      assert.equal(value('steps.x.output.count >= 12', vars(steps)), false, String(count));
    }
    assert.equal(value('steps.x.output.count == 11', vars({ x: { status: 'succeeded', output: { count: 11 } } })), true);
    assert.equal(value('steps.x.output.count == 11', vars({ x: { status: 'succeeded', output: { count: 11.5 } } })), false);
  });

  it('compares declared number inputs with both `4` and `4.0`', () => {
    assert.equal(value('inputs.n == 4 && inputs.n == 4.0 && inputs.n >= 4 && inputs.n < 4.5', vars({}, { n: 4 })), true);
    assert.equal(value('inputs.n > 4', vars({}, { n: 4.25 })), true);
  });

  it('reads statuses, strings, lists and maps with the macros users reach for', () => {
    const steps = { fetch, 'fetch-data': { status: 'failed' } };
    const cases: [string, boolean][] = [
      ['steps.fetch.status == "succeeded"', true],
      ['steps["fetch-data"].status == "failed"', true],
      ['has(steps.fetch.output.nested) && !has(steps.fetch.output.missing)', true],
      ['"output" in steps["fetch-data"]', false],
      ['2 in steps.fetch.output.items && "a" in steps.fetch.output.tags && !("c" in steps.fetch.output.tags)', true],
      ['"nested" in steps.fetch.output', true],
      ['size(steps.fetch.output.items) == 3 && size(steps.fetch.output.text) == 11', true],
      ['steps.fetch.output.items.exists(i, i > 2)', true],
      ['steps.fetch.output.items.all(i, i > 1)', false],
      ['size(steps.fetch.output.items.filter(i, i >= 2)) == 2', true],
      ['steps.fetch.output.items.map(i, i * 2.0)[2] == 6.0', true],
      ['steps.fetch.output.text.contains("lo w") && steps.fetch.output.text.startsWith("hell") && steps.fetch.output.text.matches("^h.*d$")', true],
      ['steps.fetch.output.none == null', true],
      ['steps.fetch.output.nested.ok', true],
      ['steps.fetch.output.urgency >= 4 && inputs.mode != "dry-run"', true],
      ['env.MODE == "ci" || env.MODE == "local"', true],
    ];
    for (const [expression, expected] of cases) assert.equal(value(expression, vars(steps, { mode: 'fast' }, { MODE: 'ci' })), expected, expression);
  });

  it('never reads a value as expression text', () => {
    const steps = { a: { status: 'succeeded', output: '" || true || "' } };
    assert.equal(value('steps.a.output == "x"', vars(steps)), false);
    assert.equal(value('steps.a.output.contains("||")', vars(steps)), true);
  });

  it('a value that is not a boolean is condition_not_boolean, described by its CEL type (BigInt included)', () => {
    const cases: [string, RegExp][] = [
      ['steps.a.output', /^the condition `steps\.a\.output` is a string, not true or false$/],
      ['size(steps.a.output)', /is an int, not true or false$/],
      ['steps.b.output', /is a double/],
      ['steps.c.output', /is a list of 2/],
      ['steps.d.output', /is a map/],
      ['steps.e.output', /is null/],
    ];
    const steps = { a: { status: 's', output: 'yes' }, b: { status: 's', output: 1.5 }, c: { status: 's', output: [1, 2] }, d: { status: 's', output: { k: 1 } }, e: { status: 's', output: null } };
    for (const [expression, message] of cases) {
      const result = evaluate(expression, vars(steps));
      assert.ok(!result.ok && result.code === 'condition_not_boolean', expression);
      assert.match(result.message, message, expression);
      assert.match(result.hint ?? '', /compare it/);
    }
    const text = evaluate('steps.a.output', vars({ a: { status: 's', output: 'True' } }));
    assert.ok(!text.ok);
    assert.equal(text.message, 'the condition `steps.a.output` is the string "True", not true or false');
    assert.equal(text.hint, 'compare the text: `steps.a.output == "True"`');
  });

  it('an evaluation error is condition_error with one line and a hint, never a throw', () => {
    const steps = { x: { status: 'succeeded', output: { count: 2, list: [1], text: 'a' } }, f: { status: 'failed' } };
    const cases: [string, RegExp, RegExp][] = [
      ['steps.x.output.key == 1', /^the condition failed in `steps\.x\.output\.key`: no such key$/, /^test for it first: `has\(steps\.x\.output\.key\) && …`$/],
      ['steps.f.output.ok', /in `steps\.f\.output`: no such key$/, /has\(steps\.f\.output\)/],
      ['env.UNSET == "1"', /in `env\.UNSET`: no such key$/, /has\(env\.UNSET\)/],
      ['steps.x.output.count + 1 > 2', /no such overload: dyn<double> \+ int/, /JSON numbers are doubles in CEL: write `1\.0`/],
      ['steps.x.output.text > 1', /no such overload/, /convert with `string/],
      ['steps.x.output.list[3] == 1', /index out of bounds/, /size\(list\) > i/],
      ['1 / (size(steps.x.output.list) - 1) == 1', /division by zero/, /divisor/],
      ['steps.x.output.text.matches("(")', /the pattern is not a valid regular expression$/, /pattern/],
    ];
    for (const [expression, message, hint] of cases) {
      const result = evaluate(expression, vars(steps, {}, { SET: '1' }));
      assert.ok(!result.ok && result.code === 'condition_error', `${expression}: ${JSON.stringify(result)}`);
      assert.match(result.message, message, expression);
      assert.ok(!result.message.includes('\n'), expression);
      assert.match(result.hint ?? '', hint, expression);
    }
  });

  it('never quotes a value in its message (a value may be a secret): only the expression as written', () => {
    const secret = 'sk-secret(';
    for (const expression of ['env.S', 'steps.x.output[env.S] == 1', 'steps.x.output.text.matches(env.S)', 'int(env.S) > 1', 'env.S > 1', 'steps.x.output.list[size(env.S)] == 1']) {
      const result = evaluate(expression, vars({ x: { status: 'succeeded', output: { text: 'a', list: [] } } }, {}, { S: secret }));
      assert.ok(!result.ok, expression);
      assert.ok(!`${result.message} ${result.hint}`.includes('secret'), `${expression}: ${result.message}`);
    }
  });

  it('compiles each expression text once, and answers a malformed one (never validated) without throwing', () => {
    const steps = { a: { status: 'succeeded', output: 1 } };
    for (let i = 0; i < 3; i++) assert.equal(value('steps.a.output == 1', vars(steps)), true);
    const broken = evaluate('steps.a.output ==');
    assert.ok(!broken.ok && broken.code === 'condition_error');
  });

  it('stops a condition that backtracks catastrophically on its data, with condition_error (never a hang)', () => {
    const result = evaluateCondition(spec('steps.a.output.matches("^(a+)+$")'), { steps: { a: { status: 'succeeded', output: `${'a'.repeat(48)}!` } }, inputs: {}, env: {} });
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.code, 'condition_error');
    assert.match(!result.ok ? result.message : '', /took longer than 2 s to evaluate, and was stopped/);
  });

  it('refuses expressions past the structural limits', () => {
    const deep = `${'('.repeat(CONDITION_LIMITS.maxDepth + 5)}true${')'.repeat(CONDITION_LIMITS.maxDepth + 5)}`;
    const long = Array.from({ length: CONDITION_LIMITS.maxAstNodes }, () => 'true').join(' && ');
    for (const expression of [deep, long]) {
      const result = evaluate(expression);
      assert.ok(!result.ok && result.code === 'condition_error', expression.slice(0, 20));
      assert.equal(analyzeCondition(expression).problems[0]?.code, 'condition_too_complex');
    }
  });
});

describe('unwrapCondition', () => {
  it('takes a bare expression or exactly one ${ … } with nothing around it', () => {
    assert.deepEqual(unwrapCondition('steps.a.output.ok'), { ok: true, expression: 'steps.a.output.ok', offset: 0 });
    assert.deepEqual(unwrapCondition('${ steps.a.output.ok }'), { ok: true, expression: ' steps.a.output.ok ', offset: 2 });
    assert.deepEqual(unwrapCondition('  ${{"k": 1}.k == 1}  '), { ok: true, expression: '{"k": 1}.k == 1', offset: 4 });
    // A `${` inside a string literal is text.
    assert.deepEqual(unwrapCondition('steps.a.output == "${x}" || steps.a.output == r\'${y}\''), { ok: true, expression: 'steps.a.output == "${x}" || steps.a.output == r\'${y}\'', offset: 0 });
    assert.equal(unwrapCondition('${ steps.a.output == "}" }').ok, true);
  });

  it('refuses text around a ${} (the always-true string of other tools), two of them, or two braces', () => {
    const cases: [string, number, RegExp][] = [
      ['ok: ${steps.a.output.ok}', 4, /^text around `\$\{…\}`/],
      ['${steps.a.output.ok} && ${steps.b.output.ok}', 0, /^text around/],
      ['${steps.a.output.ok} == true', 0, /^text around/],
      ['${steps.a.output.ok', 0, /^unterminated `\$\{`/],
      ['${{ steps.a.output.ok }}', 0, /two braces/],
    ];
    for (const [text, offset, message] of cases) {
      const result = unwrapCondition(text);
      assert.ok(!result.ok, text);
      assert.equal(result.offset, offset, text);
      assert.match(result.message, message, text);
      assert.match(result.hint, /bare/, text);
    }
  });
});

describe('analyzeCondition', () => {
  it('finds every step, input and environment variable named, in either spelling', () => {
    const analysis = analyzeCondition('steps.classify.output.urgency >= 4 && steps["fetch-data"].status == "failed" && inputs.mode != "dry-run" && env["CI"] == "1" && has(steps.x.output.k)');
    assert.deepEqual(analysis.problems, []);
    assert.equal(analysis.type, 'bool');
    assert.deepEqual(
      analysis.steps.map((s) => [s.id, s.property, s.offset, s.text]),
      [
        ['classify', 'output', 0, 'steps.classify.output'],
        ['fetch-data', 'status', 38, 'steps["fetch-data"].status'],
        ['x', 'output', 132, 'steps.x.output'],
      ],
    );
    assert.deepEqual(analysis.inputs.map((i) => i.name), ['mode']);
    assert.deepEqual(analysis.env.map((e) => e.name), ['CI']);
    assert.equal(analysis.allInputs, false);
  });

  it('ignores names inside string literals and loop variables that shadow a root', () => {
    const analysis = analyzeCondition('"steps.a.output" != "" && steps.a.output.list.exists(steps, steps.x > 1) && cel.bind(env, 1, env > 0)');
    assert.deepEqual(analysis.problems, []);
    assert.deepEqual(analysis.steps.map((s) => s.id), ['a']);
    assert.deepEqual(analysis.env, []);
  });

  it('notes a condition that reads all inputs', () => {
    assert.equal(analyzeCondition('"x" in inputs').allInputs, true);
  });

  it('reports syntax errors at their offset with hints', () => {
    const cases: [string, number, RegExp, RegExp][] = [
      ['steps.a.output = 1', 15, /^syntax error in the condition: unexpected character: =$/, /`==`/],
      ['steps.a.output.ok and true', 18, /syntax error/, /`&&` for `and`/],
      ['steps.a.output.n > ', 19, /^the condition ends too early$/, /missing/],
      ['steps.a.output == "x', 18, /unterminated string/, /close the string/],
      ['', 0, /^the condition is empty$/, /conditions are CEL/],
    ];
    for (const [expression, offset, message, hint] of cases) {
      const [problem, ...rest] = analyzeCondition(expression).problems;
      assert.deepEqual(rest, [], expression);
      assert.equal(problem?.code, expression ? 'condition_syntax' : 'condition_syntax', expression);
      assert.equal(problem!.offset, offset, expression);
      assert.match(problem!.message, message, expression);
      assert.match(problem!.hint ?? '', hint, expression);
    }
  });

  it('reports a result that is not a boolean, and type errors', () => {
    const notBool = analyzeCondition('1 + 2').problems;
    assert.deepEqual(notBool.map((p) => [p.code, p.message]), [['condition_not_boolean', 'the condition is an int, not a boolean']]);
    assert.match(notBool[0]!.hint ?? '', /compare it/);
    assert.equal(analyzeCondition('"x"').problems[0]?.message, 'the condition is a string, not a boolean');
    assert.equal(analyzeCondition('steps.a.output.list').problems.length, 0, 'dyn is decided at run time');
    const type = analyzeCondition('steps.a.status == "failed" && 1 == "a"').problems;
    assert.deepEqual(type.map((p) => [p.code, p.offset]), [['condition_type', 30]]);
    assert.match(type[0]!.message, /no such overload: int == string/);
    const has = analyzeCondition('has(steps["fetch-data"].output)').problems;
    assert.deepEqual(has.map((p) => p.code), ['condition_type']);
    assert.match(has[0]!.hint ?? '', /"output" in steps\["fetch-data"\]/);
  });

  it('reports unknown names, with the root they were probably meant as', () => {
    const [step] = analyzeCondition('step.a.status == "failed"').problems;
    assert.deepEqual([step?.code, step?.message, step?.hint, step?.name], ['unknown_name', 'unknown name `step` in the condition', 'did you mean `steps`?', 'step']);
    assert.match(analyzeCondition('item.ok').problems[0]?.hint ?? '', /cannot read the item/);
  });

  it('reports a status no step can have, compared either way round (a typo makes the comparison constant)', () => {
    const problems = analyzeCondition('steps.a.status == "sucess" || "falied" != steps["a"].status || steps.a.status == "failed"').problems;
    assert.deepEqual(problems.map((p) => [p.code, p.offset]), [['condition_unknown_status', 18], ['condition_unknown_status', 30]]);
    assert.equal(problems[1]!.hint, 'did you mean `failed`?');
    assert.deepEqual(analyzeCondition('steps.a.output == "sucess"').problems, [], 'only `.status` is checked');
  });

  it('reports `steps.fetch-data` (a subtraction) with the bracket spelling, and nothing else about it', () => {
    const problems = analyzeCondition('steps.fetch-data.status == "failed"').problems;
    assert.deepEqual(problems.map((p) => [p.code, p.offset, p.message]), [['condition_dashed_id', 0, '`steps.fetch-data` reads as `steps.fetch` minus `data`']]);
    assert.match(problems[0]!.hint ?? '', /steps\["fetch-data"\]/);
    assert.match(analyzeCondition('steps.a.status == "failed" && steps.my-step-2.status == "failed"').problems[0]?.hint ?? '', /steps\["my-step-2"\]/);
  });

  it('refuses names it cannot resolve before the run: `steps` on its own, computed ids, `env` whole', () => {
    const cases: [string, RegExp][] = [
      ['size(steps) > 0', /^`steps` on its own: a condition names each step it reads by its id$/],
      ['steps[inputs.which].status == "failed"', /^`steps\[inputs\.which\]`: a condition names each step/],
      ['steps.a == null', /^`steps\.a` needs a property$/],
      ['"HOME" in env', /^`env` on its own/],
      ['env.HOME.x == "1"', /an environment variable is a string and has no fields/],
    ];
    for (const [expression, message] of cases) {
      const problems = analyzeCondition(expression).problems.filter((p) => p.code === 'condition_reference');
      assert.equal(problems.length, 1, expression);
      assert.match(problems[0]!.message, message, expression);
    }
    assert.deepEqual(analyzeCondition('steps[inputs.which].status == "x"').inputs.map((i) => i.name), ['which']);
  });
});

/**
 * Second review of the #13 fixes (693e739, 04cdb7a, ef385f3, 6ba09ef): brace counting, resume of foreach steps
 * over secrets, secrets a foreach item sends, secret input names, redaction of `__proto__` keys, condition values
 * as described, and deep inputs through the library. Each defect found failed here before its fix;
 * each says where the cause was. Deterministic: stand-in servers, no clock.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../../test/support/cli.ts';
import { reply, StandIn } from '../../test/support/stand-in.ts';
import { tempDir, writeWorkflow } from '../../test/support/workflow.ts';
import { braceExpansions, patternProblem } from '../actions/file/pattern.ts';
import { evaluateCondition } from '../condition/index.ts';
import type { RunEvent } from '../core/events.ts';
import { WorkflowInvalidError } from '../core/errors.ts';
import { Secrets } from '../core/redact.ts';
import { parseWorkflow } from '../definition/load.ts';
import { prepareRun } from './prepare.ts';
import { runWorkflow } from './run.ts';
import { secretInputName } from './secrets.ts';

const GROUP = '{a,b,c,d,e,f,g,h,i,j}';

describe('review #13b: glob braces are counted as fs.glob expands them', () => {
  it(
    'a `{` left open before comma-separated groups multiplies them (x{G,G,G,G,G is 100,000 patterns), and is refused',
    () => {
      const pattern = `x{${Array(5).fill(GROUP).join(',')}`;
      assert.ok(patternProblem(pattern), `a pattern of 100,000 expansions is accepted (counted ${braceExpansions(pattern)})`);
    },
  );

  it(
    'a stray `}` after a comma-less group makes a group of its own (`{x},0,…,9}` is 11 patterns; five of them 161,051), and is refused',
    () => {
      const pattern = '{x},0,1,2,3,4,5,6,7,8,9}'.repeat(5);
      assert.ok(patternProblem(pattern), `a pattern of 161,051 expansions is accepted (counted ${braceExpansions(pattern)})`);
    },
  );

  it(
    'a range with a step counts its steps: `{1..1000..10}` is 100 patterns, accepted',
    () => {
      assert.equal(braceExpansions('{1..10..2}'), 5);
      assert.equal(patternProblem('logs/{1..1000..10}/*.md'), undefined);
    },
  );
});

describe('review #13b: resume never hands one account’s answer to another', { timeout: 180_000 }, () => {
  let server: StandIn;
  before(async () => {
    server = await StandIn.start();
    const accounts: Record<string, string> = { 'sk-test-AAAAAAAAAAAA': 'alice', 'sk-test-BBBBBBBBBBBB': 'bob', 'sk-test-CCCCCCCCCCCC': 'carol' };
    server.route('/r13b/me', (req, res) => {
      const name = accounts[String(req.headers['authorization'] ?? '').replace(/^Bearer /, '')];
      reply(res, name ? 200 : 404, name ? { account: name } : { error: 'no such account' });
    });
    server.route('/r13b/tokens', (_req, res) => reply(res, 200, ['sk-test-AAAAAAAAAAAA', 'sk-test-CCCCCCCCCCCC']));
  });
  after(() => server.close());

  it(
    'a foreach step over secret items that succeeded whole is not reused whole when the secrets changed (a later step failed)',
    async (t) => {
      const dir = await tempDir(t);
      const file = await writeWorkflow(
        dir,
        `inputs:\n  api_key: { type: array }\nsteps:\n  - id: me\n    foreach: \${inputs.api_key}\n    http: { url: "${server.url}/r13b/me", headers: { Authorization: "Bearer \${item}" } }\n  - id: gate\n    dependsOn: [me]\n    file: { action: read, path: gate.txt }\noutputs:\n  who: \${steps.me.output}\n`,
      );
      const store = join(dir, 'runs.db');
      const first = await run(['run', file, '--json', '--store', store, '-i', `api_key=${JSON.stringify(['sk-test-AAAAAAAAAAAA', 'sk-test-CCCCCCCCCCCC'])}`]);
      assert.equal(first.code, 1, first.stderr);
      await writeFile(join(dir, 'gate.txt'), 'open');
      const second = await run(['resume', JSON.parse(first.stdout).runId, '--json', '--store', store, '-i', `api_key=${JSON.stringify(['sk-test-BBBBBBBBBBBB', 'sk-test-CCCCCCCCCCCC'])}`]);
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(JSON.parse(second.stdout).outputs.who, [{ account: 'bob' }, { account: 'carol' }]);
    },
  );

  it(
    'tokens a step lists, which a foreach step then sends as `Bearer ${item}`, are masked in that step’s own result (event and record)',
    async (t) => {
      const dir = await tempDir(t);
      const text = `steps:\n  - id: list\n    http: { url: "${server.url}/r13b/tokens" }\n  - id: me\n    foreach: \${steps.list.output}\n    http: { url: "${server.url}/r13b/me", headers: { Authorization: "Bearer \${item}" } }\n`;
      const events: RunEvent[] = [];
      const report = await runWorkflow(parseWorkflow(text, join(dir, 'workflow.yaml')), { env: {}, onEvent: (e) => events.push(e) });
      assert.equal(report.status, 'succeeded');
      const listEnd = events.find((e) => e.type === 'step:end' && e.stepId === 'list');
      assert.ok(!JSON.stringify(listEnd).includes('sk-test-'), `list's step:end shows the tokens: ${JSON.stringify(listEnd && 'output' in listEnd ? listEnd.output : null)}`);
    },
  );
});

describe('review #13b: secret input names', () => {
  it(
    'plural names of ordinary settings are not secret: max_tokens, maxTokens, input_tokens, stop_tokens, keys, sort_keys, object_keys',
    () => {
      const ordinary = ['max_tokens', 'maxTokens', 'max_new_tokens', 'maxOutputTokens', 'input_tokens', 'output_tokens', 'num_tokens', 'stop_tokens', 'special_tokens', 'design_tokens', 'keys', 'sort_keys', 'dict_keys', 'object_keys', 'objectKeys', 'translation_keys', 'pianoKeys'];
      assert.deepEqual(ordinary.filter(secretInputName), []);
      // Still secret, as the fix meant.
      assert.deepEqual(['api_keys', 'apiKeys', 'tokens', 'access_tokens', 'passwords', 'secrets'].filter((n) => !secretInputName(n)), []);
    },
  );

  it(
    'an input `max_tokens: 1000` does not mask the number 1000, nor `keys: [title, summary]` the words, in what a step answers',
    async (t) => {
      const dir = await tempDir(t);
      const text = `inputs:\n  max_tokens: { type: number, default: 1000 }\n  keys: { type: array, default: [title, summary] }\nsteps:\n  - id: a\n    llm: { model: "echo:x", prompt: "Write a title and a summary in 1000 words (\${inputs.max_tokens}; \${inputs.keys})" }\noutputs:\n  o: \${steps.a.output}\n`;
      const report = await runWorkflow(parseWorkflow(text, join(dir, 'workflow.yaml')), { env: {} });
      assert.equal(report.outputs['o'], 'Write a title and a summary in 1000 words (1000; ["title","summary"])');
    },
  );
});

describe('review #13b: redactValue', () => {
  it(
    'a `__proto__` key of JSON data stays a key of the redacted copy (not its prototype)',
    () => {
      const secrets = new Secrets(['sk-live-AAAABBBBCCCC1111']);
      const value = JSON.parse('{"__proto__": {"role": "admin"}, "token": "sk-live-AAAABBBBCCCC1111"}') as object;
      const shown = secrets.redactValue(value).value;
      assert.ok(Object.hasOwn(shown, '__proto__'), 'the key is gone');
      assert.equal(Object.getPrototypeOf(shown), Object.prototype);
      assert.equal(JSON.stringify(shown), '{"__proto__":{"role":"admin"},"token":"***"}');
    },
  );
});

describe('review #13b: condition values crossing bounded()', () => {
  it('bytes, lists, maps, ints and timestamps come back from the vm call as themselves (instanceof holds)', () => {
    const cases: [string, RegExp][] = [
      ['b"abc"', /is bytes,/],
      ['[1, 2]', /is a list of 2,/],
      ['{"a": 1}', /is a map,/],
      ['1', /is an int,/],
      ['timestamp("2020-01-01T00:00:00Z")', /is a timestamp,/],
    ];
    for (const [expression, said] of cases) {
      const result = evaluateCondition({ expression, steps: [], inputs: [], env: [] } as never, { steps: {}, inputs: {}, env: {} });
      assert.ok(!result.ok && result.code === 'condition_not_boolean', expression);
      assert.match(result.message, said, expression);
    }
  });

  it('after a condition is stopped at its timeout, the same compiled condition evaluates normally', { timeout: 20_000 }, () => {
    const condition = { expression: 'steps.a.output.matches("^(a+)+$")', steps: ['a'], inputs: [], env: [] } as never;
    const stopped = evaluateCondition(condition, { steps: { a: { status: 'succeeded', output: `${'a'.repeat(40)}!` } }, inputs: {}, env: {} });
    assert.ok(!stopped.ok && /was stopped/.test(stopped.message));
    assert.deepEqual(evaluateCondition(condition, { steps: { a: { status: 'succeeded', output: 'aaa' } }, inputs: {}, env: {} }), { ok: true, value: true });
  });

  it(
    'a uint, a duration or a type is not called “a map”',
    () => {
      for (const expression of ['1u', 'duration("1s")', 'type(1)']) {
        const result = evaluateCondition({ expression, steps: [], inputs: [], env: [] } as never, { steps: {}, inputs: {}, env: {} });
        assert.ok(!result.ok);
        assert.doesNotMatch(result.message, /is a map/, expression);
      }
    },
  );
});

describe('review #13b: inputs through the library', () => {
  it(
    'a deeply nested value given for a string input is refused as invalid_input, not a RangeError',
    async (t) => {
      const dir = await tempDir(t);
      const spec = parseWorkflow('inputs:\n  name: { type: string }\nsteps:\n  - id: a\n    file: { action: exists, path: x }\n', join(dir, 'workflow.yaml'));
      let deep: unknown = 1;
      for (let i = 0; i < 20_000; i++) deep = [deep];
      assert.throws(() => prepareRun(spec, { inputs: { name: deep }, env: {} }), (error) => error instanceof WorkflowInvalidError && /input `name`/.test(error.message));
    },
  );
});

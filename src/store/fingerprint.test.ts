/**
 * What a fingerprint covers: everything a step runs with that is known before the run, through a registry of
 * stand-in actions (so the rules are the fingerprint's, not any one action's).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { ActionRegistry } from '../actions/registry.ts';
import type { AnyAction } from '../actions/types.ts';
import { parseWorkflow } from '../definition/load.ts';
import type { TemplateValue } from '../template/value.ts';
import { itemFingerprint, prepareFingerprints, preflightContext } from './fingerprint.ts';

const block = z.record(z.string(), z.unknown());
const ask = (extra: Partial<AnyAction> = {}): AnyAction => ({
  name: 'ask',
  description: 'a stand-in model call',
  schema: block,
  identity: (b, ctx) => ({ model: (b['model'] as string | undefined) ?? ctx.defaults.model ?? 'default', endpoint: ctx.env['ASK_URL'] ?? 'https://ask' }),
  run: async () => ({ output: null }),
  ...extra,
});
const note: AnyAction = { name: 'note', description: 'no identity', schema: block, run: async () => ({ output: null }) };

const TEXT = `inputs:
  topic: { type: string }
  unused: { type: string, required: false }
steps:
  - id: a
    ask: { prompt: "about \${inputs.topic}", schema: { type: object } }
  - id: b
    note: { text: "\${env.SOME_KEY}" }
`;

function fingerprints(options: { text?: string; inputs?: Record<string, unknown>; env?: Record<string, string>; model?: string; action?: AnyAction } = {}): string[] {
  const actions = new ActionRegistry([options.action ?? ask(), note]);
  const spec = parseWorkflow(options.text ?? TEXT, 'workflow.yaml', { actions });
  const env = options.env ?? {};
  return prepareFingerprints(spec, options.inputs ?? { topic: 'x' }, preflightContext(spec, env, options.model ? { model: options.model } : {}), actions);
}

describe('step fingerprints', () => {
  const base = fingerprints();

  it('change with what defaults fill in: the run default model (config, caller, environment) and the endpoint', () => {
    assert.notEqual(fingerprints({ model: 'other' })[0], base[0], 'the caller’s model (--model)');
    assert.notEqual(fingerprints({ env: { CONDUCTOR_MODEL: 'other' } })[0], base[0], 'CONDUCTOR_MODEL');
    assert.notEqual(fingerprints({ text: `config:\n  model: openai:other\n${TEXT}` })[0], base[0], 'config.model');
    assert.notEqual(fingerprints({ env: { ASK_URL: 'http://localhost' } })[0], base[0], 'the endpoint');
    // As in the run: the caller's model wins over config.model, which wins over CONDUCTOR_MODEL.
    assert.equal(fingerprints({ text: `config:\n  model: openai:m\n${TEXT}`, env: { CONDUCTOR_MODEL: 'x' } })[0], fingerprints({ text: `config:\n  model: openai:m\n${TEXT}` })[0]);
    assert.equal(fingerprints({ text: `config:\n  model: openai:m\n${TEXT}`, model: 'other' })[0], fingerprints({ model: 'other' })[0]);
    assert.equal(fingerprints({ model: 'other' })[1], base[1], 'a step whose action has no identity is untouched');
  });

  it('change with the action’s version, every parameter, the schema, the inputs used and depends_on', () => {
    assert.notEqual(fingerprints({ action: ask({ version: 2 }) })[0], base[0], 'version');
    assert.equal(fingerprints({ action: ask({ version: 1 }) })[0], base[0], 'version 1 is the default');
    assert.notEqual(fingerprints({ text: TEXT.replace('{ type: object }', '{ type: object, required: [x] }') })[0], base[0], 'schema');
    assert.notEqual(fingerprints({ text: TEXT.replace('about', 'on') })[0], base[0], 'a parameter');
    assert.notEqual(fingerprints({ inputs: { topic: 'y' } })[0], base[0], 'an input it uses');
    assert.equal(fingerprints({ inputs: { topic: 'x', unused: 'z' } })[0], base[0], 'an input it does not use');
    assert.notEqual(fingerprints({ text: TEXT.replace('  - id: b\n', '  - id: b\n    depends_on: [a]\n') })[1], base[1], 'depends_on');
  });

  it('change with the environment values a step uses (\`model: \${env.M}\`), but not with secrets', () => {
    const plain = TEXT.replace('SOME_KEY', 'SOME_MODEL');
    assert.notEqual(fingerprints({ text: plain, env: { SOME_MODEL: 'openai:gpt-4o' } })[1], fingerprints({ text: plain, env: { SOME_MODEL: 'echo' } })[1], 'a plain value');
    const secret = TEXT.replace('SOME_KEY', 'SOME_API_KEY');
    assert.deepEqual(fingerprints({ text: secret, env: { SOME_API_KEY: 'rotated-0123456789' } }), fingerprints({ text: secret, env: { SOME_API_KEY: 'old-0123456789' } }), 'a key rotated');
  });

  it('keep the rest of a value that holds a secret: `la***` and `con***` differ', () => {
    const text = TEXT.replace('SOME_KEY', 'SOME_MODEL');
    const env = (value: string) => ({ SOME_MODEL: value, X_TOKEN: 'test-token' });
    assert.notEqual(fingerprints({ text, env: env('latest-test-token') })[1], fingerprints({ text, env: env('contest-test-token') })[1]);
  });

  it('leave out secrets, retries and timeouts', () => {
    assert.equal(fingerprints({ text: TEXT.replace('  - id: a\n', '  - id: a\n    timeout: 5\n    retry: { attempts: 1 }\n') })[0], base[0]);
  });
});

describe('fingerprints of foreach steps and conditions', () => {
  const actions = new ActionRegistry([ask(), note]);
  const spec = parseWorkflow(TEXT, 'workflow.yaml', { actions });
  const list = (items: unknown[]): TemplateValue => ({ kind: 'literal', value: items });
  /** Step `a` with a foreach list and/or a condition, as the loader would give them. */
  function stepA(foreach?: { items: TemplateValue; as?: string; maxConcurrency?: number }, condition?: { expression: string; inputs?: string[]; env?: string[] }, inputs: Record<string, unknown> = { topic: 'x' }, env: Record<string, string> = {}): string {
    const steps = spec.steps.map((s, i) =>
      i === 0
        ? {
            ...s,
            ...(foreach ? { foreach: { as: 'item', ...foreach } } : {}),
            ...(condition ? { condition: { expression: condition.expression, location: s.location, steps: [], statusOf: [], inputs: condition.inputs ?? [], env: condition.env ?? [] } } : {}),
          }
        : s,
    );
    const changed = { ...spec, steps };
    return prepareFingerprints(changed, inputs, preflightContext(changed, env, {}), actions)[0]!;
  }

  it('leave the steps without them as they were', () => {
    assert.equal(stepA(), fingerprints()[0]);
    assert.doesNotMatch(stepA(), /\./);
  });

  it('split in two for a foreach step: what each item does, then its list (and condition)', () => {
    const [item, listPart] = stepA({ items: list(['a', 'b']) }).split('.');
    assert.match(item!, /^[0-9a-f]{32}$/);
    assert.match(listPart!, /^[0-9a-f]{16}$/);
    assert.equal(itemFingerprint(stepA({ items: list(['a', 'b', 'c']) })), item, 'another list: the same work per item');
    assert.notEqual(stepA({ items: list(['a', 'b', 'c']) }), stepA({ items: list(['a', 'b']) }), '…but another step');
    assert.equal(stepA({ items: list(['a']), maxConcurrency: 2 }), stepA({ items: list(['a']) }), 'maxConcurrency changes how long, not what');
    assert.notEqual(itemFingerprint(stepA({ items: list(['a']), as: 'doc' })), item, 'the item variable’s name');
    assert.notEqual(itemFingerprint(stepA({ items: list(['a']) }, undefined, { topic: 'y' })), item, 'a value the block uses');
    const fromInput: TemplateValue = { kind: 'single', ref: { root: 'inputs', name: 'unused', path: [] }, raw: '${inputs.unused}' };
    assert.notEqual(stepA({ items: fromInput }, undefined, { topic: 'x', unused: ['a'] }), stepA({ items: fromInput }, undefined, { topic: 'x', unused: ['b'] }), 'the value of an input the list names');
    assert.equal(itemFingerprint(stepA({ items: fromInput }, undefined, { topic: 'x', unused: ['b'] })), item);
  });

  it('change with a condition’s expression and the values of the inputs and environment it names', () => {
    const plain = stepA(undefined, { expression: 'inputs.topic == "x"', inputs: ['topic'] });
    assert.notEqual(plain, fingerprints()[0], 'a condition added');
    assert.notEqual(stepA(undefined, { expression: 'inputs.topic != "x"', inputs: ['topic'] }), plain, 'its expression');
    assert.notEqual(stepA(undefined, { expression: 'env.MODE == "x"', env: ['MODE'] }, { topic: 'x' }, { MODE: 'a' }), stepA(undefined, { expression: 'env.MODE == "x"', env: ['MODE'] }, { topic: 'x' }, { MODE: 'b' }), 'an environment value');
    const each = stepA({ items: list(['a']) }, { expression: 'true' });
    assert.equal(itemFingerprint(each), itemFingerprint(stepA({ items: list(['a']) })), 'a foreach step’s condition is not what its items do');
    assert.notEqual(each, stepA({ items: list(['a']) }));
  });
});

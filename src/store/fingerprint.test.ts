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
import { prepareFingerprints, preflightContext } from './fingerprint.ts';

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
    // config.model wins over the others, as in the run.
    assert.equal(fingerprints({ text: `config:\n  model: openai:m\n${TEXT}`, model: 'other', env: { CONDUCTOR_MODEL: 'x' } })[0], fingerprints({ text: `config:\n  model: openai:m\n${TEXT}` })[0]);
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

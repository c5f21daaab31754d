import assert from 'node:assert/strict';
import { registerHooks } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { addLlmRoutes } from '../../../test/support/llm-stand-ins.ts';
import { StandIn } from '../../../test/support/stand-in.ts';
import type { ActionContext, PreflightContext } from '../types.ts';
import { llmAction } from './index.ts';

const defaults: PreflightContext['defaults'] = { maxConcurrency: 4, rateLimits: {} };

describe('llm identity: what a step runs with once defaults apply', () => {
  const identity = (block: Record<string, unknown>, env: Record<string, string> = {}, model?: string) =>
    llmAction.identity!(block, { env, defaults: { ...defaults, ...(model ? { model } : {}) } });

  it('the effective model: the step’s own, else the run’s default, else the one a key is set for', () => {
    assert.deepEqual(identity({ prompt: 'x', model: 'openai:gpt-4o' }), { model: 'openai:gpt-4o', endpoint: 'https://api.openai.com/v1' });
    assert.deepEqual(identity({ prompt: 'x' }, {}, 'anthropic:claude-x'), { model: 'anthropic:claude-x', endpoint: 'https://api.anthropic.com/v1' });
    assert.deepEqual(identity({ prompt: 'x' }, { OPENAI_API_KEY: 'sk-secret-key-0123456789' }), { model: 'openai:gpt-4o-mini', endpoint: 'https://api.openai.com/v1' });
    assert.deepEqual(identity({ prompt: 'x' }), { model: 'ollama:llama3.2', endpoint: 'http://127.0.0.1:11434' });
    assert.deepEqual(identity({ prompt: 'x', model: 'echo' }), { model: 'echo', endpoint: undefined });
  });

  it('the endpoint moves with its variable, without credentials, and a key never appears', () => {
    const env = { OPENAI_BASE_URL: 'https://user:pass@proxy.example.com/v1/?token=t0k3n', OPENAI_API_KEY: 'sk-secret-key-0123456789' };
    const found = identity({ prompt: 'x', model: 'openai:gpt-4o' }, env);
    assert.deepEqual(found, { model: 'openai:gpt-4o', endpoint: 'https://proxy.example.com/v1' });
    assert.doesNotMatch(JSON.stringify(found), /sk-secret|pass|t0k3n/);
  });

  it('a templated model is unknown before the run', () => {
    // Templated fields reach `identity` as present but undefined (see PreflightBlock).
    assert.deepEqual(identity({ prompt: 'x', model: undefined }, {}, 'openai:gpt-4o'), { model: undefined, endpoint: undefined });
  });

  it('has a version past the one that did not check answers against their schema', () => {
    assert.ok((llmAction.version ?? 1) >= 2);
  });
});

describe('llm prepare', () => {
  let server: StandIn;
  before(async () => (server = addLlmRoutes(await StandIn.start())));
  after(() => server.close());

  it('loads the provider code before the run: a first call of every provider then loads nothing', async () => {
    await llmAction.prepare!();
    const loaded: string[] = [];
    const hooks = registerHooks({
      resolve(specifier, context, next) {
        const result = next(specifier, context);
        loaded.push(result.url);
        return result;
      },
    });
    try {
      const env = { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'k', ANTHROPIC_BASE_URL: `${server.url}/v1`, ANTHROPIC_API_KEY: 'k', OLLAMA_HOST: server.url };
      for (const model of ['openai:a', 'anthropic:b', 'ollama:c']) {
        const ctx: ActionContext = { signal: new AbortController().signal, stepId: 's', baseDir: '.', env, defaults, runScope: new Map(), notify: () => {}, untimed: (work) => work };
        const result = await llmAction.run({ prompt: 'hello', model }, ctx);
        assert.match(String(result.output), /hello/);
      }
    } finally {
      hooks.deregister();
    }
    // Except what undici loads at its first connection (its HTTP parser, compiled from WebAssembly, and the
    // builtin that module reads): Node's own `fetch`, used before, did the same, out of sight of these hooks.
    const firstConnection = (url: string) => /\/undici\/lib\/llhttp\//.test(url) || url === 'node:buffer';
    assert.deepEqual(loaded.filter((url) => !firstConnection(url)), []);
  });
});

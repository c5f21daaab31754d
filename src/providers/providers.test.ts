/**
 * `llm` steps against stand-ins that speak the real provider protocols (OpenAI Chat Completions, Anthropic
 * Messages, Ollama chat) on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addLlmRoutes, type ChatRequest } from '../../test/support/llm-stand-ins.ts';
import { Gate, reply, StandIn } from '../../test/support/stand-in.ts';
import { workflow } from '../../test/support/workflow.ts';
import { WorkflowInvalidError } from '../core/errors.ts';
import { runWorkflow } from '../scheduler/run.ts';
import { resolveModel } from './model.ts';

const KEY = 'sk-conductor-test-secret-0123456789';
let server: StandIn;
const seen: ChatRequest[] = [];
let intercept: ((r: ChatRequest, res: import('node:http').ServerResponse) => boolean | Promise<boolean>) | undefined;
let midStream: ((r: ChatRequest) => Promise<void>) | undefined;
let answer: ((r: ChatRequest) => string) | undefined;

before(async () => {
  server = addLlmRoutes(await StandIn.start(), {
    answer: (r) => answer?.(r) ?? `${r.provider} answers: ${r.prompt}`,
    intercept: (r, res) => {
      seen.push(r);
      return intercept?.(r, res) ?? false;
    },
    midStream: (r) => midStream?.(r) ?? Promise.resolve(),
  });
});
after(() => server.close());

const envFor = () => ({
  OPENAI_BASE_URL: `${server.url}/v1`,
  OPENAI_API_KEY: KEY,
  ANTHROPIC_BASE_URL: `${server.url}/v1`,
  ANTHROPIC_API_KEY: KEY,
  OLLAMA_HOST: server.url,
});

describe('providers', () => {
  for (const [provider, model, stream] of [
    ['openai', 'gpt-4o-mini', false],
    ['openai', 'gpt-4o-mini', true],
    ['anthropic', 'claude-sonnet-4-5', false],
    ['anthropic', 'claude-sonnet-4-5', true],
    ['ollama', 'llama3.2', false],
    ['ollama', 'llama3.2', true],
  ] as const) {
    it(`${provider}${stream ? ', streaming' : ''}: endpoint, model, prompt and system reach it; output, usage and finish reason come back`, async () => {
      const before = seen.length;
      const report = await runWorkflow(
        workflow(`steps:\n  - id: ask\n    llm:\n      model: ${provider}:${model}\n      system: Answer briefly.\n      prompt: "Name a colour"\n      stream: ${stream}\n`),
        { env: envFor() },
      );
      assert.equal(report.status, 'succeeded', report.error);
      const request = seen.slice(before)[0]!;
      assert.deepEqual([request.provider, request.model, request.prompt, request.system, request.stream], [provider, model, 'Name a colour', 'Answer briefly.', stream]);
      const step = report.steps['ask']!;
      assert.equal(step.output, `${provider} answers: Name a colour`);
      assert.deepEqual(step.properties, { model: `${provider}:${model}`, usage: { inputTokens: 3, outputTokens: 5 }, finishReason: 'stop' });
      if (provider === 'openai') assert.equal(request.record.headers['authorization'], `Bearer ${KEY}`);
      if (provider === 'anthropic') assert.equal(request.record.headers['x-api-key'], KEY);
      assert.deepEqual(report.usage, { [`${provider}:${model}`]: { calls: 1, inputTokens: 3, outputTokens: 5 } });
    });
  }

  for (const [provider, maxName] of [['openai', 'max_tokens'], ['anthropic', 'max_tokens'], ['ollama', 'max_output_tokens']] as const) {
    it(`${provider}: temperature and maxTokens reach it`, async () => {
      const before = seen.length;
      const report = await runWorkflow(workflow(`steps:\n  - id: ask\n    llm: { model: "${provider}:m", prompt: "p", temperature: 0.25, maxTokens: 42 }\n`), { env: envFor() });
      assert.equal(report.status, 'succeeded', report.error);
      const body = seen.slice(before)[0]!.body;
      assert.deepEqual([body['temperature'], body[maxName]], [0.25, 42]);
    });
  }

  it('schema: asks for structured output and makes the output the parsed object', async () => {
    answer = () => JSON.stringify({ city: 'Lyon', population: 522000 });
    try {
      const report = await runWorkflow(
        workflow(`
steps:
  - id: extract
    llm:
      model: openai:gpt-4o-mini
      prompt: "Which city?"
      schema:
        type: object
        properties: { city: { type: string }, population: { type: number } }
        required: [city, population]
        additionalProperties: false
  - id: use
    llm:
      model: echo
      prompt: "\${steps.extract.output.city} has \${steps.extract.output.population} people"
`),
        { env: envFor() },
      );
      assert.equal(report.status, 'succeeded', report.error);
      assert.deepEqual(report.steps['extract']!.output, { city: 'Lyon', population: 522000 });
      assert.equal(report.steps['use']!.output, 'Lyon has 522000 people');
      const request = seen.at(-1)!;
      assert.equal(request.stream, false);
      assert.equal(request.body['response_format']?.type, 'json_schema');
    } finally {
      answer = undefined;
    }
  });

  it('a provider that answers 429 with Retry-After for a while is waited out', async () => {
    let refusals = 0;
    intercept = (r, res) => {
      if (r.prompt !== 'busy' || refusals >= 3) return false;
      refusals++;
      reply(res, 429, { error: { message: 'Rate limit reached', type: 'rate_limit_error' } }, { 'retry-after-ms': '20' });
      return true;
    };
    try {
      const { events, report } = await collectRun(`steps:\n  - id: ask\n    llm: { model: "openai:gpt-4o-mini", prompt: busy }\n`);
      assert.equal(report.status, 'succeeded', report.error);
      assert.equal(refusals, 3);
      assert.equal(report.steps['ask']!.attempts, 4);
      const waits = events.flatMap((e) => (e.type === 'step:notice' && e.notice.type === 'waiting' ? [e.notice.reason] : []));
      assert.equal(waits.filter((w) => w === 'rate limited (429)').length, 3);
    } finally {
      intercept = undefined;
    }
  });

  for (const stream of [false, true]) {
    it(`an in-flight call${stream ? ' (streaming, mid-answer)' : ''} is aborted when the run fails elsewhere: the server sees the close`, async () => {
      const hold = new Gate();
      const prompt = `long answer ${stream}`;
      // Hold the call before the answer (one response) or after its first chunk (a stream).
      intercept = async (r) => (!stream && r.prompt === prompt ? (await hold.wait(), false) : false);
      midStream = async (r) => {
        if (r.prompt === prompt) await hold.wait();
      };
      server.route('/broken', async (_req, res) => {
        // The server's own record (not `seen`, which is filled later, in the handler) wakes `until`.
        await server.until(() => server.byPath('/v1/messages').some((r) => r.body.includes(prompt)));
        reply(res, 400, 'bad request');
      });
      try {
        const report = await runWorkflow(
          workflow(`steps:\n  - id: write\n    llm: { model: "anthropic:claude-sonnet-4-5", prompt: "${prompt}", stream: ${stream} }\n  - id: fetch\n    http: { url: "${server.url}/broken" }\n`),
          { env: envFor() },
        );
        assert.deepEqual([report.steps['write']!.status, report.steps['fetch']!.status], ['cancelled', 'failed']);
        const call = server.byPath('/v1/messages').find((r) => r.body.includes(prompt))!;
        await server.until(() => call.endedAt !== undefined);
        assert.equal(call.aborted, true);
      } finally {
        intercept = undefined;
        midStream = undefined;
        hold.open();
      }
    });
  }

  it('keys are sent but never shown: a rejected key fails with a hint, and the report holds no key', async () => {
    intercept = (_r, res) => {
      reply(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } });
      return true;
    };
    try {
      const report = await runWorkflow(workflow(`steps:\n  - id: ask\n    llm: { model: "openai:gpt-4o-mini", prompt: hi }\n`), { env: envFor() });
      assert.equal(report.status, 'failed');
      assert.match(report.steps['ask']!.error!, /^openai:gpt-4o-mini: HTTP 401: .*Incorrect API key provided/);
      assert.equal(report.steps['ask']!.attempts, 1, '4xx is not retried');
      assert.equal(report.steps['ask']!.hint, 'check OPENAI_API_KEY');
      assert.equal(report.hint, 'check OPENAI_API_KEY');
      assert.ok(!JSON.stringify(report).includes(KEY));
    } finally {
      intercept = undefined;
    }
  });

  it('a provider\'s warnings are the step\'s `warnings`, never printed', async () => {
    const spec = workflow(`steps:\n  - id: ask\n    llm: { model: "openai:o3-mini", prompt: hi, temperature: 0.5 }\n  - id: streamed\n    llm: { model: "openai:o3-mini", prompt: hi, temperature: 0.5, stream: true }\n`);
    // The SDK's own logger would go through process.emitWarning (printed by Node on stderr).
    const emitted: string[] = [];
    const listener = (warning: Error) => void emitted.push(warning.message);
    process.on('warning', listener);
    try {
      const report = await runWorkflow(spec, { env: envFor() });
      assert.equal(report.status, 'succeeded');
      for (const id of ['ask', 'streamed']) assert.deepEqual(report.steps[id]!.properties?.['warnings'], ['temperature is not supported by this model: temperature is not supported for reasoning models']);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', listener);
    }
    assert.deepEqual(emitted.filter((m) => /AI SDK|temperature/.test(m)), []);
  });

  it('a redirect is not followed: the step fails once, saying where the server points', async () => {
    intercept = (_r, res) => {
      res.writeHead(307, { location: 'http://127.0.0.1:9/v2/chat/completions' }).end();
      return true;
    };
    try {
      const report = await runWorkflow(workflow(`steps:\n  - id: ask\n    llm: { model: "openai:gpt-4o-mini", prompt: hi }\n`), { env: envFor() });
      assert.equal(report.status, 'failed');
      assert.match(report.steps['ask']!.error!, /^openai:gpt-4o-mini: HTTP 307/);
      assert.equal(report.steps['ask']!.attempts, 1);
      assert.equal(report.steps['ask']!.hint, 'the server redirects to http://127.0.0.1:9/v2/chat/completions: point OPENAI_BASE_URL at its new address');
    } finally {
      intercept = undefined;
    }
  });
});

describe('fan-out', () => {
  it('a provider that never answers 429 sees exactly maxConcurrency calls at once', async () => {
    const gate = new Gate();
    intercept = async (r) => {
      if (r.prompt.startsWith('fan ')) await gate.wait();
      return false;
    };
    try {
      const steps = Array.from({ length: 25 }, (_, i) => `  - id: s${i}\n    llm: { model: "openai:gpt-4o-mini", prompt: "fan ${i}" }\n`).join('');
      const running = runWorkflow(workflow(`config:\n  maxConcurrency: 10\nsteps:\n${steps}`), { env: envFor() });
      const inFlight = () => server.byPath('/v1/chat/completions').filter((r) => r.body.includes('fan ') && r.endedAt === undefined).length;
      await server.until(() => inFlight() === 10);
      gate.open();
      const report = await running;
      assert.equal(report.status, 'succeeded');
      const calls = server.byPath('/v1/chat/completions').filter((r) => r.body.includes('fan '));
      assert.equal(calls.length, 25);
      assert.equal(Math.max(...calls.map((c) => c.inFlightAtStart)), 10);
      assert.deepEqual(report.usage['openai:gpt-4o-mini']?.calls, 25);
    } finally {
      intercept = undefined;
    }
  });
});

describe('before anything runs', () => {
  it('a missing key is one clear error naming what to set, and nothing is sent', async () => {
    const before = seen.length;
    await assert.rejects(
      runWorkflow(workflow(`steps:\n  - id: a\n    llm: { model: "openai:gpt-4o-mini", prompt: x }\n  - id: b\n    llm: { model: "openai:gpt-4o", prompt: y }\n`), { env: {} }),
      (e: unknown) => {
        assert.ok(e instanceof WorkflowInvalidError);
        assert.equal(e.diagnostics.length, 1, 'reported once, not per step');
        assert.equal(e.diagnostics[0]!.message, 'step `a`: openai needs an API key: set OPENAI_API_KEY');
        assert.equal(e.diagnostics[0]!.code, 'missing_api_key', 'the action\'s own code (it links to providers.md), not `missing_key` (a key missing from the YAML)');
        return true;
      },
    );
    assert.equal(seen.length, before);
  });

  it('an unreachable endpoint names the variable that sets it', async () => {
    const closed = await StandIn.start();
    const url = closed.url;
    await closed.close();
    const report = await runWorkflow(workflow(`steps:\n  - id: a\n    retry: { attempts: 1 }\n    llm: { model: "ollama:llama3.2", prompt: x }\n`), { env: { OLLAMA_HOST: url } });
    assert.equal(report.steps['a']!.error, `ollama:llama3.2: cannot reach ${url} (ECONNREFUSED)`);
  });
});

describe('choosing the model', () => {
  it('step → --model → config.model → CONDUCTOR_MODEL → whichever key is set → ollama', () => {
    const env = { CONDUCTOR_MODEL: 'anthropic:claude-x', OPENAI_API_KEY: 'k' };
    assert.equal(resolveModel('ollama:a', 'openai:b', env).id, 'ollama:a');
    assert.equal(resolveModel(undefined, 'openai:b', env).id, 'openai:b');
    assert.equal(resolveModel(undefined, undefined, { OPENAI_API_KEY: 'k', ANTHROPIC_API_KEY: 'k' }).id, 'openai:gpt-4o-mini');
    assert.equal(resolveModel(undefined, undefined, { ANTHROPIC_API_KEY: 'k' }).id, 'anthropic:claude-sonnet-4-5');
    assert.equal(resolveModel(undefined, undefined, {}).id, 'ollama:llama3.2');
    assert.equal(resolveModel('echo', undefined, {}).provider, 'echo');
  });

  it('the run folds the model option, then config.model, then CONDUCTOR_MODEL', async () => {
    const env = { ...envFor(), CONDUCTOR_MODEL: 'ollama:from-env' };
    const step = `steps:\n  - id: a\n    llm: { prompt: x }\n`;
    const model = async (text: string, option?: string) => (await runWorkflow(workflow(text), { env, ...(option ? { model: option } : {}) })).steps['a']!.properties!['model'];
    assert.equal(await model(step), 'ollama:from-env');
    assert.equal(await model(step, 'anthropic:from-option'), 'anthropic:from-option');
    assert.equal(await model(`config:\n  model: openai:from-config\n${step}`, 'anthropic:from-option'), 'anthropic:from-option');
    assert.equal(await model(`config:\n  model: openai:from-config\n${step}`), 'openai:from-config');
  });
});

async function collectRun(text: string) {
  const events: import('../core/events.ts').RunEvent[] = [];
  const report = await runWorkflow(workflow(text), { env: envFor(), onEvent: (e) => events.push(e) });
  return { events, report };
}

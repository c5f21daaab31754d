/**
 * Each step's and item's resolved input travels with its end event and the report: filled in, as the action got
 * it (or as resolved, when its schema refused it), never with a secret in it, and absent where nothing resolved.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { reply, StandIn } from '../../test/support/stand-in.ts';
import { workflow } from '../../test/support/workflow.ts';
import type { RunEvent } from '../core/events.ts';
import { runWorkflow } from './run.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

/** Runs `text`, keeping every event. */
async function run(text: string, options: Parameters<typeof runWorkflow>[1] = {}) {
  const events: RunEvent[] = [];
  const report = await runWorkflow(workflow(text), { ...options, onEvent: (e) => events.push(e) });
  const ends = (stepId: string) => events.filter((e): e is Extract<RunEvent, { type: 'step:end' }> => e.type === 'step:end' && e.stepId === stepId);
  const items = (stepId: string) => events.filter((e): e is Extract<RunEvent, { type: 'item:end' }> => e.type === 'item:end' && e.stepId === stepId).sort((a, b) => a.index - b.index);
  return { report, events, end: (stepId: string) => ends(stepId)[0]!, items };
}

describe("a step's resolved input", () => {
  it('is on its end event and in the report, with its templates filled in and the schema defaults applied', async () => {
    const { report, end } = await run(`
inputs:
  topic: { type: string }
steps:
  - id: write
    llm: { model: echo, prompt: "Write about \${inputs.topic}" }
  - id: summarize
    llm: { model: echo, prompt: "Summarize: \${steps.write.output}" }
`, { inputs: { topic: 'otters' } });
    assert.equal(report.status, 'succeeded');
    const input = end('summarize').input as { prompt: string; model: string };
    assert.equal(input.prompt, `Summarize: ${report.steps['write']!.output as string}`);
    assert.match(input.prompt, /otters/);
    assert.equal(input.model, 'echo');
    assert.deepEqual(report.steps['summarize']!.input, input);
    assert.equal(end('summarize').redacted, undefined, 'an input is never counted as a redacted result');
  });

  it('each item of a foreach step has its own, on its item:end and in the report; the step itself has none', async () => {
    const { report, end, items } = await run(`
steps:
  - id: each
    foreach: [alpha, beta, gamma]
    llm: { model: echo, prompt: "item \${foreach.index}: \${item}" }
`);
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(items('each').map((e) => (e.input as { prompt: string }).prompt), ['item 0: alpha', 'item 1: beta', 'item 2: gamma']);
    assert.deepEqual(report.steps['each']!.items!.map((item) => (item.input as { prompt: string }).prompt), ['item 0: alpha', 'item 1: beta', 'item 2: gamma']);
    assert.equal(end('each').input, undefined);
    assert.equal(report.steps['each']!.input, undefined);
  });

  it('is the value as resolved when the schema refused it: that is when it is needed', async () => {
    server.route('/in/list', (_req, res) => reply(res, 200, { n: 42 }));
    const { report, end } = await run(`
steps:
  - id: list
    http: { url: "${server.url}/in/list" }
  - id: use
    llm: { model: echo, prompt: "\${steps.list.output}" }
`);
    assert.equal(report.steps['use']!.errorCode, 'invalid_input');
    assert.deepEqual(end('use').input, { model: 'echo', prompt: { n: 42 } });
    assert.deepEqual(report.steps['use']!.input, { model: 'echo', prompt: { n: 42 } });
  });

  it('is absent where nothing resolved: a template that failed, a skipped step, one never run', async () => {
    const { report, end } = await run(`
steps:
  - id: broken
    continueOnError: true
    llm: { model: echo, prompt: "\${steps.missing_field.output.nope.deeper}" }
  - id: missing_field
    llm: { model: echo, prompt: "plain" }
  - id: skipped
    if: "false"
    llm: { model: echo, prompt: "never" }
`);
    assert.equal(report.steps['broken']!.errorCode, 'template');
    assert.equal(end('broken').input, undefined);
    assert.equal(report.steps['broken']!.input, undefined);
    assert.equal(report.steps['skipped']!.status, 'skipped');
    assert.equal(end('skipped').input, undefined);
    assert.equal(report.steps['skipped']!.input, undefined);
  });
});

describe('secrets in a resolved input', () => {
  it('an Authorization header from the environment and a secret input never appear in an event or the report', async () => {
    const token = 'tok-0f3e9a7c21d84b56';
    const apiKey = 'k3y-value-that-is-secret';
    server.route('/in/call', (_req, res) => reply(res, 500, { error: 'nope' }));
    const { report, events, end, items } = await run(`
inputs:
  api_key: { type: string }
steps:
  - id: call
    continueOnError: true
    retry: { attempts: 1 }
    http:
      url: "${server.url}/in/call"
      method: POST
      headers: { Authorization: "Bearer \${env.SOME_TOKEN}", X-Trace: plain }
      body: { key: "\${inputs.api_key}", note: visible }
  - id: each
    foreach: [one, two]
    llm: { model: echo, prompt: "\${item} with \${inputs.api_key}" }
`, { env: { SOME_TOKEN: token }, inputs: { api_key: apiKey } });
    const all = JSON.stringify({ events, report });
    assert.ok(!all.includes(token), 'the token is nowhere');
    assert.ok(!all.includes(apiKey), 'the secret input is nowhere');
    const input = end('call').input as { headers: Record<string, string>; body: Record<string, string>; url: string };
    assert.equal(input.headers['Authorization'], '***', 'the credential header is taken out, whatever its value');
    assert.equal(input.headers['X-Trace'], 'plain');
    assert.deepEqual(input.body, { key: '***', note: 'visible' });
    assert.equal(input.url, `${server.url}/in/call`);
    assert.deepEqual(items('each').map((e) => (e.input as { prompt: string }).prompt), ['one with ***', 'two with ***']);
  });

  it('a value from the environment is shown as *** whatever its name, and the step still runs with it', async () => {
    const plain = 'hunter22';
    server.route('/in/env', (_req, res) => reply(res, 200, { ok: true }));
    const { report, end } = await run(`
steps:
  - id: call
    http: { url: "${server.url}/in/env?who=\${env.DB_PASS}", method: POST, body: { pass: "\${env.DB_PASS}", note: visible } }
`, { env: { DB_PASS: plain } });
    assert.equal(report.status, 'succeeded');
    assert.ok(server.requests.some((r) => r.url === `/in/env?who=${plain}`), 'the request had the value');
    const input = end('call').input as { url: string; body: Record<string, string> };
    assert.equal(input.url, `${server.url}/in/env?who=***`);
    assert.deepEqual(input.body, { pass: '***', note: 'visible' });
    assert.ok(!JSON.stringify(report).includes(plain));
  });

  it('a secret learned after a step ended is taken out of its input in the report', async () => {
    const session = 'sess-4a1b9c8d7e6f5a4b';
    server.route('/in/send', (_req, res) => reply(res, 200, { ok: true }));
    server.route('/in/login', (_req, res) => reply(res, 200, { ok: true }, { 'set-cookie': `sid=${session}; Path=/` }));
    const { report, end } = await run(`
steps:
  - id: send
    http: { url: "${server.url}/in/send", method: POST, body: { value: "${session}" } }
  - id: login
    depends_on: [send]
    http: { url: "${server.url}/in/login" }
`);
    assert.equal(report.status, 'succeeded');
    // Shown when it ended, before the session was known to be one.
    assert.deepEqual((end('send').input as { body: unknown }).body, { value: session });
    assert.deepEqual((report.steps['send']!.input as { body: unknown }).body, { value: '***' });
  });
});

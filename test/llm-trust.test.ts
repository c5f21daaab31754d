/**
 * `llm` steps through the real CLI process against a stand-in OpenAI server: every wait keeps the process
 * alive, answers are checked against the step's schema, answers are bounded, and failures read as one line
 * that says what happened. Each test gives its steps a model of its own; the stand-in answers by model.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../src/core/report.ts';
import { run } from './support/cli.ts';
import { addLlmRoutes, cutAnswer, endlessAnswer, type ChatRequest } from './support/llm-stand-ins.ts';
import { reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

interface Script {
  answer?: (r: ChatRequest, n: number) => string;
  /** Write a response of its own (and return true), given the request and how many this model has seen. */
  intercept?: (r: ChatRequest, res: ServerResponse, n: number) => boolean | Promise<boolean>;
  headers?: (r: ChatRequest, n: number) => Record<string, string> | undefined;
}

let server: StandIn;
const scripts = new Map<string, Script>();
const seen = new Map<string, ChatRequest[]>();
const count = (r: ChatRequest) => seen.get(r.model)!.length;

before(async () => {
  server = addLlmRoutes(await StandIn.start(), {
    intercept: (r, res) => {
      seen.set(r.model, [...(seen.get(r.model) ?? []), r]);
      return scripts.get(r.model)?.intercept?.(r, res, count(r)) ?? false;
    },
    answer: (r) => scripts.get(r.model)?.answer?.(r, count(r)) ?? `answer to ${r.prompt}`,
    headers: (r) => scripts.get(r.model)?.headers?.(r, count(r)),
  });
});
after(() => server.close());

/** Runs `text` as a workflow file through the CLI; with `json`, parses the report it prints. */
async function conduct(t: { after(fn: () => unknown): void }, model: string, script: Script, text: string, json = false) {
  scripts.set(model, script);
  const dir = await tempDir(t);
  const file = await writeWorkflow(dir, text);
  const env = { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'sk-test-0123456789abcdef' };
  const result = await run(['run', file, '--no-store', ...(json ? ['--json'] : [])], { env });
  const report = json ? (JSON.parse(result.stdout) as RunReport) : undefined;
  return { ...result, report, requests: seen.get(model) ?? [] };
}

const step = (id: string, model: string, prompt: string, extra = '') => `  - id: ${id}\n${extra}    llm: { model: "openai:${model}", prompt: "${prompt}" }\n`;

describe('waiting keeps the process alive until the call is made', () => {
  // Each of these exited 13 ("unsettled top-level await") when nothing but an unref'd timer was left waiting.
  it('pacing to config.rateLimits', async (t) => {
    const model = 'paced';
    // 120 a minute: two go at once (a bucket of one second), the third waits its turn.
    const r = await conduct(t, model, {}, `config:\n  rateLimits: { openai: { rpm: 120 } }\nsteps:\n${step('a', model, 'one')}${step('b', model, 'two')}${step('c', model, 'three')}`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /rate limit: pacing requests, waiting/);
    assert.equal(r.requests.length, 3);
  });

  it('time queued behind a rate limit does not count against the step\'s timeout', async (t) => {
    const model = 'queued';
    // 10 a minute: the second call waits about 6 s for its turn, twice its 3 s timeout (room for a call on a busy
    // machine), and still runs.
    const r = await conduct(t, model, {}, `config:\n  rateLimits: { openai: { rpm: 10 } }\nsteps:\n${step('a', model, 'one', '    timeout: 3\n')}${step('b', model, 'two', '    timeout: 3\n')}`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /rate limit: pacing requests, waiting \d/);
    assert.equal(r.requests.length, 2);
  });

  it('a provider saying no requests are left until its reset', async (t) => {
    const model = 'exhausted';
    // b starts within milliseconds of a's answer; a reset a second away leaves it waiting even on a busy machine.
    const headers = () => ({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1s' });
    const r = await conduct(t, model, { headers }, `steps:\n${step('a', model, 'one')}${step('b', model, 'after ${steps.a.output}')}`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /b rate limited: waiting for the provider/);
    assert.equal(r.requests.length, 2);
  });

  it('a 429 with Retry-After', async (t) => {
    const model = 'busy';
    const intercept = (_r: ChatRequest, res: ServerResponse, n: number) => {
      if (n > 1) return false;
      reply(res, 429, { error: { message: 'Rate limit reached', type: 'rate_limit_error' } }, { 'retry-after-ms': '300' });
      return true;
    };
    const r = await conduct(t, model, { intercept }, `steps:\n${step('a', model, 'one')}`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /a rate limited \(429\), waiting/);
    assert.equal(r.requests.length, 2);
  });

  it('the backoff before retrying a 5xx', async (t) => {
    const model = 'flaky';
    const intercept = (_r: ChatRequest, res: ServerResponse, n: number) => {
      if (n > 1) return false;
      reply(res, 503, { error: { message: 'overloaded' } });
      return true;
    };
    const r = await conduct(t, model, { intercept }, `steps:\n${step('a', model, 'one', '    retry: { attempts: 2, backoff: 0.2 }\n')}`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /a retry 1 of 1: openai:flaky: HTTP 503/);
    assert.equal(r.requests.length, 2);
  });
});

const TRIAGE = `
    llm:
      model: "openai:MODEL"
      prompt: "Triage: the printer is on fire"
      schema:
        type: object
        properties:
          urgency: { type: integer, minimum: 1, maximum: 5 }
          summary: { type: string }
        required: [urgency, summary]
        additionalProperties: false`;

describe('structured output is checked against the schema', () => {
  it('a mismatch is given back to the model once; a second one fails the step with schema_mismatch and the path', async (t) => {
    const model = 'overshoots';
    const r = await conduct(t, model, { answer: () => JSON.stringify({ urgency: 7, summary: 'fire' }) }, `steps:\n  - id: triage${TRIAGE.replace('MODEL', model)}\n`, true);
    assert.equal(r.code, 1, r.stderr);
    const triage = r.report!.steps['triage']!;
    assert.equal(triage.errorCode, 'schema_mismatch');
    assert.match(triage.error!, /\/urgency: must be <= 5/);
    assert.equal(r.requests.length, 2, 'asked once more, not more');
    const [first, second] = r.requests;
    assert.equal(first!.prompt, 'Triage: the printer is on fire');
    assert.match(second!.prompt, /\/urgency: must be <= 5/, 'the second request gives the model the validation error');
    const messages = second!.body['messages'] as { role: string; content: unknown }[];
    assert.deepEqual(messages.map((m) => m.role), ['user', 'assistant', 'user'], 'with its own first answer');
  });

  it('an answer that is not JSON, or misses a required field, and is then corrected, is used', async (t) => {
    const model = 'corrects';
    const answer = (_r: ChatRequest, n: number) => (n === 1 ? JSON.stringify({ urgency: 'high' }) : JSON.stringify({ urgency: 5, summary: 'printer fire' }));
    const r = await conduct(t, model, { answer }, `steps:\n  - id: triage${TRIAGE.replace('MODEL', model)}\n`, true);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.report!.steps['triage']!.output, { urgency: 5, summary: 'printer fire' });
    assert.match(r.requests[1]!.prompt, /\/urgency: must be integer|\/summary: is required/);
    const usage = r.report!.steps['triage']!.properties!['usage'] as { inputTokens: number };
    assert.ok(usage.inputTokens > 0 && r.report!.usage[`openai:${model}`]!.calls === 1, 'one step, both calls’ tokens');

    const prose = 'notjson';
    const fixed = await conduct(t, prose, { answer: (_r, n) => (n === 1 ? 'Sure! Urgency 5.' : JSON.stringify({ urgency: 5, summary: 'fire' })) }, `steps:\n  - id: triage${TRIAGE.replace('MODEL', prose)}\n`, true);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.requests[1]!.prompt, /not JSON/);
  });

  it('echo answers a schema step offline with the simplest object the schema allows', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `steps:\n  - id: triage${TRIAGE.replace('openai:MODEL', 'echo')}\n  - id: next\n    llm: { model: echo, prompt: "urgency \${steps.triage.output.urgency}" }\n`);
    const r = await run(['run', file, '--no-store', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as RunReport;
    assert.deepEqual(report.steps['triage']!.output, { urgency: 1, summary: '' });
    assert.equal(report.steps['next']!.output, 'urgency 1');
  });

  it('a schema that is not valid JSON Schema is a located problem at validate time', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `steps:\n  - id: triage${TRIAGE.replace('maximum: 5', 'maximum: five').replace('openai:MODEL', 'echo')}\n`);
    const r = await run(['validate', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /workflow\.yaml:9:58: error: step `triage` → llm\.schema\.properties\.urgency: `maximum` must be number/);
  });
});

describe('answers are bounded', () => {
  it('an answer past 10 MB fails at once with response_too_large, is not retried, and is not read whole', async (t) => {
    const model = 'endless';
    const total = 48 * 1024 * 1024;
    let written: Promise<number> | undefined;
    const intercept = (_r: ChatRequest, res: ServerResponse) => ((written = endlessAnswer(res, total)), true);
    const r = await conduct(t, model, { intercept }, `steps:\n${step('a', model, 'one')}`, true);
    assert.equal(r.code, 1, r.stderr);
    const a = r.report!.steps['a']!;
    assert.equal(a.errorCode, 'response_too_large');
    assert.match(a.error!, /larger than 10 MB/);
    assert.equal(a.attempts, 1);
    assert.equal(r.requests.length, 1);
    assert.ok((await written!) < total, 'the client stopped reading: the server never sent it all');
    assert.equal(r.requests[0]!.record.aborted, true);
  });
});

describe('failures read as one line', () => {
  const PAGE = '<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx/1.25.3</center>\n</body>\n</html>\n';

  it('a multi-line HTML error page shows as its title on the retry line and in the summary; 502 is retried', async (t) => {
    const model = 'gateway';
    const intercept = (_r: ChatRequest, res: ServerResponse) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end(PAGE);
      return true;
    };
    const r = await conduct(t, model, { intercept }, `steps:\n${step('a', model, 'one', '    retry: { attempts: 2, backoff: 0.01 }\n')}`);
    assert.equal(r.code, 1);
    assert.equal(r.requests.length, 2);
    assert.match(r.stderr, /a retry 1 of 1: openai:gateway: HTTP 502: 502 Bad Gateway, waiting/);
    assert.match(r.stderr, /\n  a: openai:gateway: HTTP 502: 502 Bad Gateway \(after 2 attempts\)\n  docs: docs\/providers\.md#transient-failures\n$/);
    assert.doesNotMatch(r.stderr, /nginx|<html>|<body>/);
  });

  for (const status of [501, 505]) {
    it(`HTTP ${status} is not retried`, async (t) => {
      const model = `status-${status}`;
      const intercept = (_r: ChatRequest, res: ServerResponse) => (reply(res, status, { error: { message: 'no' } }), true);
      const r = await conduct(t, model, { intercept }, `steps:\n${step('a', model, 'one', '    retry: { attempts: 3, backoff: 0.01 }\n')}`, true);
      assert.equal(r.code, 1);
      assert.equal(r.report!.steps['a']!.attempts, 1);
      assert.equal(r.requests.length, 1);
    });
  }

  for (const stream of [true, false]) {
    it(`an answer cut mid-${stream ? 'stream' : 'body'} is a dropped connection, and retried`, async (t) => {
      const model = `cut-${stream}`;
      const intercept = (_r: ChatRequest, res: ServerResponse) => (cutAnswer(res, stream), true);
      const r = await conduct(t, model, { intercept }, `steps:\n  - id: a\n    retry: { attempts: 2, backoff: 0.01 }\n    llm: { model: "openai:${model}", prompt: one, stream: ${stream} }\n`, true);
      assert.equal(r.code, 1);
      const a = r.report!.steps['a']!;
      assert.equal(a.errorCode, 'llm_unreachable');
      assert.match(a.error!, /dropped mid-answer/);
      assert.doesNotMatch(a.error!, /HTTP 200/);
      assert.equal(a.attempts, 2);
      assert.equal(r.requests.length, 2);
    });
  }
});

/**
 * `config.rateLimits.<provider>.tpm` through the real CLI, against stand-ins that meter tokens per minute as the
 * providers do (a bucket refilled continuously, 429 with Retry-After above it, usage in every answer). The
 * minute is shortened for both (CONDUCTOR_RATE_WINDOW_MS, a test-only knob) so a workflow can exceed the limit
 * several times over in seconds. Tests count requests, 429s and results; never time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunReport } from '../src/core/report.ts';
import { run } from './support/cli.ts';
import { addLlmRoutes, TokenMeter } from './support/llm-stand-ins.ts';
import { StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

const MINUTE_MS = 1000;
const TPM = 1500;
const ITEMS = 200;

/** A stand-in metering TPM tokens a (short) minute, and the CLI run against it; returns what both saw. */
async function metered(t: { after(fn: () => unknown): void }, text: string, { json = true, tpm = TPM, minuteMs = MINUTE_MS } = {}) {
  const meter = new TokenMeter(tpm, minuteMs);
  const server = addLlmRoutes(await StandIn.start(), { meter });
  t.after(() => server.close());
  const dir = await tempDir(t);
  const file = await writeWorkflow(dir, text);
  const env = {
    OPENAI_BASE_URL: `${server.url}/v1`,
    OPENAI_API_KEY: 'sk-test-0123456789abcdef',
    ANTHROPIC_BASE_URL: `${server.url}/v1`,
    ANTHROPIC_API_KEY: 'sk-ant-test-0123456789abcdef',
    CONDUCTOR_RATE_WINDOW_MS: String(minuteMs),
  };
  const result = await run(['run', file, '--no-store', ...(json ? ['--json'] : [])], { env });
  return { ...result, report: json ? (JSON.parse(result.stdout) as RunReport) : undefined, meter, requests: server.requests.length };
}

/** One model call per item: a prompt of 14 words, answered with 15 (the stand-in echoes it): ~29 tokens each. */
function fanOut(model: string, config: string, stream = false): string {
  const items = Array.from({ length: ITEMS }, (_, i) => `n${i}`).join(', ');
  return `config:\n${config}steps:\n  - id: each\n    foreach: [${items}]\n    llm: { model: "${model}", stream: ${stream}, prompt: "item \${item} of the list, a sentence of about fourteen words in all here" }\n`;
}

describe('tokens per minute', () => {
  for (const [provider, model, stream] of [
    ['openai', 'openai:gpt-4o-mini', false],
    ['anthropic', 'anthropic:claude-sonnet-4-5', true],
  ] as const) {
    it(`${provider}${stream ? ', streaming' : ''}: a fan-out several times the limit is paced under it: under 1 % of requests get a 429, and all are served`, async (t) => {
      // Without --json: the live display's waits are on stderr, and the stand-in's counts are the test.
      const r = await metered(t, fanOut(model, `  rateLimits: { ${provider}: { tpm: ${TPM} } }\n`, stream), { json: false });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.meter.served, ITEMS, 'all served');
      assert.ok(r.meter.tokens >= 3 * TPM, `the workflow needs several minutes' worth: ${r.meter.tokens} tokens`);
      assert.ok(r.meter.refused * 100 <= r.requests, `${r.meter.refused} of ${r.requests} requests got a 429`);
      assert.match(r.stderr, /each rate limit: pacing tokens, waiting/, 'the waits are shown');
    });
  }

  // The same workflow without `tpm` is what the limit is for: the stand-in refuses many of its requests.
  it('without tpm stated, the same stand-in refuses far more than 1 %', async (t) => {
    const r = await metered(t, fanOut('openai:gpt-4o-mini', '  maxConcurrency: 10\n'));
    assert.ok(r.meter.refused * 100 > r.requests, `${r.meter.refused} of ${r.requests} requests got a 429`);
  });

  it('time waiting for tokens does not count against the step\'s timeout', async (t) => {
    // 1000 tokens a 6 s minute. Each prompt is 495 words, answered with 496: a uses nearly all of the minute, and
    // b waits about 6 s for it to refill, four times its 1.5 s timeout (room for a call on a busy machine), and still runs.
    const prompt = Array.from({ length: 495 }, () => 'word').join(' ');
    const step = (id: string, extra = '') => `  - id: ${id}\n    timeout: 1.5\n${extra}    llm: { model: "openai:gpt-4o-mini", prompt: "${prompt}" }\n`;
    const r = await metered(t, `config:\n  rateLimits: { openai: { tpm: 1000 } }\nsteps:\n${step('a')}${step('b', '    dependsOn: [a]\n')}`, { json: false, tpm: 1000, minuteMs: 6000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /b rate limit: pacing tokens, waiting \d/);
    assert.deepEqual([r.meter.served, r.meter.refused], [2, 0]);
  });

  it('a call that needs more tokens than a whole minute allows fails at once, saying so, and is never sent', async (t) => {
    const r = await metered(t, `config:\n  rateLimits: { openai: { tpm: ${TPM} } }\nsteps:\n  - id: big\n    llm: { model: "openai:gpt-4o-mini", prompt: "short", maxTokens: 4000 }\n`);
    assert.equal(r.code, 1, r.stderr);
    const step = r.report!.steps['big']!;
    assert.equal(step.errorCode, 'too_many_tokens');
    assert.equal(step.error, `openai:gpt-4o-mini: the call needs about 4,006 tokens (its prompt and maxTokens), more than the 1,500 a minute that config.rateLimits.openai.tpm allows`);
    assert.match(step.hint ?? '', /lower maxTokens, or raise config\.rateLimits\.openai\.tpm/);
    assert.equal(step.attempts, 1, 'not retried: it can never fit');
    assert.equal(r.requests, 0);
  });
});

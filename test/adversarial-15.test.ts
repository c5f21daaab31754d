/**
 * Adversarial review of #15 (step cache, cost, budgets, token-rate limits) through the CLI (the built binary),
 * against stand-ins that count what they were sent. Its promise: nothing finished is ever lost or paid for twice,
 * and nothing recorded is ever handed back wrong. Each `todo: 'defect: …'` test fails today and states the defect;
 * the others hold, and cover what no other test did. Tests judge what the stand-ins received, the reports and the
 * files; a run that would wait for days is judged by what it says it waits for, and killed by its own id.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../src/core/report.ts';
import { conductor, run, type CliResult } from './support/cli.ts';
import { addLlmRoutes, type ChatRequest } from './support/llm-stand-ins.ts';
import { Gate, reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

/** How a model (each test has its own) answers: its text, the tokens it reports, its extra headers. */
interface Behaviour {
  answer?: (r: ChatRequest) => string;
  usage?: (r: ChatRequest, text: string) => { inputTokens: number; outputTokens: number };
  headers?: (r: ChatRequest) => Record<string, string>;
  /** Holds the request until the test opens the gate. */
  gate?: Gate;
}

const behaviours = new Map<string, Behaviour>();
let server: StandIn;
/** A credential the login route hands out: a value no rule guesses is secret until a step sends it as one. */
const SID = 'sid-7f3a9c2e5b1d4f8a6c0e';

before(async () => {
  server = addLlmRoutes(await StandIn.start(), {
    answer: (r) => behaviours.get(r.model)?.answer?.(r) ?? `openai: ${r.prompt}`,
    usage: (r, text) => behaviours.get(r.model)?.usage?.(r, text) ?? { inputTokens: 10, outputTokens: 10 },
    headers: (r) => behaviours.get(r.model)?.headers?.(r),
    intercept: async (r) => {
      await behaviours.get(r.model)?.gate?.wait();
      return false;
    },
  });
  server.route('/adv15/login', (_req, res) => reply(res, 200, { session: SID }));
  server.route('/adv15/profile', (req, res) => reply(res, 200, { user: 'ann', authorized: req.headers['authorization'] === `Bearer ${SID}` }));
  server.route('/adv15/whoami', (req, res) => reply(res, 200, { caller: String(req.headers['authorization'] ?? '').slice(-4) }));
});
after(() => server.close());

/** Requests the stand-in received for `model`. */
const sent = (model: string) => server.requests.filter((r) => r.path === '/v1/chat/completions' && JSON.parse(r.body).model === model);
const chatText = (r: ChatRequest) => (r.body['messages'] as { content: unknown }[]).map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))).join('');
/** The tokens a request's messages are at most, by the engine's own rule (a token is at least a byte). */
const bytesIn = (r: ChatRequest) => Buffer.byteLength(chatText(r), 'utf8');
/** What every answered request of `model` reported using, by the same rule the behaviour used. */
const billed = (model: string, usage: NonNullable<Behaviour['usage']>) =>
  sent(model).reduce((sum, rec) => {
    const body = JSON.parse(rec.body) as Record<string, any>;
    const r = { provider: 'openai', model, system: undefined, prompt: '', stream: false, body, record: rec } as ChatRequest;
    const u = usage(r, '');
    return sum + u.inputTokens + u.outputTokens;
  }, 0);

/** The CLI in `dir` with its own $CONDUCTOR_HOME (store, prices.yaml), pointed at the stand-in. */
function cli(dir: string, env: Record<string, string> = {}) {
  const base = { CONDUCTOR_HOME: dir, OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'sk-test-0123456789abcdef', ...env };
  return {
    run: (args: string[], cwd = dir) => run(args, { env: base, cwd }),
    async json(args: string[], cwd = dir): Promise<CliResult & { report: RunReport }> {
      const result = await run([...args, '--json'], { env: base, cwd });
      return { ...result, report: JSON.parse(result.stdout || '{}') as RunReport };
    },
    spawn: (args: string[]) => conductor(args, { env: base, cwd: dir }),
  };
}

const tokensOf = (report: RunReport) => Object.values(report.usage ?? {}).reduce((sum, u) => sum + u.inputTokens + u.outputTokens, 0);

describe('adversarial #15: the step cache hands back only what this request would get', { timeout: 300_000 }, () => {
  it(
    'a file or shell step with `cache: true` in another folder reads and writes its own folder, not the first one\'s',
    async (t) => {
      const home = await tempDir(t);
      const flow = `steps:
  - id: read
    cache: true
    file: { action: read, path: data.txt }
  - id: list
    cache: true
    shell: { run: "cat data.txt" }
  - id: write
    cache: true
    file: { action: write, path: out.txt, content: "written" }
outputs:
  read: \${steps.read.output}
  list: \${steps.list.output}
`;
      const folders = [join(home, 'alpha'), join(home, 'beta')];
      for (const [i, folder] of folders.entries()) {
        await mkdir(folder);
        await writeFile(join(folder, 'data.txt'), i === 0 ? 'alpha: the confidential plan' : 'beta: public notes');
        await writeWorkflow(folder, flow);
      }
      const c = cli(home);
      const alpha = await c.json(['run', join(folders[0]!, 'workflow.yaml')]);
      assert.equal(alpha.code, 0, alpha.stderr);
      const beta = await c.json(['run', join(folders[1]!, 'workflow.yaml')]);
      assert.equal(beta.code, 0, beta.stderr);
      assert.deepEqual(beta.report.outputs, { read: 'beta: public notes', list: 'beta: public notes' }, 'beta was handed alpha\'s file');
      assert.equal(await stat(join(folders[1]!, 'out.txt')).then(() => true, () => false), true, 'beta\'s write step "succeeded" without writing');
    },
  );

  it(
    'a result that turns out to hold a credential (a later step sends it as one) is neither cached nor stored in the clear',
    async (t) => {
      const dir = await tempDir(t);
      // `login` answers a session id no rule takes for a secret; `pick` passes it on, and `me` sends it as a
      // bearer token: from then on it is a secret (the report shows `login` as {"session":"***"}).
      const file = await writeWorkflow(dir, `config:
  cache: true
steps:
  - id: login
    http: { url: "${server.url}/adv15/login" }
  - id: pick
    llm: { model: echo, prompt: "\${steps.login.output.session}" }
  - id: me
    http: { url: "${server.url}/adv15/profile", headers: { Authorization: "Bearer \${steps.pick.output}" } }
`);
      const c = cli(dir);
      const first = await c.json(['run', file]);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(first.report.steps['login']!.output, { session: '***' }, 'the report redacts it');
      for (const suffix of ['', '-wal']) {
        const bytes = await readFile(join(dir, 'runs.db' + suffix)).catch(() => Buffer.alloc(0));
        assert.equal(bytes.includes(SID), false, `runs.db${suffix} holds the session id in the clear`);
      }
      const second = await c.json(['run', file]);
      assert.equal(second.report.steps['login']!.cached, undefined, 'a result redacted in its run was kept and handed back');
      assert.equal(server.byPath('/adv15/login').length, 2);
    },
  );

  it(
    'two schemas that differ only in the order of their properties are two requests',
    async (t) => {
      const dir = await tempDir(t);
      behaviours.set('adv15-order', { answer: () => '{"reasoning":"because","answer":"yes"}' });
      const flow = (props: string) => `config:\n  cache: true\nsteps:\n  - id: ask\n    llm: { model: "openai:adv15-order", prompt: "decide", schema: { type: object, properties: { ${props} } } }\n`;
      const c = cli(dir);
      await c.json(['run', await writeWorkflow(dir, flow('reasoning: { type: string }, answer: { type: string }'), 'think-first.yaml')]);
      const other = await c.json(['run', await writeWorkflow(dir, flow('answer: { type: string }, reasoning: { type: string }'), 'answer-first.yaml')]);
      assert.equal(other.code, 0, other.stderr);
      const orders = sent('adv15-order').map((r) => Object.keys(JSON.parse(r.body).response_format.json_schema.schema.properties).join(','));
      assert.deepEqual(orders, ['reasoning,answer', 'answer,reasoning'], 'the second request was never sent');
    },
  );

  it('holds: another OPENAI_BASE_URL, or another credential in an http header, is another entry', async (t) => {
    const dir = await tempDir(t);
    const elsewhere = addLlmRoutes(await StandIn.start());
    t.after(() => elsewhere.close());
    const file = await writeWorkflow(dir, `config:
  cache: true
steps:
  - id: ask
    llm: { model: "openai:adv15-endpoint", prompt: "same words" }
  - id: who
    http: { url: "${server.url}/adv15/whoami", headers: { Authorization: "Bearer \${env.CALLER_TOKEN}" } }
outputs:
  who: \${steps.who.output.caller}
`);
    const first = await cli(dir, { CALLER_TOKEN: 'tok-first-aaaa1111' }).json(['run', file]);
    assert.equal(first.code, 0, first.stderr);
    const second = await cli(dir, { CALLER_TOKEN: 'tok-second-bbbb2222', OPENAI_BASE_URL: `${elsewhere.url}/v1` }).json(['run', file]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(sent('adv15-endpoint').length, 1);
    assert.equal(elsewhere.requests.length, 1, 'the other endpoint was asked');
    assert.equal(second.report.steps['ask']!.cached, undefined);
    assert.equal(server.byPath('/adv15/whoami').length, 2, 'the other credential was sent');
    assert.equal(second.report.outputs['who'], '2222');
  });
});

describe('adversarial #15: every call paid for is counted, and a budget holds', { timeout: 300_000 }, () => {
  // The stand-in bills what the engine bounds a call by: its messages' bytes in, and its maxTokens out.
  const honest = (r: ChatRequest) => ({ inputTokens: bytesIn(r), outputTokens: Number(r.body['max_completion_tokens'] ?? r.body['max_tokens'] ?? 10) });
  const schema = '{ type: object, properties: { n: { type: number } }, required: [n] }';
  const padded = `give n ${'x'.repeat(193)}`; // 200 bytes

  it(
    'a schema step that fails after two answers counts both against the budget and in the report',
    async (t) => {
      const dir = await tempDir(t);
      behaviours.set('adv15-mismatch', { answer: () => '{"n":"not a number"}', usage: honest });
      behaviours.set('adv15-after', { usage: honest });
      // a reserves both of its asks (~2,000 tokens at worst) and really uses ~1,200; b's worst case (~1,216)
      // fits in 2,100 only if a's paid calls are left out.
      const file = await writeWorkflow(dir, `config:
  budget: { tokens: 2100 }
steps:
  - id: a
    continueOnError: true
    llm: { model: "openai:adv15-mismatch", prompt: "${padded}", maxTokens: 300, schema: ${schema} }
  - id: b
    dependsOn: [a]
    if: steps.a.status == "failed"
    llm: { model: "openai:adv15-after", prompt: "${padded}", maxTokens: 1000 }
`);
      const result = await cli(dir).json(['run', file]);
      assert.equal(result.report.steps['a']!.errorCode, 'schema_mismatch');
      assert.equal(sent('adv15-mismatch').length, 2);
      assert.equal(tokensOf(result.report), billed('adv15-mismatch', honest) + billed('adv15-after', honest), 'the report\'s usage leaves out calls that were paid');
      assert.equal(sent('adv15-after').length, 0, `b was sent with ${billed('adv15-mismatch', honest)} of 1200 tokens spent already`);
      assert.equal(result.report.status, 'budget_exceeded');
    },
  );

  it(
    'with maxTokens, a schema step whose first answer is corrected never spends past the budget',
    async (t) => {
      const dir = await tempDir(t);
      behaviours.set('adv15-fixup', { answer: (r) => ((r.body['messages'] as unknown[]).length === 1 ? '{"n":"one"}' : '{"n":1}'), usage: honest });
      // One call's worst case (~586: 200 bytes, the schema, framing, 300) fits in 700; two calls (~1100) do not.
      const file = await writeWorkflow(dir, `config:\n  budget: { tokens: 700 }\nsteps:\n  - id: a\n    llm: { model: "openai:adv15-fixup", prompt: "${padded}", maxTokens: 300, schema: ${schema} }\n`);
      const result = await cli(dir).json(['run', file]);
      const spent = billed('adv15-fixup', honest);
      assert.ok(spent <= 700, `the stand-in billed ${spent} tokens against a budget of 700 (${sent('adv15-fixup').length} calls; report: ${result.report.status})`);
    },
  );

  it(
    'a provider reporting negative tokens does not make room in the budget, nor a negative cost',
    async (t) => {
      const dir = await tempDir(t);
      behaviours.set('adv15-negative', { usage: () => ({ inputTokens: -1_000_000, outputTokens: 1000 }) });
      // $1 per million either way: each call's worst case is ~$0.00103 and it spends at least $0.001 of output.
      const file = await writeWorkflow(dir, `config:
  prices: { "openai:adv15-negative": { input: 1, output: 1 } }
  budget: { usd: 0.0025 }
  maxConcurrency: 1
steps:
${['a', 'b', 'c'].map((id) => `  - id: ${id}\n    llm: { model: "openai:adv15-negative", prompt: "${id}", maxTokens: 1000 }\n`).join('')}`);
      const result = await cli(dir).json(['run', file]);
      assert.ok(result.report.cost.usd! >= 0, `a cost of $${result.report.cost.usd}`);
      assert.ok(sent('adv15-negative').length <= 2, `${sent('adv15-negative').length} calls of 1000 output tokens ($0.001 each) against $0.0025`);
    },
  );

  it(
    'a model the price table lists without token prices has no price: a budget in dollars refuses it',
    async (t) => {
      const dir = await tempDir(t);
      const file = await writeWorkflow(dir, `steps:\n  - id: a\n    llm: { model: "openai:adv15-moderation-chat", prompt: "hello" }\n`);
      const c = cli(dir);
      const budgeted = await c.json(['run', file, '--max-cost', '0.01']);
      assert.equal(budgeted.code, 2, `ran with a budget in dollars; its cost: ${JSON.stringify(budgeted.report.cost)}`);
      assert.equal(sent('adv15-moderation-chat').length, 0);
      const free = await c.json(['run', file]);
      assert.equal(free.report.steps['a']!.costUsd, null, 'shown as $0, not "—"');
    },
  );

  it(
    'a price so large that a call costs more than a double holds is refused, or priced: never reported as "no price"',
    async (t) => {
      const dir = await tempDir(t);
      const file = await writeWorkflow(dir, `config:\n  prices: { "openai:adv15-huge": { input: 1e308, output: 1e308 } }\nsteps:\n  - id: a\n    llm: { model: "openai:adv15-huge", prompt: "hello" }\n`);
      const result = await cli(dir).json(['run', file]);
      assert.ok(result.code === 2 || Number.isFinite(result.report.cost.usd), `exit ${result.code}, cost ${JSON.stringify(result.report.cost)}`);
    },
  );

  it('holds: Ctrl-C while a call waits for the budget cancels it unsent, and the call in flight is aborted', async (t) => {
    const dir = await tempDir(t);
    const gate = new Gate();
    t.after(() => gate.open());
    behaviours.set('adv15-held', { gate });
    // Each worst case (~416 of 700) fits alone: the second waits for the first, which the stand-in holds.
    const file = await writeWorkflow(dir, `config:\n  budget: { tokens: 700 }\nsteps:\n${['a', 'b'].map((id) => `  - id: ${id}\n    llm: { model: "openai:adv15-held", prompt: "${id} ${'x'.repeat(100)}", maxTokens: 300 }\n`).join('')}`);
    const { child, done } = cli(dir).spawn(['run', file]);
    await server.until(() => sent('adv15-held').length === 1);
    child.kill('SIGINT');
    const result = await done;
    assert.equal(result.code, 130, result.stderr);
    assert.equal(sent('adv15-held').length, 1, 'the waiting call was never sent');
    await server.until(() => sent('adv15-held')[0]!.endedAt !== undefined);
    assert.equal(sent('adv15-held')[0]!.aborted, true);
    assert.match(result.stderr, /⊘ cancelled in .* \(2 cancelled\)/);
  });
});

describe('adversarial #15: a provider\'s word about its limits cannot stall the run', { timeout: 300_000 }, () => {
  it(
    'a remaining-tokens header far below zero is not waited out for days (nor spins on an overflowing timer)',
    async (t) => {
      const dir = await tempDir(t);
      behaviours.set('adv15-liar', { headers: () => ({ 'x-ratelimit-limit-tokens': '1000', 'x-ratelimit-remaining-tokens': '-1000000000000', 'x-ratelimit-reset-tokens': '1s' }) });
      const file = await writeWorkflow(dir, `config:\n  rateLimits: { openai: { tpm: 1000 } }\nsteps:\n  - id: a\n    llm: { model: "openai:adv15-liar", prompt: "first" }\n  - id: b\n    dependsOn: [a]\n    llm: { model: "openai:adv15-liar", prompt: "second" }\n`);
      // A minute of 1 s: a fixed limiter waits at most about that for b, or fails it.
      const { child, done } = cli(dir, { CONDUCTOR_RATE_WINDOW_MS: '1000' }).spawn(['run', file]);
      let stderr = '';
      const stalled = new Promise<string>((resolve) => {
        child.stderr!.on('data', (d: Buffer) => {
          stderr += d;
          const wait = /b rate limit[^\n]*waiting (\d+) min/.exec(stderr);
          if (stderr.includes('TimeoutOverflowWarning')) resolve('a timer that overflows');
          else if (wait && Number(wait[1]) > 10) resolve(`a wait of ${wait[1]} min`);
        });
      });
      const outcome = await Promise.race([done.then(() => 'ended'), stalled]);
      if (outcome !== 'ended') child.kill('SIGKILL');
      const result = await done;
      assert.equal(outcome, 'ended', `the run stalled on ${outcome}:\n${stderr.slice(0, 600)}`);
      assert.doesNotMatch(result.stderr, /TimeoutOverflowWarning/);
    },
  );
});

describe('adversarial #15: plan agrees with the cache', { timeout: 180_000 }, () => {
  it(
    'plan expects no calls and no cost for steps it says the cache answers',
    async (t) => {
      const dir = await tempDir(t);
      const file = await writeWorkflow(dir, `config:\n  cache: true\n  prices: { "openai:adv15-plan": { input: 1, output: 1 } }\nsteps:\n  - id: a\n    llm: { model: "openai:adv15-plan", prompt: "one" }\n  - id: b\n    llm: { model: "openai:adv15-plan", prompt: "two" }\n`);
      const c = cli(dir);
      assert.equal((await c.json(['run', file])).code, 0);
      const plan = JSON.parse((await c.run(['plan', file, '--format', 'json'])).stdout) as { steps: Record<string, { cache?: string }>; expected: { cost?: { usd: number } } };
      assert.deepEqual([plan.steps['a']!.cache, plan.steps['b']!.cache], ['hit', 'hit']);
      assert.equal(plan.expected.cost?.usd ?? 0, 0, `expected $${plan.expected.cost?.usd} for a run the cache answers whole`);
    },
  );
});

/**
 * Cost and budgets through the CLI, against the OpenAI stand-in, which reports the tokens each prompt asks
 * for (`[in/out]` at its start) and counts the requests it gets: figures are checked against tokens × the
 * prices given, and "stopped", "not sent again" against what the stand-in received.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from './support/cli.ts';
import { addLlmRoutes } from './support/llm-stand-ins.ts';
import { StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => {
  server = addLlmRoutes(await StandIn.start(), {
    usage: (r) => {
      // `[in/out]`, or `[in/out/cached]` with `cached` of the input read from the provider's prompt cache.
      const [, input, output, cached] = /^\[(\d+)\/(\d+)(?:\/(\d+))?\]/.exec(r.prompt) ?? [];
      return { inputTokens: Number(input ?? 1), outputTokens: Number(output ?? 1), ...(cached ? { cachedInputTokens: Number(cached) } : {}) };
    },
  });
});
after(() => server.close());

/** Requests the stand-in got for `model` (each test calls models of its own). */
const sent = (model: string) => server.requests.filter((r) => JSON.parse(r.body).model === model).length;

/** A prompt for which the stand-in reports `input` and `output` tokens, `bytes` long (the budget's bound on its tokens). */
const prompt = (input: number, output: number, bytes = input) => {
  const head = `[${input}/${output}] `;
  return head + 'x'.repeat(Math.max(0, bytes - head.length));
};

/** Each step: an llm call on `model`; `extra` goes into its block (`maxTokens: 300`). */
const llmSteps = (ids: string[], model: string, text: string, extra = '') => ids.map((id) => `  - id: ${id}\n    llm: { model: "${model}", prompt: "${text}"${extra ? `, ${extra}` : ''} }\n`).join('');

/** Run in `dir`: its own $CONDUCTOR_HOME (prices.yaml, runs.db). */
const inDir = (dir: string) => ({ env: { CONDUCTOR_HOME: dir, OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'sk-test-0123456789abcdef' } });
const near = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`);

describe('cost', { timeout: 180_000 }, () => {
  it('prices the input the provider read from its prompt cache at the cached-input price', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `config:\n  prices:\n    openai:cost-cached: { input: 10, output: 20, cachedInput: 1 }\nsteps:\n${llmSteps(['a'], 'openai:cost-cached', '[1000/100/800] x')}`);
    const result = await run(['run', file, '--json'], inDir(dir));
    assert.equal(result.code, 0, result.stderr);
    // 200 uncached × $10 + 800 cached × $1 + 100 × $20, per million: $0.0048.
    near(JSON.parse(result.stdout).steps.a.costUsd, 0.0048, 'a');
  });

  it('matches the stand-in\'s tokens × the prices to the cent: --json, the summary, runs, runs show, plan', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'prices.yaml'), 'openai:cost-b: { input: 3, output: 15 }\n');
    const file = await writeWorkflow(
      dir,
      `config:\n  prices:\n    openai:cost-a: { input: 15, output: 60 }\nsteps:\n${llmSteps(['a'], 'openai:cost-a', prompt(1234, 567))}${llmSteps(['b'], 'openai:cost-b', prompt(2000, 100))}  - id: each\n    foreach: [1, 2, 3]\n    llm: { model: "openai:cost-a", prompt: "[1000/300] \${item}" }\n`,
    );
    // a: 1234 × $15 + 567 × $60 per million = $0.05253; each item 1000 × 15 + 300 × 60 = $0.033; b: $0.0075.
    const result = await run(['run', file, '--json'], inDir(dir));
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    near(report.steps.a.costUsd, 0.05253, 'a');
    near(report.steps.b.costUsd, 0.0075, 'b (priced by prices.yaml)');
    near(report.steps.each.costUsd, 0.099, 'each');
    for (const item of report.steps.each.items) near(item.costUsd, 0.033, `item ${item.index}`);
    near(report.cost.usd, 0.15903, 'the run');
    near(report.cost.byModel['openai:cost-a'], 0.15153, 'cost-a');
    near(report.cost.byModel['openai:cost-b'], 0.0075, 'cost-b');

    const human = await run(['run', file], inDir(dir));
    assert.match(human.stderr, /^ {2}cost: \$0\.1590 \(openai:cost-a \$0\.1515, openai:cost-b \$0\.0075\)$/m);
    assert.match(human.stderr, /✓ a succeeded in .* · \$0\.0525$/m);

    const listed = (await run(['runs'], inDir(dir))).stdout.split('\n');
    assert.match(listed[0]!, /^ID +STATUS +STARTED +DURATION +STEPS +COST +WORKFLOW$/);
    assert.match(listed[1]!, / 3\/3 +\$0\.1590 /);
    assert.equal(JSON.parse((await run(['runs', '--json'], inDir(dir))).stdout)[0].costUsd.toFixed(5), '0.15903');
    const shown = (await run(['runs', 'show', report.runId], inDir(dir))).stdout;
    assert.match(shown, /^ {2}cost {6}\$0\.1590$/m);
    assert.match(shown, /^ {2}a +succeeded +[\d.]+ m?s +\$0\.0525 /m);
    assert.match(shown, /^ {2}b +succeeded +[\d.]+ m?s +\$0\.0075 /m);
    assert.match(shown, /^ {2}each +succeeded +[\d.]+ m?s +\$0\.0990 /m);

    const plan = JSON.parse((await run(['plan', file, '--format', 'json'], inDir(dir))).stdout);
    near(plan.expected.cost.usd, 0.15903, 'plan');
    assert.match((await run(['plan', file], inDir(dir))).stdout, /^Expected cost: about \$0\.1590 \(openai:cost-a \$0\.1515, openai:cost-b \$0\.0075\), at today's prices$/m);
  });

  it('shows a model with no price as "—", never $0', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `config:\n  prices:\n    openai:cost-a: { input: 15, output: 60 }\nsteps:\n${llmSteps(['a'], 'openai:cost-a', prompt(1234, 567))}${llmSteps(['c'], 'openai:cost-none', prompt(10, 10))}`);
    const report = JSON.parse((await run(['run', file, '--json'], inDir(dir))).stdout);
    assert.equal(report.steps.c.costUsd, null);
    assert.deepEqual([report.cost.usd, report.cost.byModel['openai:cost-none']], [null, null]);
    near(report.cost.byModel['openai:cost-a'], 0.05253, 'a');
    assert.match((await run(['run', file], inDir(dir))).stderr, /^ {2}cost: — \(openai:cost-a \$0\.0525, openai:cost-none —\)$/m);
    assert.match((await run(['runs'], inDir(dir))).stdout.split('\n')[1]!, / 2\/2 +— /);
    assert.match((await run(['runs', 'show', report.runId], inDir(dir))).stdout, /^ {2}c +succeeded +[\d.]+ m?s +— /m);
  });

  it('takes prices.yaml over the genai-prices table, and config.prices over prices.yaml', async (t) => {
    const dir = await tempDir(t);
    const steps = `steps:\n${llmSteps(['a'], 'openai:gpt-4o-mini', prompt(1000, 1000))}`;
    const file = await writeWorkflow(dir, steps);
    const cost = async () => JSON.parse((await run(['run', file, '--json', '--no-store'], inDir(dir))).stdout).cost.usd as number;
    const { calcPrice } = createRequire(import.meta.url)('@pydantic/genai-prices') as typeof import('@pydantic/genai-prices');
    near(await cost(), calcPrice({ input_tokens: 1000, output_tokens: 1000 }, 'gpt-4o-mini', { providerId: 'openai' })!.total_price, 'the table');
    await writeFile(join(dir, 'prices.yaml'), 'openai:gpt-4o-mini: { input: 1, output: 1 }\n');
    near(await cost(), 0.002, 'prices.yaml');
    await writeFile(file, `config:\n  prices:\n    openai:gpt-4o-mini: { input: 2, output: 2 }\n${steps}`);
    near(await cost(), 0.004, 'config.prices');
  });

  it('refuses a malformed prices.yaml with its line, and nothing is sent', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'prices.yaml'), 'openai:cost-p: { input: 1 }\n');
    const file = await writeWorkflow(dir, `steps:\n${llmSteps(['a'], 'openai:cost-p', prompt(10, 10))}`);
    const result = await run(['run', file], inDir(dir));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /prices\.yaml:1:1: error: `openai:cost-p` needs `output`/);
    assert.equal(sent('cost-p'), 0);
  });
});

describe('budgets', { timeout: 180_000 }, () => {
  // $1 per million input tokens and $10 per million output: 1000 in + 300 out is $0.004 a call.
  const prices = (model: string) => `config:\n  prices:\n    openai:${model}: { input: 1, output: 10 }\n`;

  it('$0.01 against calls of $0.004 stops after two, budget_exceeded (exit 1), and resume finishes without sending them again', async (t) => {
    const dir = await tempDir(t);
    // Six steps at once: the worst case of each (1016 prompt tokens + maxTokens 300) is held while it runs.
    const file = await writeWorkflow(dir, `${prices('budget-a')}steps:\n${llmSteps(['s1', 's2', 's3', 's4', 's5', 's6'], 'openai:budget-a', prompt(1000, 300), 'maxTokens: 300')}`);
    const first = await run(['run', file, '--json', '--max-cost', '0.01'], inDir(dir));
    assert.equal(first.code, 1, first.stderr);
    const report = JSON.parse(first.stdout);
    assert.equal(report.status, 'budget_exceeded');
    assert.equal(sent('budget-a'), 2);
    assert.deepEqual(Object.values(report.steps).map((s: any) => s.status).sort(), ['not_run', 'not_run', 'not_run', 'not_run', 'succeeded', 'succeeded']);
    assert.deepEqual({ ...report.budget, spentUsd: report.budget.spentUsd.toFixed(4) }, { usd: 0.01, spentUsd: '0.0080', spentTokens: 2600 });
    assert.match(report.error, /the budget stopped the run \(\$0\.0080 spent of \$0\.01\)/);
    const listed = await run(['runs', '--json'], inDir(dir));
    assert.equal(JSON.parse(listed.stdout)[0].status, 'budget_exceeded');
    assert.match((await run(['runs'], inDir(dir))).stdout.split('\n')[1]!, /budget_exceeded .* 2\/6 +\$0\.0080 /);

    // A resume keeps the run's --max-cost: two more calls, and the budget stops it again.
    const again = JSON.parse((await run(['resume', report.runId, '--json'], inDir(dir))).stdout);
    assert.equal(again.status, 'budget_exceeded');
    assert.equal(sent('budget-a'), 4, 'the two that were done are not sent again');
    const resumed = await run(['resume', again.runId, '--max-cost', '1', '--json'], inDir(dir));
    assert.equal(resumed.code, 0, resumed.stderr);
    const done = JSON.parse(resumed.stdout);
    assert.equal(done.status, 'succeeded');
    assert.equal(sent('budget-a'), 6);
    assert.equal(Object.values(done.steps).filter((s: any) => s.reused).length, 4);
    assert.equal(done.cost.usd.toFixed(4), '0.0080', 'a resume pays only for what it runs');
  });

  it('says so in the summary: what was spent, and how to resume', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `${prices('budget-h')}steps:\n${llmSteps(['s1', 's2', 's3'], 'openai:budget-h', prompt(1000, 300), 'maxTokens: 300')}`);
    const result = await run(['run', file, '--max-cost', '$0.01'], inDir(dir));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^\$ budget exceeded in .* \(2 succeeded, 1 not run\)\n {2}the budget stopped the run \(\$0\.0080 spent of \$0\.01\)\n {2}hint: resume it with a larger budget .*\n {2}docs: docs\/cost-and-cache\.md#when-the-budget-stops-a-run\n {2}cost: \$0\.0080 \(openai:budget-h \$0\.0080\)\n {2}run \S+ · conductor resume \w{8} --max-cost N$/m);
  });

  it('never spends past the budget with maxTokens, at any concurrency: a call waits for those in flight rather than stop the run', async (t) => {
    const dir = await tempDir(t);
    // Each call's worst case is $0.006 (a 3000-byte prompt), its real cost $0.004: two fit in $0.0105, one
    // after the other. At once, the second must wait for the first to settle, not end the run.
    const body = (model: string) => `${prices(model)}  budget: { usd: 0.0105 }\nsteps:\n  - id: each\n    foreach: [1, 2, 3, 4, 5, 6]\n    llm: { model: "openai:${model}", maxTokens: 300, prompt: "${prompt(1000, 300, 3000)} \${item}" }\n`;
    for (const [model, concurrency] of [['budget-c1', '1'], ['budget-c6', '6']] as const) {
      const file = await writeWorkflow(dir, body(model), `${model}.yaml`);
      const report = JSON.parse((await run(['run', file, '--json', '--max-concurrency', concurrency], inDir(dir))).stdout);
      assert.equal(report.status, 'budget_exceeded');
      assert.equal(sent(model), 2, `at ${concurrency} at once`);
      assert.ok(report.budget.spentUsd <= 0.0105);
      assert.deepEqual(report.steps.each.items.map((i: any) => i.status).sort(), ['not_run', 'not_run', 'not_run', 'not_run', 'succeeded', 'succeeded']);
    }
    // The items that ran are taken from the record; the others run.
    const resumed = JSON.parse((await run(['resume', JSON.parse((await run(['runs', '--json'], inDir(dir))).stdout)[0].id, '--max-cost', '1', '--json'], inDir(dir))).stdout);
    assert.equal(resumed.status, 'succeeded');
    assert.equal(sent('budget-c6'), 6);
    assert.equal(resumed.steps.each.items.filter((i: any) => i.reused).length, 2);
  });

  it('without maxTokens, stops at the first call whose answer crosses the budget', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `${prices('budget-n')}steps:\n${llmSteps(['s1', 's2', 's3', 's4', 's5'], 'openai:budget-n', prompt(1000, 300))}`);
    const report = JSON.parse((await run(['run', file, '--json', '--max-cost', '0.01', '--max-concurrency', '1'], inDir(dir))).stdout);
    assert.equal(report.status, 'budget_exceeded');
    assert.equal(sent('budget-n'), 3, '$0.008 spent and a prompt of $0.001 fits: the third call is made, and crosses');
    assert.equal(report.budget.spentUsd.toFixed(4), '0.0120');
  });

  it('counts calls that failed all the same (answers that did not match a schema), and reserves both of a schema step\'s calls', async (t) => {
    const dir = await tempDir(t);
    // The stand-in answers text, never JSON: each item asks twice and fails. The first ask costs $0.004.
    const file = await writeWorkflow(
      dir,
      `${prices('budget-f')}  budget: { usd: 0.01 }\nsteps:\n  - id: each\n    continueOnError: true\n    foreach: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n    llm: { model: "openai:budget-f", maxTokens: 300, schema: { type: object }, prompt: "${prompt(1000, 300)} \${item}" }\n`,
    );
    const report = JSON.parse((await run(['run', file, '--json', '--max-concurrency', '4'], inDir(dir))).stdout);
    assert.equal(report.status, 'budget_exceeded');
    // One item's two asks fit the worst case ($0.0088); after it, a second item's do not.
    assert.equal(sent('budget-f'), 2);
    assert.ok(report.cost.usd >= 0.004 && report.budget.spentUsd >= 0.004 && report.budget.spentUsd <= 0.01, JSON.stringify([report.cost, report.budget]));
    assert.equal(report.steps.each.items.find((i: any) => i.status === 'failed').errorCode, 'schema_mismatch');
  });

  it('lets a run whose last call crossed the budget, with nothing left to run, succeed', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `${prices('budget-l')}steps:\n${llmSteps(['only'], 'openai:budget-l', prompt(1000, 1500))}outputs:\n  said: \${steps.only.output}\n`);
    const result = await run(['run', file, '--json', '--max-cost', '0.01'], inDir(dir));
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.status, 'succeeded');
    assert.ok(report.outputs.said);
    assert.equal(report.cost.usd.toFixed(4), '0.0160');
  });

  it('holds a budget of tokens, with or without prices', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `config:\n  budget: { tokens: 2700 }\nsteps:\n${llmSteps(['s1', 's2', 's3', 's4'], 'openai:budget-t', prompt(1000, 300), 'maxTokens: 300')}`);
    const result = await run(['run', file, '--json'], inDir(dir));
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout);
    assert.equal(report.status, 'budget_exceeded');
    assert.equal(sent('budget-t'), 2);
    assert.deepEqual(report.budget, { tokens: 2700, spentUsd: 0, spentTokens: 2600 });
  });

  it('refuses to start a run in dollars that calls a model with no price, or a --max-cost that is no amount; nothing is sent', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `steps:\n${llmSteps(['ask'], 'openai:budget-none', prompt(10, 10))}`);
    const unpriced = await run(['run', file, '--max-cost', '1'], inDir(dir));
    assert.equal(unpriced.code, 2);
    assert.match(unpriced.stderr, /workflow\.yaml:2:\d+: error: step `ask` calls `openai:budget-none`, which has no price, and the run has a budget in dollars \(`--max-cost`\)\n[\s\S]*hint: give its price in config\.prices or \$CONDUCTOR_HOME\/prices\.yaml: `openai:budget-none: \{ input: …, output: … \}`/);
    for (const bad of ['0', '=-1', ' five', '=']) {
      const result = await run(['run', file, `--max-cost${bad.startsWith('=') ? bad : `=${bad}`}`], inDir(dir));
      assert.equal(result.code, 2, bad);
      assert.match(result.stderr, /`--max-cost` expects US dollars, a number more than 0, got `.*`\n {2}hint: e\.g\. `--max-cost 5`/);
    }
    assert.equal(sent('budget-none'), 0);
  });

  it('fails a step whose model only a template names and has no price, before it is sent', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `inputs:\n  m: { type: string }\nsteps:\n${llmSteps(['ask'], 'openai:${inputs.m}', prompt(10, 10))}`);
    const result = await run(['run', file, '--json', '--max-cost', '1', '-i', 'm=budget-tpl'], inDir(dir));
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout);
    assert.deepEqual([report.status, report.steps.ask.errorCode], ['failed', 'no_price']);
    assert.match(report.steps.ask.hint, /openai:budget-tpl: \{ input: …, output: … \}/);
    assert.equal(sent('budget-tpl'), 0);
  });
});

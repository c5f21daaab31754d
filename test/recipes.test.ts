/**
 * Issue #19, docs/recipes/: every folder there is a pipeline users copy, and each is run here end to end with
 * the built CLI (run `npm run build` first), from a copy in a temp folder (nothing is written into docs/),
 * against the echo provider and stand-ins: an OpenAI-compatible model server and the APIs the recipes call,
 * which the recipes take as an input (`-i api=…`). What is asserted is what the recipe did: its outputs and
 * `--json` report, the files it wrote, and what the stand-ins received. A folder without a test below fails.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { conductor, ROOT, run, type CliResult } from './support/cli.ts';
import { addLlmRoutes, type ChatRequest } from './support/llm-stand-ins.ts';
import { deleteKeys, redisService, REDIS_URL, testPrefix, testRedis } from './support/services.ts';
import { reply, StandIn, type Handler, type RecordedRequest } from './support/stand-in.ts';

const RECIPES = join(ROOT, 'docs/recipes');
const redis = await redisService();

/** The model stand-in's answer and token counts, and the API stand-in's handler: each test sets its own. */
let answer: (r: ChatRequest) => string = (r) => `answer: ${r.prompt}`;
let usage: ((r: ChatRequest, text: string) => { inputTokens: number; outputTokens: number }) | undefined;
let api: Handler = (_req, res) => reply(res, 404, { error: 'no such page' });

/** Every model request the stand-in parsed, in order of arrival. */
const calls: ChatRequest[] = [];
let server: StandIn;
before(async () => {
  server = addLlmRoutes(await StandIn.start(), {
    intercept: (r) => (calls.push(r), false),
    answer: (r) => answer(r),
    usage: (r, text) => usage?.(r, text) ?? { inputTokens: words(r.prompt), outputTokens: words(text) },
  });
  server.fallback((req, res) => api(req, res));
});
after(() => server.close());

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

interface Recipe {
  /** The recipe's copy in a temp folder. */
  dir: string;
  workflow: string;
  /** Its own CONDUCTOR_HOME: run store, step cache, prices. */
  home: string;
  /** Runs the CLI with the model stand-in and this recipe's home in the environment. */
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>;
  /** `run workflow.yaml … --json`, parsed. */
  json(args: string[], env?: Record<string, string>): Promise<{ code: number | null; stderr: string; report: any }>;
  /** What the stand-in received since the recipe's test started (model calls: path /v1/chat/completions). */
  received(): RecordedRequest[];
  modelCalls(): ChatRequest[];
}

async function copyRecipe(t: { after(fn: () => unknown): void }, slug: string): Promise<Recipe> {
  const base = await mkdtemp(join(tmpdir(), `conductor-recipe-${slug}-`));
  t.after(() => rm(base, { recursive: true, force: true }));
  const dir = join(base, slug);
  await cp(join(RECIPES, slug), dir, { recursive: true });
  const home = join(base, 'home');
  const workflow = join(dir, 'workflow.yaml');
  const first = server.requests.length;
  const firstCall = calls.length;
  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(args, { cwd: dir, env: { CONDUCTOR_HOME: home, OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'test-key-0123456789', ...env } });
  return {
    dir,
    workflow,
    home,
    cli,
    json: async (args, env) => {
      const result = await cli(['run', workflow, ...args, '--json'], env);
      let report: any;
      try {
        report = JSON.parse(result.stdout);
      } catch {
        assert.fail(`no JSON report (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
      }
      return { code: result.code, stderr: result.stderr, report };
    },
    received: () => server.requests.slice(first),
    modelCalls: () => calls.slice(firstCall),
  };
}

const MODEL = ['--model', 'openai:gpt-4o-mini'];
const ECHO = { CONDUCTOR_MODEL: 'echo' };
const near = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} ≠ ${expected}`);

/** Serves `body` (a file of the recipe's) for requests to `path`, recording the query of each. */
function serve(path: string, respond: (req: RecordedRequest, res: Parameters<Handler>[1]) => void | Promise<void>): void {
  api = (req, res) => (req.path === path ? respond(req, res) : reply(res, 404, { error: `no such page: ${req.path}` }));
}

/**
 * A README's offline variant, run as written: its `node docs/recipes/sample-api.mjs <slug> &` line starts the
 * sample API (here on a free port: it prints the port it got), and the next line, `CONDUCTOR_MODEL=echo npx
 * conductor run docs/recipes/<slug>/workflow.yaml …`, runs the recipe's copy against it. Ctrl-C (SIGINT) then
 * stops the sample API, which must exit 0.
 */
async function runOffline(r: Recipe, t: { after(fn: () => unknown): void }, slug: string): Promise<CliResult> {
  const lines = (await readFile(join(RECIPES, slug, 'README.md'), 'utf8')).split('\n');
  const at = lines.indexOf(`node docs/recipes/sample-api.mjs ${slug} &`);
  assert.ok(at >= 0, `${slug}/README.md starts the sample API`);
  const command = new RegExp(`^CONDUCTOR_MODEL=echo npx conductor run docs/recipes/${slug}/workflow\\.yaml( .*)$`).exec(lines[at + 1]!);
  assert.ok(command, `${slug}/README.md runs the recipe after starting the sample API: ${lines[at + 1]}`);
  assert.doesNotMatch(command[1]!, /['"\\$]/, 'the arguments split on spaces');
  const args = command[1]!.trim().split(/ +/);
  assert.ok(args.includes('api=http://127.0.0.1:8080'), 'the run asks the sample API on its default port');

  const child = spawn(process.execPath, [join(RECIPES, 'sample-api.mjs'), slug, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d;
      const line = new RegExp(`^sample API for ${slug}: (http://127\\.0\\.0\\.1:(\\d+))\n`).exec(stdout);
      if (line && line[2] !== '0') resolve(line[1]!);
    });
    void exited.then((e) => reject(new Error(`sample-api.mjs exited (${e.code ?? e.signal}) before it listened:\n${stdout}${stderr}`)));
  });

  const result = await r.cli(['run', r.workflow, ...args.map((a) => a.replace('http://127.0.0.1:8080', url))], ECHO);
  child.kill('SIGINT');
  assert.deepEqual(await exited, { code: 0, signal: null }, `Ctrl-C stops the sample API cleanly: ${stderr}`);
  assert.equal(stdout, `sample API for ${slug}: ${url}\n`, 'one line');
  return result;
}

const tests: Record<string, { options?: { skip: string | false }; test: (r: Recipe, t: { after(fn: () => unknown): void }) => Promise<void> }> = {
  'summarise-folder': {
    async test(r) {
      const { code, stderr, report } = await r.json([], ECHO);
      assert.equal(code, 0, stderr);
      assert.deepEqual(report.outputs.files, ['docs/deploys.md', 'docs/on-call.md', 'docs/reviews.md']);
      assert.equal(report.outputs.summary, join(r.dir, 'out/summary.md'));
      assert.deepEqual(report.steps.summarise.items.map((i: { status: string }) => i.status), ['succeeded', 'succeeded', 'succeeded']);
      // echo answers with its prompt: the overview holds each document's summary prompt, in file order.
      const summary = await readFile(join(r.dir, 'out/summary.md'), 'utf8');
      const at = ['We deploy from `main`', 'One engineer is on call', 'Every change needs one approval'].map((s) => summary.indexOf(s));
      assert.ok(at.every((i) => i > 0) && at[0]! < at[1]! && at[1]! < at[2]!, summary);
    },
  },

  'classify-and-route': {
    async test(r) {
      answer = (c) =>
        c.prompt.startsWith('Classify')
          ? JSON.stringify(c.prompt.includes('charged') ? { category: 'billing', summary: 'Double charge' } : { category: 'bug', summary: 'CSV export broken in Firefox' })
          : `draft for: ${c.prompt.split('\n')[0]}`;
      const bug = await r.json(MODEL);
      assert.equal(bug.code, 0, bug.stderr);
      assert.equal(bug.report.outputs.category, 'bug');
      assert.equal(bug.report.steps['bug-report'].status, 'succeeded');
      for (const id of ['billing-reply', 'question-reply']) assert.deepEqual([bug.report.steps[id].status, bug.report.steps[id].skipReason], ['skipped', 'condition'], id);
      // Two calls: the classification (asked for structured output) and the bug report; the other branches sent nothing.
      const sent = r.modelCalls();
      assert.deepEqual(sent.map((c) => c.prompt.split('\n')[0]), [sent[0]!.prompt.split('\n')[0], 'Turn this ticket into a bug report with the sections Steps to reproduce, Expected, Actual.']);
      assert.match(sent[0]!.prompt, /^Classify this support ticket/);
      assert.ok(sent[0]!.body['response_format'], 'the schema was sent as structured output');
      assert.equal(sent[0]!.model, 'gpt-4o-mini');
      assert.match(await readFile(join(r.dir, 'out/bug-report.md'), 'utf8'), /^draft for: Turn this ticket into a bug report/);

      await rm(join(r.dir, 'out'), { recursive: true });
      const billing = await r.json([...MODEL, '-i', 'ticket=tickets/4712.txt']);
      assert.equal(billing.code, 0, billing.stderr);
      assert.equal(billing.report.outputs.category, 'billing');
      assert.match(billing.report.outputs.billing_reply, /^draft for: Draft a reply to this billing ticket/);
      assert.deepEqual([billing.report.steps['save-bug'].status, billing.report.steps['save-bug'].skipReason], ['skipped', 'upstream_skipped']);
      assert.equal(existsSync(join(r.dir, 'out/bug-report.md')), false);
      assert.equal(r.modelCalls().length, 4);
    },
  },

  'api-fallback': {
    async test(r) {
      // The API is down: both tries get a 503, then (and only then) the fallback asks the model.
      serve('/api/v2/incidents', (_req, res) => reply(res, 503, { error: 'maintenance' }, { 'retry-after': '0' }));
      const down = await r.json([...MODEL, '-i', `api=${server.url}`]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal(down.report.status, 'succeeded');
      assert.deepEqual(down.report.continued, ['incidents']);
      assert.equal(down.report.steps.incidents.attempts, 2);
      assert.equal(down.report.steps.report.status, 'skipped');
      assert.equal(down.report.outputs.note, null);
      assert.match(down.report.outputs.fallback, /could not be reached/);
      const order = r.received().map((q) => `${q.method} ${q.url}`);
      const get = 'GET /api/v2/incidents?service=checkout&status=open';
      assert.deepEqual(order, [get, get, 'POST /v1/chat/completions']);
      const lastGet = r.received()[1]!;
      assert.ok(lastGet.endedAt! < r.received()[2]!.startedAt, 'the fallback was asked only after the API had failed');

      // The API answers: its incidents go to the report step, and the fallback sends nothing.
      serve('/api/v2/incidents', (_req, res) => reply(res, 200, { incidents: [{ id: 'INC-88', title: 'Slow card payments' }] }));
      const up = await r.json([...MODEL, '-i', `api=${server.url}`, '-i', 'service=payments']);
      assert.equal(up.code, 0, up.stderr);
      assert.equal(up.report.steps.fallback.status, 'skipped');
      assert.equal(up.report.outputs.fallback, null);
      const last = r.modelCalls().at(-1)!;
      assert.match(last.prompt, /for the payments team/);
      assert.match(last.prompt, /"INC-88"/);
      assert.equal(r.modelCalls().length, 2);
    },
  },

  'budgeted-batch': {
    async test(r) {
      answer = (c) => `Description of ${/SKU (\S+)\)/.exec(c.prompt)![1]}.`;
      // Every answer uses 100 tokens in and 150 out: $0.000105 at the recipe's prices.
      usage = () => ({ inputTokens: 100, outputTokens: 150 });
      const products = JSON.parse(await readFile(join(r.dir, 'products.json'), 'utf8')) as { sku: string }[];
      const whole = await r.json([...MODEL, '-i', 'products=@products.json']);
      assert.equal(whole.code, 0, whole.stderr);
      near(whole.report.cost.usd, products.length * 0.000105, 'the run within config.budget');
      assert.deepEqual(JSON.parse(await readFile(join(r.dir, 'out/descriptions.json'), 'utf8')), products.map((p) => `Description of ${p.sku}.`));
      assert.equal(r.modelCalls().length, products.length);

      // $0.0004 holds three calls' worst case (prompt + maxTokens), not four: the run stops with items left.
      const before = r.modelCalls().length;
      const tight = await r.json([...MODEL, '-i', 'products=@products.json', '--max-cost', '0.0004']);
      assert.equal(tight.code, 1, tight.stderr);
      assert.equal(tight.report.status, 'budget_exceeded');
      const first = r.modelCalls().slice(before).map((c) => /SKU (\S+)\)/.exec(c.prompt)![1]);
      assert.ok(first.length > 0 && first.length < products.length, `${first.length} calls`);
      assert.ok(tight.report.budget.spentUsd <= 0.0004, `spent ${tight.report.budget.spentUsd}`);
      near(tight.report.budget.spentUsd, first.length * 0.000105, 'spent');

      // Resumed with a larger budget: only the items not done are sent.
      const resumed = await r.cli(['resume', tight.report.runId, '--max-cost', '0.05', '--json']);
      assert.equal(resumed.code, 0, resumed.stderr);
      const rest = r.modelCalls().slice(before + first.length).map((c) => /SKU (\S+)\)/.exec(c.prompt)![1]);
      assert.deepEqual([...first, ...rest].sort(), products.map((p) => p.sku).sort(), 'each product was sent once');
    },
  },

  'prompt-iteration-cache': {
    async test(r) {
      const first = await r.json(MODEL);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(r.modelCalls().length, 4);

      const second = await r.json(MODEL);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(r.modelCalls().length, 4, 'the second run sent nothing');
      assert.equal(second.report.cache.hits, 4);
      assert.ok(second.report.cache.savedUsd > 0, 'gpt-4o-mini is priced: the hits saved money');
      assert.equal(second.report.cost.usd, 0);
      for (const id of ['headline', 'summary', 'actions', 'newsletter']) assert.equal(second.report.steps[id].cached, true, id);
      assert.deepEqual(second.report.outputs, first.report.outputs);

      // One prompt edited: that step is sent, and the step whose prompt holds its answer; the rest are hits.
      const text = await readFile(r.workflow, 'utf8');
      assert.ok(text.includes('at most 10 words'));
      await writeFile(r.workflow, text.replace('at most 10 words', 'at most 8 words'));
      const third = await r.json(MODEL);
      assert.equal(third.code, 0, third.stderr);
      const sent = r.modelCalls().slice(4).map((c) => c.prompt.split('\n')[0]);
      assert.deepEqual(sent.sort(), ['Write a headline of at most 8 words for this postmortem:', 'Write the newsletter entry: the headline as a heading, then the summary, then the checklist.']);
      assert.equal(third.report.cache.hits, 2);
    },
  },

  'review-diff': {
    async test(r) {
      const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=Recipe Test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd: r.dir, stdio: 'pipe' });
      git('init', '-q');
      await writeFile(join(r.dir, 'cart.py'), 'def total(items):\n    return sum(items)\n');
      git('add', '-A');
      git('commit', '-qm', 'first');
      await writeFile(join(r.dir, 'cart.py'), 'def total(items, discount):\n    return sum(items) - discount\n');

      const changed = await r.json([], ECHO);
      assert.equal(changed.code, 0, changed.stderr);
      assert.match(changed.report.outputs.changed, /cart\.py \| 4 \+\+--/);
      assert.equal(changed.report.outputs.review, join(r.dir, 'out/review.md'));
      const review = await readFile(join(r.dir, 'out/review.md'), 'utf8');
      assert.match(review, /^# Review of changes since HEAD\n/);
      assert.ok(review.includes('\n-    return sum(items)\n+def total(items, discount):\n+    return sum(items) - discount\n'), review);

      // A value is one argument, never shell syntax: git gets one odd revision name and refuses it.
      const hostile = await r.json(['-i', 'base=HEAD; touch pwned'], ECHO);
      assert.equal(hostile.code, 1, hostile.stderr);
      // diff and stat run at once: whichever git exits first fails its step, and the other may be cancelled.
      const codes = [hostile.report.steps.diff.errorCode, hostile.report.steps.stat.errorCode];
      assert.ok(codes.includes('command_failed'), JSON.stringify(codes));
      assert.match(hostile.report.error ?? JSON.stringify(hostile.report.steps), /HEAD; touch pwned/);
      assert.equal(existsSync(join(r.dir, 'pwned')), false);

      // Nothing changed: nothing to review, nothing written.
      git('commit', '-qam', 'second');
      await rm(join(r.dir, 'out'), { recursive: true });
      const clean = await r.json([], ECHO);
      assert.equal(clean.code, 0, clean.stderr);
      assert.deepEqual([clean.report.steps.review.status, clean.report.steps.save.status], ['skipped', 'skipped']);
      assert.equal(existsSync(join(r.dir, 'out/review.md')), false);
    },
  },

  'fetch-extract-csv': {
    async test(r) {
      const page = await readFile(join(r.dir, 'sample/desks.html'), 'utf8');
      serve('/catalog/desks.html', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(page);
      });
      answer = (c) =>
        c.prompt.includes('<li class="product">')
          ? JSON.stringify({
              products: [
                { name: 'Birch standing desk, 140 cm', price: 489, in_stock: true },
                { name: 'Compact writing desk', price: 129.5, in_stock: false },
                { name: 'Corner desk with shelves', price: 249, in_stock: true },
              ],
            })
          : 'not a catalogue page';
      const { code, stderr, report } = await r.json([...MODEL, '-i', `api=${server.url}`]);
      assert.equal(code, 0, stderr);
      assert.equal(report.outputs.products.length, 3);
      assert.equal(
        await readFile(join(r.dir, 'out/products.csv'), 'utf8'),
        'name,price,in_stock\n"Birch standing desk, 140 cm",489,true\n"Compact writing desk",129.5,false\n"Corner desk with shelves",249,true\n',
      );
      const [fetched, asked] = r.received();
      assert.deepEqual([fetched!.method, fetched!.url, fetched!.headers['accept']], ['GET', '/catalog/desks.html', 'text/html']);
      assert.equal(asked!.path, '/v1/chat/completions');
      assert.ok(r.modelCalls()[0]!.prompt.includes('$129.50'), 'the page went into the prompt');
      assert.equal(r.modelCalls().length, 1);
    },
  },

  'api-pages': {
    async test(r, t) {
      const path = '/api/v1/projects/web-shop/issues';
      serve(path, async (req, res) => {
        const n = new URL(req.url, 'http://x').searchParams.get('page');
        reply(res, 200, JSON.parse(await readFile(join(r.dir, `sample/page-${n}.json`), 'utf8')));
      });
      const { code, stderr, report } = await r.json(['-i', `api=${server.url}`], ECHO);
      assert.equal(code, 0, stderr);
      const asked = r.received().map((q) => new URL(q.url, 'http://x'));
      assert.ok(asked.every((u) => u.pathname === path && u.searchParams.get('state') === 'open' && u.searchParams.get('per_page') === '50'));
      assert.deepEqual(asked.map((u) => u.searchParams.get('page')).sort(), ['1', '2', '3'], 'each page once');
      const pages = JSON.parse(await readFile(join(r.dir, 'out/issues.json'), 'utf8')) as { page: number; items: { id: number }[] }[];
      assert.deepEqual(pages.map((p) => p.page), [1, 2, 3], 'in page order');
      for (const id of [412, 418, 431, 437, 450]) assert.ok(report.outputs.triage.includes(`"id":${id}`), `issue ${id} reached the model`);

      const more = await r.json(['-i', `api=${server.url}`, '-i', 'pages=[2,3]'], ECHO);
      assert.equal(more.code, 0, more.stderr);
      assert.deepEqual(more.report.steps.fetch.output.map((p: { page: number }) => p.page), [2, 3]);

      // Offline as the README says: sample-api.mjs answers ?page=N from sample/page-N.json.
      await rm(join(r.dir, 'out'), { recursive: true });
      const offline = await runOffline(r, t, 'api-pages');
      assert.equal(offline.code, 0, offline.stderr);
      const served = JSON.parse(await readFile(join(r.dir, 'out/issues.json'), 'utf8')) as unknown[];
      assert.deepEqual(served, await Promise.all([1, 2, 3].map(async (n) => JSON.parse(await readFile(join(RECIPES, `api-pages/sample/page-${n}.json`), 'utf8')))));
      assert.match(offline.stdout, /^pages: .*out\/issues\.json$/m);
      for (const id of [412, 418, 431, 437, 450]) assert.ok(offline.stdout.includes(`"id":${id}`), `issue ${id} reached the model`);
    },
  },

  'nightly-report': {
    async test(r, t) {
      serve('/v1/reports/daily', async (_req, res) => reply(res, 200, JSON.parse(await readFile(join(r.dir, 'sample/daily-2026-11-30.json'), 'utf8'))));
      answer = () => '## 2026-11-30\n\nOrders up 3 %. p95 API latency 412 ms, over its 400 ms threshold.';

      const missing = await r.cli(['run', r.workflow, ...MODEL]);
      assert.equal(missing.code, 2, 'the date is required');
      assert.equal(r.received().length, 0, 'nothing was sent');

      const { code, stderr, report } = await r.json([...MODEL, '-i', 'date=2026-11-30', '-i', `api=${server.url}`]);
      assert.equal(code, 0, stderr);
      assert.equal(r.received()[0]!.url, '/v1/reports/daily?date=2026-11-30');
      assert.match(r.modelCalls()[0]!.prompt, /"p95_api_latency_ms"/);
      assert.equal(report.outputs.report, join(r.dir, 'reports/2026-11-30.md'));
      assert.equal(await readFile(join(r.dir, 'reports/2026-11-30.md'), 'utf8'), `${answer(r.modelCalls()[0]!)}\n`);
      // The cost is the stand-in's tokens × config.prices, and the history says the same.
      const { inputTokens, outputTokens } = report.outputs.tokens;
      assert.ok(inputTokens > 0 && outputTokens > 0);
      near(report.cost.usd, (inputTokens * 0.15 + outputTokens * 0.6) / 1e6, 'cost');
      const runs = await r.cli(['runs', '--json', '--limit', '1']);
      assert.equal(runs.code, 0, runs.stderr);
      const [last] = JSON.parse(runs.stdout);
      assert.equal(last.id, report.runId);
      near(last.costUsd, report.cost.usd, 'runs --json');

      // Offline as the README says: sample-api.mjs answers ?date=2026-11-30 from sample/daily-2026-11-30.json.
      await rm(join(r.dir, 'reports'), { recursive: true });
      const offline = await runOffline(r, t, 'nightly-report');
      assert.equal(offline.code, 0, offline.stderr);
      assert.match(offline.stdout, /^report: .*reports\/2026-11-30\.md$/m);
      const written = await readFile(join(r.dir, 'reports/2026-11-30.md'), 'utf8');
      assert.match(written, /^Write the daily report for 2026-11-30 in Markdown/m);
      assert.ok(written.includes('"name":"p95_api_latency_ms","value":412'), written);
    },
  },

  'run-on-workers': {
    options: redis.options,
    async test(r, t) {
      answer = (c) => `(${/into (\w+)\./.exec(c.prompt)![1]}) ${c.prompt.split('\n').at(-2)}`;
      const inProcess = await r.json(MODEL);
      assert.equal(inProcess.code, 0, inProcess.stderr);

      const prefix = testPrefix();
      const queue = `${REDIS_URL}?prefix=${prefix.slice(0, -1)}`;
      const store = join(r.home, 'queue.db');
      const client = testRedis();
      const worker = conductor(['worker', '--queue', queue, '--store', store], {
        cwd: tmpdir(),
        env: { CONDUCTOR_HOME: r.home, OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'test-key-0123456789' },
      });
      let log = '';
      t.after(async () => {
        worker.child.kill('SIGKILL');
        await worker.done;
        await deleteKeys(client, prefix);
        client.disconnect();
      });
      await new Promise<void>((resolve, reject) => {
        worker.child.stderr!.on('data', (d: Buffer) => {
          log += d;
          if (log.includes('takes steps from')) resolve();
        });
        void worker.done.then((w) => reject(new Error(`the worker exited (${w.code}) before it was ready:\n${w.stderr}`)));
      });
      const name = /worker (\S+) takes steps/.exec(log)![1];

      const before = r.modelCalls().length;
      const queued = await r.json([...MODEL, '--queue', queue, '--store', store]);
      assert.equal(queued.code, 0, queued.stderr);
      assert.deepEqual(queued.report.outputs, inProcess.report.outputs);
      assert.deepEqual(queued.report.steps.translate.output, inProcess.report.steps.translate.output);
      // The model calls ran on the worker, the file steps in the run's own process.
      assert.deepEqual(queued.report.steps.translate.items.map((i: { worker?: string }) => i.worker), [name, name, name, name]);
      assert.equal(queued.report.steps.notes.worker, undefined);
      assert.equal(queued.report.steps.save.worker, undefined);
      assert.equal(r.modelCalls().length - before, 4);
      for (const i of [0, 1, 2, 3]) assert.match(log, new RegExp(`step translate\\[${i}\\] succeeded`));
      assert.match(JSON.parse(await readFile(join(r.dir, 'out/translations.json'), 'utf8'))[3], /^\(Japanese\) /);
    },
  },
};

describe('docs/recipes', { timeout: 300_000 }, () => {
  const folders = readdirSync(RECIPES, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();

  it('has at least ten recipes, each with a workflow.yaml and a README.md, and an index linking each', async () => {
    assert.ok(folders.length >= 10, `${folders.length} recipes`);
    const index = await readFile(join(RECIPES, 'README.md'), 'utf8');
    for (const slug of folders) {
      assert.ok(existsSync(join(RECIPES, slug, 'workflow.yaml')), `${slug}/workflow.yaml`);
      assert.ok(existsSync(join(RECIPES, slug, 'README.md')), `${slug}/README.md`);
      assert.ok(index.includes(`](${slug}/)`), `the index links ${slug}/`);
    }
    for (const slug of Object.keys(tests)) assert.ok(folders.includes(slug), `a test for ${slug}, which is not a folder`);
  });

  for (const slug of folders) {
    const entry = tests[slug];
    it(`${slug} runs as its README says`, entry?.options ?? {}, async (t) => {
      assert.ok(entry, `docs/recipes/${slug}/ has no test in test/recipes.test.ts`);
      answer = (r) => `answer: ${r.prompt}`;
      usage = undefined;
      api = (_req, res) => reply(res, 404, { error: 'no such page' });
      const recipe = await copyRecipe(t, slug);
      await entry.test(recipe, t);
    });
  }
});

/**
 * foreach, if and continueOnError through the CLI: `plan` (text, --json, Mermaid, DOT), the plain log and the
 * closing summary of a real run against the stand-in.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteRunStore } from '../src/store/sqlite.ts';
import { run } from './support/cli.ts';
import { fingerprints } from './support/seed.ts';
import { reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

const workflowText = (url: string) => `inputs:
  mode: { type: string, default: live }
steps:
  - id: list
    http: { url: "${url}/flow/list" }
  - id: titles
    foreach: [a, b, c]
    llm: { model: "echo:x", prompt: "title \${item}" }
  - id: summarize
    foreach: \${steps.list.output}
    as: doc
    maxConcurrency: 2
    continueOnError: true
    retry: { attempts: 1 }
    http: { url: "${url}/flow/item?n=\${doc}" }
  - id: classify
    llm: { model: "echo:x", prompt: "urgency" }
  - id: urgent
    if: steps.classify.output == "urgent" && inputs.mode != "dry-run"
    llm: { model: "echo:x", prompt: "escalate" }
  - id: combine
    llm: { model: "echo:x", prompt: "\${steps.summarize.output} \${steps.titles.output}" }
`;

describe('plan with foreach, if and continueOnError', { timeout: 180_000 }, () => {
  it('shows ×N, × items of <list>, conditions on edges and continueOnError, in every format', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, workflowText(server.url));
    const text = await run(['plan', file, '--no-store']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^1\. list, titles ×3, classify   \(in parallel\)$/m);
    assert.match(text.stdout, /^2\. summarize × items of list \(continueOnError\), urgent \(if\)   \(in parallel\)$/m);
    assert.match(text.stdout, /^ {5}urgent ← classify \(if: steps\.classify\.output == "urgent" && inputs\.mode != "dry-run"\)$/m);
    assert.match(text.stdout, /^ {5}summarize × items of list: up to 2 items at once$/m);
    assert.match(text.stdout, /^Calls: 6 LLM calls, 1 HTTP request \+ 1 per item of list \(before retries; 1 step runs only if its condition holds\)$/m);

    const json = JSON.parse((await run(['plan', file, '--no-store', '--format', 'json'])).stdout);
    assert.deepEqual(json.steps.titles.foreach, { count: 3 });
    assert.deepEqual(json.steps.summarize.foreach, { of: 'list', maxConcurrency: 2 });
    assert.equal(json.steps.summarize.continueOnError, true);
    assert.equal(json.steps.urgent.condition, 'steps.classify.output == "urgent" && inputs.mode != "dry-run"');
    assert.deepEqual(json.steps.urgent.reasons, [{ step: 'classify', kind: 'condition', detail: 'steps.classify.output == "urgent" && inputs.mode != "dry-run"' }]);
    assert.deepEqual(json.steps.classify, { action: 'llm', dependsOn: [], reasons: [] }, 'a plain step keeps its shape');
    assert.deepEqual(json.calls, { llm: 6, http: 1, fileWrites: 0, fileReads: 0, commands: 0, perItem: [{ step: 'summarize', of: 'list', call: 'http' }] });

    const mermaid = (await run(['plan', file, '--no-store', '--format', 'mermaid'])).stdout;
    assert.match(mermaid, /^ {2}s_titles\["titles ×3 · llm"\]$/m);
    assert.match(mermaid, /^ {2}s_classify -->\|"if: steps\.classify\.output == #34;urgent#34; #38;#38; inputs\.mode != #34;dry-run#34;"\| s_urgent$/m);
    const dot = (await run(['plan', file, '--no-store', '--format', 'dot'])).stdout;
    assert.match(dot, /^ {2}"summarize" \[label="summarize × items of list\\nhttp\\ncontinueOnError"[^\]]*style="rounded,dashed"\];$/m);
    assert.match(dot, /^ {2}"classify" -> "urgent" \[label="if: steps\.classify\.output == \\"urgent\\" && inputs\.mode != \\"dry-run\\""/m);
  });
});

describe('plan with a list given as an input', { timeout: 180_000 }, () => {
  it('counts its items once `-i` gives the list, and says it cannot before', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `inputs:\n  pages: { type: array }\nsteps:\n  - id: each\n    foreach: \${inputs.pages}\n    http: { url: "http://127.0.0.1:1/p/\${item}" }\n`);
    const given = await run(['plan', file, '-i', 'pages=[1,2,3]', '--no-store']);
    assert.equal(given.code, 0, given.stderr);
    assert.match(given.stdout, /^1\. each ×3$/m);
    assert.match(given.stdout, /3 HTTP requests/);
    const unknown = await run(['plan', file, '--no-store']);
    assert.match(unknown.stdout, /each × items of inputs\.pages/);
  });
});

describe('plan after runs with a foreach step', { timeout: 180_000 }, () => {
  it('expects its items to take the slots they run in: 8 items of 100 ms, 2 at once, beside a 300 ms step', async (t) => {
    const dir = await tempDir(t);
    server.fallback((req, res) => reply(res, 200, req.path));
    const file = await writeWorkflow(dir, `config:\n  maxConcurrency: 3\nsteps:\n  - id: long\n    http: { url: "${server.url}/est/long" }\n  - id: each\n    foreach: [1, 2, 3, 4, 5, 6, 7, 8]\n    maxConcurrency: 2\n    http: { url: "${server.url}/est/each?n=\${item}" }\n`);
    const db = join(dir, 'runs.db');
    const real = await run(['run', file, '--json', '--store', db]);
    assert.equal(real.code, 0, real.stderr);
    // Three more runs with the times a test can rely on outvote what this machine took (medians).
    const fingerprint = await fingerprints(db, JSON.parse(real.stdout).runId);
    const store = new SqliteRunStore(db);
    try {
      for (let k = 1; k <= 3; k++) {
        const id = `e0000000-0000-4000-8000-00000000000${k}`;
        const at = Date.now() + k * 10_000;
        await store.startRun({ id, workflow: file, workflowHash: 'seeded', inputs: {}, startedAt: at, steps: [{ stepId: 'long', fingerprint: fingerprint['long']!, dependsOn: [] }, { stepId: 'each', fingerprint: fingerprint['each']!, dependsOn: [] }] });
        for (let i = 0; i < 8; i++) {
          const start = at + Math.floor(i / 2) * 100;
          await store.recordItem(id, 'each', { index: i, key: `k${i}`, status: 'succeeded', output: i, attempts: 1, startedAt: start, finishedAt: start + 100 });
        }
        await store.recordStep(id, 'each', { status: 'succeeded', output: [], itemCount: 8, attempts: 1, startedAt: at, finishedAt: at + 400 });
        await store.recordStep(id, 'long', { status: 'succeeded', output: 'long', attempts: 1, startedAt: at, finishedAt: at + 300 });
        await store.finishRun(id, { status: 'succeeded', finishedAt: at + 400, outputs: {} });
      }
    } finally {
      await store.close();
    }
    const plan = async (...args: string[]) => JSON.parse((await run(['plan', file, '--format', 'json', '--store', db, ...args])).stdout);
    const three = await plan();
    assert.equal(three.steps.each.expectedItemMs, 100);
    assert.equal(three.steps.each.expectedMs, 400);
    assert.deepEqual(three.expected, { ms: 400, criticalPathMs: 400, timedSteps: 2 });
    // At limit 2 its items hold both slots until the last two start (it has more time left): then long runs.
    assert.equal((await plan('--max-concurrency', '2')).expected.ms, 700);
    assert.match((await run(['plan', file, '--store', db, '--max-concurrency', '2'])).stdout, /^Expected time: about 700 ms, from earlier runs \(2 of 2 steps timed\)$/m);
  });
});

describe('a run with continued item failures, in the log and the summary', { timeout: 180_000 }, () => {
  it('prints failed items, not every item; exits 0; the summary lists the failures by index and the skips by reason', async (t) => {
    const dir = await tempDir(t);
    server.route('/flow/list', (_req, res) => reply(res, 200, [1, 2, 3, 4, 5, 6, 7, 8], { 'content-type': 'application/json' }));
    server.route('/flow/item', (req, res) => (/n=(3|7)$/.test(req.url) ? reply(res, 500, 'boom') : reply(res, 200, req.url)));
    const file = await writeWorkflow(dir, workflowText(server.url));
    const result = await run(['run', file, '--no-store']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stderr.split('\n');
    assert.deepEqual(lines.filter((l) => /summarize\[\d\] failed/.test(l)).map((l) => l.match(/summarize\[(\d)\]/)![1]).sort(), ['2', '6']);
    assert.equal(lines.filter((l) => /^ {2}\S summarize\b/.test(l)).length, 5, `started, 8 items, 2 failed items, the end; no line per item:\n${result.stderr}`);
    assert.match(result.stderr, /^ {2}▸ summarize 8 items$/m);
    assert.match(result.stderr, /^ {2}! summarize failed in .+, continued: 2 of 8 items failed$/m);
    assert.match(result.stderr, /^ {2}− urgent skipped: condition false$/m);
    assert.match(result.stderr, /^ {2}− combine skipped: a dependency failed$/m);
    assert.match(result.stderr, /^✓ succeeded in .+ \(\d succeeded, 1 failed and continued, 2 skipped\)$/m);
    assert.match(result.stderr, /^ {2}! continued after failure: summarize\n {4}summarize: 2 of 8 items failed\n {6}\[2\] .*500.*\n {6}\[6\] .*500/m);
    assert.match(result.stderr, /^ {2}− skipped \(condition false\): urgent$/m);
  });
});

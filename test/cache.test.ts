/**
 * The step cache through the CLI, as users meet it: stand-ins count the requests each run sends, so "answered
 * from the cache" is what the server did not see, not what the report claims. Each test has a store of its
 * own, and a model (or path) of its own on the shared stand-in.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../src/core/report.ts';
import { run } from './support/cli.ts';
import { addLlmRoutes, type ChatRequest } from './support/llm-stand-ins.ts';
import { reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
const seen = new Map<string, ChatRequest[]>();
before(async () => {
  server = addLlmRoutes(await StandIn.start(), {
    intercept: (r) => {
      seen.set(r.model, [...(seen.get(r.model) ?? []), r]);
      return false;
    },
  });
  // Every other path: a JSON answer naming the request; `/echo-auth/…` sends the Authorization header back.
  server.fallback((req, res) => reply(res, 200, req.path.startsWith('/echo-auth/') ? { auth: req.headers['authorization'] } : { path: req.path, method: req.method }));
});
after(() => server.close());

const DAY = 86_400_000;
const TOKEN = 'tok-5f2a9c81e6d04b7f';
/** What the llm stand-in has received for `model` so far. */
const sent = (model: string) => seen.get(model) ?? [];
const httpSent = (path: string, method = 'GET') => server.byPath(path).filter((r) => r.method === method).length;

interface Workspace {
  dir: string;
  store: string;
  /** Runs the CLI on `file` with the store and the stand-in's environment; `--json` parsed. */
  conduct(file: string, ...args: string[]): Promise<{ code: number | null; stderr: string; report: RunReport }>;
  cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Sets when every cache entry whose action is `action` (or all) was made. */
  age(ms: number, where?: string): void;
}

async function workspace(t: { after(fn: () => unknown): void }): Promise<Workspace> {
  const dir = await tempDir(t);
  const store = join(dir, 'runs.db');
  const env = { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'sk-test-0123456789abcdef', API_TOKEN: TOKEN };
  const cli = (...args: string[]) => run([...args, '--store', store], { env, cwd: dir });
  return {
    dir,
    store,
    cli,
    async conduct(file, ...args) {
      const result = await cli('run', file, '--json', ...args);
      return { code: result.code, stderr: result.stderr, report: JSON.parse(result.stdout || '{}') as RunReport };
    },
    age(ms, where = '1') {
      const db = new DatabaseSync(store);
      db.prepare(`UPDATE cache_entries SET created_at = ? WHERE ${where}`).run(Date.now() - ms);
      db.close();
    },
  };
}

/** `count` llm steps, each its own prompt; `prompt(i)` overrides one. */
function llmSteps(model: string, count: number, prompt = (i: number) => `question ${i}`, extra = ''): string {
  return `${extra}steps:\n${Array.from({ length: count }, (_, i) => `  - id: s${i}\n    llm: { model: "openai:${model}", prompt: "${prompt(i)}" }\n`).join('')}`;
}

describe('the step cache', { timeout: 300_000 }, () => {
  it('answers a second identical run with --cache from the cache: nothing sent, every step cached, the hits reported and recorded', async (t) => {
    const w = await workspace(t);
    const file = await writeWorkflow(w.dir, llmSteps('cache-ten', 10) + 'outputs:\n  last: ${steps.s9.output}\n');
    const first = await w.conduct(file, '--cache');
    assert.equal(first.code, 0, first.stderr);
    assert.equal(sent('cache-ten').length, 10);
    assert.deepEqual(first.report.cache, { hits: 0, savedUsd: 0, savedTokens: 0 });
    assert.ok(Object.values(first.report.steps).every((s) => s.cached === undefined));

    const second = await w.conduct(file, '--cache');
    assert.equal(second.code, 0, second.stderr);
    assert.equal(sent('cache-ten').length, 10, 'no request sent');
    assert.ok(Object.values(second.report.steps).every((s) => s.status === 'succeeded' && s.cached === true));
    assert.equal(second.report.cache?.hits, 10);
    // The stand-in counts a token a word: "question N" in, "openai: question N" out.
    assert.equal(second.report.cache?.savedTokens, 10 * (2 + 3));
    assert.deepEqual(second.report.outputs, first.report.outputs);
    assert.deepEqual(second.report.usage, {}, 'a hit uses no tokens');
    const shown = await w.cli('runs', 'show', second.report.runId, '--json');
    const record = JSON.parse(shown.stdout) as { steps: { cached?: boolean }[] };
    assert.ok(record.steps.every((s) => s.cached === true), 'the store records each step as cached');

    // Editing one prompt of ten re-sends exactly that one.
    await writeWorkflow(w.dir, llmSteps('cache-ten', 10, (i) => (i === 4 ? 'question four, reworded' : `question ${i}`)) + 'outputs:\n  last: ${steps.s9.output}\n');
    const edited = await w.conduct(file, '--cache');
    assert.equal(edited.code, 0, edited.stderr);
    assert.deepEqual(sent('cache-ten').slice(10).map((r) => r.prompt), ['question four, reworded']);
    assert.equal(edited.report.steps['s4']!.cached, undefined);
    assert.equal(edited.report.cache?.hits, 9);
  });

  it('misses for another model or temperature, and hits the original again', async (t) => {
    const w = await workspace(t);
    const file = (model: string, extra = '') => writeWorkflow(w.dir, `steps:\n  - id: a\n    llm: { model: "openai:${model}", prompt: "same words"${extra} }\n`);
    await w.conduct(await file('cache-m1'), '--cache');
    await w.conduct(await file('cache-m1', ', temperature: 0.7'), '--cache');
    await w.conduct(await file('cache-m2'), '--cache');
    assert.equal(sent('cache-m1').length, 2, 'another temperature is another request');
    assert.equal(sent('cache-m2').length, 1, 'another model is another request');
    const again = await w.conduct(await file('cache-m1'), '--cache');
    assert.equal(sent('cache-m1').length, 2);
    assert.equal(again.report.steps['a']!.cached, true);
  });

  it('takes an entry only while it is younger than the TTL, from config.cache or the step', async (t) => {
    const w = await workspace(t);
    const file = await writeWorkflow(w.dir, `config:\n  cache: { ttl: 1d }\nsteps:\n  - id: a\n    llm: { model: "openai:cache-ttl", prompt: "a" }\n  - id: b\n    cache: { ttl: 3d }\n    llm: { model: "openai:cache-ttl", prompt: "b" }\n`);
    await w.conduct(file);
    assert.equal(sent('cache-ttl').length, 2, 'config.cache turns it on without --cache');
    await w.conduct(file);
    assert.equal(sent('cache-ttl').length, 2);
    w.age(2 * DAY);
    const expired = await w.conduct(file);
    assert.deepEqual(sent('cache-ttl').slice(2).map((r) => r.prompt), ['a'], 'a day at most for a; three days for b');
    assert.equal(expired.report.steps['b']!.cached, true);
    await w.conduct(file);
    assert.equal(sent('cache-ttl').length, 3, 'sent again, and kept again');
    // --no-cache: everything sent, nothing taken or reported.
    const off = await w.conduct(file, '--no-cache');
    assert.equal(sent('cache-ttl').length, 5);
    assert.equal(off.report.cache, undefined);
  });

  it('is emptied by `cache clear`, or only of entries older than `--older-than`; `cache stats` counts them', async (t) => {
    const w = await workspace(t);
    const file = await writeWorkflow(w.dir, llmSteps('cache-clear', 2));
    await w.conduct(file, '--cache');
    await w.conduct(file, '--cache');
    w.age(10 * DAY, "key IN (SELECT key FROM cache_entries ORDER BY rowid LIMIT 1)");
    const stats = JSON.parse((await w.cli('cache', 'stats', '--json')).stdout) as { action: string; entries: number; hits: number }[];
    assert.deepEqual(stats.map((s) => [s.action, s.entries, s.hits]), [['llm', 2, 2]]);
    assert.match((await w.cli('cache', 'stats')).stdout, /^ACTION\s+ENTRIES.*\nllm\s+2\s/);

    const bad = await w.cli('cache', 'clear', '--older-than', 'a week');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /`--older-than a week`: expected a duration\n\s+hint: .*7d/);
    assert.equal((await w.cli('cache', 'clear', '--older-than', '7d')).stdout, 'removed 1 cache entry made more than 7d ago\n');
    await w.conduct(file, '--cache');
    assert.equal(sent('cache-clear').length, 3, 'the older one was sent again');
    assert.equal((await w.cli('cache', 'clear')).stdout, 'removed 2 cache entries\n');
    assert.equal((await w.cli('cache', 'stats')).stdout, 'the step cache is empty\n');
    await w.conduct(file, '--cache');
    assert.equal(sent('cache-clear').length, 5);
  });

  it('caches an http GET when on for the run, a POST only when its step says `cache: true`', async (t) => {
    const w = await workspace(t);
    const file = await writeWorkflow(w.dir, `steps:
  - id: get
    http: { url: "${server.url}/cache-http/get" }
  - id: post
    http: { url: "${server.url}/cache-http/post", method: POST, body: { n: 1 } }
  - id: postCached
    cache: true
    http: { url: "${server.url}/cache-http/post-cached", method: POST, body: { n: 1 } }
  - id: shell
    shell: { run: "echo hi" }
`);
    await w.conduct(file, '--cache');
    const second = await w.conduct(file, '--cache');
    assert.deepEqual([httpSent('/cache-http/get'), httpSent('/cache-http/post', 'POST'), httpSent('/cache-http/post-cached', 'POST')], [1, 2, 1]);
    assert.deepEqual(Object.fromEntries(Object.entries(second.report.steps).map(([id, s]) => [id, s.cached ?? false])), { get: true, post: false, postCached: true, shell: false });
    assert.deepEqual(second.report.steps['postCached']!.output, { path: '/cache-http/post-cached', method: 'POST' });
  });

  it('never keeps a result from which a secret was redacted, nor a secret anywhere in the store', async (t) => {
    const w = await workspace(t);
    const file = await writeWorkflow(w.dir, `steps:
  - id: echoes
    http: { url: "${server.url}/echo-auth/a", headers: { Authorization: "Bearer \${env.API_TOKEN}" } }
  - id: plain
    http: { url: "${server.url}/cache-secret/b", headers: { Authorization: "Bearer \${env.API_TOKEN}" } }
`);
    const first = await w.conduct(file, '--cache');
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(first.report.steps['echoes']!.output, { auth: '***' });
    const second = await w.conduct(file, '--cache');
    assert.equal(httpSent('/echo-auth/a'), 2, 'its answer held the token: sent again');
    assert.equal(second.report.steps['echoes']!.cached, undefined);
    assert.equal(httpSent('/cache-secret/b'), 1, 'a request with a credential is cached by its hash');
    assert.equal(second.report.steps['plain']!.cached, true);
    for (const suffix of ['', '-wal']) {
      const bytes = await readFile(w.store + suffix).catch(() => Buffer.alloc(0));
      assert.equal(bytes.includes(TOKEN), false, `runs.db${suffix} holds no token`);
    }
  });

  it('shares an entry between two workflows sending the same request from steps of other names', async (t) => {
    const w = await workspace(t);
    const one = await writeWorkflow(w.dir, `steps:\n  - id: first\n    llm: { model: "openai:cache-share", prompt: "shared words" }\n`, 'one.yaml');
    const two = await writeWorkflow(w.dir, `steps:\n  - id: warmup\n    llm: { model: "openai:cache-share", prompt: "other words" }\n  - id: second\n    depends_on: [warmup]\n    llm: { model: "openai:cache-share", prompt: "shared words" }\n`, 'two.yaml');
    await w.conduct(one, '--cache');
    const other = await w.conduct(two, '--cache');
    assert.deepEqual(sent('cache-share').map((r) => r.prompt), ['shared words', 'other words']);
    assert.equal(other.report.steps['second']!.cached, true);
    assert.equal(other.report.steps['second']!.output, 'openai: shared words');
  });

  it('caches a foreach step item by item: a list that grew sends only its new items', async (t) => {
    const w = await workspace(t);
    const list = (items: string[]) => writeWorkflow(w.dir, `steps:\n  - id: each\n    foreach: [${items.join(', ')}]\n    llm: { model: "openai:cache-items", prompt: "about \${item}" }\n`);
    await w.conduct(await list(['x', 'y', 'z']), '--cache');
    assert.equal(sent('cache-items').length, 3);
    const same = await w.conduct(await list(['x', 'y', 'z']), '--cache');
    assert.equal(sent('cache-items').length, 3);
    assert.equal(same.report.steps['each']!.cached, true, 'every item was');
    const grown = await w.conduct(await list(['w', 'x', 'y', 'z']), '--cache');
    assert.deepEqual(sent('cache-items').slice(3).map((r) => r.prompt), ['about w']);
    assert.deepEqual(grown.report.steps['each']!.items!.map((i) => i.cached ?? false), [false, true, true, true]);
    assert.equal(grown.report.steps['each']!.cached, undefined);
    assert.deepEqual(grown.report.steps['each']!.output, ['openai: about w', 'openai: about x', 'openai: about y', 'openai: about z']);
  });

  it('refuses --cache with --no-cache, or with --no-store, before anything is sent', async (t) => {
    const w = await workspace(t);
    const file = await writeWorkflow(w.dir, llmSteps('cache-usage', 1));
    const both = await w.cli('run', file, '--cache', '--no-cache');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /`--cache` and `--no-cache` cannot be given together/);
    const noStore = await run(['run', file, '--cache', '--no-store'], { cwd: w.dir, env: { OPENAI_API_KEY: 'sk-test-0123456789abcdef', OPENAI_BASE_URL: `${server.url}/v1` } });
    assert.equal(noStore.code, 2);
    assert.match(noStore.stderr, /`--cache` needs the run store/);
    const resumed = await w.cli('resume', 'nothing', '--cache', '--no-cache');
    assert.equal(resumed.code, 2);
    assert.equal(sent('cache-usage').length, 0);
  });

  it('serves a resume run with --cache: a step it still has to run takes an answer kept by another run', async (t) => {
    const w = await workspace(t);
    let up = false;
    server.route('/cache-resume/flaky', (_req, res) => reply(res, up ? 200 : 404, { up }));
    const other = await writeWorkflow(w.dir, `steps:\n  - id: elsewhere\n    llm: { model: "openai:cache-resume", prompt: "the last word" }\n`, 'other.yaml');
    await w.conduct(other, '--cache');
    const file = await writeWorkflow(w.dir, `steps:
  - id: flaky
    http: { url: "${server.url}/cache-resume/flaky" }
  - id: last
    depends_on: [flaky]
    llm: { model: "openai:cache-resume", prompt: "the last word" }
`);
    const failed = await w.conduct(file);
    assert.equal(failed.code, 1);
    up = true;
    const resumed = await w.cli('resume', failed.report.runId, '--cache', '--json');
    assert.equal(resumed.code, 0, resumed.stderr);
    const report = JSON.parse(resumed.stdout) as RunReport;
    assert.equal(report.steps['last']!.cached, true);
    assert.equal(sent('cache-resume').length, 1);
  });

  it('tells in `plan` which steps will be answered from the cache', async (t) => {
    const w = await workspace(t);
    const file = await writeWorkflow(w.dir, `inputs:\n  topic: { type: string }\nsteps:\n  - id: a\n    llm: { model: "openai:cache-plan", prompt: "about \${inputs.topic}" }\n  - id: b\n    llm: { model: "openai:cache-plan", prompt: "more: \${steps.a.output}" }\n`);
    await w.conduct(file, '--cache', '-i', 'topic=owls');
    const plan = async (...args: string[]) => (JSON.parse((await w.cli('plan', file, '--cache', '--format', 'json', ...args)).stdout) as { steps: Record<string, { cache?: string }> }).steps;
    assert.deepEqual([(await plan('-i', 'topic=owls'))['a']!.cache, (await plan('-i', 'topic=owls'))['b']!.cache], ['hit', 'unknown']);
    assert.equal((await plan('-i', 'topic=bats'))['a']!.cache, 'miss');
    assert.match((await w.cli('plan', file, '--cache', '-i', 'topic=owls')).stdout, /\nStep cache: 1 hit \(a\), 1 known only during the run \(b\)\n/);
    assert.equal((await w.cli('plan', file)).stdout.includes('Step cache'), false, 'off for the run: nothing said');
    const stats = JSON.parse((await w.cli('cache', 'stats', '--json')).stdout) as { hits: number }[];
    assert.equal(stats[0]!.hits, 0, 'looking is not a hit');
  });
});

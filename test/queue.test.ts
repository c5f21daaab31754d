/**
 * Steps on workers (`--queue`), through the real CLI processes, the real Redis and stand-in providers:
 * the same report as in-process, a worker killed mid-run, a coordinator killed and resumed, a failure that
 * aborts in-flight calls on every worker, and a rate limit shared by three workers. Each test keeps its queue
 * under a prefix of its own and its runs in a store of its own. What is asserted is what the stand-in
 * received (calls per prompt, connections closed), never how long anything took.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../src/core/report.ts';
import { conductor, run } from './support/cli.ts';
import { addLlmRoutes, type ChatRequest } from './support/llm-stand-ins.ts';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import pg from 'pg';
import { deleteKeys, postgresService, redisService, testPrefix, testRedis, REDIS_URL } from './support/services.ts';
import { Gate, reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

const redis = await redisService();
const postgres = await postgresService();
const { Client } = pg;
/** Workers' job lock in these tests: long enough that a busy machine never takes a job from a live worker (a
 * stalled lock runs the job again); the test that kills a worker sets a short one. */
const LOCK_MS = '10000';

interface Worker {
  child: ChildProcess;
  /** What it printed so far (its log: one line per job). */
  log: () => string;
  done: Promise<{ code: number | null; stderr: string }>;
}

/** A queue of the test's own, a store of its own, workers started on them, and everything gone after. */
async function setUp(t: { after(fn: () => unknown): void }, env: Record<string, string> = {}, options: { postgres?: boolean } = {}) {
  const prefix = testPrefix();
  const queue = `${REDIS_URL}?prefix=${prefix.slice(0, -1)}`;
  const dir = await tempDir(t);
  const store = options.postgres ? await postgresSchema(t) : join(dir, 'runs.db');
  const workers: Worker[] = [];
  const client = testRedis();
  t.after(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.done));
    await deleteKeys(client, prefix);
    client.disconnect();
  });
  const startWorker = async (extra: string[] = [], workerEnv: Record<string, string> = {}): Promise<Worker> => {
    const { child, done } = conductor(['worker', '--queue', queue, '--store', store, ...extra], { env: { ...env, TMPDIR: dir, CONDUCTOR_WORKER_LOCK_MS: LOCK_MS, ...workerEnv } });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const worker: Worker = { child, log: () => stderr, done: done.then((r) => ({ code: r.code, stderr: r.stderr })) };
    workers.push(worker);
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (stderr.includes('takes steps from')) resolve();
      };
      child.stderr!.on('data', check);
      void done.then((r) => reject(new Error(`the worker exited (${r.code}) before it was ready:\n${r.stderr}`)));
    });
    return worker;
  };
  return { queue, store, dir, startWorker, env };
}

/** The test database with a schema of the test's own (dropped after): a store shared by every process of the test. */
async function postgresSchema(t: { after(fn: () => unknown): void }): Promise<string> {
  const pg = postgres;
  pg.assertReachable();
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const url = new URL(pg.url);
  url.searchParams.set('schema', schema);
  t.after(async () => {
    const admin = new URL(pg.url);
    if (admin.username === '' && !process.env['PGUSER']) admin.username = userInfo().username;
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });
  return url.toString();
}

/** What a report says apart from when, where and under which id: for comparing two runs of the same workflow. */
function comparable(report: RunReport): unknown {
  return {
    status: report.status,
    outputs: report.outputs,
    steps: Object.fromEntries(
      Object.entries(report.steps).map(([id, s]) => {
        const { startedAt, finishedAt, durationMs, worker, ...rest } = s as typeof s & { worker?: string };
        void startedAt, finishedAt, durationMs, worker;
        return [id, rest];
      }),
    ),
  };
}

// The timeout guards against a hang; it is not a time to beat (a dozen tests, some waiting out a killed worker's lock,
// on a machine running another test file beside this one).
describe('steps on workers (--queue)', { ...redis.options, concurrency: false, timeout: 300_000 }, () => {
  let server: StandIn;
  const calls = new Map<string, ChatRequest[]>();
  /** How the stand-in answers a prompt: held until the gate opens, refused, or at once. */
  let behaviour: (r: ChatRequest) => Promise<'answer' | 'hold'> | 'answer' | 'hold' = () => 'answer';
  const held: ChatRequest[] = [];
  let gate = new Gate();

  before(async () => {
    server = addLlmRoutes(await StandIn.start(), {
      intercept: async (r) => {
        calls.set(r.prompt, [...(calls.get(r.prompt) ?? []), r]);
        if ((await behaviour(r)) === 'hold') {
          held.push(r);
          await gate.wait();
        }
        return false;
      },
      answer: (r) => `answer to ${r.prompt}`,
    });
  });
  after(() => server?.close());
  const reset = () => {
    calls.clear();
    held.length = 0;
    gate = new Gate();
    behaviour = () => 'answer';
  };
  const llmEnv = () => ({ OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'sk-test-0123456789abcdef' });
  const fanOut = (items: number, extra = '') =>
    `name: fan\n${extra}steps:\n  - id: fan\n    foreach: [${Array.from({ length: items }, (_, i) => i).join(', ')}]\n    llm: { model: "openai:gpt-test", prompt: "item \${item}" }\noutputs:\n  all: \${steps.fan.output}\n`;

  it("the seed's mixed workflow on two workers gives the report it gives in-process", async (t) => {
    reset();
    const { queue, store, startWorker } = await setUp(t);
    const a = await startWorker();
    const b = await startWorker();
    const env = { CONDUCTOR_MODEL: 'echo' };
    const local = await run(['run', 'examples/mixed.yaml', '--json', '--store', store], { env });
    const queued = await run(['run', 'examples/mixed.yaml', '--json', '--store', store, '--queue', queue], { env });
    assert.equal(local.code, 0, local.stderr);
    assert.equal(queued.code, 0, queued.stderr);
    const [inProcess, onWorkers] = [JSON.parse(local.stdout) as RunReport, JSON.parse(queued.stdout) as RunReport];
    assert.deepEqual(comparable(onWorkers), comparable(inProcess));
    // The file step ran in the run's own process (the workflow's folder is there); every llm step on a worker.
    const workerOf = (id: string) => (onWorkers.steps[id] as { worker?: string }).worker;
    assert.equal(workerOf('read_file'), undefined);
    const names = [a, b].map((w) => /worker (\S+) takes steps/.exec(w.log())![1]);
    for (const id of ['process1', 'process2', 'process3', 'combine']) assert.ok(names.includes(workerOf(id)), `${id} ran on ${workerOf(id)}`);
    // `runs show` tells where each step ran, from the store.
    const shown = await run(['runs', 'show', onWorkers.runId, '--json', '--store', store]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok(names.includes(JSON.parse(shown.stdout).steps.find((s: { stepId: string }) => s.stepId === 'combine').worker), shown.stdout);
    const text = await run(['runs', 'show', onWorkers.runId, '--store', store]);
    assert.match(text.stdout, new RegExp(`combine .*\\n\\s+on worker ${workerOf('combine')!.replace('.', '\\.')}`), text.stdout);
  });

  it('a worker killed mid-run: the run completes, a recorded item is never called again, an item at most twice (a PostgreSQL store)', postgres.options, async (t) => {
    reset();
    const { queue, store, dir, startWorker } = await setUp(t, llmEnv(), { postgres: true });
    // Items 0–3 are answered at once (and recorded); the rest are held until one worker has been killed.
    behaviour = (r) => (['item 0', 'item 1', 'item 2', 'item 3'].includes(r.prompt) ? 'answer' : 'hold');
    // The worker to be killed holds its jobs with a short lock, so they move on in seconds once it is gone; the
    // survivor keeps the longer one (a stall on a busy machine must not hand its own jobs on).
    const a = await startWorker(['--concurrency', '3'], { CONDUCTOR_WORKER_LOCK_MS: '2000' });
    await startWorker(['--concurrency', '3']);
    const path = await writeWorkflow(dir, fanOut(12, 'config: { maxConcurrency: 12 }\n'));
    const running = conductor(['run', path, '--json', '--store', store, '--queue', queue], { env: llmEnv() });
    // Both workers full: six calls held, each worker three.
    await eventually(() => held.length === 6 && [0, 1, 2, 3].every((i) => calls.has(`item ${i}`)));
    const heldBeforeKill = held.map((r) => r.prompt);
    a.child.kill('SIGKILL');
    await a.done;
    gate.open();
    const result = await running.done;
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as RunReport;
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(report.outputs['all'], Array.from({ length: 12 }, (_, i) => `answer to item ${i}`));
    const twice = [...calls].filter(([, list]) => list.length > 1).map(([prompt]) => prompt);
    for (const [prompt, list] of calls) assert.ok(list.length <= 2, `${prompt} was called ${list.length} times`);
    // Only calls in flight on the killed worker ran again: at most its three.
    assert.ok(twice.length <= 3, `called twice: ${twice.join(', ')}`);
    for (const prompt of twice) assert.ok(heldBeforeKill.includes(prompt), `${prompt} ran twice but was not in flight when the worker died`);
    for (const i of [0, 1, 2, 3]) assert.equal(calls.get(`item ${i}`)!.length, 1, `item ${i} was recorded, and must not be called again`);
  });

  it('a coordinator killed mid-run, then resumed: what was recorded is reused, what was in flight is taken over, nothing is called twice', async (t) => {
    reset();
    const { queue, store, dir, startWorker } = await setUp(t, llmEnv());
    behaviour = (r) => (['item 0', 'item 1', 'item 2', 'item 3'].includes(r.prompt) ? 'answer' : 'hold');
    await startWorker(['--concurrency', '8']);
    const path = await writeWorkflow(dir, fanOut(8, 'config: { maxConcurrency: 8 }\n'));
    const coordinator = conductor(['run', path, '--json', '--store', store, '--queue', queue], { env: llmEnv() });
    await eventually(() => held.length === 4 && [0, 1, 2, 3].every((i) => calls.has(`item ${i}`)));
    coordinator.child.kill('SIGKILL');
    await coordinator.done;
    const runs = await run(['runs', '--json', '--store', store]);
    const runId = (JSON.parse(runs.stdout) as { id: string }[])[0]!.id;
    // The worker still holds items 4–7 for the dead coordinator: the resumed run takes them over (or takes their
    // answers, if they came first) instead of sending them again.
    const resuming = conductor(['resume', runId, '--json', '--store', store, '--queue', queue], { env: llmEnv() });
    gate.open();
    const resumed = await resuming.done;
    assert.equal(resumed.code, 0, resumed.stderr);
    const report = JSON.parse(resumed.stdout) as RunReport;
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(report.outputs['all'], Array.from({ length: 8 }, (_, i) => `answer to item ${i}`));
    for (const [prompt, list] of calls) assert.equal(list.length, 1, `${prompt} was called ${list.length} times`);
  });

  it('a failure aborts the calls in flight on every worker: the provider sees their connections closed', async (t) => {
    reset();
    const { queue, store, dir, startWorker } = await setUp(t, llmEnv());
    behaviour = () => 'hold';
    const a = await startWorker(['--concurrency', '5']);
    const b = await startWorker(['--concurrency', '5']);
    // `boom` is answered 404 once all eight calls are held; nothing depends on it, so the rest are in flight.
    let failNow = new Gate();
    server.route('/boom', async (_req, res) => {
      await failNow.wait();
      reply(res, 404, { error: 'no such thing' });
    });
    const text = `${fanOut(8, 'config: { maxConcurrency: 10 }\n').replace('outputs:', `  - id: boom\n    http: { url: "${server.url}/boom" }\noutputs:`)}`;
    const path = await writeWorkflow(dir, text);
    const running = conductor(['run', path, '--json', '--store', store, '--queue', queue], { env: llmEnv() });
    await eventually(() => held.length === 8 && server.byPath('/boom').length === 1);
    failNow.open();
    const result = await running.done;
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout) as RunReport;
    assert.equal(report.status, 'failed');
    assert.equal(report.steps['boom']!.status, 'failed');
    assert.equal(report.steps['fan']!.status, 'cancelled');
    // Every held call's connection was closed by its worker: none was answered, none is left open.
    assert.equal(held.length, 8);
    assert.equal(calls.size, 8);
    await eventually(() => held.every((r) => r.record.aborted));
    // …on both workers.
    for (const w of [a, b]) assert.match(w.log(), /fan\[\d+\] cancelled/, w.log());
    gate.open();
    failNow = new Gate();
  });

  it('a rate limit is shared by three workers: the provider sees it kept, and every call is served', async (t) => {
    reset();
    // The provider allows 10 requests a second (GCRA, a burst of 5) and answers 429 above it.
    const intervalMs = 100;
    const burst = 5;
    let tat = 0;
    let refused = 0;
    server.route('/limited/v1/chat/completions', async (req, res) => {
      const now = performance.now();
      const next = Math.max(tat, now) + intervalMs;
      if (next - now > burst * intervalMs) {
        refused++;
        reply(res, 429, { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } }, { 'retry-after-ms': String(Math.ceil(next - now - burst * intervalMs)) });
        return;
      }
      tat = next;
      const body = JSON.parse(req.body) as { model: string; messages: { content: string }[] };
      reply(res, 200, { id: 'c', object: 'chat.completion', created: 0, model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: `ok ${body.messages.at(-1)!.content}` }, finish_reason: 'stop' }], usage: { prompt_tokens: 2, completion_tokens: 2, total_tokens: 4 } });
    });
    const env = { OPENAI_BASE_URL: `${server.url}/limited/v1`, OPENAI_API_KEY: 'sk-test-0123456789abcdef' };
    const { queue, store, dir, startWorker } = await setUp(t, env);
    const workers = [await startWorker(['--concurrency', '10']), await startWorker(['--concurrency', '10']), await startWorker(['--concurrency', '10'])];
    const path = await writeWorkflow(dir, fanOut(60, 'config:\n  maxConcurrency: 30\n  rateLimits: { openai: { rpm: 600 } }\n'));
    const result = await run(['run', path, '--json', '--store', store, '--queue', queue], { env });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as RunReport;
    assert.equal(report.status, 'succeeded');
    const served = server.byPath('/limited/v1/chat/completions').length - refused;
    assert.equal(served, 60);
    // Each process alone would send 10 a second (30 together, dozens refused): the shared bucket keeps all three at
    // 10. A worker that stalls on a busy machine and then sends what it was granted may bunch a few.
    assert.ok(refused <= 3, `${refused} of ${served + refused} requests were refused`);
    for (const w of workers) assert.match(w.log(), /fan\[\d+\] succeeded/, 'every worker took part');
  });

  it("${env.*} is the workers', for the names they give: a run started without the variable succeeds on a worker that gives it, and fails on one that does not", async (t) => {
    reset();
    const { queue, store, dir, startWorker } = await setUp(t, { ...llmEnv(), TEAM: 'blue' });
    await startWorker(['--env', 'TEAM']);
    const path = await writeWorkflow(dir, fanOut(2).replace('prompt: "item ${item}"', 'prompt: "item ${item} for ${env.TEAM}"'));
    // The coordinator does not have TEAM: the steps run on the worker, which does.
    const r = await run(['run', path, '--json', '--store', store, '--queue', queue], { env: llmEnv() });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as RunReport).outputs['all'], ['answer to item 0 for blue', 'answer to item 1 for blue']);
    // Without a queue the same run is refused before anything is sent: TEAM is checked where the step runs.
    const local = await run(['run', path, '--store', store], { env: llmEnv() });
    assert.equal(local.code, 2, local.stderr);
    assert.match(local.stderr, /TEAM is not set/);
    // A worker that has TEAM but does not give it to steps (any run could read its environment): the step fails
    // there, saying so and how to give it, and nothing reaches the provider.
    const before = calls.size;
    const other = await setUp(t, { ...llmEnv(), TEAM: 'blue' });
    await other.startWorker();
    const failed = await run(['run', path, '--json', '--store', other.store, '--queue', other.queue], { env: { ...llmEnv(), TEAM: 'blue' } });
    assert.equal(failed.code, 1, failed.stderr);
    const report = JSON.parse(failed.stdout) as RunReport;
    assert.match(report.error ?? '', /`\$\{env\.TEAM\}` is not given to steps by this worker/);
    assert.match(report.steps['fan']!.items![0]!.hint ?? report.hint ?? '', /--env NAME/);
    assert.equal(calls.size, before);
  });

  it('what each step and item ran with comes back from its worker and is recorded, a token only the worker has masked there', async (t) => {
    reset();
    const token = 'tok-worker-only-7f3a9c21d84b';
    const { queue, store, dir, startWorker } = await setUp(t, { ...llmEnv(), SOME_TOKEN: token });
    await startWorker(['--env', 'SOME_TOKEN']);
    const path = await writeWorkflow(
      dir,
      fanOut(2).replace('steps:\n', `steps:\n  - id: hook\n    http: { url: "${server.url}/hook", method: POST, headers: { Authorization: "Bearer \${env.SOME_TOKEN}" }, body: { note: "n" } }\n`),
    );
    // The coordinator does not have the token: only the worker can mask it.
    const r = await run(['run', path, '--json', '--store', store, '--queue', queue], { env: llmEnv() });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(token));
    const report = JSON.parse(r.stdout) as RunReport;
    assert.ok(report.steps['hook']!.worker, 'the http step ran on the worker');
    const hook = report.steps['hook']!.input as { headers: Record<string, string>; body: unknown; url: string };
    assert.deepEqual([hook.headers['Authorization'], hook.body, hook.url], ['***', { note: 'n' }, `${server.url}/hook`]);
    assert.deepEqual(report.steps['fan']!.items!.map((item) => (item.input as { prompt: string }).prompt), ['item 0', 'item 1']);
    assert.equal(server.byPath('/hook')[0]!.headers['authorization'], `Bearer ${token}`, 'the request itself was sent with the token');
    const shown = await run(['runs', 'show', report.runId, '--json', '--store', store]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok(!shown.stdout.includes(token));
    const steps = JSON.parse(shown.stdout).steps as { stepId: string; input?: unknown; items?: { input?: unknown }[] }[];
    assert.deepEqual(steps.find((s) => s.stepId === 'hook')!.input, hook);
    assert.deepEqual(steps.find((s) => s.stepId === 'fan')!.items!.map((item) => item.input), report.steps['fan']!.items!.map((item) => item.input));
    for (const file of [store, `${store}-wal`]) if (existsSync(file)) assert.ok(!(await readFile(file)).includes(token), `nor in ${file}`);
  });

  it('the step cache serves steps on workers: a second run sends nothing; a budget is refused rather than ignored', async (t) => {
    reset();
    const { queue, store, dir, startWorker } = await setUp(t, llmEnv());
    await startWorker();
    const path = await writeWorkflow(dir, fanOut(3));
    const first = await run(['run', path, '--json', '--cache', '--store', store, '--queue', queue], { env: llmEnv() });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(calls.size, 3);
    const second = await run(['run', path, '--json', '--cache', '--store', store, '--queue', queue], { env: llmEnv() });
    assert.equal(second.code, 0, second.stderr);
    const report = JSON.parse(second.stdout) as RunReport;
    assert.equal(report.steps['fan']!.cached, true, second.stdout);
    assert.deepEqual(report.outputs['all'], ['answer to item 0', 'answer to item 1', 'answer to item 2']);
    assert.equal([...calls.values()].reduce((n, list) => n + list.length, 0), 3, 'nothing sent the second time');
    // A budget is held in the run's own process, call by call: it cannot hold yet on workers, so it is refused.
    const capped = await writeWorkflow(dir, fanOut(3, 'config: { budget: { tokens: 10000 } }\n'), 'capped.yaml');
    const budgeted = await run(['run', capped, '--store', store, '--queue', queue], { env: llmEnv() });
    assert.equal(budgeted.code, 2, budgeted.stderr);
    assert.match(budgeted.stderr, /a budget .* cannot hold yet when steps run on workers/);
    assert.ok(!/\n\s+at /.test(budgeted.stderr), 'no stack trace');
  });

  it('a job written into Redis by hand cannot run a command, read a file, or touch a run of another workflow', async (t) => {
    reset();
    const { queue, store, dir, startWorker } = await setUp(t, llmEnv());
    await startWorker();
    const prefix = new URL(queue).searchParams.get('prefix')!;
    const { Queue, Job } = await import('bullmq');
    const client = testRedis();
    const steps = new Queue('steps', { connection: client, prefix });
    t.after(async () => {
      await steps.close();
      client.disconnect();
    });
    /** Plants `yaml` as a workflow and a job for its step `stepId`, and waits for the worker's answer. */
    const forge = async (yaml: string, stepId: string, runId: string): Promise<{ status: string; error?: { code: string; message: string } }> => {
      const hash = createHash('sha256').update(yaml).digest('hex');
      await client.set(`${prefix}:conductor:workflow:${hash}`, yaml);
      const id = `forged.${randomBytes(4).toString('hex')}`;
      await steps.add('step', { protocol: 1, runId, stepId, workflow: { hash, file: '/etc/forged/wf.yaml' }, defaults: { maxConcurrency: 1, rateLimits: {} }, values: [] }, { jobId: id, priority: 1 });
      let job = await Job.fromId(steps, id);
      for (let i = 0; i < 600 && !job?.finishedOn; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        job = await Job.fromId(steps, id);
      }
      return typeof job!.returnvalue === 'string' ? JSON.parse(job!.returnvalue) : job!.returnvalue;
    };
    const pwned = join(dir, 'pwned');
    const shell = await forge(`steps:\n  - id: sh\n    shell: { run: "touch ${pwned}" }\n`, 'sh', 'forged-run-1');
    assert.equal(shell.status, 'failed');
    assert.match(shell.error!.message, /`shell`, which runs only in the run's own process/);
    const file = await forge('steps:\n  - id: f\n    file: { action: read, path: /etc/passwd }\n', 'f', 'forged-run-2');
    assert.equal(file.status, 'failed');
    assert.match(file.error!.message, /`file`, which runs only in the run's own process/);
    assert.ok(!existsSync(pwned), 'no command ran');
    // A real run's id with another workflow: refused before it could read or record anything of that run.
    const path = await writeWorkflow(dir, fanOut(1));
    const real = JSON.parse((await run(['run', path, '--json', '--store', store, '--queue', queue], { env: llmEnv() })).stdout) as RunReport;
    const other = await forge('steps:\n  - id: fan\n    llm: { model: "openai:gpt-test", prompt: "POISONED" }\n', 'fan', real.runId);
    assert.equal(other.status, 'failed');
    assert.match(other.error!.message, /recorded another workflow/);
    assert.ok(![...calls.keys()].includes('POISONED'));
    const shown = JSON.parse((await run(['runs', 'show', real.runId, '--json', '--store', store])).stdout);
    assert.deepEqual(shown.run.outputs, { all: ['answer to item 0'] });
  });

  it("with the deployment's key, a worker runs the runs' jobs and refuses one written into Redis without it", async (t) => {
    reset();
    const key = { CONDUCTOR_QUEUE_KEY: 'a-long-random-shared-secret-0123456789' };
    const { queue, store, dir, startWorker } = await setUp(t, { ...llmEnv(), ...key });
    const worker = await startWorker();
    assert.doesNotMatch(worker.log(), /jobs are not signed/);
    const path = await writeWorkflow(dir, fanOut(2));
    const signed = await run(['run', path, '--json', '--store', store, '--queue', queue], { env: { ...llmEnv(), ...key } });
    assert.equal(signed.code, 0, signed.stderr);
    // A run without the key: its jobs are refused by the worker, and nothing reaches the provider.
    const before = calls.size;
    const unsigned = await run(['run', path, '--json', '--store', store, '--queue', queue], { env: llmEnv() });
    assert.equal(unsigned.code, 1, unsigned.stderr);
    assert.match((JSON.parse(unsigned.stdout) as RunReport).error ?? '', /not signed with this deployment's key/);
    assert.equal(calls.size, before);
    assert.ok(!worker.log().includes(key.CONDUCTOR_QUEUE_KEY) && !unsigned.stderr.includes(key.CONDUCTOR_QUEUE_KEY) && !unsigned.stdout.includes(key.CONDUCTOR_QUEUE_KEY));
  });

  it('no worker: the run says so, and Ctrl-C ends it with its jobs taken off the queue', async (t) => {
    reset();
    const { queue, store, dir } = await setUp(t, llmEnv());
    const path = await writeWorkflow(dir, fanOut(3));
    const running = conductor(['run', path, '--store', store, '--queue', queue], { env: llmEnv() });
    let stderr = '';
    running.child.stderr!.on('data', (d: Buffer) => (stderr += d));
    await eventually(() => stderr.includes('no worker is taking steps from'));
    running.child.kill('SIGINT');
    const result = await running.done;
    assert.equal(result.code, 130, result.stderr);
    const { Queue } = await import('bullmq');
    const client = testRedis();
    const steps = new Queue('steps', { connection: client, prefix: new URL(queue).searchParams.get('prefix')! });
    const counts = await steps.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
    await steps.close();
    client.disconnect();
    assert.deepEqual(counts, { waiting: 0, prioritized: 0, active: 0, delayed: 0 });
    assert.equal(calls.size, 0);
  });

  it('a queue that does not answer: exit 2, one line naming it without its password, nothing run', async (t) => {
    reset();
    const dir = await tempDir(t);
    const path = await writeWorkflow(dir, fanOut(2));
    const r = await run(['run', path, '--store', join(dir, 'runs.db'), '--queue', 'redis://admin:hunter2@127.0.0.1:1'], { env: llmEnv() });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot reach the queue at redis:\/\/\*\*\*@127\.0\.0\.1:1/);
    assert.ok(!r.stderr.includes('hunter2'));
    assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
    assert.equal(calls.size, 0);
    const w = await run(['worker', '--queue', 'redis://127.0.0.1:1', '--store', join(dir, 'runs.db')]);
    assert.equal(w.code, 2, w.stderr);
    assert.match(w.stderr, /cannot reach the queue at redis:\/\/127\.0\.0\.1:1/);
  });
});


describe('a worker and a Redis that may evict keys', { ...redis.options, timeout: 180_000 }, () => {
  it('refuses it: exit 2, one line saying why and what to set', async (t) => {
    // A Redis of the test's own, as a cache is often set up: keys (a job's lock among them) may be evicted.
    const { port, server } = await ownRedis(['--maxmemory-policy', 'allkeys-lru']);
    t.after(() => server.kill('SIGKILL'));
    const dir = await tempDir(t);
    const r = await run(['worker', '--queue', `redis://127.0.0.1:${port}`, '--store', join(dir, 'runs.db')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /maxmemory-policy allkeys-lru: Conductor needs noeviction/);
    assert.match(r.stderr, /CONFIG SET maxmemory-policy noeviction/);
    assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
  });
});

/**
 * A redis-server of the test's own, once it says it accepts connections. The port is one the system just gave
 * out and took back: another process may take it first (the other test file running beside this one), so a
 * server that exits before it is ready is tried again on another.
 */
async function ownRedis(args: string[]): Promise<{ port: number; server: ChildProcess }> {
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    const ready = await new Promise<boolean>((resolve, reject) => {
      server.on('error', (error) => reject(new Error(`cannot start redis-server for this test: ${error.message}`)));
      server.stdout!.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('Ready to accept connections')) resolve(true);
      });
      server.on('exit', () => resolve(false));
    });
    if (ready) return { port, server };
  }
  throw new Error('redis-server did not start on any of 5 free ports');
}

/** A port nothing listens on now: one the system just gave out and took back. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * Resolves once `test` holds, checked every 10 ms: what it reads (calls held by the stand-in's handlers) changes
 * after the stand-in's own request events. The deadline is for a diagnosis, not a timing.
 */
async function eventually(test: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!test()) {
    if (Date.now() > deadline) throw new Error('what the test waited for never happened');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

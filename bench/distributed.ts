/**
 * Issue #17: steps through the queue (BullMQ on the local Redis) against in-process, on this machine.
 * - overhead per step: the same fan-out (`http` steps, 10 ms answers) in-process and on one worker: makespan
 *   ratio, and CPU per step of every process involved (this coordinator, the worker, redis-server) against the
 *   in-process run's CPU per step;
 * - latency per dependency edge: a chain of instant steps; for each edge, from the stand-in answering one step to
 *   the next step's request arriving (p50/p99), in-process and through the queue;
 * - throughput with 1, 2 and 4 workers: I/O-bound steps (200 ms answers) and instant ones.
 * Workers are real `conductor worker` processes (from src/, Node 24), each recording into a store of its own
 * (results are fenced there as in production). CPU of other processes is read from /proc/<pid>/stat.
 *
 * What 2 cores can and cannot show: coordinator, workers, Redis and the stand-in share two cores. I/O-bound
 * steps show the work spread over workers until the CPU saturates; instant steps are CPU-bound, so more workers
 * cannot raise their throughput here (they contend for the same two cores). The figure that carries over to
 * many machines is CPU per step per component: a worker core runs about 10⁶ ÷ (worker µs per step) steps a
 * second, and one Redis caps a cluster near 10⁶ ÷ (Redis µs per step).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parseWorkflow } from '../src/definition/load.ts';
import { parseQueueUrl } from '../src/queue/connection.ts';
import { QueueDispatcher } from '../src/queue/dispatch.ts';
import { runWorkflow } from '../src/scheduler/run.ts';
import { fmt, median, type Goal, type Out } from './goals.ts';
import { cpuOf } from './process-usage.ts';
import { startStandIn, type StandInProcess } from './stand-in-process.ts';

const ROOT = join(import.meta.dirname, '..');
const REDIS = process.env['CONDUCTOR_TEST_REDIS'] || 'redis://127.0.0.1:6379';

interface WorkerProcess {
  child: ChildProcess;
  pid: number;
}

async function startWorkers(n: number, queue: string, dir: string, concurrency: number, env: Record<string, string> = {}): Promise<WorkerProcess[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, k) => {
      const child = spawn(process.execPath, [join(ROOT, 'src/cli/bin.ts'), 'worker', '--queue', queue, '--store', join(dir, `worker-${k}.db`), '--concurrency', String(concurrency)], {
        env: { ...process.env, NO_COLOR: '1', ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        child.stderr!.on('data', (d: Buffer) => {
          stderr += d;
          if (stderr.includes('takes steps from')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`a worker exited (${code}):\n${stderr}`)));
      });
      child.stderr!.resume();
      return { child, pid: child.pid! };
    }),
  );
}

async function stopWorkers(workers: WorkerProcess[]): Promise<void> {
  await Promise.all(workers.map(async (w) => {
    w.child.kill('SIGKILL');
    if (w.child.exitCode === null) await once(w.child, 'exit');
  }));
}

const fanOutText = (url: string, n: number, ms: number, limit: number) =>
  `config:\n  maxConcurrency: ${limit}\nsteps:\n${Array.from({ length: n }, (_, i) => `  - id: s${i}\n    http: { url: "${url}/sleep?ms=${ms}&step=${i}" }`).join('\n')}\n`;
const chainText = (url: string, n: number) =>
  `steps:\n${Array.from({ length: n }, (_, i) => `  - id: s${i}\n${i ? `    depends_on: [s${i - 1}]\n` : ''}    http: { url: "${url}/sleep?ms=0&step=${i}" }`).join('\n')}\n`;

interface Measured {
  ms: number;
  /** CPU seconds of this process, the workers, redis-server. */
  cpu: { coordinator: number; workers: number; redis: number };
}

async function measure(text: string, dispatcher: QueueDispatcher | undefined, workers: WorkerProcess[], redisPid: number): Promise<Measured> {
  const spec = parseWorkflow(text, join(ROOT, 'bench.yaml'));
  const before = { self: process.cpuUsage(), workers: await Promise.all(workers.map((w) => cpuOf(w.pid))), redis: await cpuOf(redisPid) };
  const t0 = performance.now();
  const report = await runWorkflow(spec, dispatcher ? { executor: dispatcher } : {});
  const ms = performance.now() - t0;
  if (report.status !== 'succeeded') throw new Error(`distributed bench: the run ${report.status}: ${report.error}`);
  const self = process.cpuUsage(before.self);
  const workersAfter = await Promise.all(workers.map((w) => cpuOf(w.pid)));
  return {
    ms,
    cpu: {
      coordinator: (self.user + self.system) / 1e6,
      workers: workersAfter.reduce((sum, c, k) => sum + c - before.workers[k]!, 0),
      redis: (await cpuOf(redisPid)) - before.redis,
    },
  };
}

/** Per-edge latency of a chain: each answer's end to the next request's arrival, from the stand-in's trace. */
async function edges(server: StandInProcess): Promise<number[]> {
  const trace = (await server.trace()).sort((a, b) => a.step - b.step);
  const out: number[] = [];
  for (let i = 1; i < trace.length; i++) out.push(trace[i]!.arrived - trace[i - 1]!.answered);
  return out;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
};

/**
 * Three workers, `config.rateLimits` 600 rpm, against a provider that allows 10 requests a second (GCRA, a burst
 * of 5, as in the design) and answers 429 above it: how many it refused, and the rate achieved (design T5: ≤ 1 % refused, ≥ 9 requests/s).
 */
async function sharedLimit(out: Out, queue: string, dir: string, dispatcher: QueueDispatcher, redisPid: number): Promise<Goal> {
  const CALLS = 150;
  const limited = await startStandIn({ rps: 10, burst: 5 });
  const env = { OPENAI_BASE_URL: `${limited.url}/v1`, OPENAI_API_KEY: 'bench' };
  const workers = await startWorkers(3, queue, dir, 20, env);
  try {
    const text = `config:\n  maxConcurrency: 60\n  rateLimits: { openai: { rpm: 600 } }\nsteps:\n  - id: fan\n    foreach: [${Array.from({ length: CALLS }, (_, i) => i).join(', ')}]\n    llm: { model: "openai:bench", prompt: "call \${item}" }\n`;
    const spec = parseWorkflow(text, join(ROOT, 'bench.yaml'));
    const t0 = performance.now();
    const report = await runWorkflow(spec, { executor: dispatcher, env: { ...process.env, ...env } });
    const seconds = (performance.now() - t0) / 1000;
    if (report.status !== 'succeeded') throw new Error(`shared limit: the run ${report.status}: ${report.error}`);
    const { accepted, rejected } = await limited.stats();
    const rate = accepted / seconds;
    const refused = rejected / (accepted + rejected);
    out(`\n### A rate limit shared by three workers (design T5)\n`);
    out(`${CALLS} \`llm\` calls, \`rateLimits: { openai: { rpm: 600 } }\`, 3 workers × 20; the provider allows 10 a second (GCRA, a burst of 5) and answers 429 above. ` +
      `Served ${accepted}, refused ${rejected} (${fmt(refused * 100, 1)} %), ${fmt(rate, 1)} requests/s over ${fmt(seconds, 1)} s.`);
    void redisPid;
    return { goal: '#17 T5', what: 'a limit of 10 requests/s shared by 3 worker processes', measured: `${fmt(rate, 1)} req/s, ${fmt(refused * 100, 1)} % refused`, floor: 'the provider: 10 req/s', ratio: 'goal ≥ 9 req/s, ≤ 1 % 429s', met: rate >= 9 && refused <= 0.01 };
  } finally {
    await stopWorkers(workers);
    await limited.close();
  }
}

/**
 * Two workers hold 40 calls the provider never answers; then a step fails: from the failing answer to each held
 * connection's close, as the provider sees it (design T7: ≤ 250 ms).
 */
async function failFast(out: Out, queue: string, dir: string, dispatcher: QueueDispatcher): Promise<Goal> {
  const HELD = 40;
  const opened: number[] = [];
  const closed: number[] = [];
  let failedAt = 0;
  let release: (() => void) | undefined;
  const allHeld = new Promise<void>((resolve) => (release = resolve));
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/fail')) {
      void allHeld.then(() => {
        failedAt = performance.now();
        res.writeHead(404).end('no');
      });
      return;
    }
    opened.push(performance.now());
    if (opened.length === HELD) release!();
    req.on('close', () => closed.push(performance.now()));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const workers = await startWorkers(2, queue, dir, 25);
  try {
    const held = Array.from({ length: HELD }, (_, i) => `  - id: h${i}\n    http: { url: "${url}/hold?i=${i}" }`).join('\n');
    const spec = parseWorkflow(`config:\n  maxConcurrency: ${HELD + 1}\nsteps:\n${held}\n  - id: boom\n    http: { url: "${url}/fail" }\n`, join(ROOT, 'bench.yaml'));
    const report = await runWorkflow(spec, { executor: dispatcher });
    if (report.status !== 'failed') throw new Error(`fail-fast: the run ${report.status}`);
    const delays = closed.map((t) => t - failedAt).sort((a, b) => a - b);
    const p99 = percentile(delays, 0.99);
    out(`\n### Fail-fast across workers (design T7)\n`);
    out(`${HELD} \`http\` calls held by the provider on 2 workers; then one step fails. Closed by the workers: ${closed.length} of ${HELD}; ` +
      `from the failing answer to each close: p50 ${fmt(percentile(delays, 0.5), 0)} ms, p99 ${fmt(p99, 0)} ms, max ${fmt(delays.at(-1) ?? NaN, 0)} ms.`);
    return { goal: '#17 T7', what: 'a failure closes the calls in flight on every worker', measured: `${closed.length}/${HELD} closed, p99 ${fmt(p99, 0)} ms`, floor: '—', ratio: 'goal all, ≤ 250 ms', met: closed.length === HELD && p99 <= 250 };
  } finally {
    await stopWorkers(workers);
    server.closeAllConnections();
    server.close();
  }
}

export async function distributedScenario(out: Out, progress: (s: string) => void): Promise<Goal[]> {
  const prefix = `bench${process.pid}`;
  const location = parseQueueUrl(`${REDIS}?prefix=${prefix}`);
  const queue = `${REDIS}?prefix=${prefix}`;
  const redis = new Redis(location.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch {
    out('\n## Distributed (#17)\n\nskipped: no Redis answers at ' + location.shown);
    return [];
  }
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? 0);
  const dir = await mkdtemp(join(tmpdir(), 'conductor-bench-dist-'));
  const fast = await startStandIn({ latencyMs: 0 });
  const dispatcher = await QueueDispatcher.connect(location);
  const goals: Goal[] = [];
  out('\n## Distributed: steps through the queue (#17)\n');
  out('Redis on 127.0.0.1 (BullMQ), real `conductor worker` processes, the stand-in in its own process, all on the same 2 cores. ' +
    'Instant steps are CPU-bound here: more workers cannot make them faster on 2 cores; the figures that carry over to many machines are CPU µs per step per process.\n');
  try {
    // 1. Overhead per step: the same fan-out in-process and on one worker.
    progress('distributed: overhead per step');
    const N = 1000;
    const fanOut = fanOutText(fast.url, N, 10, 100);
    const one = await startWorkers(1, queue, dir, 100);
    const local: Measured[] = [];
    const queued: Measured[] = [];
    await measure(fanOutText(fast.url, 100, 0, 100), dispatcher, one, redisPid); // warm-up (worker, JIT, connections)
    await measure(fanOutText(fast.url, 100, 0, 100), undefined, [], redisPid);
    for (let k = 0; k < 3; k++) {
      local.push(await measure(fanOut, undefined, [], redisPid));
      queued.push(await measure(fanOut, dispatcher, one, redisPid));
    }
    const mid = (list: Measured[], f: (m: Measured) => number) => median(list.map(f));
    const localMs = mid(local, (m) => m.ms);
    const queuedMs = mid(queued, (m) => m.ms);
    const perStep = (m: Measured[], f: (c: Measured['cpu']) => number) => (mid(m, (x) => f(x.cpu)) / N) * 1e6;
    const localCpu = perStep(local, (c) => c.coordinator);
    const coordinatorCpu = perStep(queued, (c) => c.coordinator);
    const workerCpu = perStep(queued, (c) => c.workers);
    const redisCpu = perStep(queued, (c) => c.redis);
    out(`### Overhead per step: ${N} \`http\` steps (10 ms answers), limit 100; in-process vs one worker (concurrency 100); median of 3\n`);
    out('| | makespan | CPU µs/step: coordinator | worker | redis-server | all |');
    out('|---|---|---|---|---|---|');
    out(`| in-process | ${fmt(localMs, 0)} ms | ${fmt(localCpu, 0)} | — | — | ${fmt(localCpu, 0)} |`);
    out(`| queue, 1 worker | ${fmt(queuedMs, 0)} ms (${fmt(queuedMs / localMs)}×) | ${fmt(coordinatorCpu, 0)} | ${fmt(workerCpu, 0)} | ${fmt(redisCpu, 0)} | ${fmt(coordinatorCpu + workerCpu + redisCpu, 0)} (${fmt((coordinatorCpu + workerCpu + redisCpu) / localCpu)}×) |`);
    out('');
    out(`So one worker core runs about ${fmt(1e6 / workerCpu, 0)} steps/s of this kind, and one Redis core about ${fmt(1e6 / redisCpu, 0)} steps/s for a whole cluster; the extra CPU per step through the queue is ${fmt(coordinatorCpu + workerCpu + redisCpu - localCpu, 0)} µs.`);
    // On two cores the queue's processes together need at least their CPU ÷ 2 of wall time.
    const cpuFloorMs = ((coordinatorCpu + workerCpu + redisCpu) * N) / 1000 / 2;
    goals.push({
      goal: '#17 T6',
      what: `fan-out of ${N} http steps through the queue, one worker: makespan`,
      measured: `${fmt(queuedMs, 0)} ms`,
      floor: `in-process ${fmt(localMs, 0)} ms`,
      ratio: `${fmt(queuedMs / localMs)}× (goal ≤ 1.5×)`,
      met: queuedMs / localMs <= 1.5,
      reason: `CPU-bound on 2 cores: coordinator, worker and Redis use ${fmt(coordinatorCpu + workerCpu + redisCpu, 0)} µs of CPU per step together (in-process ${fmt(localCpu, 0)}), so ${N} steps need ≥ ${fmt(cpuFloorMs, 0)} ms of the two cores; on separate machines the makespan is set by the slowest of them`,
    });

    // 2. Latency per dependency edge.
    progress('distributed: latency per edge');
    const CHAIN = 50;
    const chain = chainText(fast.url, CHAIN);
    const localEdges: number[] = [];
    const queuedEdges: number[] = [];
    await fast.trace();
    for (let k = 0; k < 3; k++) {
      await measure(chain, undefined, [], redisPid);
      localEdges.push(...(await edges(fast)));
      await measure(chain, dispatcher, one, redisPid);
      queuedEdges.push(...(await edges(fast)));
    }
    out(`\n### Latency per dependency edge: a chain of ${CHAIN} instant steps, 3 runs; from one step's answer to the next step's request\n`);
    out('| | p50 | p99 |');
    out('|---|---|---|');
    out(`| in-process | ${fmt(percentile(localEdges, 0.5))} ms | ${fmt(percentile(localEdges, 0.99))} ms |`);
    out(`| queue, 1 worker | ${fmt(percentile(queuedEdges, 0.5))} ms | ${fmt(percentile(queuedEdges, 0.99))} ms |`);
    goals.push({ goal: '#17 T6', what: 'latency per dependency edge through the queue', measured: `p50 ${fmt(percentile(queuedEdges, 0.5))} ms, p99 ${fmt(percentile(queuedEdges, 0.99))} ms`, floor: `in-process p50 ${fmt(percentile(localEdges, 0.5))} ms`, ratio: 'goal p50 ≤ 3 ms, p99 ≤ 10 ms', met: percentile(queuedEdges, 0.5) <= 3 && percentile(queuedEdges, 0.99) <= 10 });
    await stopWorkers(one);

    // 3. Throughput with 1, 2 and 4 workers.
    progress('distributed: throughput');
    out('\n### Throughput with 1, 2 and 4 workers (concurrency 50 each; the run\'s limit 1000)\n');
    out('| workers | I/O-bound: 1,000 steps of 200 ms | ideal | steps/s | instant: 1,000 steps | steps/s | CPU of the box (instant) |');
    out('|---|---|---|---|---|---|---|');
    for (const n of [1, 2, 4]) {
      const workers = await startWorkers(n, queue, dir, 50);
      await measure(fanOutText(fast.url, 50, 0, 1000), dispatcher, workers, redisPid); // warm-up
      const io = await measure(fanOutText(fast.url, 1000, 200, 1000), dispatcher, workers, redisPid);
      const instant = await measure(fanOutText(fast.url, 1000, 0, 1000), dispatcher, workers, redisPid);
      const ideal = (1000 / (50 * n)) * 200;
      const busy = (instant.cpu.coordinator + instant.cpu.workers + instant.cpu.redis) / (instant.ms / 1000) / 2;
      out(`| ${n} | ${fmt(io.ms, 0)} ms | ${fmt(ideal, 0)} ms | ${fmt(1000 / (io.ms / 1000), 0)} | ${fmt(instant.ms, 0)} ms | ${fmt(1000 / (instant.ms / 1000), 0)} | ${fmt(busy * 100, 0)} %${busy > 0.85 ? ' (CPU-bound)' : ''} |`);
      await stopWorkers(workers);
    }
    out('\nI/O-bound steps spread over the workers (the ideal halves with each doubling); instant steps are bound by the two cores every process shares, so their throughput does not grow with workers here — on separate machines it is the worker CPU per step above that sets it.');

    // 4. A rate limit shared by three workers (design T5).
    progress('distributed: a shared rate limit');
    goals.push(await sharedLimit(out, queue, dir, dispatcher, redisPid));
    // 5. Fail-fast across workers (design T7).
    progress('distributed: fail-fast across workers');
    goals.push(await failFast(out, queue, dir, dispatcher));
  } finally {
    await dispatcher.dispose();
    await fast.close();
    const keys = await redis.keys(`${prefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
  return goals;
}

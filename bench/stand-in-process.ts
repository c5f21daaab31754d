/**
 * The benchmark's stand-in provider, in a process of its own: a real provider is not in our process, and on
 * a 2-core machine a stand-in in the same process would take CPU from the engine it is measuring.
 *
 * Routes: `/sleep?ms=N` answers after N ms; the LLM protocols (see test/support/llm-stand-ins.ts) answer after
 * BENCH_LATENCY_MS, and beyond BENCH_RPS requests per second (a sliding window) with 429 and retry-after-ms;
 * `/stats` gives {accepted, rejected}. Started by `startStandIn()`, which reads the URL from its first line.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { addLlmRoutes } from '../test/support/llm-stand-ins.ts';
import { reply, StandIn } from '../test/support/stand-in.ts';

/** One `/sleep` request as the stand-in saw it: when it arrived and when the answer went out (epoch ms, sub-ms). */
export interface SleepTrace {
  step: number;
  ms: number;
  arrived: number;
  answered: number;
}

export interface StandInProcess {
  url: string;
  stats(): Promise<{ accepted: number; rejected: number }>;
  /** The `/sleep` requests since the last call (with `?step=` in their URL), and forget them. */
  trace(): Promise<SleepTrace[]>;
  close(): Promise<void>;
}

/**
 * `rps`: requests allowed per second, in a sliding window of one second — or, with `burst`, as a GCRA (a token
 * bucket of `burst` requests refilled at `rps`, as providers meter a per-minute limit per second).
 */
export async function startStandIn(options: { latencyMs?: number; rps?: number; burst?: number } = {}): Promise<StandInProcess> {
  const child = spawn(process.execPath, [import.meta.filename], {
    env: { ...process.env, BENCH_LATENCY_MS: String(options.latencyMs ?? 0), BENCH_RPS: String(options.rps ?? 0), BENCH_BURST: String(options.burst ?? 0) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const url = line.trim();
  return {
    url,
    stats: async () => (await (await fetch(`${url}/stats`)).json()) as { accepted: number; rejected: number },
    trace: async () => (await (await fetch(`${url}/trace`)).json()) as SleepTrace[],
    close: async () => {
      child.kill();
      await once(child, 'exit');
    },
  };
}

async function serve(): Promise<void> {
  const latency = Number(process.env['BENCH_LATENCY_MS'] ?? 0);
  const rps = Number(process.env['BENCH_RPS'] ?? 0);
  const burst = Number(process.env['BENCH_BURST'] ?? 0);
  /** GCRA: the time at which the bucket is full again (ms). */
  let tat = 0;
  const window: number[] = [];
  let accepted = 0;
  let rejected = 0;
  const server = await StandIn.start({ record: false });
  // Each answer's real timing, so the benchmark can tell the stand-in's timer lateness (a 10 ms sleep takes 10–11 ms)
  // from what the runner adds between one answer and the next request.
  let trace: SleepTrace[] = [];
  const now = () => performance.timeOrigin + performance.now();
  server.route('/sleep', (req, res) => {
    const arrived = now();
    const query = new URL(`http://x${req.url}`).searchParams;
    const ms = Number(query.get('ms') ?? 0);
    const answer = () => {
      res.end('ok');
      if (query.has('step')) trace.push({ step: Number(query.get('step')), ms, arrived, answered: now() });
    };
    // `setTimeout(f, 0)` waits a millisecond: an instant step answers at once.
    if (ms === 0) answer();
    else setTimeout(answer, ms);
  });
  server.route('/trace', (_req, res) => {
    reply(res, 200, trace);
    trace = [];
  });
  server.route('/stats', (_req, res) => reply(res, 200, { accepted, rejected }));
  addLlmRoutes(server, {
    intercept: async (_request, res) => {
      const now = Date.now();
      if (rps > 0 && burst > 0) {
        const interval = 1000 / rps;
        const next = Math.max(tat, now) + interval;
        if (next - now > burst * interval) {
          rejected++;
          reply(res, 429, { error: { message: 'Rate limit reached for requests', type: 'requests' } }, { 'retry-after-ms': String(Math.ceil(next - now - burst * interval)) });
          return true;
        }
        tat = next;
        accepted++;
        if (latency > 0) await new Promise((r) => setTimeout(r, latency));
        return false;
      }
      while (window.length && window[0]! <= now - 1000) window.shift();
      if (rps > 0 && window.length >= rps) {
        rejected++;
        reply(res, 429, { error: { message: 'Rate limit reached for requests', type: 'requests' } }, { 'retry-after-ms': String(window[0]! + 1000 - now) });
        return true;
      }
      window.push(now);
      accepted++;
      if (latency > 0) await new Promise((r) => setTimeout(r, latency));
      return false;
    },
  });
  process.stdout.write(`${server.url}\n`);
}

if (import.meta.main) await serve();

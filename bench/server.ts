/**
 * Issue #18: `conductor serve` holds 20 concurrent runs of examples/mixed.yaml with 10 SSE clients each.
 * - the real server: the built binary (`node bin/conductor.js serve --port 0`), its own SQLite store in a temporary
 *   $CONDUCTOR_HOME, its `llm` steps against the OpenAI stand-in (its own process, every call answered after 200 ms,
 *   so the 20 runs overlap);
 * - 20 runs POSTed at once; for each, as soon as its id comes back, 10 clients follow /api/runs/{id}/events (plain
 *   node:http and a small SSE parser, as the dashboard reads it with fetch: no EventSource);
 * - delivery latency: the client's Date.now() when the chunk arrived − the event's `at` (the engine's Date.now()
 *   when it emitted it; same machine, same clock), over live deliveries only — an event whose `at` is before the
 *   client's response arrived was replayed to it, and is counted apart;
 * - nothing lost or repeated: each client's ids are 1..N, the 10 clients of a run got the same N events byte for
 *   byte ending with run:end, every step's final status and output in the store (GET /api/runs/{id}) equal the
 *   step:end the clients got, the run:end report's status equals the store's, and `conductor runs --json` on the
 *   server's store lists every run succeeded;
 * - a variant where one client per run drops its stream after the 3rd event and comes back with `Last-Event-ID`;
 * - the floor: the same 20 runs with no stream at all (POST, then GET each run every 100 ms until it ends).
 * Makespans are from the first POST to the last run's `finishedAt` as the store recorded it (the polling interval
 * does not count), median of alternating rounds. The server's CPU is read from /proc/<pid>/stat.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { isDeepStrictEqual } from 'node:util';
import { fmt, median, verdict, type Goal, type Out } from './goals.ts';
import { cpuOf } from './process-usage.ts';
import { startStandIn } from './stand-in-process.ts';

const ROOT = join(import.meta.dirname, '..');
const RUNS = 20;
const CLIENTS = 10;
const LLM_MS = 200;
/** Measured rounds of each kind, taking turns (after one warm-up of each). */
const ROUNDS = 5;
const POLL_MS = 100;
/** A stream still open this long after it started has not ended: reported, not waited for. */
const STREAM_DEADLINE_MS = 60_000;

/** Resident and peak resident memory of a process, MiB. */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

interface Server {
  url: string;
  pid: number;
  /** The server's stderr so far (a crash says why there). */
  stderr: () => string;
  close(): Promise<void>;
}

async function startServer(root: string, home: string, env: Record<string, string>): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'bin/conductor.js'), 'serve', '--port', '0', '--root', root], {
    env: { ...process.env, ...env, CONDUCTOR_HOME: home, NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const found = /^conductor serve: (http:\/\/\S+)/.exec(line);
      if (found) resolve(found[1]!);
    });
    child.once('exit', (code) => reject(new Error(`conductor serve exited (${code}) before listening:\n${stderr}`)));
  });
  return {
    url,
    pid: child.pid!,
    stderr: () => stderr,
    async close() {
      if (child.exitCode !== null) return;
      // As Ctrl-C: the server records what is running and lets its store go.
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await once(child, 'exit');
      clearTimeout(killer);
    },
  };
}

/** One Server-Sent Event as a client received it. */
interface Received {
  id: number;
  type: string;
  /** The `data:` line as sent (the event's JSON): compared byte for byte across clients. */
  data: string;
  event: { type: string; at: number; stepId?: string; status?: string; output?: unknown; report?: { status: string; outputs?: unknown } };
  receivedAt: number;
  /** Emitted before this client's response arrived: sent to it from the log, not live. */
  replayed: boolean;
}

interface Followed {
  events: Received[];
  /** The server ended the stream (after run:end); false when we dropped it or it ran past the deadline. */
  ended: boolean;
  error?: string;
}

/** Separate connections for every stream (no pooling), as separate browsers would open them. */
const agent = new Agent({ keepAlive: false, maxSockets: Infinity });

/**
 * Follows a run's events: from the start, or after `lastEventId`; drops the stream itself after `dropAfter` events.
 * Parses `id:`, `event:` and `data:` lines; comments (`: alive`) and `retry:` carry no event.
 */
function follow(base: string, runId: string, options: { lastEventId?: number; dropAfter?: number } = {}): Promise<Followed> {
  return new Promise((resolve) => {
    const events: Received[] = [];
    let settled = false;
    const finish = (result: Omit<Followed, 'events'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve({ events, ...result });
    };
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId);
    const req = request(`${base}/api/runs/${runId}/events`, { agent, headers }, (res) => {
      const connectedAt = Date.now();
      if (res.statusCode !== 200) {
        res.resume();
        finish({ ended: false, error: `HTTP ${res.statusCode}` });
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        const receivedAt = Date.now();
        buffer += chunk;
        for (let cut = buffer.indexOf('\n\n'); cut >= 0 && !settled; cut = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let id = NaN;
          let type = 'message';
          let data: string | undefined;
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) id = Number(line.slice(4));
            else if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data = data === undefined ? line.slice(6) : `${data}\n${line.slice(6)}`;
          }
          if (data === undefined) continue;
          const event = JSON.parse(data) as Received['event'];
          events.push({ id, type, data, event, receivedAt, replayed: event.at < connectedAt });
          if (events.length === options.dropAfter) {
            req.destroy();
            finish({ ended: false });
          }
        }
      });
      res.on('end', () => finish({ ended: true }));
      res.on('error', (error) => finish({ ended: false, error: error.message }));
    });
    req.on('error', (error) => finish({ ended: false, error: error.message }));
    const deadline = setTimeout(() => {
      req.destroy();
      finish({ ended: false, error: `the stream was still open after ${STREAM_DEADLINE_MS / 1000} s` });
    }, STREAM_DEADLINE_MS);
    req.end();
  });
}

/** Drops the stream after its 3rd event and follows again with `Last-Event-ID`: the two parts, joined. */
async function followReconnecting(base: string, runId: string): Promise<Followed> {
  const first = await follow(base, runId, { dropAfter: 3 });
  if (first.error) return first;
  const rest = await follow(base, runId, first.events.length ? { lastEventId: first.events.at(-1)!.id } : {});
  return { ...rest, events: [...first.events, ...rest.events] };
}

async function json(base: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function startRun(base: string): Promise<string> {
  const { status, body } = await json(base, '/api/runs', { workflow: 'mixed.yaml' });
  if (status !== 202) throw new Error(`POST /api/runs answered ${status}: ${JSON.stringify(body)}`);
  return body.runId as string;
}

interface StoreView {
  status: string;
  finishedAt?: string;
  steps: Record<string, { status: string; output: unknown }>;
  outputs: unknown;
}

/** GET /api/runs/{id} (read from the store) until the run is no longer running there. */
async function ended(base: string, runId: string): Promise<{ view: StoreView; polls: number }> {
  for (let polls = 1; ; polls++) {
    const { status, body } = await json(base, `/api/runs/${runId}`);
    if (status !== 200) throw new Error(`GET /api/runs/${runId} answered ${status}: ${JSON.stringify(body)}`);
    if (body.status !== 'running') return { view: body as StoreView, polls };
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

interface Round {
  makespanMs: number;
  serverCpuS: number;
  /** This process's: the clients (or the polling), sharing the 2 cores with the server. */
  clientCpuS: number;
  runs: { runId: string; clients: Followed[]; view: StoreView; polls: number }[];
}

/** 20 runs at once; each followed by `clients` streams (the first reconnecting, with `reconnect`), or polled only. */
async function round(server: Server, clients: number, reconnect = false): Promise<Round> {
  const cpu0 = await cpuOf(server.pid);
  const own0 = process.cpuUsage();
  const t0 = Date.now();
  const runs = await Promise.all(Array.from({ length: RUNS }, async () => {
    const runId = await startRun(server.url);
    const followed = await Promise.all(Array.from({ length: clients }, (_, k) => (reconnect && k === 0 ? followReconnecting(server.url, runId) : follow(server.url, runId))));
    return { runId, clients: followed, ...(await ended(server.url, runId)) };
  }));
  const serverCpuS = (await cpuOf(server.pid)) - cpu0;
  const own = process.cpuUsage(own0);
  const makespanMs = Math.max(...runs.map((r) => Date.parse(r.view.finishedAt ?? '') - t0));
  return { makespanMs, serverCpuS, clientCpuS: (own.user + own.system) / 1e6, runs };
}

/** What a round's streams got wrong, against each other and against the store; empty when nothing. */
function problemsOf(r: Round): { problems: string[]; lost: number; repeated: number; deliveries: number } {
  const problems: string[] = [];
  let lost = 0;
  let repeated = 0;
  let deliveries = 0;
  for (const run of r.runs) {
    const where = `run ${run.runId.slice(0, 8)}`;
    // The reference is a client that never dropped its stream (the last one).
    const reference = run.clients.at(-1)!.events;
    run.clients.forEach((client, k) => {
      deliveries += client.events.length;
      if (client.error) problems.push(`${where}, client ${k}: ${client.error}`);
      else if (!client.ended) problems.push(`${where}, client ${k}: the stream did not end`);
      const ids = client.events.map((e) => e.id);
      const unique = new Set(ids);
      repeated += ids.length - unique.size;
      const n = Math.max(reference.length, ...ids.filter(Number.isFinite));
      for (let id = 1; id <= n; id++) if (!unique.has(id)) lost++;
      if (!ids.every((id, i) => id === i + 1)) problems.push(`${where}, client ${k}: ids ${ids.join(',')} are not 1..${ids.length}`);
      if (client.events.at(-1)?.type !== 'run:end') problems.push(`${where}, client ${k}: the last event is ${client.events.at(-1)?.type ?? 'none'}, not run:end`);
      if (client.events.length !== reference.length || client.events.some((e, i) => e.id !== reference[i]!.id || e.type !== reference[i]!.type || e.data !== reference[i]!.data)) {
        problems.push(`${where}, client ${k}: its ${client.events.length} events differ from another client's ${reference.length}`);
      }
    });
    // Against the store: every step's final status and output, and the run's status and outputs.
    const stepEnds = new Map(reference.filter((e) => e.type === 'step:end').map((e) => [e.event.stepId!, e.event]));
    for (const [stepId, step] of Object.entries(run.view.steps)) {
      const got = stepEnds.get(stepId);
      if (!got) problems.push(`${where}: the store has step ${stepId}, the clients got no step:end for it`);
      else if (got.status !== step.status || !isDeepStrictEqual(got.output ?? null, step.output)) problems.push(`${where}: step ${stepId} is ${step.status} in the store, ${got.status} in its step:end (or their outputs differ)`);
    }
    if (stepEnds.size !== Object.keys(run.view.steps).length) problems.push(`${where}: ${stepEnds.size} step:end events, ${Object.keys(run.view.steps).length} steps in the store`);
    const report = reference.at(-1)?.event.report;
    if (report?.status !== run.view.status) problems.push(`${where}: run:end says ${report?.status}, the store ${run.view.status}`);
    else if (!isDeepStrictEqual(report.outputs, run.view.outputs)) problems.push(`${where}: run:end's outputs differ from the store's`);
    if (run.view.status !== 'succeeded') problems.push(`${where}: ${run.view.status} in the store`);
  }
  return { problems, lost, repeated, deliveries };
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

/** Live deliveries' latencies (ms, sorted; and by event type) and the count of replayed ones. */
function latencies(rounds: readonly Round[]): { live: number[]; byType: Map<string, number[]>; replayed: number } {
  const live: number[] = [];
  const byType = new Map<string, number[]>();
  let replayed = 0;
  for (const r of rounds) for (const run of r.runs) for (const client of run.clients) for (const e of client.events) {
    if (e.replayed) {
      replayed++;
      continue;
    }
    live.push(e.receivedAt - e.event.at);
    (byType.get(e.type) ?? byType.set(e.type, []).get(e.type)!).push(e.receivedAt - e.event.at);
  }
  for (const list of byType.values()) list.sort((a, b) => a - b);
  return { live: live.sort((a, b) => a - b), byType, replayed };
}

export async function serverScenario(out: Out, progress: (s: string) => void): Promise<Goal[]> {
  const dir = await mkdtemp(join(tmpdir(), 'conductor-bench-serve-'));
  const root = join(dir, 'root');
  const home = join(dir, 'home');
  await mkdir(root);
  await mkdir(home);
  await copyFile(join(ROOT, 'examples/mixed.yaml'), join(root, 'mixed.yaml'));
  await copyFile(join(ROOT, 'examples/data.txt'), join(root, 'data.txt'));
  const standIn = await startStandIn({ latencyMs: LLM_MS });
  let server: Server | undefined;
  try {
    server = await startServer(root, home, { OPENAI_BASE_URL: `${standIn.url}/v1`, OPENAI_API_KEY: 'bench', CONDUCTOR_MODEL: 'openai:bench' });
    const s = server;
    // Other work on these 2 cores shows in every figure here: said beside them.
    const load = loadavg()[0]!;
    // This process's own event-loop delay while it reads the streams: the part of a delivery's latency that is the
    // client's, not the server's.
    const clientLoop = monitorEventLoopDelay({ resolution: 1 });
    progress('serve: warm-up');
    await round(s, 0);
    await round(s, CLIENTS);
    const memoryBefore = await memoryOf(s.pid);
    const floors: Round[] = [];
    const served: Round[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      progress(`serve: round ${k + 1} of ${ROUNDS} (no clients, then ${RUNS * CLIENTS} streams)`);
      floors.push(await round(s, 0));
      clientLoop.enable();
      served.push(await round(s, CLIENTS));
      clientLoop.disable();
    }
    progress('serve: one client per run drops its stream after 3 events and resumes with Last-Event-ID');
    const resumed = await round(s, CLIENTS, true);
    const memoryAfter = await memoryOf(s.pid);

    const checks = served.map(problemsOf);
    const resumedCheck = problemsOf(resumed);
    const { live, byType, replayed } = latencies(served);
    const clientLoopP99 = clientLoop.percentile(99) / 1e6;
    const resumedLatency = latencies([resumed]);
    // The server's own view: every run POSTed, succeeded in its store (read by the CLI, read-only, while it serves).
    const posted = [...floors, ...served, resumed].flatMap((r) => r.runs.map((run) => run.runId));
    const listed = spawnSync(process.execPath, [join(ROOT, 'bin/conductor.js'), 'runs', '--json', '--limit', String(posted.length + 100), '--store', join(home, 'runs.db')], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    if (listed.status !== 0) throw new Error(`conductor runs --json failed (${listed.status}): ${listed.stderr}`);
    const statusOf = new Map((JSON.parse(listed.stdout) as { id: string; status: string }[]).map((r) => [r.id, r.status]));
    const notSucceeded = posted.filter((id) => statusOf.get(id) !== 'succeeded');

    const problems = [...checks.flatMap((c) => c.problems), ...resumedCheck.problems];
    const lost = checks.reduce((n, c) => n + c.lost, 0) + resumedCheck.lost;
    const repeated = checks.reduce((n, c) => n + c.repeated, 0) + resumedCheck.repeated;
    const deliveries = checks.reduce((n, c) => n + c.deliveries, 0);
    const eventsPerRun = served[0]!.runs[0]!.clients.at(-1)!.events.length;
    const floorMs = median(floors.map((r) => r.makespanMs));
    const servedMs = median(served.map((r) => r.makespanMs));
    const floorCpu = median(floors.map((r) => r.serverCpuS));
    const servedCpu = median(served.map((r) => r.serverCpuS));
    // Summed over the rounds: the clock ticks at 10 ms, too coarse for the difference of two medians.
    const sum = (rounds: Round[]) => rounds.reduce((t, r) => t + r.serverCpuS, 0);
    const cpuPerEventUs = ((sum(served) - sum(floors)) * 1e6) / deliveries;
    const p50 = percentile(live, 0.5);
    const p99 = percentile(live, 0.99);
    const intact = problems.length === 0 && lost === 0 && repeated === 0 && notSucceeded.length === 0;

    out(`\n## 13. \`conductor serve\`: ${RUNS} concurrent runs of mixed.yaml, ${CLIENTS} SSE clients each (#18)\n`);
    out(`The built server (\`node bin/conductor.js serve --port 0\`, its own SQLite store), its \`llm\` steps against the OpenAI stand-in (its own process, every call answered after ${LLM_MS} ms: ` +
      `a run of mixed is read_file → 3 calls at once → 1 call, so ≥ ${2 * LLM_MS} ms); this process POSTs ${RUNS} runs at once and follows each with ${CLIENTS} streams (node:http, an SSE parser), ` +
      `${RUNS * CLIENTS} streams at a time, all on the same 2 cores. The floor: the same runs with no stream (each polled with GET every ${POLL_MS} ms). ` +
      `Makespan: from the first POST to the last run's \`finishedAt\` in the store; median of ${ROUNDS} rounds of each, taking turns, after a warm-up.\n`);
    const clientCpu = (rounds: Round[]) => fmt(median(rounds.map((r) => r.clientCpuS)) * 1000, 0);
    out('| | makespan | server CPU per round | server CPU per delivered event | this process\'s CPU per round (the clients) |');
    out('|---|---|---|---|---|');
    out(`| no clients (floor) | ${fmt(floorMs, 0)} ms | ${fmt(floorCpu * 1000, 0)} ms | — | ${clientCpu(floors)} ms (polling) |`);
    out(`| ${CLIENTS} SSE clients per run | ${fmt(servedMs, 0)} ms (${fmt(servedMs / floorMs)}×) | ${fmt(servedCpu * 1000, 0)} ms | ${fmt(cpuPerEventUs, 0)} µs (over the floor's) | ${clientCpu(served)} ms |`);
    out('');
    out(`Delivery latency (client's receipt − the event's \`at\`), ${live.length} live deliveries over ${ROUNDS} rounds: p50 ${fmt(p50, 0)} ms, p99 ${fmt(p99, 0)} ms, max ${fmt(live.at(-1) ?? NaN, 0)} ms; ` +
      `${replayed} more were replays (emitted before the client's response arrived: a run's first events go out while its clients connect). ` +
      `p99 by type: ${[...byType].map(([type, list]) => `${type} ${fmt(percentile(list, 0.99), 0)} ms (${list.length})`).join(', ')}. ` +
      `Every call is answered after exactly ${LLM_MS} ms, so the ${RUNS} runs' step:end events come in bursts (${RUNS * 3 * CLIENTS} deliveries within a few ms): the worst case for queueing. ` +
      `This process's own event-loop delay while reading: p99 ${fmt(clientLoopP99, 0)} ms. Load average (1 min) when the scenario started: ${fmt(load)} on 2 cores.`);
    out(`Nothing lost or repeated: ${deliveries} deliveries (${eventsPerRun} events a run), ${lost} lost, ${repeated} repeated; each client's ids 1..${eventsPerRun} ending with run:end, ` +
      `the ${CLIENTS} clients of a run byte-identical, each step's final status and output in the store (GET /api/runs/{id}) equal to its step:end, run:end's status and outputs equal to the store's; ` +
      `\`conductor runs --json\` on the server's store: ${posted.length - notSucceeded.length} of ${posted.length} runs succeeded — ${verdict(intact)}.`);
    out(`Resuming: one client per run dropped its stream after 3 events and came back with \`Last-Event-ID: 3\`; its ${RUNS} joined sequences ` +
      `${resumedCheck.problems.length === 0 && resumedCheck.lost + resumedCheck.repeated === 0 ? 'equal the other clients\'' : '**differ** from the others\''} (live p99 in that round ${fmt(percentile(resumedLatency.live, 0.99), 0)} ms).`);
    out(`Server memory: RSS ${fmt(memoryBefore.rss, 0)} MiB after the warm-up, ${fmt(memoryAfter.rss, 0)} MiB after ${2 * ROUNDS + 1} more rounds (${posted.length} runs); peak ${fmt(memoryAfter.peak, 0)} MiB.`);
    // The server hands run:end to its clients before the recorder writes the run's end (recorded-run.ts): how often
    // a client that read the store at once would still have seen it running.
    const lagging = served.reduce((n, r) => n + r.runs.filter((run) => run.polls > 1).length, 0);
    out(`Once every client of a run had its run:end, GET /api/runs/{id} still said running for ${lagging} of ${RUNS * ROUNDS} runs (read again ${POLL_MS} ms later).`);
    const said = s.stderr().split('\n').filter((line) => line && !line.startsWith('conductor serve: '));
    if (said.length) out(`The server wrote on stderr: ${said.slice(0, 5).map((line) => `\`${line.slice(0, 200)}\``).join('; ')}${said.length > 5 ? ` … (${said.length} lines)` : ''}`);
    for (const p of problems.slice(0, 10)) out(`- ${p}`);
    if (problems.length > 10) out(`- … and ${problems.length - 10} more`);
    return [
      { goal: '#18', what: `${RUNS} runs × ${CLIENTS} SSE clients: every event delivered once, as the store has it`, measured: `${lost} lost, ${repeated} repeated of ${deliveries}; ${problems.length + notSucceeded.length} mismatches`, floor: 'the store', ratio: 'goal 0', met: intact },
      { goal: '#18', what: `${RUNS} runs × ${CLIENTS} SSE clients: event delivery latency`, measured: `p50 ${fmt(p50, 0)} ms, p99 ${fmt(p99, 0)} ms`, floor: '—', ratio: 'goal p99 ≤ 50 ms', met: p99 <= 50, reason: `the client's own event-loop delay p99 ${fmt(clientLoopP99, 0)} ms; load average ${fmt(load)} on 2 cores at the start` },
      { goal: '#18', what: `${RUNS} runs of mixed with ${RUNS * CLIENTS} SSE streams: makespan`, measured: `${fmt(servedMs, 0)} ms`, floor: `no streams ${fmt(floorMs, 0)} ms`, ratio: `${fmt(servedMs / floorMs)}× (goal ≤ 1.2×)`, met: servedMs / floorMs <= 1.2, reason: `server CPU ${fmt(servedCpu * 1000, 0)} ms a round against ${fmt(floorCpu * 1000, 0)} ms; load average ${fmt(load)} on 2 cores at the start` },
    ];
  } catch (error) {
    // A request that failed because the server died says nothing about why: its stderr does.
    if (server?.stderr()) throw new Error(`${String(error)}\nconductor serve's stderr:\n${server.stderr().slice(-4000)}`, { cause: error });
    throw error;
  } finally {
    await server?.close();
    await standIn.close();
    agent.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

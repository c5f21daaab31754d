/**
 * Issue #16, goal 3: CPU per `llm` call against raw undici. One process, one stand-in (its own process, 20 ms
 * answers, the OpenAI protocol), 5,000 calls 100 at once, three ways, taking turns (median of 3, after a
 * warm-up):
 * - floor: undici `request` POSTing the very body (and headers) the SDK sends, reading the JSON answer;
 * - transport: the same request through the `fetch` the SDK is given (transport.ts), its Response read whole;
 * - action: the `llm` action's `run` (our provider wiring, the AI SDK, its limiter), in a promise pool;
 * - engine: a workflow of 5,000 independent `llm` steps, limit 100, through `runWorkflow`.
 * Figures are this process's CPU time (`process.cpuUsage`) per call. The goal is stated on the engine: it is what
 * a user pays for a call.
 */
import { Agent, request } from 'undici';
import { llmAction, type LlmInput } from '../src/actions/llm/index.ts';
import type { ActionContext } from '../src/actions/types.ts';
import { parseWorkflow } from '../src/definition/load.ts';
import { providerFetch } from '../src/providers/transport.ts';
import { runWorkflow } from '../src/scheduler/run.ts';
import { fmt, median, verdict, type Goal, type Out } from './goals.ts';
import { startStandIn } from './stand-in-process.ts';

const CALLS = 5000;
const LIMIT = 100;
const GOAL = 3;

/** `calls` calls of `call`, `LIMIT` at once; this process's CPU µs per call. */
async function cpuPerCall(calls: number, call: (i: number) => Promise<unknown>): Promise<number> {
  globalThis.gc?.();
  const cpu0 = process.cpuUsage();
  let next = 0;
  await Promise.all(Array.from({ length: LIMIT }, async () => {
    while (next < calls) await call(next++);
  }));
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / calls;
}

export async function llmCpuScenario(out: Out, progress: (s: string) => void): Promise<Goal[]> {
  const server = await startStandIn({ latencyMs: 20 });
  const env = { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'bench' };
  const agent = new Agent({ connections: LIMIT });
  try {
    // What the SDK sends, exactly: read once off a fetch that records it.
    const sent = await sdkRequest(env);
    const url = `${env.OPENAI_BASE_URL}/chat/completions`;
    const floor = async (i: number) => {
      const { statusCode, body } = await request(url, { method: 'POST', headers: sent.headers, body: sent.body(i), dispatcher: agent });
      const answer = (await body.json()) as { choices: { message: { content: string } }[] };
      if (statusCode !== 200 || typeof answer.choices[0]?.message.content !== 'string') throw new Error(`stand-in answered ${statusCode}`);
    };
    const transport = providerFetch();
    const viaTransport = async (i: number) => {
      const response = await transport(url, { method: 'POST', headers: sent.headers, body: sent.body(i), signal: new AbortController().signal });
      await response.text();
    };

    const runScope = new Map<string, unknown>();
    const ctx: ActionContext = {
      signal: AbortSignal.abort(), // replaced per call
      stepId: 'bench',
      baseDir: process.cwd(),
      env,
      defaults: { maxConcurrency: LIMIT, rateLimits: {} },
      runScope,
      notify: () => {},
      untimed: (work) => work,
    };
    await llmAction.prepare!();
    const action = async (i: number) => {
      const input: LlmInput = { model: 'openai:bench', prompt: `step ${i}` };
      // Each call its own signal, as the engine gives each step (listeners on one shared signal cost O(n) each).
      const r = await llmAction.run(input, { ...ctx, stepId: `s${i}`, signal: new AbortController().signal });
      if (typeof r.output !== 'string') throw new Error('no answer');
    };

    const spec = parseWorkflow(
      `config:\n  maxConcurrency: ${LIMIT}\nsteps:\n${Array.from({ length: CALLS }, (_, i) => `  - id: s${i}\n    llm: { model: "openai:bench", prompt: "step ${i}" }\n`).join('')}`,
      'llm-cpu.yaml',
    );
    const engine = async () => {
      globalThis.gc?.();
      const cpu0 = process.cpuUsage();
      const report = await runWorkflow(spec, { env });
      const cpu = process.cpuUsage(cpu0);
      if (report.status !== 'succeeded') throw new Error(report.error);
      return (cpu.user + cpu.system) / CALLS;
    };

    progress('llm CPU: warm-up');
    await cpuPerCall(1000, floor);
    await cpuPerCall(1000, viaTransport);
    await cpuPerCall(1000, action);
    await engine();
    const floors: number[] = [], transports: number[] = [], actions: number[] = [], engines: number[] = [];
    for (let k = 0; k < 3; k++) {
      floors.push(await cpuPerCall(CALLS, floor));
      transports.push(await cpuPerCall(CALLS, viaTransport));
      actions.push(await cpuPerCall(CALLS, action));
      engines.push(await engine());
      progress(`llm CPU round ${k + 1}: floor ${fmt(floors[k]!, 0)} µs, transport ${fmt(transports[k]!, 0)} µs, action ${fmt(actions[k]!, 0)} µs, engine ${fmt(engines[k]!, 0)} µs per call`);
    }
    const [f, t, a, e] = [median(floors), median(transports), median(actions), median(engines)];
    const met = e / f <= GOAL;
    out('## 11. CPU per `llm` call (#16 goal 3)');
    out();
    out(`${CALLS.toLocaleString('en-US')} calls, ${LIMIT} at once, against the stand-in (its own process, OpenAI protocol, 20 ms answers); this`);
    out('process\'s CPU time per call, median of 3 rounds taking turns.');
    out();
    out('| how | CPU per call | ÷ floor |');
    out('| --- | ---: | ---: |');
    out(`| floor: undici \`request\`, the same body and headers the SDK sends, JSON answer read | ${fmt(f, 0)} µs | 1.00 |`);
    out(`| the SDK's \`fetch\` (transport.ts): the same request, a \`Response\` read whole | ${fmt(t, 0)} µs | ${fmt(t / f)} |`);
    out(`| the \`llm\` action's \`run\` (AI SDK through our provider wiring), promise pool | ${fmt(a, 0)} µs | ${fmt(a / f)} |`);
    out(`| the engine: ${CALLS.toLocaleString('en-US')} independent \`llm\` steps, \`runWorkflow\` | ${fmt(e, 0)} µs | ${fmt(e / f)} |`);
    out();
    out(`Goal (on the engine, what a user pays per call): ≤ ${GOAL}× the floor — ${verdict(met)}.`);
    out();
    const reason = `of ${fmt(e, 0)} µs: the floor ${fmt(f, 0)}, the fetch the SDK needs (Headers, a Response) ${fmt(t - f, 0)}, the provider library's \`doGenerate\` (request building, reading the body, zod validation of the answer) with our wiring ${fmt(a - t, 0)}, the engine ${fmt(e - a, 0)}`;
    if (!met) {
      out(`Where it goes, ${reason} (each the difference between two rows). A plain call goes to the provider model's`);
      out('`doGenerate` (no `generateText` step loop); the profile puts the SDK\'s share in provider-utils (posting, headers,');
      out('reading the body as a web stream, JSON parsing with zod validation) and @ai-sdk/openai (its arguments, provider');
      out('options): code we call, not ours to change. Our wiring (limiter, model and endpoint lookups) is ~5 µs a call.');
      out();
    }
    const goal: Goal = {
      goal: 3,
      what: `CPU per \`llm\` call, ${CALLS.toLocaleString('en-US')} steps, ${LIMIT} at once (engine; the action alone ${fmt(a, 0)} µs)`,
      measured: `${fmt(e, 0)} µs`,
      floor: `undici \`request\`, same bodies: ${fmt(f, 0)} µs`,
      ratio: `${fmt(e / f)}× (goal ≤ ${GOAL}×)`,
      met,
    };
    if (!met) goal.reason = reason;
    return [goal];
  } finally {
    await agent.close();
    await server.close();
  }
}

/** The headers and body the provider library sends for one plain chat completion (as generate.ts calls it), the prompt varied. */
async function sdkRequest(env: Record<string, string>): Promise<{ headers: Record<string, string>; body: (i: number) => string }> {
  const { createOpenAI } = await import('@ai-sdk/openai');
  let seen: { headers: Record<string, string>; body: string } | undefined;
  const recording: typeof fetch = async (input, init) => {
    seen = { headers: Object.fromEntries(new Headers(init?.headers).entries()), body: String(init?.body) };
    return fetch(input, init);
  };
  const chat = createOpenAI({ baseURL: env['OPENAI_BASE_URL'], apiKey: env['OPENAI_API_KEY'], fetch: recording }).chat('bench');
  await chat.doGenerate({ prompt: [{ role: 'user', content: [{ type: 'text', text: 'PROMPT' }] }] });
  const [before, after] = seen!.body.split('PROMPT') as [string, string];
  return { headers: seen!.headers, body: (i) => `${before}step ${i}${after}` };
}

if (import.meta.main) {
  const goals = await llmCpuScenario(console.log, (s) => console.error(s));
  console.log(JSON.stringify(goals, null, 2));
}

/**
 * Scenario 7: `foreach`. Items must cost no more than hand-written steps, stay linear to 100,000, reach the
 * same span over a provider as written steps, and keep critical path first when a fan-out competes with a chain.
 * Every figure is a ratio against a floor measured in the same run.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWorkflow } from '../src/definition/load.ts';
import { runWorkflow } from '../src/scheduler/run.ts';
import { fmt, median, verdict, type Goal } from './goals.ts';
import { startStandIn } from './stand-in-process.ts';

type Out = (text?: string) => void;

/** CPU µs per unit and peak heap growth of one run (after a warm-up run of the same spec). */
async function measure(spec: ReturnType<typeof parseWorkflow>, units: number, options: Parameters<typeof runWorkflow>[1] = {}): Promise<{ cpuUs: number; wallUs: number; heapMiB: number }> {
  const cpus: number[] = [];
  const walls: number[] = [];
  let heap = 0;
  for (let k = 0; k < 3; k++) {
    globalThis.gc?.();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const report = await runWorkflow(spec, options);
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    if (report.status !== 'succeeded') throw new Error(report.error);
    if (k === 0) continue; // warm-up
    cpus.push((cpu.user + cpu.system) / units);
    walls.push((wall * 1000) / units);
    heap = Math.max(heap, (peak - before) / 2 ** 20);
  }
  return { cpuUs: median(cpus), wallUs: median(walls), heapMiB: heap };
}

export async function foreachScenario(out: Out): Promise<Goal[]> {
  const dir = await mkdtemp(join(tmpdir(), 'conductor-bench-foreach-'));
  try {
    await writeFile(join(dir, 'tiny.txt'), 'x');
    const limit = 16;
    const written = (n: number) => parseWorkflow(`config:\n  maxConcurrency: ${limit}\nsteps:\n${Array.from({ length: n }, (_, i) => `  - id: s${i}\n    file: { action: read, path: tiny.txt }`).join('\n')}\n`, join(dir, `w${n}.yaml`));
    const items = (n: number) => parseWorkflow(`config:\n  maxConcurrency: ${limit}\n  maxItems: ${n}\ninputs:\n  list: { type: array }\nsteps:\n  - id: each\n    foreach: \${inputs.list}\n    file: { action: read, path: "\${item}" }\n`, join(dir, `f${n}.yaml`));
    const list = (n: number) => Array.from({ length: n }, () => 'tiny.txt');
    const w10 = await measure(written(10_000), 10_000);
    const f10 = await measure(items(10_000), 10_000, { inputs: { list: list(10_000) } });
    const f100 = await measure(items(100_000), 100_000, { inputs: { list: list(100_000) } });

    // Over a provider: 2,000 llm calls at 20 ms, limit 100, as items and as written steps.
    const server = await startStandIn({ latencyMs: 20 });
    let llmItems = 0;
    let llmSteps = 0;
    let ideal = 0;
    try {
      const env = { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'bench' };
      const n = 2000;
      const asItems = parseWorkflow(`config:\n  maxConcurrency: 100\n  maxItems: ${n}\ninputs:\n  list: { type: array }\nsteps:\n  - id: each\n    foreach: \${inputs.list}\n    llm: { model: "openai:bench", prompt: "item \${item}" }\n`, join(dir, 'llm-items.yaml'));
      const asSteps = parseWorkflow(`config:\n  maxConcurrency: 100\nsteps:\n${Array.from({ length: n }, (_, i) => `  - id: s${i}\n    llm: { model: "openai:bench", prompt: "item ${i}" }`).join('\n')}\n`, join(dir, 'llm-steps.yaml'));
      const numbers = Array.from({ length: n }, (_, i) => i);
      const span = async (spec: typeof asItems, options: Parameters<typeof runWorkflow>[1]) => {
        const t0 = performance.now();
        const report = await runWorkflow(spec, { env, ...options });
        if (report.status !== 'succeeded') throw new Error(report.error);
        return performance.now() - t0;
      };
      await span(asItems, { inputs: { list: numbers } }); // warm-up
      const a: number[] = [];
      const b: number[] = [];
      for (let k = 0; k < 5; k++) {
        a.push(await span(asItems, { inputs: { list: numbers } }));
        b.push(await span(asSteps, {}));
      }
      ideal = (n / 100) * 20;
      llmItems = median(a) / ideal;
      llmSteps = median(b) / ideal;
    } finally {
      await server.close();
    }

    // Critical path first: a foreach of 40 short items (written first) competes with a chain of 6 long steps.
    const chainStart = await criticalPathOrder(dir);

    out('## 7. foreach: items as units of work');
    out();
    out('| work | CPU µs per unit | wall µs per unit | peak heap growth |');
    out('| --- | ---: | ---: | ---: |');
    out(`| 10,000 written \`file\` steps (the floor) | ${fmt(w10.cpuUs, 1)} | ${fmt(w10.wallUs, 1)} | ${fmt(w10.heapMiB, 1)} MiB |`);
    out(`| a foreach of 10,000 \`file\` items | ${fmt(f10.cpuUs, 1)} | ${fmt(f10.wallUs, 1)} | ${fmt(f10.heapMiB, 1)} MiB |`);
    out(`| a foreach of 100,000 \`file\` items | ${fmt(f100.cpuUs, 1)} | ${fmt(f100.wallUs, 1)} | ${fmt(f100.heapMiB, 1)} MiB |`);
    out();
    const perItem = f10.cpuUs / w10.cpuUs;
    const linear = f100.cpuUs / f10.cpuUs;
    out(`An item costs ${fmt(perItem)}× a written step in CPU — goal no more than a written step (≤ 1, within 5 % for noise): ${verdict(perItem <= 1.05)}. Per item at 100k ÷ at 10k: ${fmt(linear)} — goal ≤ 1.2: ${verdict(linear <= 1.2)}.`);
    out(`2,000 \`llm\` calls at 20 ms, limit 100 (ideal ${fmt(ideal, 0)} ms): as items ${fmt(llmItems)}× ideal, as written steps ${fmt(llmSteps)}× — goal the same (within 10 %): ${verdict(llmItems <= llmSteps * 1.1)}.`);
    out(`Critical path first with a foreach of 40 short items declared before a chain of 6 long steps (limit 4): the chain's first step started ${chainStart === 0 ? 'first' : `after ${chainStart} items`} — ${verdict(chainStart === 0)}.`);
    out();
    return [
      { goal: 6, what: 'a `foreach` item vs a written step: 10,000 `file` reads, CPU per unit', measured: `${fmt(f10.cpuUs, 1)} µs`, floor: `written steps: ${fmt(w10.cpuUs, 1)} µs`, ratio: `${fmt(perItem)}× (goal ≤ 1, 5 % noise)`, met: perItem <= 1.05 },
      { goal: 6, what: 'a `foreach` item vs a written step: 2,000 `llm` calls at 20 ms, span ÷ ideal', measured: `${fmt(llmItems)}×`, floor: `written steps: ${fmt(llmSteps)}×`, ratio: `${fmt(llmItems / llmSteps)} (goal ≤ 1.10)`, met: llmItems <= llmSteps * 1.1 },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** How many items started before the long chain's first step, on a first run (typical durations only). */
async function criticalPathOrder(dir: string): Promise<number> {
  const server = await startStandIn({ latencyMs: 5 });
  try {
    const env = { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'bench' };
    const chain = Array.from({ length: 6 }, (_, i) => `  - id: c${i}\n    llm: { model: "openai:bench", prompt: "chain ${i}${i ? ` \${steps.c${i - 1}.output}` : ''}" }`).join('\n');
    const spec = parseWorkflow(`config:\n  maxConcurrency: 4\nsteps:\n  - id: short\n    foreach: [${Array.from({ length: 40 }, (_, i) => i).join(', ')}]\n    file: { action: exists, path: "x\${item}.txt" }\n${chain}\n`, join(dir, 'cp.yaml'));
    let items = 0;
    let first = -1;
    await runWorkflow(spec, {
      env,
      onEvent: (e) => {
        if (e.type === 'item:start') items++;
        if (e.type === 'step:start' && e.stepId === 'c0' && first === -1) first = items;
      },
    });
    return first;
  } finally {
    await server.close();
  }
}

/**
 * Scenario 6: 100 independent LLM steps against an OpenAI-compatible stand-in that allows 20 requests per
 * second (a sliding window) and answers 429 with `retry-after-ms` beyond that. Ideal: 5 s.
 */
import { parseWorkflow } from '../src/definition/load.ts';
import { runWorkflow } from '../src/scheduler/run.ts';
import { startStandIn } from './stand-in-process.ts';

export interface RateLimitedResult {
  steps: number;
  rps: number;
  seconds: number;
  ideal: number;
  served: number;
  rejected: number;
  succeeded: boolean;
}

export async function rateLimited(options: { steps?: number; rps?: number; latencyMs?: number; maxConcurrency?: number } = {}): Promise<RateLimitedResult> {
  const steps = options.steps ?? 100;
  const rps = options.rps ?? 20;
  const server = await startStandIn({ latencyMs: options.latencyMs ?? 50, rps });
  try {
    const text = `config:\n  maxConcurrency: ${options.maxConcurrency ?? 10}\nsteps:\n${Array.from({ length: steps }, (_, i) => `  - id: s${i}\n    llm: { model: "openai:bench", prompt: "request ${i}" }\n`).join('')}`;
    const spec = parseWorkflow(text, 'rate-limited.yaml');
    const started = performance.now();
    const report = await runWorkflow(spec, { env: { OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'bench' } });
    const seconds = (performance.now() - started) / 1000;
    const served = Object.values(report.steps).filter((s) => s.status === 'succeeded').length;
    const { rejected } = await server.stats();
    return { steps, rps, seconds, ideal: steps / rps, served, rejected, succeeded: report.status === 'succeeded' };
  } finally {
    await server.close();
  }
}

if (import.meta.main) {
  const r = await rateLimited();
  console.log(JSON.stringify({ ...r, ratio: r.seconds / r.ideal, rejectedPerRequest: r.rejected / r.steps }, null, 2));
}

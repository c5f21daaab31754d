/**
 * The runners compared on each graph, all driving the same stand-in server (a step = one request that the
 * server answers after the step's duration): Conductor itself, async.auto (dependency-driven, FIFO),
 * p-graph (dependency-driven with priorities), and a level-by-level "waves" runner.
 */
import asyncLib from 'async';
import { PGraph } from 'p-graph';
import { parseWorkflow } from '../src/definition/load.ts';
import { runWorkflow } from '../src/scheduler/run.ts';
import type { BenchGraph } from './graphs.ts';

/**
 * A runner is prepared (outside the timed region: Conductor parses and validates its workflow there, which
 * scenario 4 measures on its own), then run.
 */
export type Runner = (g: BenchGraph, url: string) => Promise<() => Promise<void>>;

/** Step `i`'s request: the stand-in sleeps its duration, and traces it by `step`. */
export const stepUrl = (g: BenchGraph, url: string, i: number) => `${url}/sleep?ms=${g.durations[i]}&step=${i}`;
const task = (g: BenchGraph, url: string, i: number) => fetch(stepUrl(g, url, i)).then((r) => r.text());

export function conductorWorkflowText(g: BenchGraph, url: string): string {
  const steps = g.durations.map((_, i) => {
    const deps = g.deps[i]!.length ? `\n    depends_on: [${g.deps[i]!.map((p) => `s${p}`).join(', ')}]` : '';
    return `  - id: s${i}${deps}\n    http: { url: "${stepUrl(g, url, i)}" }`;
  });
  return `config:\n  maxConcurrency: ${g.limit}\nsteps:\n${steps.join('\n')}\n`;
}

export const conductor: Runner = async (g, url) => {
  const spec = parseWorkflow(conductorWorkflowText(g, url), 'bench.yaml');
  return async () => {
    const report = await runWorkflow(spec);
    if (report.status !== 'succeeded') throw new Error(`conductor: ${report.error}`);
  };
};

/**
 * Conductor on a second run of the same workflow: the run store then knows how long each step took, and the
 * CLI passes those durations as estimates. Here the graph's own durations stand in for that history.
 */
export const conductorWithHistory: Runner = async (g, url) => {
  const spec = parseWorkflow(conductorWorkflowText(g, url), 'bench.yaml');
  const estimates = Object.fromEntries(g.durations.map((d, i) => [`s${i}`, d]));
  return async () => {
    const report = await runWorkflow(spec, { estimates });
    if (report.status !== 'succeeded') throw new Error(`conductor: ${report.error}`);
  };
};

export const asyncAuto: Runner = async (g, url) => {
  const tasks: Record<string, unknown> = {};
  g.durations.forEach((_, i) => {
    tasks[`s${i}`] = [...g.deps[i]!.map((d) => `s${d}`), async () => task(g, url, i)];
  });
  return async () => void (await asyncLib.auto(tasks as Parameters<typeof asyncLib.auto>[0], g.limit));
};

export const pGraph: Runner = async (g, url) => {
  // p-graph adds up priorities along paths: priority 1 per node makes it prefer the longest chain.
  const nodes = new Map(g.durations.map((_, i) => [`s${i}`, { run: () => task(g, url, i), priority: 1 }]));
  const deps = g.deps.flatMap((ds, i) => ds.map((d): [string, string] => [`s${d}`, `s${i}`]));
  return async () => void (await new PGraph(nodes, deps).run({ concurrency: g.limit }));
};

/** What Promise.all per level, Mastra's `.parallel()` and LangGraph supersteps do: a barrier per level. */
export const waves: Runner = async (g, url) => {
  const level: number[] = [];
  g.deps.forEach((ds, i) => (level[i] = ds.length ? 1 + Math.max(...ds.map((d) => level[d]!)) : 0));
  const levels: number[][] = [];
  level.forEach((l, i) => (levels[l] ??= []).push(i));
  return async () => {
    for (const steps of levels) {
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(g.limit, steps.length) }, async () => {
          while (next < steps.length) await task(g, url, steps[next++]!);
        }),
      );
    }
  };
};

export const RUNNERS: Record<string, Runner> = { conductor, 'conductor 2nd run': conductorWithHistory, 'async.auto': asyncAuto, 'p-graph': pGraph, waves };

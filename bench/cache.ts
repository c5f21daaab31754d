/**
 * Scenario 8: the step cache. The 200-step random DAG of scenario 3 (seed 4: `http` GETs whose stand-in answers
 * after each step's duration), run once with the cache on, then again: every step is then answered from the
 * cache, and the re-run's time is a ratio to the first's. Both runs record into a run store as the CLI does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinActions } from '../src/actions/builtin.ts';
import { StoreStepCache } from '../src/cache/step-cache.ts';
import { parseWorkflow } from '../src/definition/load.ts';
import { runWorkflow } from '../src/scheduler/run.ts';
import { prepareFingerprints, preflightContext } from '../src/store/fingerprint.ts';
import { recorder } from '../src/store/recorder.ts';
import { SqliteRunStore } from '../src/store/sqlite.ts';
import { fmt, median, verdict } from './goals.ts';
import { randomDag } from './graphs.ts';
import { conductorWorkflowText } from './runners.ts';
import { startStandIn } from './stand-in-process.ts';

type Out = (text?: string) => void;

export interface CachedRerun {
  steps: number;
  firstMs: number;
  /** Median of the cached re-runs. */
  cachedMs: number;
  hits: number;
}

export async function cachedRerun(repeat = 3): Promise<CachedRerun> {
  const g = randomDag(200, 8, 4);
  const server = await startStandIn();
  const dir = await mkdtemp(join(tmpdir(), 'conductor-bench-cache-'));
  const store = new SqliteRunStore(join(dir, 'runs.db'));
  let unique = 0;
  try {
    // As scenario 3 writes it, but each step its own request (`&step=i`): steps of equal duration would
    // otherwise send the same one, and share an entry, and the first run would take some from the cache.
    const text = conductorWorkflowText(g, server.url).replaceAll(/sleep\?ms=(\d+)"/g, (_, ms: string) => `sleep?ms=${ms}&step=${unique++}"`);
    const spec = parseWorkflow(text, join(dir, 'bench.yaml'));
    const ctx = preflightContext(spec, process.env);
    const fingerprints = prepareFingerprints(spec, {}, ctx, builtinActions());
    const cache = new StoreStepCache({ entries: store.cache!, policy: { run: {} }, context: { ...ctx, baseDir: spec.baseDir } });
    const timed = async () => {
      const t0 = performance.now();
      const record = recorder(store, spec, { fingerprints });
      const report = await runWorkflow(spec, { cache, onEvent: record });
      await record.flush();
      if (report.status !== 'succeeded') throw new Error(report.error);
      return { ms: performance.now() - t0, hits: report.cache?.hits ?? 0 };
    };
    const first = await timed();
    if (first.hits !== 0) throw new Error(`a first run hit the cache ${first.hits} times`);
    const again: number[] = [];
    let hits = 0;
    for (let k = 0; k < repeat; k++) {
      const run = await timed();
      again.push(run.ms);
      hits = run.hits;
    }
    return { steps: g.durations.length, firstMs: first.ms, cachedMs: median(again), hits };
  } finally {
    await store.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function cacheScenario(out: Out): Promise<void> {
  const r = await cachedRerun();
  const ratio = r.cachedMs / r.firstMs;
  out('## 8. Step cache: a cached re-run');
  out();
  out(`The 200-step random DAG of scenario 3 (seed 4, \`http\` GETs, limit 8), run with the step cache on and recorded into a run store,`);
  out('then run again: every step is answered from the cache (nothing sent).');
  out();
  out('| steps | first run | cached re-run (median of 3) | hits | re-run ÷ first run |');
  out('| ---: | ---: | ---: | ---: | ---: |');
  out(`| ${r.steps} | ${fmt(r.firstMs / 1000)} s | ${fmt(r.cachedMs, 0)} ms | ${r.hits}/${r.steps} | ${fmt(ratio * 100, 1)} % |`);
  out();
  out(`Goal: every step a hit, and the re-run under 5 % of the first run's time — ${verdict(r.hits === r.steps && ratio < 0.05)}.`);
  out();
}

if (import.meta.main) console.log(JSON.stringify(await cachedRerun(), null, 2));

/**
 * Goal 1 of #16: instant steps, the whole process, store on. `conductor run wf.yaml --json` over a random DAG of
 * N instant `file` reads (a fresh store in a temp folder each time) against the floor, a plain Node script that
 * parses the same YAML with js-yaml and does the same reads in dependency order, 50 at once (instant-floor.mjs).
 * CPU time and peak RSS of each whole process, the commands taking turns; where a goal is missed, the CPU
 * profile of one run split by where its time goes.
 *
 *   node --expose-gc bench/instant-process.ts
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fmt, verdict, type Goal, type Out } from './goals.ts';
import { instantDag } from './graphs.ts';
import { measureProcess, medianUsage, type ProcessUsage } from './process-usage.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/conductor.js');
const FLOOR = join(import.meta.dirname, 'instant-floor.mjs');

/** The same YAML text as scenario 4 in run.ts: N `file` reads of one tiny file, each after up to 2 earlier ones. */
export function instantWorkflow(n: number): string {
  const g = instantDag(n);
  return `config:\n  maxConcurrency: ${g.limit}\nsteps:\n${g.deps.map((ds, i) => `  - id: s${i}\n    file: { action: read, path: tiny.txt }${ds.length ? `\n    depends_on: [${ds.map((d) => `s${d}`).join(', ')}]` : ''}`).join('\n')}\n`;
}

interface Row {
  n: number;
  conductor: ProcessUsage;
  floor: ProcessUsage;
  /** `conductor validate` of the same file, and the floor stopping after its parse: where the run part begins. */
  validate?: ProcessUsage;
  floorParse?: ProcessUsage;
}

/**
 * `times` rounds of conductor and the floor taking turns, a fresh store for each conductor run; medians. With
 * `split`, also `conductor validate` and the floor's parse alone, in the same rounds.
 */
function measure(dir: string, n: number, times: number, split = false): Row {
  const wf = join(dir, `wf-${n}.yaml`);
  writeFileSync(wf, instantWorkflow(n));
  const runs: { conductor: ProcessUsage[]; floor: ProcessUsage[]; validate: ProcessUsage[]; floorParse: ProcessUsage[] } = { conductor: [], floor: [], validate: [], floorParse: [] };
  for (let k = 0; k < times; k++) {
    const home = mkdtempSync(join(dir, 'home-'));
    try {
      const c = measureProcess([BIN, 'run', wf, '--json'], { cwd: dir, env: { CONDUCTOR_HOME: home } });
      const report = JSON.parse(c.stdout) as { status: string };
      if (report.status !== 'succeeded') throw new Error(`conductor run of ${n} steps: ${report.status}`);
      runs.conductor.push(c);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
    runs.floor.push(measureProcess([FLOOR, wf], { cwd: dir }));
    if (split) {
      runs.validate.push(measureProcess([BIN, 'validate', wf], { cwd: dir }));
      runs.floorParse.push(measureProcess([FLOOR, wf, '--parse-only'], { cwd: dir }));
    }
  }
  return { n, conductor: medianUsage(runs.conductor), floor: medianUsage(runs.floor), ...(split ? { validate: medianUsage(runs.validate), floorParse: medianUsage(runs.floorParse) } : {}) };
}

/** Where a profile's samples fall (self time), by the code they were in; a native frame counts as its caller's. */
const PLACES: [string, RegExp][] = [
  ['yaml parse', /node_modules\/yaml\//],
  ['zod', /node_modules\/zod\//],
  ['validation (definition, template, graph)', /dist\/(definition|template|graph|condition)\//],
  ['run loop (scheduler, core)', /dist\/(scheduler|core)\//],
  ['recording (store, SQLite)', /dist\/store\/|node:sqlite/],
  ['file reads (actions, node:fs)', /dist\/actions\/|^node:(internal\/)?fs/],
  ['CLI, reporters, cache, cost', /dist\/(cli|report|cache|cost|views)\//],
  ['module loading', /^node:internal\/(modules|bootstrap)/],
  ['other dependencies', /node_modules\//],
  ['other Node internals', /^node:/],
];

/** One run under `--cpu-prof`: the share of its CPU samples in each place (self time), largest first. */
export function profileSplit(dir: string, wf: string): [string, number][] {
  const profDir = mkdtempSync(join(dir, 'prof-'));
  const home = mkdtempSync(join(dir, 'home-'));
  try {
    const { status, stderr } = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, BIN, 'run', wf, '--json'], { cwd: dir, env: { ...process.env, CONDUCTOR_HOME: home }, encoding: 'utf8', maxBuffer: 1 << 30 });
    if (status !== 0) throw new Error(`profiled run failed: ${stderr.slice(0, 500)}`);
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))!;
    const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as {
      nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
      samples: number[];
      timeDeltas: number[];
    };
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const placeOf = (id: number): string => {
      const { url, functionName } = byId.get(id)!.callFrame;
      if (functionName === '(garbage collector)') return 'garbage collector';
      if (functionName === '(idle)') return 'idle';
      if (url) return PLACES.find(([, re]) => re.test(url))?.[0] ?? 'other';
      const up = parent.get(id);
      return up === undefined || functionName === '(program)' ? 'V8 (compiling, start-up)' : placeOf(up);
    };
    const time = new Map<string, number>();
    let total = 0;
    profile.samples.forEach((id, k) => {
      const name = placeOf(id);
      if (name === 'idle') return; // waiting, not working
      const dt = profile.timeDeltas[k] ?? 0;
      time.set(name, (time.get(name) ?? 0) + dt);
      total += dt;
    });
    return [...time].map(([name, t]): [string, number] => [name, t / total]).sort((a, b) => b[1] - a[1]);
  } finally {
    rmSync(profDir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
}

export async function instantProcessScenario(out: Out, progress: (s: string) => void): Promise<Goal[]> {
  const dir = mkdtempSync(join(tmpdir(), 'conductor-bench-instant-'));
  try {
    writeFileSync(join(dir, 'tiny.txt'), 'x');
    // A warm-up of each (the compile cache, the page cache), not counted.
    writeFileSync(join(dir, 'warm.yaml'), instantWorkflow(100));
    measureProcess([BIN, 'run', join(dir, 'warm.yaml'), '--json'], { cwd: dir, env: { CONDUCTOR_HOME: join(dir, 'warm-home') } });
    measureProcess([FLOOR, join(dir, 'warm.yaml')], { cwd: dir });
    progress('  instant steps, whole process: 5,000 steps');
    const small = measure(dir, 5000, 5, true);
    progress('  instant steps, whole process: 20,000 steps');
    const large = measure(dir, 20000, 3);
    const perStep = (u: ProcessUsage, n: number) => (u.cpuMs * 1000) / n;
    const cpuRatio = perStep(small.conductor, 5000) / perStep(small.floor, 5000);
    const memRatio = small.conductor.maxRssMiB / small.floor.maxRssMiB;
    const linear = perStep(large.conductor, 20000) / perStep(small.conductor, 5000);
    const floorLinear = perStep(large.floor, 20000) / perStep(small.floor, 5000);
    const cpuMet = cpuRatio <= 2;
    const memMet = memRatio <= 2;
    const linearMet = linear <= 1.2;
    let split: [string, number][] = [];
    if (!cpuMet || !linearMet) {
      progress('  instant steps: profiling one 5,000-step run');
      split = profileSplit(dir, join(dir, 'wf-5000.yaml'));
    }
    const splitText = split.filter(([, s]) => s >= 0.02).map(([name, s]) => `${name} ${fmt(s * 100, 0)} %`).join(', ');
    // Before the run and the run itself, each against its part of the floor (µs per step at 5,000).
    const before = perStep(small.validate!, 5000);
    const floorBefore = perStep(small.floorParse!, 5000);
    const runPart = perStep(small.conductor, 5000) - before;
    const floorRun = perStep(small.floor, 5000) - floorBefore;
    const partsText = `\`conductor validate\` of the same file (start-up, module loading, YAML parse, checks) ${fmt(before, 0)} µs a step against the floor's start-up and js-yaml parse ${fmt(floorBefore, 0)} µs (${fmt(before / floorBefore)}×); the run itself (reads, loop, recording, report) ${fmt(runPart, 0)} µs against the floor's reads and output ${fmt(floorRun, 0)} µs (${fmt(runPart / floorRun)}×)`;

    out('## 9. Instant steps, whole process, store on (`conductor run wf.yaml --json`; #16 goal 1)');
    out();
    out('A random DAG of instant `file` reads of one tiny file (each step after up to 2 earlier ones, limit 16), a fresh');
    out('store each run. The floor: a plain Node script that parses the same YAML with js-yaml and does the same reads in');
    out('dependency order, 50 at once, printing a JSON summary (bench/instant-floor.mjs). Whole processes, CPU time and');
    out('peak RSS, medians (5 rounds at 5,000, 3 at 20,000), the two taking turns.');
    out();
    out('| steps | Conductor CPU µs per step | floor CPU µs per step | ratio | Conductor peak RSS | floor peak RSS | ratio | Conductor wall |');
    out('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of [small, large]) {
      out(`| ${r.n} | ${fmt(perStep(r.conductor, r.n), 0)} | ${fmt(perStep(r.floor, r.n), 0)} | ${fmt(perStep(r.conductor, r.n) / perStep(r.floor, r.n))}× | ${fmt(r.conductor.maxRssMiB, 0)} MiB | ${fmt(r.floor.maxRssMiB, 0)} MiB | ${fmt(r.conductor.maxRssMiB / r.floor.maxRssMiB)}× | ${fmt(r.conductor.wallMs / 1000)} s |`);
    }
    out();
    out(`CPU per step at 5,000: ${fmt(cpuRatio)}× the floor — goal ≤ 2×: ${verdict(cpuMet)}. Peak RSS: ${fmt(memRatio)}× — goal ≤ 2×: ${verdict(memMet)}.`);
    out(`Per step at 20,000 ÷ at 5,000: ${fmt(linear)} (the floor's: ${fmt(floorLinear)}) — goal linear (≤ 1.2): ${verdict(linearMet)}.`);
    out(`Split at 5,000 steps: ${partsText}.`);
    if (splitText) out(`Where a 5,000-step run's CPU goes (self time in its profile): ${splitText}.`);
    out();

    const reason = `${partsText}${splitText ? `; profile (self time): ${splitText}` : ''}`;
    return [
      {
        goal: 1,
        what: '5,000 instant `file` steps, whole process, CPU per step',
        measured: `${fmt(perStep(small.conductor, 5000), 0)} µs`,
        floor: `js-yaml + reads: ${fmt(perStep(small.floor, 5000), 0)} µs`,
        ratio: `${fmt(cpuRatio)}× (goal ≤ 2×)`,
        met: cpuMet,
        ...(cpuMet ? {} : { reason }),
      },
      {
        goal: 1,
        what: '5,000 instant `file` steps, whole process, peak RSS',
        measured: `${fmt(small.conductor.maxRssMiB, 0)} MiB`,
        floor: `js-yaml + reads: ${fmt(small.floor.maxRssMiB, 0)} MiB`,
        ratio: `${fmt(memRatio)}× (goal ≤ 2×)`,
        met: memMet,
        ...(memMet ? {} : { reason: `\`conductor validate\` of the same file alone peaks at ${fmt(small.validate!.maxRssMiB, 0)} MiB (the floor's parse alone: ${fmt(small.floorParse!.maxRssMiB, 0)} MiB)` }),
      },
      {
        goal: 1,
        what: 'instant steps, CPU per step at 20,000 ÷ at 5,000',
        measured: fmt(linear),
        floor: `js-yaml + reads: ${fmt(floorLinear)}`,
        ratio: `${fmt(linear)} (goal ≤ 1.2)`,
        met: linearMet,
        ...(linearMet ? {} : { reason }),
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await instantProcessScenario(console.log, (s) => console.error(s));

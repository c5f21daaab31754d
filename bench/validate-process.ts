/**
 * #16 goal 2: `conductor validate` of a 10,000-step `llm` workflow, whole process, against a process that only
 * parses the same file with js-yaml (the floor) and an empty Node start, each a new process of the project's
 * Node, taking turns. The ratio is in CPU time. Beside it, informative: the same file with one error in its last
 * step. The fast path answers it too, in one pass; locating the problem builds yaml's Document (positions) once,
 * which is what it costs over the valid file.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, median, verdict, type Goal, type Out } from './goals.ts';
import { measureEach, measureProcess } from './process-usage.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/conductor.js');
const STEPS = 10_000;
const TIMES = 5;

/** The file bench/run.ts validates: each step an `llm` call whose prompt uses an earlier step's output. */
export function tenThousandSteps(lastPrompt?: string): string {
  const step = (i: number) => `  - id: s${i}\n    llm:\n      prompt: "${i === STEPS - 1 && lastPrompt !== undefined ? lastPrompt : `Summarise: ${i === 0 ? 'the input' : `\${steps.s${Math.floor(i * 0.7)}.output}`}`}"\n`;
  return `name: ten-thousand\nsteps:\n${Array.from({ length: STEPS }, (_, i) => step(i)).join('')}`;
}

// The floor: what any validator must do at least — start Node, load a YAML parser, read and parse the file.
const PARSE_ONLY = [
  "import module from 'node:module'; import { readFileSync } from 'node:fs'; module.enableCompileCache?.();",
  "const { load } = await import('js-yaml');",
  "load(readFileSync(process.argv[1], 'utf8'));",
].join(' ');

export async function validateScenario(out: Out, progress: (s: string) => void): Promise<Goal[]> {
  const dir = await mkdtemp(join(tmpdir(), 'conductor-validate-bench-'));
  try {
    const file = join(dir, 'ten-thousand.yaml');
    const broken = join(dir, 'ten-thousand-broken.yaml');
    await writeFile(file, tenThousandSteps());
    await writeFile(broken, tenThousandSteps('${steps.nowhere.output}'));
    progress(`validate: ${STEPS} steps, ${TIMES} rounds`);
    const [validate, parseOnly, empty] = measureEach([[BIN, 'validate', file], ['--input-type=module', '-e', PARSE_ONLY, file], ['-e', '']], TIMES, { cwd: ROOT });
    const fallback = Array.from({ length: TIMES }, () => measureProcess([BIN, 'validate', broken], { cwd: ROOT, allowFailure: true }));
    const located = { cpuMs: median(fallback.map((u) => u.cpuMs)), wallMs: median(fallback.map((u) => u.wallMs)), maxRssMiB: median(fallback.map((u) => u.maxRssMiB)) };
    const ratio = validate!.cpuMs / parseOnly!.cpuMs;
    const met = ratio <= 2;

    out('## 10. Validate: a 10,000-step `llm` workflow, whole process (#16 goal 2)');
    out();
    out(`Each a new process of the project's Node, ${TIMES} rounds taking turns, medians; CPU is user + system.`);
    out();
    out('| process | CPU ms | wall ms | peak RSS MiB |');
    out('| --- | ---: | ---: | ---: |');
    const row = (name: string, u: { cpuMs: number; wallMs: number; maxRssMiB: number }) => out(`| ${name} | ${fmt(u.cpuMs, 0)} | ${fmt(u.wallMs, 0)} | ${fmt(u.maxRssMiB, 0)} |`);
    row('`conductor validate` (valid: the fast path)', validate!);
    row('floor: js-yaml `load` of the same file, nothing else', parseOnly!);
    row('an empty Node start (`node -e ""`)', empty!);
    row('`conductor validate`, one error in the last step (one pass, then located; informative)', located);
    out();
    out(`Goal 2: validate ÷ parse-only, CPU: ${fmt(ratio)}× (goal ≤ 2×; wall ${fmt(validate!.wallMs / parseOnly!.wallMs)}×, peak RSS ${fmt(validate!.maxRssMiB / parseOnly!.maxRssMiB)}×) — ${verdict(met)}.`);
    let reason: string | undefined;
    if (!met) {
      reason = split(file, empty!.cpuMs);
      out(`Where validate's CPU goes (one run with --cpu-prof): ${reason}.`);
    }
    out();
    return [
      {
        goal: 2,
        what: '`validate` of a 10,000-step `llm` workflow, whole process, CPU',
        measured: `${fmt(validate!.cpuMs, 0)} ms`,
        floor: `js-yaml parse-only process: ${fmt(parseOnly!.cpuMs, 0)} ms`,
        ratio: `${fmt(ratio)}× (goal ≤ 2×)`,
        met,
        ...(reason ? { reason } : {}),
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One profiled validate, its self time split into Node start, module loading, parse, checks and GC. */
function split(file: string, nodeStartMs: number): string {
  const profiles = join(tmpdir(), `conductor-validate-prof-${process.pid}`);
  measureProcess(['--cpu-prof', `--cpu-prof-dir=${profiles}`, BIN, 'validate', file], { cwd: ROOT });
  const profile = JSON.parse(readFileSync(join(profiles, readdirSync(profiles)[0]!), 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const nodes = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const ms = { gc: 0, modules: 0, parse: 0, checks: 0, other: 0 };
  profile.samples.forEach((id, i) => {
    const { functionName, url } = nodes.get(id)!;
    const t = (profile.timeDeltas[i] ?? 0) / 1000;
    if (functionName === '(garbage collector)') ms.gc += t;
    else if (url.includes('node_modules/js-yaml/') || url.endsWith('fast-parse.js')) ms.parse += t;
    else if (url.includes('/dist/') || url.includes('node_modules/zod/')) ms.checks += t;
    else if (url.startsWith('node:internal/modules') || /^(compile|ModuleWrap|internalModule)/.test(functionName)) ms.modules += t;
    else ms.other += t;
  });
  rmSync(profiles, { recursive: true, force: true });
  return `Node start ~${fmt(nodeStartMs, 0)} ms (the empty process), module loading ${fmt(ms.modules, 0)} ms, parse (js-yaml + events) ${fmt(ms.parse, 0)} ms, checks (schema, references, graph) ${fmt(ms.checks, 0)} ms, GC ${fmt(ms.gc, 0)} ms, other ${fmt(ms.other, 0)} ms`;
}

if (import.meta.main) await validateScenario(console.log, (s) => console.error(s));

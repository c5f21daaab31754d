/**
 * Whole-process measurements: a new Node process (the project's Node 24) runs `args`, and we read back its CPU
 * time and peak RSS (see usage-probe.ts) and the wall time around it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median } from '../src/core/median.ts';

export interface ProcessUsage {
  wallMs: number;
  cpuMs: number;
  maxRssMiB: number;
  stdout: string;
}

const probe = pathToFileURL(join(import.meta.dirname, 'usage-probe.ts')).href;

/** Run `node <args>` once; throws with its stderr when it exits non-zero (unless `allowFailure`). */
export function measureProcess(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; allowFailure?: boolean } = {}): ProcessUsage {
  const dir = mkdtempSync(join(tmpdir(), 'conductor-usage-'));
  const file = join(dir, 'usage.json');
  try {
    const t0 = performance.now();
    const { status, stdout, stderr } = spawnSync(process.execPath, ['--import', probe, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env, BENCH_USAGE_FILE: file },
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    });
    const wallMs = performance.now() - t0;
    if (status !== 0 && !options.allowFailure) throw new Error(`\`node ${args.join(' ').slice(0, 100)}…\` failed (${status}): ${stderr.slice(0, 2000)}`);
    const usage = JSON.parse(readFileSync(file, 'utf8')) as { cpuUs: number; maxRssKiB: number };
    return { wallMs, cpuMs: usage.cpuUs / 1000, maxRssMiB: usage.maxRssKiB / 1024, stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Each command `times` times, taking turns (a slow moment of the machine falls on all alike); the median of
 * each figure per command.
 */
export function measureEach(commands: readonly (readonly string[])[], times: number, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ProcessUsage[] {
  const runs = commands.map((): ProcessUsage[] => []);
  for (let k = 0; k < times; k++) commands.forEach((args, j) => runs[j]!.push(measureProcess(args, options)));
  return runs.map(medianUsage);
}

/** The median of each figure over several runs of one command (the first run's stdout). */
export function medianUsage(list: readonly ProcessUsage[]): ProcessUsage {
  return { wallMs: median(list.map((u) => u.wallMs)), cpuMs: median(list.map((u) => u.cpuMs)), maxRssMiB: median(list.map((u) => u.maxRssMiB)), stdout: list[0]!.stdout };
}

const TICKS_PER_S = 100; // USER_HZ on Linux

/** CPU seconds (user + system) another running process has used so far, from /proc; 0 when it is not there. */
export async function cpuOf(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return 0;
  }
}

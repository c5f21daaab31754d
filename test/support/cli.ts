import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** Every CLI test records into a store of its own, never the user's ~/.conductor. */
export const TEST_HOME = mkdtempSync(join(tmpdir(), 'conductor-home-'));
process.on('exit', () => rmSync(TEST_HOME, { recursive: true, force: true }));

/**
 * Every CLI process a test started and that has not ended. When the file's tests are done — a test that timed out
 * or was cancelled included — what is left is killed: a run waiting for a worker that its test no longer provides
 * would otherwise keep the file's process, and the suite, alive for ever.
 */
const live = new Set<ChildProcess>();
after(() => {
  for (const child of live) child.kill('SIGKILL');
});

export const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/conductor.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `conductor` binary (the built one, as users get it) with a clean environment. */
export function conductor(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', CONDUCTOR_HOME: TEST_HOME, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.on('exit', () => live.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<CliResult>((resolve, reject) =>
    child.on('close', (code) => {
      // The CLI could not even load: dist/ or node_modules changed under the running suite (a build, `npm ci`).
      // Said as what it is, not as a failed assertion about the run.
      if (code === 1 && /node:internal\/modules\//.test(stderr) && /ERR_MODULE_NOT_FOUND|SyntaxError|Cannot find module/.test(stderr) && !/^(error|internal error): |^✗ /m.test(stderr)) reject(new Error(`the conductor binary could not load (was dist/ or node_modules rebuilt during the tests?):\n${stderr}`));
      else resolve({ code, stdout, stderr });
    }),
  );
  return { child, done };
}

export const run = (args: string[], options?: { env?: Record<string, string>; cwd?: string }) => conductor(args, options).done;

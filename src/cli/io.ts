import type { Writable } from 'node:stream';

/** Everything a command touches outside itself, so tests can run commands in-process. */
export interface CliIO {
  stdout: Writable & { isTTY?: boolean; columns?: number; rows?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number; rows?: number };
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

export const EXIT = { ok: 0, failed: 1, invalid: 2, interrupted: 130 } as const;

/** What each exit code means, for `--help` and docs/cli.md (generated from this). */
export const EXIT_MEANINGS: Readonly<Record<(typeof EXIT)[keyof typeof EXIT], string>> = {
  0: 'success',
  1: 'the run failed: a step, the budget (`budget_exceeded`), or the run itself (`store_failed`, a lost worker); or an unexpected error',
  2: 'the workflow, its inputs, the command line or the setup (a key, a store, a queue) needs fixing first: nothing was run',
  130: 'interrupted (Ctrl-C, SIGTERM, SIGHUP)',
};

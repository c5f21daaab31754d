import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../core/errors.ts';

/** Where runs are recorded: `--store PATH`, else `$CONDUCTOR_HOME/runs.db`, else `~/.conductor/runs.db`. */
export function storePath(env: Readonly<Record<string, string | undefined>>, cwd: string, explicit?: string): string {
  if (explicit) return resolve(cwd, explicit);
  return join(env['CONDUCTOR_HOME'] ? resolve(cwd, env['CONDUCTOR_HOME']) : join(env['HOME'] || homedir(), '.conductor'), 'runs.db');
}

/** How long a write waits for another process's lock: `CONDUCTOR_STORE_TIMEOUT` seconds (default 10). */
export function storeOptions(env: Readonly<Record<string, string | undefined>>): { busyTimeoutMs?: number } {
  const text = env['CONDUCTOR_STORE_TIMEOUT'];
  if (text === undefined || text === '') return {};
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError(`CONDUCTOR_STORE_TIMEOUT expects seconds (a number ≥ 0), got \`${text}\``);
  return { busyTimeoutMs: Math.round(seconds * 1000) };
}

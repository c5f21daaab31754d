import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../core/errors.ts';

/** Whether a store location names a PostgreSQL server (`postgres://`, `postgresql://`) rather than a file. */
export function isPostgresLocation(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/**
 * Where runs are recorded: `--store` (a path or a `postgres://` URL), else `CONDUCTOR_STORE` (the same), else
 * the default file (see storePath). A path is taken from `cwd`; a URL is as given.
 */
export function storeLocation(env: Readonly<Record<string, string | undefined>>, cwd: string, explicit?: string): string {
  const given = explicit || env['CONDUCTOR_STORE'] || undefined;
  if (given && isPostgresLocation(given)) return given;
  return storePath(env, cwd, given);
}

/** The store file: `PATH` when given, else `$CONDUCTOR_HOME/runs.db`, else `~/.conductor/runs.db`. */
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

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Where runs are recorded: `--store PATH`, else `$CONDUCTOR_HOME/runs.db`, else `~/.conductor/runs.db`. */
export function storePath(env: Readonly<Record<string, string | undefined>>, cwd: string, explicit?: string): string {
  if (explicit) return resolve(cwd, explicit);
  return join(env['CONDUCTOR_HOME'] ? resolve(cwd, env['CONDUCTOR_HOME']) : join(env['HOME'] || homedir(), '.conductor'), 'runs.db');
}

/**
 * The one place a run store is chosen: by its location. A `postgres://` (or `postgresql://`) URL is the
 * PostgreSQL store that workers and coordinators share (loaded only then: a run on SQLite never loads `pg`);
 * anything else is the path of a SQLite file.
 */
import { isPostgresLocation } from './home.ts';
import { SqliteRunStore } from './sqlite.ts';
import type { RunStore, StoreOptions } from './types.ts';

export type { StoreOptions } from './types.ts';

/**
 * The store at `location`. Rejects with a `store_unavailable` ConductorError naming it (a URL with its password
 * redacted) when it cannot be opened or reached.
 */
export async function openRunStore(location: string, options: StoreOptions = {}): Promise<RunStore> {
  if (isPostgresLocation(location)) {
    const { openPostgresStore } = await import('./postgres.ts');
    return openPostgresStore(location, options);
  }
  return new SqliteRunStore(location, options);
}

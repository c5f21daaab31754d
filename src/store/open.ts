/**
 * The one place a run store is chosen: by its location. A `postgres://` (or `postgresql://`) URL is the
 * PostgreSQL store that workers and coordinators share (loaded only then: a run on SQLite never loads `pg`);
 * anything else is the path of a SQLite file.
 */
import { SetupError } from '../core/errors.ts';
import { redactUrl } from '../core/service-url.ts';
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
  // Another kind of URL is no file to make (`mysql://user:pw@host/db` would become folders holding its password).
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new SetupError('store_unavailable', `the run store cannot be ${redactUrl(location)}: a store is a SQLite file's path or a postgres:// URL`, { hint: 'e.g. --store runs.db, or --store postgres://user@host/db' });
  }
  return new SqliteRunStore(location, options);
}

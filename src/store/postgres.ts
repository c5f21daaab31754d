/**
 * PLACEHOLDER until the PostgreSQL store lands (#17): its own file replaces this one. `openRunStore` (open.ts)
 * loads it only for a `postgres://` location.
 */
import { SetupError } from '../core/errors.ts';
import { redactUrl } from '../core/service-url.ts';
import type { RunStore, StoreOptions } from './types.ts';

export async function openPostgresStore(url: string, _options: StoreOptions): Promise<RunStore> {
  throw new SetupError('store_unavailable', `cannot open the run store ${redactUrl(url)}: this build has no PostgreSQL store yet`, { hint: 'give --store a file path' });
}

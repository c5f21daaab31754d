/**
 * From a store URL to a pool of connections: the schema taken out of the URL (`?schema=`, not a libpq
 * parameter) and set as every connection's search_path, a short connect timeout, bigint read as numbers. Only
 * the URL with its password redacted is ever named (`location`).
 */
import { userInfo } from 'node:os';
import { Pool, types } from 'pg';
import { SetupError } from '../core/errors.ts';
import { redactUrl } from '../core/service-url.ts';
import { checkSchemaName, DEFAULT_SCHEMA, quoteIdentifier } from './postgres-schema.ts';

/** How long reaching the server may take before the store is unavailable. */
const CONNECT_TIMEOUT_MS = 5_000;
/** The connections one store object holds at most: its queue writes on one, reads and the cache share the rest. */
const POOL_SIZE = 4;

/** bigint columns (times in ms, counts) as numbers, for this store's connections only (not pg's global parsers). */
const INT8 = 20;
const parseInt8 = (value: string) => Number(value);
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8 && format !== 'binary' ? parseInt8 : types.getTypeParser(oid, format))) as typeof types.getTypeParser,
};

const EXAMPLE = 'give a URL such as postgres://user@host:5432/database?schema=conductor';

/** A pool for `url` (nothing is connected yet); throws `store_unavailable` for a URL that cannot be one. */
export function connect(url: string): { pool: Pool; location: string; schema: string } {
  const location = redactUrl(url);
  const refuse = (cause: string, hint: string) => new SetupError('store_unavailable', `cannot open the run store at ${location}: ${cause}`, { hint });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refuse('it is not a URL', EXAMPLE);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') throw refuse('it is not a postgres:// URL', EXAMPLE);
  let schema: string;
  try {
    schema = checkSchemaName(parsed.searchParams.get('schema') ?? DEFAULT_SCHEMA);
  } catch (error) {
    throw refuse((error as Error).message, 'name the schema with ?schema= and lower-case letters, digits and _ (the default is `conductor`)');
  }
  parsed.searchParams.delete('schema');
  const given = parsed.searchParams.get('options');
  parsed.searchParams.set('options', [given, `-c search_path=${quoteIdentifier(schema)}`].filter(Boolean).join(' '));
  // No user named: the one libpq (psql) takes, this process's own. pg takes $USER, which a service or a
  // container often lacks.
  if (parsed.username === '' && !process.env['PGUSER']) parsed.username = encodeURIComponent(osUser());
  const pool = new Pool({ connectionString: parsed.toString(), connectionTimeoutMillis: CONNECT_TIMEOUT_MS, max: POOL_SIZE, allowExitOnIdle: true, types: typeParsers });
  // An idle connection the server dropped (a restart): the pool discards it, and the next query says what is wrong.
  pool.on('error', () => {});
  return { pool, location, schema };
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env['USER'] ?? '';
  }
}

/**
 * PostgreSQL store failures in words, the shape errors.ts gives SQLite's: `store_unavailable` when the server
 * cannot be reached or the store opened, `store_failed` when a read or a write fails later; each naming the
 * store by its URL with the password redacted (never the URL as given) and the cause.
 */
import { ConductorError, SetupError } from '../core/errors.ts';
import type { StoreOperation } from './errors.ts';

/** Node's codes for a server that is not there, or not answering. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

export function postgresError(location: string, operation: StoreOperation, error: unknown): ConductorError {
  if (error instanceof ConductorError) return error;
  const { cause, hint, unreachable } = explain(error);
  if (operation === 'open') {
    const message = unreachable ? `cannot reach the run store at ${location}: ${cause}` : `cannot open the run store at ${location}: ${cause}`;
    return new SetupError('store_unavailable', message, { hint: `${hint}, or run with --no-store`, cause: error });
  }
  const verb = operation === 'read' ? 'cannot read' : 'cannot write to';
  const message = `${verb} the run store ${location}: ${cause}`;
  const fallback = operation === 'write' ? 'then `conductor resume` the run' : 'or run with --no-store';
  const options = { hint: `${hint}, ${fallback}`, cause: error, retryable: unreachable };
  return operation === 'read' ? new SetupError('store_failed', message, options) : new ConductorError('store_failed', message, options);
}

function explain(error: unknown): { cause: string; hint: string; unreachable: boolean } {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  // pg's own messages name no password; the first line is enough for one.
  const detail = (typeof e?.message === 'string' && e.message !== '' ? e.message : code ?? String(error)).split('\n')[0]!;
  const reach = 'check that PostgreSQL is running and that the URL (host, port) is right';
  const sqlState = code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  if (sqlState === undefined) {
    // The client's own failures: Node's network codes, pg's timeouts and dropped connections.
    if ((code !== undefined && UNREACHABLE.has(code)) || /timeout|Connection terminated/i.test(detail)) return { cause: code !== undefined && !detail.includes(code) ? `${detail} (${code})` : detail, hint: reach, unreachable: true };
    return { cause: detail, hint: 'check the server\'s log', unreachable: false };
  }
  // SQLSTATE classes: 08 connection, 57P shutdown, 28 authentication, 3D no such database, 42501 privilege,
  // 55P03 a lock not granted in time, 53 resources.
  if (sqlState.startsWith('08') || sqlState.startsWith('57P')) return { cause: detail, hint: reach, unreachable: true };
  if (sqlState.startsWith('28')) return { cause: detail, hint: 'check the user and password in the URL (or PGPASSWORD)', unreachable: false };
  if (sqlState === '3D000') return { cause: detail, hint: 'create the database, or name another in the URL', unreachable: false };
  if (sqlState === '42501') return { cause: `permission denied (${detail})`, hint: 'grant the user CREATE on the database (or on the schema), or name another schema with ?schema=', unreachable: false };
  if (sqlState === '55P03') return { cause: `another process holds a lock on it (${detail})`, hint: 'let the other process finish, or raise lock_timeout', unreachable: false };
  if (sqlState.startsWith('53')) return { cause: `the server is out of resources (${detail})`, hint: 'free disk space or connections on the server', unreachable: false };
  return { cause: `${detail} (${sqlState})`, hint: 'check the server\'s log', unreachable: false };
}

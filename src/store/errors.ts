/**
 * Store failures in words. SQLite reports a result code ("database is locked", "disk I/O error"); a user needs
 * the file, what happened to it, and what to do. Every failure of the run store becomes one typed error:
 * `store_unavailable` when the file cannot be opened, `store_failed` when a read or a write fails later.
 * Failures to open or read happen before anything runs (SetupError, exit 2); a failed write ends a run.
 */
import { ConductorError, SetupError } from '../core/errors.ts';

export type StoreOperation = 'open' | 'read' | 'write';

/** SQLite's primary result codes that the store acts on or a user can do something about. */
export const SQLITE = { PERM: 3, BUSY: 5, LOCKED: 6, READONLY: 8, IOERR: 10, CORRUPT: 11, FULL: 13, CANTOPEN: 14, NOTADB: 26 } as const;
const { BUSY, LOCKED, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB } = SQLITE;

export function storeError(path: string, operation: StoreOperation, error: unknown, waitedMs: number): ConductorError {
  if (error instanceof ConductorError) return error;
  const { cause, hint } = explain(error, waitedMs);
  const verb = { open: 'cannot open', read: 'cannot read', write: 'cannot write to' }[operation];
  const message = `${verb} the run store ${path}: ${cause}`;
  const fallback = operation === 'write' ? 'then `conductor resume` the run' : 'or run with --no-store';
  const options = { hint: `${hint}, ${fallback}`, cause: error };
  if (operation === 'open') return new SetupError('store_unavailable', message, options);
  if (operation === 'read') return new SetupError('store_failed', message, options);
  return new ConductorError('store_failed', message, options);
}

function explain(error: unknown, waitedMs: number): { cause: string; hint: string } {
  const e = error as { errcode?: unknown; errstr?: unknown; message?: unknown; code?: unknown };
  const detail = typeof e?.errstr === 'string' ? e.errstr : typeof e?.message === 'string' ? e.message : String(error);
  const elsewhere = 'set CONDUCTOR_HOME or --store to another place';
  switch (typeof e?.errcode === 'number' ? e.errcode & 0xff : undefined) {
    case BUSY:
    case LOCKED:
      return {
        cause: `it is locked by another process (waited ${Math.round(waitedMs / 100) / 10} s for it)`,
        hint: 'another program is writing to the file or holds it open in a transaction; let it finish (or wait longer with CONDUCTOR_STORE_TIMEOUT=seconds)',
      };
    case FULL:
      return { cause: `the disk is full (${detail})`, hint: `free some space or ${elsewhere}` };
    case IOERR:
      return { cause: `the disk failed to read or write it (${detail})`, hint: `the disk may be full or failing: free some space or ${elsewhere}` };
    case CORRUPT:
    case NOTADB:
      return { cause: `the file is damaged (${detail})`, hint: `move it aside (a new store is started in its place) or ${elsewhere}` };
    case READONLY:
      return { cause: `it is read-only (${detail})`, hint: `make it writable or ${elsewhere}` };
    case CANTOPEN:
      return { cause: `the file cannot be opened (${detail})`, hint: `check that its folder exists and is writable, or ${elsewhere}` };
  }
  // Not SQLite: creating the folder failed (EACCES, ENOTDIR, …), or a refusal of ours (a newer schema).
  return { cause: detail, hint: elsewhere };
}

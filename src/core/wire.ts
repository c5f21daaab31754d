/**
 * What the `http` action's client and the provider transport share about talking HTTP through undici: the
 * decoders for compressed bodies, and the choice of connection pool.
 */
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Agent, Dispatcher, EnvHttpProxyAgent } from 'undici';

/**
 * A decoder for each content encoding understood, by its lower-case name. A Map, not an object: the name comes
 * from the server, and `constructor` or `__proto__` must read as unknown, not as something to call.
 */
export const CONTENT_DECODERS: ReadonlyMap<string, () => Transform> = new Map([
  ['gzip', createGunzip],
  ['x-gzip', createGunzip],
  ['deflate', createInflate],
  ['br', createBrotliDecompress],
]);

/**
 * A connection pool of keep-alive connections: through the proxy in HTTP(S)_PROXY (less NO_PROXY) when
 * NODE_USE_ENV_PROXY=1 asks for it, as Node's `fetch` does. Takes undici's classes, so a caller that loads
 * undici lazily still does.
 */
export function newDispatcher(undici: { Agent: typeof Agent; EnvHttpProxyAgent: typeof EnvHttpProxyAgent }): Dispatcher {
  return process.env['NODE_USE_ENV_PROXY'] === '1' ? new undici.EnvHttpProxyAgent() : new undici.Agent();
}

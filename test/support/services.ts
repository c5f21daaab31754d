/**
 * The real services tests may use: Redis and PostgreSQL on this machine and in CI (127.0.0.1:6379, and
 * 127.0.0.1:5432 with trust auth, database `test`). `CONDUCTOR_TEST_REDIS` and `CONDUCTOR_TEST_PG` point
 * elsewhere. Each service is probed once per test file (a TCP connect with a short timeout; for Redis a PING
 * too); where it does not answer, its tests are skipped with the reason shown, so the runner's summary counts
 * them. With `CONDUCTOR_REQUIRE_SERVICES=1` (`.ci/run` sets it) they run instead and fail with that reason:
 * a green CI never means "all skipped".
 *
 * Each test keeps its keys under its own prefix (`testPrefix()`) and deletes them after (`deleteKeys`).
 * Passwords in the URLs are never printed: messages name the URL with its userinfo redacted.
 */

import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { redactUrl } from '../../src/core/service-url.ts';

export const REDIS_URL = process.env['CONDUCTOR_TEST_REDIS'] || 'redis://127.0.0.1:6379';
export const PG_URL = process.env['CONDUCTOR_TEST_PG'] || 'postgres://127.0.0.1:5432/test';
export const REQUIRE_SERVICES = process.env['CONDUCTOR_REQUIRE_SERVICES'] === '1';

/** Generous: a file starting on a busy machine (another test file beside it) must not take a live service for absent. */
const CONNECT_TIMEOUT_MS = 3_000;

export interface Service {
  /** The URL to connect with (may hold a password: never print it, print `shown`). */
  readonly url: string;
  /** The URL with its userinfo redacted, for messages. */
  readonly shown: string;
  readonly reachable: boolean;
  /** Why it is not reachable, for messages. */
  readonly reason: string | undefined;
  /** `node:test` options: skipped with the reason when absent, unless services are required. */
  readonly options: { skip: string | false };
  /** Throws the reason when the service is absent: call it first in a test that runs anyway (required). */
  assertReachable(): void;
}

export { redactUrl } from '../../src/core/service-url.ts';

let redisProbe: Promise<Service> | undefined;
let pgProbe: Promise<Service> | undefined;

/** The tests' Redis, probed once per process. */
export function redisService(): Promise<Service> {
  redisProbe ??= probeRedis(REDIS_URL);
  return redisProbe;
}

/** The tests' PostgreSQL, probed once per process. */
export function postgresService(): Promise<Service> {
  pgProbe ??= probePostgres(PG_URL);
  return pgProbe;
}

/** A TCP connect, then a PING. */
export function probeRedis(url: string, required = REQUIRE_SERVICES): Promise<Service> {
  return probe('Redis', url, 6379, pingRedis, required);
}

/** A TCP connect (no PostgreSQL client library is installed yet). */
export function probePostgres(url: string, required = REQUIRE_SERVICES): Promise<Service> {
  return probe('PostgreSQL', url, 5432, async () => undefined, required);
}

/** A key prefix of its own for one test: `conductor-test:<random>:`. */
export function testPrefix(): string {
  return `conductor-test:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under `prefix` (a test's own, from `testPrefix`). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  if (!prefix.startsWith('conductor-test:')) throw new Error(`refusing to delete keys outside a test prefix: ${prefix}`);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 200);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** A client for tests: fails fast (no retries, no offline queue) instead of hanging on a lost server. */
export function testRedis(url = REDIS_URL): Redis {
  return new Redis(url, { maxRetriesPerRequest: 0, connectTimeout: CONNECT_TIMEOUT_MS, retryStrategy: () => null });
}

async function probe(name: string, url: string, defaultPort: number, check: (url: string) => Promise<string | undefined>, required: boolean): Promise<Service> {
  const shown = redactUrl(url);
  let reason: string | undefined;
  try {
    const { hostname, port } = new URL(url);
    reason = (await tcpConnect(hostname.replace(/^\[|\]$/g, ''), Number(port || defaultPort))) ?? (await check(url));
  } catch {
    reason = 'not a URL';
  }
  const reachable = reason === undefined;
  const message = reachable ? undefined : `${name} not reachable at ${shown} (${reason})`;
  return {
    url,
    shown,
    reachable,
    reason: message,
    options: { skip: reachable || required ? false : `${message} — skipped` },
    assertReachable() {
      if (message !== undefined) throw new Error(`${message}; CONDUCTOR_REQUIRE_SERVICES=1 requires it`);
    },
  };
}

function tcpConnect(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(CONNECT_TIMEOUT_MS);
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('no answer in 1 s');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'connection failed'));
  });
}

async function pingRedis(url: string): Promise<string | undefined> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: CONNECT_TIMEOUT_MS, retryStrategy: () => null });
  redis.on('error', () => {}); // the PING's rejection says it
  // The connect timeout ends with the TCP connect: a server that accepts and then says nothing (a stopped Redis,
  // a TLS-only port) would hold the probe, and every test file awaiting it, for ever. Closing ends both waits.
  let silent = false;
  const timer = setTimeout(() => {
    silent = true;
    redis.disconnect();
  }, CONNECT_TIMEOUT_MS * 2);
  try {
    await redis.connect();
    const pong = await redis.ping();
    return pong === 'PONG' ? undefined : 'no PONG';
  } catch (error) {
    if (silent) return `no answer to PING in ${(CONNECT_TIMEOUT_MS * 2) / 1000} s`;
    // ioredis messages may name the host and port, never the password; keep only the first words anyway.
    return (error as NodeJS.ErrnoException).code ?? String((error as Error).message).split('\n')[0]?.slice(0, 80);
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}

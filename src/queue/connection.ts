/**
 * The queue's Redis, from the URL given with `--queue` (or `CONDUCTOR_QUEUE`): `redis://[user:password@]host
 * [:port][/db][?prefix=NAME]`, `rediss://` for TLS. `prefix` keeps one deployment's (or one test's) keys apart
 * from another's on the same Redis (default `conductor`). The URL is shown only with its password redacted.
 */
import type { Redis as RedisClient, RedisOptions } from 'ioredis';
import { SetupError } from '../core/errors.ts';
import { redactUrl } from '../core/service-url.ts';

export interface QueueLocation {
  /** The URL for ioredis (without `prefix`): may hold a password, never shown. */
  url: string;
  /** As it may be shown. */
  shown: string;
  prefix: string;
  /**
   * A secret the runs and workers of one deployment share (`CONDUCTOR_QUEUE_KEY`): runs sign their jobs with it,
   * and a worker that has it runs only jobs signed with it. Never shown.
   */
  key?: string;
}

/** Letters, digits and `_.-:` (BullMQ puts `:` after it), not starting or ending with `:`. */
const PREFIX = /^(?!:)[A-Za-z0-9_.:-]{1,64}(?<!:)$/;
/** How long reaching Redis may take before the command says it cannot. */
const CONNECT_TIMEOUT_MS = 5_000;

/** Reads a `--queue` URL; a URL that is not one is a SetupError (exit 2) naming what was expected. */
export function parseQueueUrl(raw: string): QueueLocation {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new SetupError('usage', `--queue expects a Redis URL, got ${redactUrl(raw)}`, { hint: 'e.g. --queue redis://127.0.0.1:6379 (rediss:// for TLS)' });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new SetupError('usage', `--queue expects a redis:// or rediss:// URL, got ${redactUrl(raw)}`, { hint: 'e.g. --queue redis://127.0.0.1:6379' });
  }
  const prefix = parsed.searchParams.get('prefix') ?? 'conductor';
  if (!PREFIX.test(prefix)) throw new SetupError('usage', `the queue's prefix must be 1–64 letters, digits, \`_\`, \`.\`, \`-\` or \`:\` (not first or last), got ${JSON.stringify(prefix.slice(0, 80))}`);
  // The path is the database's number (`/2`), or nothing (0).
  if (!/^\/?(\d{1,5})?$/.test(parsed.pathname)) {
    throw new SetupError('usage', `--queue: a Redis URL's path is the database's number (redis://host:6379/2), got ${JSON.stringify(decodeURIComponent(parsed.pathname).slice(0, 80))} in ${redactUrl(raw)}`);
  }
  parsed.searchParams.delete('prefix');
  const url = parsed.toString();
  return { url, shown: redactUrl(raw), prefix };
}

/**
 * A connection that has answered PING, or a SetupError (exit 2) naming the URL: nothing runs against a Redis
 * that is not there. `blocking`: for BullMQ workers and event readers, which wait on Redis forever.
 */
export async function connectRedis(location: QueueLocation, options: { blocking?: boolean } = {}): Promise<RedisClient> {
  const { Redis } = await import('ioredis');
  // Until it has answered once, a connection gives up after a few seconds (the command says Redis is not there);
  // after that it reconnects for as long as it takes: a worker or a run outlives a Redis restart or failover.
  let answered = false;
  const settings: RedisOptions = {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // BullMQ requires it for blocking connections; elsewhere a command fails fast rather than waiting for ever.
    maxRetriesPerRequest: options.blocking ? null : 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => (!answered && times > 20 ? null : Math.min(times * 200, 2_000)),
  };
  const redis = new Redis(location.url, settings);
  redis.once('ready', () => (answered = true));
  // ioredis reports connection trouble as events; the command's own error says it once, with the last cause
  // seen (a refused login reads as such, not as "Connection is closed").
  let cause: unknown;
  redis.on('error', (error: unknown) => (cause = error));
  const db = Number(new URL(location.url).pathname.slice(1) || 0);
  try {
    await withTimeout(redis.connect().then(() => redis.ping()), CONNECT_TIMEOUT_MS);
    // A database the server does not have (ioredis selects it on connect, reports the refusal as an event, and
    // goes on in database 0): asked again, so the answer is an error here.
    if (db !== 0) await redis.select(db);
  } catch (error) {
    redis.disconnect();
    const why = reason(cause ?? error);
    const login = /WRONGPASS|NOAUTH|NOPERM|invalid username-password/i.test(why);
    throw new SetupError('queue_unavailable', `cannot reach the queue at ${location.shown}: ${why}`, {
      hint: login ? 'check the user and password in the URL (or CONDUCTOR_QUEUE)' : 'start Redis there, or point --queue (or CONDUCTOR_QUEUE) at one that runs',
    });
  }
  return redis;
}

function reason(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  return message.split('\n')[0]!.replaceAll(/\/\/[^@\s]*@/g, '//***@');
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms)))]).finally(() => clearTimeout(timer));
}

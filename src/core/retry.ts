/** When to try again: the server's own word (Retry-After), else exponential backoff with full jitter. */

/** `retry-after-ms` (OpenAI), then `retry-after` (seconds or an HTTP date), in milliseconds. */
export function retryAfterMs(headers: Headers | Readonly<Record<string, string | undefined>> | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const get = (name: string) => (headers instanceof Headers ? (headers.get(name) ?? undefined) : (headers[name] ?? headers[name.toLowerCase()]));
  const ms = Number(get('retry-after-ms'));
  if (get('retry-after-ms') !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  const value = get('retry-after');
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (value.trim() !== '' && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export interface RetryPolicy {
  /** Tries in all, the first included (1 means no retry). */
  attempts: number;
  /** First backoff in seconds; it doubles each time, with full jitter, up to `maxBackoffSeconds`. */
  backoffSeconds: number;
  /** The step says `retry` itself (an action that retries only when asked, `shell`, retries then). */
  stated?: boolean;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, backoffSeconds: 1 };
export const MAX_BACKOFF_SECONDS = 60;
/** A 429 is the provider asking us to slow down, not a fault: it may be waited out this many times. */
export const RATE_LIMIT_WAITS = 20;

/** Delay before try number `attempt + 1` (attempt is 1-based). */
export function backoffMs(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const ceiling = Math.min(MAX_BACKOFF_SECONDS, policy.backoffSeconds * 2 ** (attempt - 1)) * 1000;
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** The longest wait a provider may ask for (Retry-After, a rate-limit pause) before the call fails instead. */
export const MAX_PROVIDER_WAIT_MS = 10 * 60_000;

/** What to do when a provider asks for a wait longer than that: the same words for an API and a model. */
export const LONG_WAIT_HINT = '`conductor resume` the run once the provider\'s limit has reset (for a model provider, `config.rateLimits` paces calls under a limit you know)';

/**
 * What a provider's rate-limit headers say is left: OpenAI's `x-ratelimit-*` and Anthropic's
 * `anthropic-ratelimit-*`, for requests and for tokens.
 */

type Headers = Readonly<Record<string, string | undefined>>;

export interface Left {
  remaining: number;
  /** When the provider's limit is whole again, if it said. */
  resetAt?: number;
}

export function requestsLeft(headers: Headers, now: number): Left | undefined {
  return left(headers, now, ['x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests'], ['anthropic-ratelimit-requests-remaining', 'anthropic-ratelimit-requests-reset']);
}

/** Each family's `remaining` and `reset` header (named once, not per response). */
const TOKEN_FAMILIES = ['x-ratelimit-%-tokens', 'anthropic-ratelimit-tokens-%', 'anthropic-ratelimit-input-tokens-%', 'anthropic-ratelimit-output-tokens-%'].map(
  (family) => [family.replace('%', 'remaining'), family.replace('%', 'reset')] as [remaining: string, reset: string],
);

/**
 * The tightest of the token limits a response reports: OpenAI's one (input and output together), Anthropic's
 * `tokens` (its most restrictive) and its separate input and output limits.
 */
export function tokensLeft(headers: Headers, now: number): Left | undefined {
  let tightest: Left | undefined;
  for (const names of TOKEN_FAMILIES) {
    const found = left(headers, now, names);
    if (!found) continue;
    // Of two exhausted limits, the one that resets last is the one to wait for.
    if (!tightest || found.remaining < tightest.remaining || (found.remaining === tightest.remaining && (found.resetAt ?? 0) > (tightest.resetAt ?? 0))) tightest = found;
  }
  return tightest;
}

function left(headers: Headers, now: number, ...families: [remaining: string, reset: string][]): Left | undefined {
  for (const [remainingName, resetName] of families) {
    const text = headers[remainingName];
    if (text === undefined || text.trim() === '') continue;
    const remaining = Number(text);
    if (!Number.isFinite(remaining)) continue;
    const reset = headers[resetName];
    const resetAt = reset === undefined ? undefined : resetTime(reset, now);
    return { remaining, ...(resetAt === undefined ? {} : { resetAt }) };
  }
  return undefined;
}

/** `6m0s`, `1.5s`, `20ms` (OpenAI) or an RFC 3339 time (Anthropic). */
export function resetTime(value: string, now: number): number | undefined {
  if (/\d{4}-\d{2}-\d{2}/.test(value)) {
    const date = Date.parse(value);
    if (!Number.isNaN(date)) return date;
  }
  let ms = 0;
  let matched = false;
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    matched = true;
    ms += Number(amount) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
  }
  return matched ? now + ms : undefined;
}

/**
 * Tokens a model call spends against a tokens-per-minute limit: what one is expected to cost before it is sent,
 * and the bucket that meters them.
 */

/** UTF-8 bytes per token in English text, as the providers' own rules of thumb (OpenAI: ~4 characters). */
const BYTES_PER_TOKEN = 4;
/** Each message's role and separators. */
const FRAMING = 4;

/**
 * About how many tokens a request's prompt is: its bytes over four. Typical, not a worst case (the bytes
 * themselves bound it, see `promptTokensAtMost` in actions/llm): this estimate paces calls, and a worst case
 * would hold a limit about four times below what it allows for English text, and refuse as too large a prompt
 * that fits. OpenAI estimates a request the same way, from its characters, before counting it against its
 * limit. Text that tokenizes worse (code, CJK) is underestimated; the real count corrects the bucket after the
 * call, and a 429 meanwhile is waited out.
 */
export function promptTokens(texts: readonly (string | undefined)[]): number {
  let tokens = 0;
  for (const text of texts) if (text !== undefined) tokens += Math.ceil(Buffer.byteLength(text, 'utf8') / BYTES_PER_TOKEN) + FRAMING;
  return tokens;
}

/**
 * Tokens per minute as OpenAI and Anthropic meter them: a bucket that holds one minute's worth and refills
 * continuously (not a window that resets each minute). A call spends its estimate when it starts and is
 * corrected with the real count when it ends, so the level may go below zero: later calls then wait longer.
 */
export class TokenBucket {
  readonly capacity: number;
  readonly #perMs: number;
  #level: number;
  #at: number;

  constructor(perMinute: number, minuteMs: number, now: number) {
    this.capacity = perMinute;
    this.#perMs = perMinute / minuteMs;
    this.#level = perMinute;
    this.#at = now;
  }

  level(now: number): number {
    if (now > this.#at) {
      this.#level = Math.min(this.capacity, this.#level + (now - this.#at) * this.#perMs);
      this.#at = now;
    }
    return this.#level;
  }

  /** Spends `tokens` (a negative amount gives them back), never above a full bucket. */
  spend(tokens: number, now: number): void {
    this.#level = Math.min(this.capacity, this.level(now) - tokens);
  }

  /** What the provider says is left is all there is (it knows of calls this bucket does not). */
  atMost(tokens: number, now: number): void {
    this.#level = Math.min(this.level(now), tokens);
  }

  /** When `tokens` will be in the bucket (now, if they are). */
  readyAt(tokens: number, now: number): number {
    const missing = tokens - this.level(now);
    return missing <= 0 ? now : now + missing / this.#perMs;
  }
}

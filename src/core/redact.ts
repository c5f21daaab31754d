/** Keeps secrets out of everything shown or stored: every known secret value is replaced by `***`. */

/** Environment variables that hold credentials, whatever a workflow references. */
export const SECRET_ENV = /(_API_KEY|_TOKEN|_SECRET|_PASSWORD|_PASSWD|_CREDENTIALS?|^AUTHORIZATION)$/i;

export type Redactor = (text: string) => string;

/** Guessed secrets shorter than this would redact ordinary words; credentials are long. */
const MIN_GUESSED = 8;
/** A value the author named as secret (`config.secrets`) is trusted down to this length. */
const MIN_NAMED = 4;

/**
 * The secret values of one run. It grows while the run goes: a credential header a step sends or receives
 * becomes a secret the moment it is seen, so an echo of it later is caught too.
 */
export class Secrets {
  /** Longest first, so a secret that contains another is replaced whole. */
  #values: string[] = [];

  constructor(values: Iterable<string | undefined> = []) {
    for (const v of values) this.add(v);
  }

  get size(): number {
    return this.#values.length;
  }

  /** Adds a secret (`named`: the author said so, so shorter values count too). */
  add(value: string | undefined, named = false): void {
    if (typeof value !== 'string' || value.length < (named ? MIN_NAMED : MIN_GUESSED)) return;
    // Inside JSON text a secret with quotes or backslashes appears escaped: redact that spelling too.
    for (const form of new Set([value, JSON.stringify(value).slice(1, -1)])) {
      if (this.#values.includes(form)) continue;
      this.#values.push(form);
    }
    this.#values.sort((a, b) => b.length - a.length);
  }

  readonly redact: Redactor = (text) => {
    let out = text;
    for (const v of this.#values) if (out.includes(v)) out = out.split(v).join('***');
    return out;
  };

  /**
   * A JSON-able value with every secret replaced (through its JSON text), and whether anything was. The same
   * value comes back when nothing was: no copy in the common case.
   */
  redactValue<T>(value: T): { value: T; redacted: boolean } {
    if (this.#values.length === 0 || value === undefined || value === null || typeof value === 'number' || typeof value === 'boolean') return { value, redacted: false };
    if (typeof value === 'string') {
      const out = this.redact(value);
      return out === value ? { value, redacted: false } : { value: out as T, redacted: true };
    }
    const text = JSON.stringify(value);
    if (text === undefined) return { value, redacted: false };
    const out = this.redact(text);
    return out === text ? { value, redacted: false } : { value: JSON.parse(out) as T, redacted: true };
  }
}

export function createRedactor(secrets: Iterable<string | undefined>): Redactor {
  return new Secrets(secrets).redact;
}

/** Request and response headers that carry credentials or sessions, whatever their value looks like. */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['set-cookie', 'cookie', 'authorization', 'proxy-authorization', 'x-api-key', 'api-key']);

/** The values of credential headers in a step's `headers` property (an http step's response). */
export function credentialHeaderValues(properties: Record<string, unknown> | undefined): string[] {
  const headers = properties?.['headers'];
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return [];
  const values: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!CREDENTIAL_HEADERS.has(name.toLowerCase()) || typeof value !== 'string') continue;
    values.push(value);
    // Joined repeats (`a=1, b=2`) and the cookie's own value (`sid=…; Path=/`) are echoed on their own.
    for (const part of value.split(/,\s*|;\s*/)) {
      values.push(part);
      const eq = part.indexOf('=');
      if (eq > 0) values.push(part.slice(eq + 1));
    }
  }
  return values;
}

/**
 * Step properties as they may be shown or stored: a `headers` map (an http step's) keeps its names but not the
 * values of credential headers. Anything else is returned as it is.
 */
export function withoutCredentialHeaders(properties: Record<string, unknown>): Record<string, unknown> {
  const headers = properties['headers'];
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return properties;
  const names = Object.keys(headers);
  if (!names.some((name) => CREDENTIAL_HEADERS.has(name.toLowerCase()))) return properties;
  const kept = Object.fromEntries(names.map((name) => [name, CREDENTIAL_HEADERS.has(name.toLowerCase()) ? '***' : (headers as Record<string, unknown>)[name]]));
  return { ...properties, headers: kept };
}

/** Keeps secrets out of everything shown or stored: every known secret value is replaced by `***`. */

/** Environment variables that hold credentials, whatever a workflow references. */
export const SECRET_ENV = /(_KEY|_TOKEN|_SECRET|_PASSWORD|_PASSWD|_CREDENTIALS?|^AUTHORIZATION)$/i;

export type Redactor = (text: string) => string;

/** Guessed secrets shorter than this would redact ordinary words; credentials are long. */
const MIN_GUESSED = 8;
/**
 * A value known to be secret (by its variable's name, `config.secrets`, a credential header) is trusted down to
 * this length. Shorter still would mask ordinary text everywhere ("ab" inside "about"), so it is not masked.
 */
export const MIN_NAMED = 4;
/** How much of a secret left at a cut (`…`) is taken for the start or end of one. */
const MIN_PARTIAL = 4;

/**
 * The secret values of one run. It grows while the run goes: a credential header a step sends or receives
 * becomes a secret the moment it is seen, so an echo of it later is caught too.
 */
export class Secrets {
  /** Every spelling of every secret, longest first, so a secret that contains another is replaced whole. */
  #values: string[] = [];
  /** The secrets as given (one spelling each), for finding what is left of one at a cut. */
  #plain: string[] = [];
  /** Grows by one with each new secret: what was redacted before may need it again. */
  version = 0;

  constructor(values: Iterable<string | undefined> = []) {
    for (const v of values) this.add(v);
  }

  get size(): number {
    return this.#plain.length;
  }

  /** Adds a secret (`named`: it is known to be one, so shorter values count too). */
  add(value: string | undefined, named = false): void {
    if (typeof value !== 'string' || value.length < (named ? MIN_NAMED : MIN_GUESSED) || this.#plain.includes(value)) return;
    this.#plain.push(value);
    // As written, escaped inside JSON text, and percent-encoded in a URL (which Conductor itself does to values
    // in a URL it confines): each spelling is the same secret.
    const forms = [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value), encodeURI(value)];
    for (const form of forms) if (!this.#values.includes(form)) this.#values.push(form);
    this.#values.sort((a, b) => b.length - a.length);
    this.version++;
  }

  readonly redact: Redactor = (text) => {
    if (this.#values.length === 0) return text;
    let out = text;
    for (const v of this.#values) if (out.includes(v)) out = out.split(v).join('***');
    // A message cut short (an error body's first 200 characters, then `…`) may end in the first part of a
    // secret, or start after `…` with its last part: what is left of it is masked too.
    return out.includes('…') ? this.#maskCutEdges(out) : out;
  };

  #maskCutEdges(text: string): string {
    return text.replace(/([^\s…]*)…([^\s…]*)/g, (whole, before: string, after: string) => {
      let head = before;
      let tail = after;
      for (const secret of this.#plain) {
        for (let k = Math.min(secret.length - 1, head.length); k >= MIN_PARTIAL; k--) {
          if (head.endsWith(secret.slice(0, k))) {
            head = `${head.slice(0, head.length - k)}***`;
            break;
          }
        }
        for (let k = Math.min(secret.length - 1, tail.length); k >= MIN_PARTIAL; k--) {
          if (tail.startsWith(secret.slice(secret.length - k))) {
            tail = `***${tail.slice(k)}`;
            break;
          }
        }
      }
      return head === before && tail === after ? whole : `${head}…${tail}`;
    });
  }

  /**
   * A JSON-able value with every secret replaced in every string (keys included) and in any number that holds
   * one, and whether anything was. Walking the value, not its JSON text, keeps escaped spellings in view and the
   * result valid. The same value comes back when nothing was replaced: no copy in the common case.
   */
  redactValue<T>(value: T): { value: T; redacted: boolean } {
    if (this.#values.length === 0) return { value, redacted: false };
    const out = redactDeep(value, this.redact);
    return { value: out as T, redacted: out !== value };
  }
}

/** `value` with `redact` applied to every string and number in it; the same object where nothing changed. */
export function redactDeep(value: unknown, redact: Redactor): unknown {
  if (typeof value === 'string') return redact(value);
  if (typeof value === 'number' || typeof value === 'bigint') {
    const text = String(value);
    const out = redact(text);
    return out === text ? value : out;
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const out = redactDeep(item, redact);
      if (out !== item) (copy ??= value.slice())[i] = out;
    });
    return copy ?? value;
  }
  // No copy (and no array of entries) unless something changes: most results hold no secret.
  const source = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  const keys = Object.keys(source);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const key = redact(k);
    const out = redactDeep(source[k], redact);
    if (copy === undefined && (key !== k || out !== source[k])) {
      copy = {};
      for (let j = 0; j < i; j++) copy[keys[j]!] = source[keys[j]!];
    }
    if (copy !== undefined) copy[key] = out;
  }
  return copy ?? value;
}

/** Every string in a value (and numbers, as text): the leaves of a secret input that is not a plain string. */
export function leaves(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (typeof value === 'number' || typeof value === 'bigint') out.push(String(value));
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) leaves(v, out);
  return out;
}

/** The password of a URL's userinfo (`https://user:pass@host`), as written and decoded; none when there is none. */
export function urlPasswords(text: string): string[] {
  if (!text.includes('@') || !/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return [];
  try {
    const { password } = new URL(text);
    return password ? [password, decodeURIComponent(password)] : [];
  } catch {
    return [];
  }
}

export function createRedactor(secrets: Iterable<string | undefined>): Redactor {
  return new Secrets(secrets).redact;
}

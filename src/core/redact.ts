/** Keeps secrets out of everything shown or stored: every known secret value is replaced by `***`. */

/** Environment variables that hold credentials, whatever a workflow references. */
export const SECRET_ENV = /(_KEY|_TOKEN|_SECRET|_PASSWORD|_PASSWD|_CREDENTIALS?|^AUTHORIZATION)$/i;

export type Redactor = (text: string) => string;

/** Guessed secrets shorter than this would redact ordinary words; credentials are long. */
export const MIN_GUESSED = 8;
/** A value secret by its variable's name (`DB_PASSWORD`) counts from here: `test` or `demo` would mask words. */
export const MIN_BY_NAME = 6;
/**
 * A value the author or the protocol says is secret (`config.secrets`, a secret input, a credential header) is
 * trusted down to this length. Shorter still would mask ordinary text everywhere ("ab" inside "about").
 */
export const MIN_NAMED = 4;
/** How much of a secret left at a cut (`…`) is taken for the start or end of one ("hell…" is not a key). */
const MIN_PARTIAL = 6;
/** Deeper than this, a value is not walked (the stack would not hold it): it is shown as a placeholder. */
const MAX_DEPTH = 256;
const TOO_DEEP = '[nested too deeply to check for secrets: not shown]';

/**
 * The secret values of one run. It grows while the run goes: a credential header a step sends or receives
 * becomes a secret the moment it is seen, so an echo of it later is caught too.
 */
export class Secrets {
  /** The secrets as given, in the order they were added (a secret's index is the version that added it). */
  #plain: string[] = [];
  #known = new Set<string>();
  /** Every spelling of each secret, by the secret's index. */
  #formsOf: string[][] = [];
  /** Every spelling, longest first (so a secret containing another is replaced whole); sorted when next used. */
  #values: string[] = [];
  #sorted = true;
  #longest = 0;

  constructor(values: Iterable<string | undefined> = []) {
    for (const v of values) this.add(v);
  }

  get size(): number {
    return this.#plain.length;
  }

  /** Grows by one with each new secret: a result redacted at an earlier version may need the newer ones. */
  get version(): number {
    return this.#plain.length;
  }

  /** Adds a secret, counted when it is at least `minLength` long (see MIN_NAMED, MIN_BY_NAME, MIN_GUESSED). */
  add(value: string | undefined, minLength = MIN_GUESSED): void {
    if (typeof value !== 'string' || value.length < minLength || this.#known.has(value)) return;
    this.#known.add(value);
    // As written, escaped inside JSON text, and percent-encoded in a URL (which Conductor itself does to values
    // in a URL it confines): each spelling is the same secret. A lone surrogate has no URL spelling.
    const forms = new Set([value, JSON.stringify(value).slice(1, -1)]);
    for (const encode of [encodeURIComponent, encodeURI]) {
      try {
        forms.add(encode(value));
      } catch {
        // not encodable: it cannot appear encoded either
      }
    }
    this.#plain.push(value);
    this.#formsOf.push([...forms]);
    this.#values.push(...forms);
    this.#sorted = false;
    this.#longest = Math.max(this.#longest, value.length);
  }

  readonly redact: Redactor = (text) => this.#redactWith(text, this.#allValues(), this.#plain);

  /** A redactor with only the secrets added since `version`: for what was redacted then, a cheap second pass. */
  redactorSince(version: number): Redactor {
    const plain = this.#plain.slice(version);
    const values = this.#formsOf.slice(version).flat().sort((a, b) => b.length - a.length);
    return (text) => this.#redactWith(text, values, plain);
  }

  #allValues(): string[] {
    if (!this.#sorted) {
      this.#values.sort((a, b) => b.length - a.length);
      this.#sorted = true;
    }
    return this.#values;
  }

  #redactWith(text: string, values: readonly string[], plain: readonly string[]): string {
    if (values.length === 0) return text;
    let out = text;
    for (const v of values) if (out.includes(v)) out = out.split(v).join('***');
    // A message cut short (an error body's first 200 characters, then `…`) may end in the first part of a
    // secret, or start after `…` with its last part: what is left of it is masked too.
    return out.includes('…') ? maskCutEdges(out, plain, this.#longest) : out;
  }

  /**
   * A JSON-able value with every secret replaced in every string (keys included) and in any number that holds
   * one, and whether anything was. Walking the value, not its JSON text, keeps escaped spellings in view and the
   * result valid. The same value comes back when nothing was replaced: no copy in the common case.
   */
  redactValue<T>(value: T, redact: Redactor = this.redact): { value: T; redacted: boolean } {
    if (value === null || typeof value !== 'object') {
      if (this.#plain.length === 0) return { value, redacted: false };
    } else if (this.#plain.length === 0) {
      // Nothing to replace, but a value nested past what can be walked must not go on to JSON.stringify (the
      // record, --json): its containers are walked (not its strings and numbers), and it comes back the same
      // unless it is that deep.
      const out = boundDepth(value);
      return { value: out as T, redacted: out !== value };
    }
    const out = redactDeep(value, redact);
    return { value: out as T, redacted: out !== value };
  }
}

/**
 * Around each `…`, what touches it and could be the start (before) or the end (after) of a secret: looked at
 * within the longest secret's length of it only, so a long text costs what its cuts cost.
 */
function maskCutEdges(text: string, plain: readonly string[], longest: number): string {
  let out = '';
  let from = 0;
  for (let at = text.indexOf('…'); at !== -1; at = text.indexOf('…', at + 1)) {
    let head = text.slice(Math.max(from, at - longest), at);
    head = head.slice(Math.max(head.search(/\S*$/), 0));
    let cut = head.length;
    for (const secret of plain) {
      for (let k = Math.min(secret.length - 1, head.length); k >= MIN_PARTIAL && k > head.length - cut; k--) {
        if (head.endsWith(secret.slice(0, k))) {
          cut = head.length - k;
          break;
        }
      }
    }
    out += text.slice(from, at - head.length + cut) + (cut < head.length ? '***' : '') + '…';
    from = at + 1;
    const tail = text.slice(from, from + longest).match(/^\S*/)![0];
    let keep = 0;
    for (const secret of plain) {
      for (let k = Math.min(secret.length - 1, tail.length); k >= MIN_PARTIAL && k > keep; k--) {
        if (tail.startsWith(secret.slice(secret.length - k))) {
          keep = k;
          break;
        }
      }
    }
    if (keep > 0) {
      out += '***';
      from += keep;
    }
  }
  return out + text.slice(from);
}

/** `value` with what is nested past MAX_DEPTH replaced by a placeholder; the same object where nothing is. */
function boundDepth(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return TOO_DEEP;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === null || typeof item !== 'object') continue;
      const out = boundDepth(item, depth + 1);
      if (out !== item) (copy ??= value.slice())[i] = out;
    }
    return copy ?? value;
  }
  const source = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const k in source) {
    if (!Object.hasOwn(source, k)) continue;
    const item = source[k];
    if (item === null || typeof item !== 'object') continue;
    const out = boundDepth(item, depth + 1);
    if (out !== item) setKey((copy ??= { ...source }), k, out);
  }
  return copy ?? value;
}

/** Sets an own key, `__proto__` included (an own key in JSON.parse output, which `copy[key] =` would not make). */
function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/** `value` with `redact` applied to every string and number in it; the same object where nothing changed. */
export function redactDeep(value: unknown, redact: Redactor, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (typeof value === 'number' || typeof value === 'bigint') {
    const text = String(value);
    const out = redact(text);
    return out === text ? value : out;
  }
  if (value === null || typeof value !== 'object') return value;
  // A value nested past what can be walked (an API's 20,000-deep answer) cannot be checked: never shown.
  if (depth >= MAX_DEPTH) return TOO_DEEP;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const out = redactDeep(item, redact, depth + 1);
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
    const out = redactDeep(source[k], redact, depth + 1);
    if (copy === undefined && (key !== k || out !== source[k])) {
      copy = {};
      for (let j = 0; j < i; j++) setKey(copy, keys[j]!, source[keys[j]!]);
    }
    if (copy !== undefined) setKey(copy, key, out);
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

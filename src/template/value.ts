/**
 * Template values: any YAML value whose strings may hold references, compiled once and resolved per run.
 *
 * Typing rules (one place, used everywhere):
 * - a string that is exactly one reference keeps the referenced value's type (object, number, …);
 * - a reference inside a longer string is stringified: strings as they are, objects and arrays as JSON;
 * - a reference that resolves to nothing is an error, never left in place.
 */
import { formatPath, parseTemplate, type PathKey, type Reference, type TemplateOptions, type TemplateProblem } from './parse.ts';

export type TemplateValue =
  | { kind: 'literal'; value: unknown }
  | { kind: 'single'; ref: Reference; raw: string }
  | { kind: 'concat'; parts: ({ text: string } | { ref: Reference; raw: string })[] }
  | { kind: 'array'; items: TemplateValue[] }
  | { kind: 'object'; entries: [string, TemplateValue][] };

/** Where in a value a problem or reference sits: the path of keys from the value's root. */
export interface LocatedProblem extends TemplateProblem {
  path: PathKey[];
}

export interface LocatedReference {
  ref: Reference;
  raw: string;
  /** Path of keys from the compiled value's root to the string holding the reference. */
  path: PathKey[];
  /** Offset of `${` in that string. */
  offset: number;
}

export interface CompiledValue {
  value: TemplateValue;
  references: LocatedReference[];
  problems: LocatedProblem[];
}

/** `options.item`: the value is inside a `foreach` step whose item is named so (see `TemplateOptions`). */
export function compileValue(input: unknown, options: TemplateOptions = {}): CompiledValue {
  const references: LocatedReference[] = [];
  const problems: LocatedProblem[] = [];
  const value = compile(input, [], references, problems, options);
  return { value, references, problems };
}

function compile(input: unknown, path: PathKey[], refs: LocatedReference[], problems: LocatedProblem[], options: TemplateOptions): TemplateValue {
  if (typeof input === 'string') {
    if (!input.includes('${')) return { kind: 'literal', value: input };
    const parsed = parseTemplate(input, options);
    for (const p of parsed.problems) problems.push({ ...p, path });
    const parts: ({ text: string } | { ref: Reference; raw: string })[] = [];
    for (const s of parsed.segments) {
      if (s.kind === 'text') parts.push({ text: s.value });
      else {
        refs.push({ ref: s.ref, raw: s.raw, path, offset: s.offset });
        parts.push({ ref: s.ref, raw: s.raw });
      }
    }
    const only = parts[0];
    if (parts.length === 1 && only && 'ref' in only) return { kind: 'single', ref: only.ref, raw: only.raw };
    if (parts.every((p) => 'text' in p)) return { kind: 'literal', value: parts.map((p) => ('text' in p ? p.text : '')).join('') };
    return { kind: 'concat', parts };
  }
  if (Array.isArray(input)) {
    const items = input.map((item, i) => compile(item, [...path, i], refs, problems, options));
    // Rebuild literals from their compiled form: `$${` escapes inside them are already unescaped.
    return items.every((i) => i.kind === 'literal') ? { kind: 'literal', value: items.map((i) => i.value) } : { kind: 'array', items };
  }
  if (input !== null && typeof input === 'object') {
    const entries = Object.entries(input).map(([k, v]): [string, TemplateValue] => [k, compile(v, [...path, k], refs, problems, options)]);
    return entries.every(([, v]) => v.kind === 'literal')
      ? { kind: 'literal', value: Object.fromEntries(entries.map(([k, v]) => [k, (v as { value: unknown }).value])) }
      : { kind: 'object', entries };
  }
  return { kind: 'literal', value: input };
}

/** Looks up the head of a reference (`steps.x.output`, `inputs.n`, `env.N`); the path after it is walked here. */
export type ReferenceLookup = (ref: Reference) => unknown;

export class TemplateResolveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateResolveError';
  }
}

export function resolveValue(value: TemplateValue, lookup: ReferenceLookup): unknown {
  switch (value.kind) {
    case 'literal':
      return value.value;
    case 'single':
      return resolveReference(value.ref, value.raw, lookup);
    case 'concat':
      return value.parts.map((p) => ('text' in p ? p.text : stringify(resolveReference(p.ref, p.raw, lookup)))).join('');
    case 'array':
      return value.items.map((item) => resolveValue(item, lookup));
    case 'object':
      return Object.fromEntries(value.entries.map(([k, v]) => [k, resolveValue(v, lookup)]));
  }
}

/**
 * `resolveValue`, with each reference inside a longer string passed through `encode` once stringified: how a
 * URL takes values URL-encoded into their places. A string that is exactly one reference is the whole value,
 * not a part of one, and keeps its type unencoded.
 */
export function resolveEncoded(value: TemplateValue, lookup: ReferenceLookup, encode: (text: string, ref: Reference) => string): unknown {
  switch (value.kind) {
    case 'concat':
      return value.parts.map((p) => ('text' in p ? p.text : encode(stringify(resolveReference(p.ref, p.raw, lookup)), p.ref))).join('');
    case 'array':
      return value.items.map((item) => resolveEncoded(item, lookup, encode));
    case 'object':
      return Object.fromEntries(value.entries.map(([k, v]) => [k, resolveEncoded(v, lookup, encode)]));
    default:
      return resolveValue(value, lookup);
  }
}

export function resolveReference(ref: Reference, raw: string, lookup: ReferenceLookup): unknown {
  let current = lookup(ref);
  if (current === undefined) throw new TemplateResolveError(`\`${raw}\` resolved to nothing`);
  const path = 'path' in ref ? ref.path : [];
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!;
    // Own properties only: `${item.constructor}` or `${item.__proto__}` is not a field of the data.
    const next = current !== null && typeof current === 'object' && Object.hasOwn(current, key) ? (current as Record<PathKey, unknown>)[key] : undefined;
    if (next === undefined) {
      const where = formatPath(path.slice(0, i));
      const what = Array.isArray(current) ? `an array of ${current.length}` : current === null ? 'null' : typeof current;
      throw new TemplateResolveError(`\`${raw}\`: \`${formatPath([key]).replace(/^\./, '')}\` does not exist (the value at \`…${where || ''}\` is ${what})`);
    }
    current = next;
  }
  return current;
}

/** How a value reads inside a longer string. */
export function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? '';
}

/**
 * A compiled string split at its references, as a tagged template's strings and the references between
 * (`strings.length === refs.length + 1`); undefined for a value that is not a string holding one.
 */
export function splitString(value: TemplateValue | undefined): { strings: string[]; refs: { ref: Reference; raw: string }[] } | undefined {
  if (value?.kind === 'single') return { strings: ['', ''], refs: [{ ref: value.ref, raw: value.raw }] };
  if (value?.kind !== 'concat') return undefined;
  const strings: string[] = [''];
  const refs: { ref: Reference; raw: string }[] = [];
  for (const p of value.parts) {
    if ('text' in p) strings[strings.length - 1] += p.text;
    else {
      refs.push(p);
      strings.push('');
    }
  }
  return { strings, refs };
}

/** Every reference a compiled value contains (for building the graph from an already compiled value). */
export function referencesOf(value: TemplateValue, out: Reference[] = []): Reference[] {
  switch (value.kind) {
    case 'literal':
      break;
    case 'single':
      out.push(value.ref);
      break;
    case 'concat':
      for (const p of value.parts) if ('ref' in p) out.push(p.ref);
      break;
    case 'array':
      for (const item of value.items) referencesOf(item, out);
      break;
    case 'object':
      for (const [, v] of value.entries) referencesOf(v, out);
      break;
  }
  return out;
}

/** The top-level fields of a compiled map as known before the run: templated ones are present but `undefined`. */
export function literalFields(value: TemplateValue): Record<string, unknown> {
  if (value.kind === 'literal') return value.value !== null && typeof value.value === 'object' ? (value.value as Record<string, unknown>) : {};
  if (value.kind !== 'object') return {};
  return Object.fromEntries(value.entries.map(([k, v]) => [k, v.kind === 'literal' ? v.value : undefined]));
}

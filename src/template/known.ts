/**
 * When a value written in a block is known, and a templated string split at its references: what actions'
 * static checks (`check`, `resources`, `preflight`) see instead of matching `${steps.` in text.
 */
import type { Known, WrittenParts } from '../actions/types.ts';
import { parseTemplate, type Reference } from './parse.ts';
import { splitString, type TemplateValue } from './value.ts';

/** Where a template sits: the item variable's name in a foreach step, and whether its list is a step's output. */
export interface KnownScope {
  item?: string | undefined;
  itemFromSteps?: boolean | undefined;
}

const ORDER: Record<Known, number> = { literal: 0, start: 1, run: 2 };

/** When a reference's value is known. */
export function knownRef(ref: Reference, scope: KnownScope): Known {
  if (ref.root === 'steps') return 'run';
  if (ref.root === 'item') return scope.itemFromSteps ? 'run' : 'start';
  return 'start';
}

/** A string as written, split at its references; undefined when it holds none (or is not a string). */
export function writtenString(value: unknown, scope: KnownScope): WrittenParts | undefined {
  if (typeof value !== 'string' || !value.includes('${')) return undefined;
  const { segments } = parseTemplate(value, scope.item === undefined ? {} : { item: scope.item });
  const strings: string[] = [''];
  const refs: { raw: string; root: Reference['root']; known: Known; offset: number }[] = [];
  for (const s of segments) {
    if (s.kind === 'text') strings[strings.length - 1] += s.value;
    else {
      refs.push({ raw: s.raw, root: s.ref.root, known: knownRef(s.ref, scope), offset: s.offset });
      strings.push('');
    }
  }
  return refs.length ? { strings, refs } : undefined;
}

/** When a value of a block as written is known: the latest of its references (any depth). */
export function knownValue(value: unknown, scope: KnownScope): Known {
  if (typeof value === 'string') {
    const written = writtenString(value, scope);
    return written ? written.refs.reduce<Known>((a, r) => (ORDER[r.known] > ORDER[a] ? r.known : a), 'literal') : 'literal';
  }
  let known: Known = 'literal';
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) {
      const k = knownValue(v, scope);
      if (ORDER[k] > ORDER[known]) known = k;
    }
  }
  return known;
}

/** The compiled value at `path` below `value` (keys of maps, indexes of lists), undefined when there is none. */
export function valueAt(value: TemplateValue | undefined, path: readonly (string | number)[]): TemplateValue | undefined {
  let at = value;
  for (let k = 0; k < path.length; k++) {
    const key = path[k]!;
    if (!at) return undefined;
    if (at.kind === 'literal') return literalAt(at.value, path.slice(k));
    if (at.kind === 'object') at = at.entries.find(([name]) => name === key)?.[1];
    else if (at.kind === 'array') at = typeof key === 'number' ? at.items[key] : undefined;
    else return undefined;
  }
  return at;
}

function literalAt(value: unknown, path: readonly (string | number)[]): TemplateValue | undefined {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return { kind: 'literal', value: v };
}

/** A compiled string split at its references (for `PreflightContext.written`); undefined when it holds none. */
export function writtenOf(value: TemplateValue | undefined, scope: KnownScope): WrittenParts | undefined {
  const split = splitString(value);
  return split && { strings: split.strings, refs: split.refs.map(({ ref, raw }) => ({ raw, root: ref.root, known: knownRef(ref, scope) })) };
}

/** Translates zod's issues into located diagnostics with messages a person can act on. */
import type { z } from 'zod';
import type { Diagnostic } from '../core/errors.ts';
import { closest, didYouMean } from '../core/suggest.ts';
import type { PathKey } from '../template/parse.ts';
import type { Locator } from './source.ts';

type Issue = z.core.$ZodIssue;

export function issuesToDiagnostics(issues: readonly Issue[], source: Locator, raw: unknown, schema: z.ZodType): Diagnostic[] {
  // `promtp: …` also leaves `prompt` missing; the unknown key's "did you mean `prompt`?" already says so.
  const typoFor = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const known = Object.keys(objectShapeAt(schema, issue.path as PathKey[]) ?? {});
    for (const key of issue.keys) {
      const match = closest(key, known);
      if (match) typoFor.add(JSON.stringify([...issue.path, match]));
    }
  }
  const missingHidden = (issue: Issue) =>
    issue.code === 'invalid_type' && valueAt(raw, issue.path as PathKey[]) === undefined && typoFor.has(JSON.stringify(issue.path));
  const kept: Diagnostic[] = [];
  for (const issue of issues) if (!missingHidden(issue)) translate(issue, issue.path as PathKey[], source, raw, schema, kept);
  return kept;
}

function translate(issue: Issue, path: PathKey[], source: Locator, raw: unknown, schema: z.ZodType, out: Diagnostic[]): void {
  const where = describePath(path, raw);
  const push = (code: string, message: string, at = source.locate(path), hint?: string) =>
    out.push({ ...at, code, message, ...(hint ? { hint } : {}) });

  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = Object.keys(objectShapeAt(schema, path) ?? {});
      for (const key of issue.keys) {
        const hint = didYouMean(key, known) ?? (known.length ? `allowed here: ${known.join(', ')}` : undefined);
        const what = key === '' ? 'a key with no name (empty, `~` or `null`)' : `unknown key \`${key}\``;
        push('unknown_key', `${what} in ${where}`, source.locate([...path, key], { key: true }), hint);
      }
      return;
    }
    case 'invalid_key': {
      // A map whose keys are names of a kind (input names, header names): say which key, and where it is.
      const key = String(path[path.length - 1]);
      push('invalid_key', `${describePath(path.slice(0, -1), raw)}: \`${key}\`: ${expectation(issue.issues[0]?.message ?? issue.message)}`, source.locate(path, { key: true }));
      return;
    }
    case 'invalid_union': {
      // Our unions are "a value or a template": the first branch says what was expected.
      const first = issue.errors[0]?.[0];
      if (first) return translate(first, [...path, ...(first.path as PathKey[])], source, raw, schema, out);
      break;
    }
    case 'invalid_type': {
      const value = valueAt(raw, path);
      if (value === undefined) {
        const name = path[path.length - 1];
        const parent = path.slice(0, -1);
        push('missing_key', `${describePath(parent, raw)} needs \`${String(name)}\``, source.locate(parent, { key: true }), expectation(issue.message));
        return;
      }
      push('invalid_type', `${where}: ${expectation(issue.message)}, got ${show(value)}`);
      return;
    }
    case 'invalid_value': {
      const value = valueAt(raw, path);
      const options = issue.values.map(String);
      const hint = typeof value === 'string' ? didYouMean(value, options) : undefined;
      push('invalid_value', `${where}: ${expectation(issue.message)}, got ${show(value)}`, undefined, hint);
      return;
    }
    case 'custom': {
      const code = (issue.params as { code?: string } | undefined)?.code ?? 'invalid_value';
      const target = valueAt(raw, path) === undefined ? source.locate(path.slice(0, -1)) : source.locate(path);
      push(code, `${describePath(path.slice(0, -1), raw)}: ${issue.message}`, target);
      return;
    }
    default:
      break;
  }
  const value = valueAt(raw, path);
  push('invalid_value', `${where}: ${expectation(issue.message)}${value === undefined ? '' : `, got ${show(value)}`}`);
}

/** zod's default messages start "Invalid input: expected …"; ours are already phrased as expectations. */
function expectation(message: string): string {
  return message.replace(/^Invalid (input|option): /, '');
}

export function valueAt(raw: unknown, path: readonly PathKey[]): unknown {
  let current = raw;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PathKey, unknown>)[key];
  }
  return current;
}

export function show(value: unknown): string {
  if (value === null) return '`null`';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return `\`${text.length > 60 ? text.slice(0, 57) + '…' : text}\``;
}

/** "step `summarize` → llm", "config.maxConcurrency", "the workflow". */
export function describePath(path: readonly PathKey[], raw: unknown): string {
  if (path.length === 0) return 'the workflow';
  if (path[0] === 'steps' && typeof path[1] === 'number') {
    const id = valueAt(raw, ['steps', path[1], 'id']);
    const step = typeof id === 'string' ? `step \`${id}\`` : `step ${path[1] + 1}`;
    const rest = path.slice(2);
    return rest.length ? `${step} → ${rest.join('.')}` : step;
  }
  return `\`${path.map(String).join('.')}\``;
}

/** The object shape found at `path` in a schema (through optional, default, arrays, records, unions, pipes). */
function objectShapeAt(schema: z.ZodType, path: readonly PathKey[]): Record<string, unknown> | undefined {
  let current: any = schema;
  const unwrap = () => {
    for (;;) {
      const def = current?._zod?.def;
      if (!def) return;
      if (['optional', 'nullable', 'default', 'readonly', 'catch', 'prefault', 'nonoptional'].includes(def.type)) current = def.innerType;
      else if (def.type === 'pipe') current = def.in;
      else if (def.type === 'union') current = def.options.find((o: any) => o._zod.def.type === 'object') ?? def.options[0];
      else return;
    }
  };
  unwrap();
  for (const key of path) {
    const def = current?._zod?.def;
    if (!def) return undefined;
    if (def.type === 'object') current = def.shape[key];
    else if (def.type === 'array') current = def.element;
    else if (def.type === 'record') current = def.valueType;
    else return undefined;
    unwrap();
  }
  return current?._zod?.def?.type === 'object' ? current._zod.def.shape : undefined;
}

/**
 * The simplest value a JSON Schema accepts, for the `echo` provider: a `schema` workflow can be tried offline,
 * its later steps reading fields that exist and have the right type. Covers what structured-output schemas
 * use (types, required properties, enum/const, numeric and length bounds, local `$ref`s, anyOf/oneOf/allOf);
 * what it cannot satisfy (a `pattern`, `multipleOf`, `not`) the caller's schema check reports. Pure.
 */

type Schema = Readonly<Record<string, unknown>>;

export function minimalValue(schema: unknown, root: unknown = schema, depth = 0): unknown {
  if (schema === true || schema === undefined) return null;
  if (schema === false || schema === null || typeof schema !== 'object' || depth > 32) return null;
  const s = schema as Schema;
  if ('const' in s) return s['const'];
  if (Array.isArray(s['enum']) && s['enum'].length > 0) return s['enum'][0];
  if (typeof s['$ref'] === 'string') {
    const target = resolveRef(root, s['$ref']);
    if (target !== undefined) return minimalValue(target, root, depth + 1);
  }
  if (Array.isArray(s['allOf']) && s['allOf'].length > 0) {
    return minimalValue(mergeAll([omit(s, 'allOf'), ...(s['allOf'] as Schema[]).map((part) => deref(part, root))]), root, depth + 1);
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = s[key];
    if (Array.isArray(options) && options.length > 0) {
      // A first option that is `null` says "optional"; the real shape is more useful to the steps after it.
      const chosen = options.find((o) => (o as Schema)?.['type'] !== 'null') ?? options[0];
      return minimalValue(mergeAll([omit(s, key), deref(chosen as Schema, root)]), root, depth + 1);
    }
  }
  switch (typeOf(s)) {
    case 'object': {
      const properties = (s['properties'] ?? {}) as Record<string, unknown>;
      const required = Array.isArray(s['required']) ? (s['required'] as string[]) : [];
      const value: Record<string, unknown> = {};
      for (const name of required) value[name] = minimalValue(properties[name], root, depth + 1);
      // minProperties beyond the required ones: fill in declared properties, in order.
      const min = numberOr(s['minProperties'], 0);
      for (const name of Object.keys(properties)) {
        if (Object.keys(value).length >= min) break;
        if (!(name in value)) value[name] = minimalValue(properties[name], root, depth + 1);
      }
      return value;
    }
    case 'array': {
      const prefix = Array.isArray(s['prefixItems']) ? (s['prefixItems'] as unknown[]) : Array.isArray(s['items']) ? (s['items'] as unknown[]) : [];
      const rest = Array.isArray(s['items']) ? s['additionalItems'] : s['items'];
      const count = Math.max(numberOr(s['minItems'], 0), 0);
      return Array.from({ length: count }, (_, i) => minimalValue(i < prefix.length ? prefix[i] : rest, root, depth + 1));
    }
    case 'string':
      return 'x'.repeat(Math.max(0, numberOr(s['minLength'], 0)));
    case 'integer':
      return minimalNumber(s, true);
    case 'number':
      return minimalNumber(s, false);
    case 'boolean':
      return false;
    default:
      return null;
  }
}

/** The declared type (the first non-null one of a list), else one implied by the keywords present. */
function typeOf(s: Schema): string | undefined {
  const type = s['type'];
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return (type.find((t) => t !== 'null') ?? type[0]) as string | undefined;
  if ('properties' in s || 'required' in s || 'additionalProperties' in s) return 'object';
  if ('items' in s || 'prefixItems' in s || 'minItems' in s) return 'array';
  if ('minLength' in s || 'maxLength' in s || 'pattern' in s) return 'string';
  if ('minimum' in s || 'maximum' in s || 'exclusiveMinimum' in s || 'exclusiveMaximum' in s) return 'number';
  return undefined;
}

/** 0 when the bounds allow it, else the allowed value nearest to 0 (a multiple of `multipleOf` if one is set). */
function minimalNumber(s: Schema, integer: boolean): number {
  const min = finite(s['minimum']) ?? -Infinity;
  const max = finite(s['maximum']) ?? Infinity;
  const exMin = finite(s['exclusiveMinimum']);
  const exMax = finite(s['exclusiveMaximum']);
  // The bound that binds, and whether it is open (the value itself is excluded).
  let low = min;
  let lowOpen = false;
  if (exMin !== undefined && exMin >= low) [low, lowOpen] = [exMin, true];
  let high = max;
  let highOpen = false;
  if (exMax !== undefined && exMax <= high) [high, highOpen] = [exMax, true];
  if (integer) {
    low = lowOpen ? Math.floor(low) + 1 : Math.ceil(low);
    high = highOpen ? Math.ceil(high) - 1 : Math.floor(high);
    lowOpen = highOpen = false;
  }
  const allows = (n: number) => (lowOpen ? n > low : n >= low) && (highOpen ? n < high : n <= high);
  if (allows(0)) return 0;
  // 0 is excluded from below (the range lies above it) or from above.
  const towardZero = low >= 0 ? 1 : -1;
  let value = towardZero > 0 ? low : high;
  if (towardZero > 0 ? lowOpen : highOpen) value = Number.isFinite(towardZero > 0 ? high : low) ? (low + high) / 2 : value + towardZero;
  const step = finite(s['multipleOf']);
  if (step !== undefined && step > 0) {
    const multiple = (towardZero > 0 ? Math.ceil(value / step) : Math.floor(value / step)) * step;
    if (allows(multiple)) return multiple;
  }
  return value;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function omit(s: Schema, key: string): Schema {
  const { [key]: _omitted, ...rest } = s;
  return rest;
}

function deref(s: Schema, root: unknown): Schema {
  if (s && typeof s === 'object' && typeof s['$ref'] === 'string') {
    const target = resolveRef(root, s['$ref']);
    if (target && typeof target === 'object') return { ...omit(s, '$ref'), ...(target as Schema) };
  }
  return s;
}

/** Shallow merge of schemas that must all hold: properties and required lists are unioned, the rest overlaid. */
function mergeAll(parts: readonly Schema[]): Schema {
  const merged: Record<string, unknown> = {};
  for (const part of parts) {
    if (!part || typeof part !== 'object') continue;
    for (const [key, value] of Object.entries(part)) {
      if (key === 'properties') merged[key] = { ...(merged[key] as object | undefined), ...(value as object) };
      else if (key === 'required') merged[key] = [...new Set([...((merged[key] as string[] | undefined) ?? []), ...(value as string[])])];
      else merged[key] = value;
    }
  }
  return merged;
}

/** Local references only (`#/$defs/x`, `#/definitions/x`, `#`): a schema on the network is not fetched. */
function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node = root;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

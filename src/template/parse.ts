/**
 * The template language, parsed: `${steps.<id>.<property>…}`, `${inputs.<name>…}`, `${env.<NAME>}`, and inside
 * a `foreach` step its item (`${item…}`, or the name `as` gives) and `${foreach.index}` / `${foreach.count}`.
 * Pure functions over strings; the validator and the runtime both use them, so a template means the same
 * thing when it is checked and when it is resolved.
 */

export type PathKey = string | number;

export type Reference =
  | { root: 'steps'; step: string; property: string; path: PathKey[] }
  | { root: 'inputs'; name: string; path: PathKey[] }
  | { root: 'env'; name: string }
  /** A `foreach` step's item variable (`${item}`, or the name `as` gives), and a path into the item. */
  | { root: 'item'; name: string; path: PathKey[] }
  /** `${foreach.index}` (0-based) and `${foreach.count}` inside a `foreach` step. */
  | { root: 'foreach'; name: 'index' | 'count' };

export type Segment =
  | { kind: 'text'; value: string }
  /** `offset` and `length` locate the whole `${…}` in the source string. */
  | { kind: 'ref'; ref: Reference; raw: string; offset: number; length: number };

export interface TemplateProblem {
  offset: number;
  message: string;
  hint?: string;
}

/** Where a template is written. */
export interface TemplateOptions {
  /**
   * The item variable's name (`as`, default `item`) when the template is inside a `foreach` step; absent
   * elsewhere, where `${item}` and `${foreach.…}` are problems.
   */
  item?: string;
}

export interface ParsedTemplate {
  segments: Segment[];
  problems: TemplateProblem[];
}

const ROOTS = ['steps', 'inputs', 'env'];
const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*/;

/** Parse one string. `$${` is a literal `${`. Problems are collected, never thrown. */
export function parseTemplate(source: string, options: TemplateOptions = {}): ParsedTemplate {
  const segments: Segment[] = [];
  const problems: TemplateProblem[] = [];
  let text = '';
  let i = 0;
  while (i < source.length) {
    const at = source.indexOf('${', i);
    if (at === -1) {
      text += source.slice(i);
      break;
    }
    if (at > 0 && source[at - 1] === '$') {
      // `$${` escapes: keep one `$`-less `${` and move on.
      text += source.slice(i, at - 1) + '${';
      i = at + 2;
      continue;
    }
    text += source.slice(i, at);
    const close = source.indexOf('}', at + 2);
    if (close === -1) {
      problems.push({ offset: at, message: 'unterminated `${`: expected a closing `}`', hint: 'write `$${` for a literal `${`' });
      text += source.slice(at);
      break;
    }
    if (text) segments.push({ kind: 'text', value: text });
    text = '';
    const raw = source.slice(at, close + 1);
    const parsed = parseExpression(source.slice(at + 2, close), options);
    if ('problem' in parsed) {
      const message = parsed.quotesRaw ? `\`${raw}\` ${parsed.problem}` : `${parsed.problem} in \`${raw}\``;
      problems.push({ offset: at, message, ...(parsed.hint ? { hint: parsed.hint } : {}) });
    } else {
      segments.push({ kind: 'ref', ref: parsed.ref, raw, offset: at, length: raw.length });
    }
    i = close + 1;
  }
  if (text) segments.push({ kind: 'text', value: text });
  return { segments, problems };
}

/** `quotesRaw`: the problem reads after the reference as written (`` `${item}` only exists … ``). */
type ExpressionResult = { ref: Reference } | { problem: string; hint?: string; quotesRaw?: true };

const FOREACH_HINT = 'write `${foreach.index}` (the item\'s place, from 0) or `${foreach.count}` (how many items there are)';
const OUTSIDE_FOREACH_HINT = 'it is the current item of a step with `foreach:`; elsewhere, read a foreach step\'s results as `${steps.<id>.output}`';

function parseExpression(body: string, options: TemplateOptions): ExpressionResult {
  const expr = body.trim();
  // GitHub Actions' `${{ steps.a.outputs.x }}`: the closing `}` found is the first of two.
  if (expr.startsWith('{')) {
    const inner = expr.slice(1).trim().replace(/^\./, '');
    const keys = parsePath(inner);
    const spelled = typeof keys !== 'string' && ROOTS.includes(String(keys[0])) ? `\`\${${inner}}\`` : '`${steps.<id>.output}`, `${inputs.<name>}` or `${env.<NAME>}`';
    return { problem: '`${{` opens a template with two braces', hint: `a template takes one pair: write ${spelled}` };
  }
  if (expr === '') return { problem: 'empty reference', hint: 'write `${steps.<id>.output}`, `${inputs.<name>}` or `${env.<NAME>}`' };
  const keys = parsePath(expr);
  if (typeof keys === 'string') return { problem: keys };
  const [root, ...rest] = keys;
  const item = options.item;
  // A name that would shadow a root never does (`as: steps` is rejected by the validator).
  if (item !== undefined && root === item && !ROOTS.includes(item) && item !== 'foreach') return { ref: { root: 'item', name: item, path: rest } };
  if (root === 'foreach') {
    if (item === undefined) return { problem: 'only exists inside a `foreach` step', hint: OUTSIDE_FOREACH_HINT, quotesRaw: true };
    const [name, ...deeper] = rest;
    if (name === 'index' || name === 'count') {
      if (deeper.length === 0) return { ref: { root: 'foreach', name } };
      return { problem: `\`foreach.${name}\` is a number and has no fields`, hint: FOREACH_HINT };
    }
    const problem = name === undefined ? '`foreach` needs a name after it' : typeof name === 'string' ? `\`foreach.${name}\` does not exist` : `\`foreach\` has no \`[${name}]\``;
    return { problem, hint: FOREACH_HINT };
  }
  if (typeof root !== 'string' || !ROOTS.includes(root)) {
    if (root === 'item' && item === undefined) return { problem: 'only exists inside a `foreach` step', hint: OUTSIDE_FOREACH_HINT, quotesRaw: true };
    if (root === 'item') return { problem: `unknown reference root \`item\``, hint: `this step names its item \`${item}\` (\`as: ${item}\`): write \`\${${item}}\`` };
    return {
      problem: `unknown reference root \`${String(root)}\``,
      hint:
        item === undefined
          ? 'references start with `steps.`, `inputs.` or `env.`; `${item}` and `${foreach.index}` exist only inside a `foreach` step'
          : `references start with \`steps.\`, \`inputs.\`, \`env.\`, \`foreach.\` or this step's item, \`\${${item}}\``,
    };
  }
  const name = rest[0];
  if (typeof name !== 'string') {
    const example = root === 'steps' ? '${steps.<id>.output}' : root === 'inputs' ? '${inputs.<name>}' : '${env.<NAME>}';
    return { problem: `\`${root}\` needs a name after it`, hint: `write \`${example}\`` };
  }
  if (root === 'env') {
    if (rest.length > 1) return { problem: 'an environment variable is a string and has no fields' };
    return { ref: { root: 'env', name } };
  }
  if (root === 'inputs') return { ref: { root: 'inputs', name, path: rest.slice(1) } };
  const property = rest[1];
  if (typeof property !== 'string') {
    return { problem: `\`steps.${name}\` needs a property`, hint: `write \`\${steps.${name}.output}\`` };
  }
  return { ref: { root: 'steps', step: name, property, path: rest.slice(2) } };
}

/** `a.b[0]["c d"]` → ['a', 'b', 0, 'c d'], or a description of what is wrong. */
function parsePath(expr: string): PathKey[] | string {
  const keys: PathKey[] = [];
  let i = 0;
  let expectDot = false;
  while (i < expr.length) {
    const ch = expr[i];
    if (ch === '[') {
      const close = expr.indexOf(']', i);
      if (close === -1) return 'unclosed `[`';
      const inner = expr.slice(i + 1, close).trim();
      if (/^\d+$/.test(inner)) keys.push(Number(inner));
      else if (/^(["']).*\1$/.test(inner)) keys.push(inner.slice(1, -1));
      else return `\`[${inner}]\` is not an index (use a number or a quoted key)`;
      i = close + 1;
      expectDot = true;
      continue;
    }
    if (expectDot) {
      if (ch !== '.') return `unexpected \`${ch}\``;
      i++;
    }
    const match = IDENT.exec(expr.slice(i));
    if (!match) return keys.length === 0 ? `\`${expr}\` is not a reference` : `expected a name after \`.\``;
    keys.push(match[0]);
    i += match[0].length;
    expectDot = true;
  }
  return keys;
}

export function formatPath(path: readonly PathKey[]): string {
  return path.map((k) => (typeof k === 'number' ? `[${k}]` : IDENT.test(k) && IDENT.exec(k)![0] === k ? `.${k}` : `[${JSON.stringify(k)}]`)).join('');
}

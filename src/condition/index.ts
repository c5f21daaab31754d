/**
 * `if` conditions: CEL expressions (Common Expression Language), compiled once and evaluated with `steps`,
 * `inputs` and `env` bound as variables — values are never spliced into the expression text, so a quote, a
 * `-` or a newline in an output cannot change what the condition means.
 *
 * The run loop calls `evaluateCondition` when every step the condition depends on has settled; `validate`
 * uses `unwrapCondition` and `analyzeCondition` (see definition/references.ts).
 */
import { createContext, Script } from 'node:vm';
import type { ParseResult } from '@marcbachmann/cel-js';
import type { ConditionSpec } from '../definition/types.ts';
import { parseCondition } from './environment.ts';

export { analyzeCondition, type ConditionAnalysis, type ConditionProblem, type NameAccess, type StepAccess } from './analyze.ts';
export { CONDITION_LIMITS, CONDITION_ROOTS, MAX_CONDITION_LENGTH } from './environment.ts';
export { unwrapCondition, type Unwrapped } from './unwrap.ts';

/** What `steps.<id>` reads in a condition: the step's status, and its output and properties when it has them. */
export interface ConditionStep {
  status: string;
  output?: unknown;
  [property: string]: unknown;
}

export interface ConditionVariables {
  /** Only the steps the condition names. */
  steps: Readonly<Record<string, ConditionStep>>;
  inputs: Readonly<Record<string, unknown>>;
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * The condition's value: `{ ok: true, value }` with a boolean, or `{ ok: false, code, message }` where `code` is
 * `condition_not_boolean` (it evaluated to something else) or `condition_error` (evaluation failed: a missing
 * key, a type mismatch, …). Never throws.
 */
export type ConditionResult = { ok: true; value: boolean } | { ok: false; code: 'condition_not_boolean' | 'condition_error'; message: string; hint?: string };

/**
 * Compiled expressions by their text. A workflow has a handful; the bound only matters to a process that
 * runs many different workflows (a server), where the oldest are dropped first.
 */
const compiled = new Map<string, ParseResult>();
const MAX_COMPILED = 1000;

function compile(expression: string): ParseResult {
  let program = compiled.get(expression);
  if (!program) {
    program = parseCondition(expression);
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(expression, program);
  }
  return program;
}

/**
 * How long one condition may take. The library runs synchronously on the run's own thread, and a regular
 * expression can backtrack for hours on data a model wrote (`matches("^(a+)+$")`): unbounded, no timeout, no
 * Ctrl-C would ever run again. A condition over real data takes microseconds to milliseconds.
 */
export const CONDITION_TIMEOUT_MS = 2000;
const watched = createContext({});
const call = new Script('__evaluate()');

/** Runs `work` so that it is stopped after CONDITION_TIMEOUT_MS, regular expressions included (V8 interrupts them). */
function bounded<T>(work: () => T): T {
  (watched as { __evaluate?: () => T }).__evaluate = work;
  try {
    return call.runInContext(watched, { timeout: CONDITION_TIMEOUT_MS }) as T;
  } finally {
    (watched as { __evaluate?: () => T }).__evaluate = undefined;
  }
}

/**
 * Numbers in outputs and inputs are JSON numbers, which CEL reads as doubles; a double compares with an int
 * literal (`count > 10` holds for 11 and for 11.5), but arithmetic between them does not exist in CEL: the
 * hint for that error says so.
 */
export function evaluateCondition(condition: ConditionSpec, variables: ConditionVariables): ConditionResult {
  const expression = condition.expression;
  let value: unknown;
  try {
    const program = compile(expression);
    value = bounded(() => program({ steps: variables.steps, inputs: variables.inputs, env: variables.env }));
  } catch (error) {
    if ((error as { code?: string })?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      return {
        ok: false,
        code: 'condition_error',
        message: `the condition \`${clip(oneLine(expression))}\` took longer than ${CONDITION_TIMEOUT_MS / 1000} s to evaluate, and was stopped`,
        hint: 'a pattern given to `matches` that backtracks on this data (nested repeats, `(a+)+`), or a macro inside a macro over a long list: simplify it, or decide in a step and test its output',
      };
    }
    return failure(expression, error);
  }
  if (typeof value === 'boolean') return { ok: true, value };
  // The text "true" or "false" (a model's answer, say) is the one value worth naming: it explains itself.
  const text = typeof value === 'string' && /^(true|false)$/i.test(value.trim()) ? value.trim() : undefined;
  return {
    ok: false,
    code: 'condition_not_boolean',
    message: `the condition \`${clip(oneLine(expression))}\` is ${text === undefined ? describeValue(value) : `the string "${text}"`}, not true or false`,
    hint: text === undefined ? 'compare it to something, e.g. `… == "yes"`, `… > 0`, or test it with `has(…)` or `size(…) > 0`' : `compare the text: \`${clip(oneLine(expression))} == "${text}"\``,
  };
}

function failure(expression: string, error: unknown): ConditionResult {
  type Located = { start?: number; end?: number };
  const e = error as { code?: string; summary?: string; message?: string; node?: Located; range?: Located } | undefined;
  const summary = oneLine(e?.summary ?? e?.message ?? String(error));
  // The node is the whole access (`steps.a.output.key`); the range only its last part (`key`).
  const span = typeof e?.node?.start === 'number' ? e.node : e?.range;
  const part = span && typeof span.start === 'number' && typeof span.end === 'number' && span.end > span.start ? oneLine(expression.slice(span.start, span.end)) : undefined;
  // The part that failed, as written, when it is not the whole condition.
  const where = part && part !== oneLine(expression) ? ` in \`${clip(part)}\`` : '';
  const message = `the condition failed${where}: ${withoutValues(e?.code, summary)}`;
  const hint = hintFor(e?.code, summary, part);
  return { ok: false, code: 'condition_error', message, ...(hint ? { hint } : {}) };
}

/**
 * The library's message, with nothing of the data in it: a value may be a secret, and the message is printed
 * and stored. Only messages known to name types alone are passed through; any other is said by its kind (the
 * library quotes the value in some, e.g. `duration("…")` and `bool("…")`, cutting it so no redactor would know
 * it). The part of the expression that failed, as written, already says which key, pattern or conversion.
 */
function withoutValues(code: string | undefined, summary: string): string {
  switch (code) {
    case 'no_such_key':
      return /index out of bounds/.test(summary) ? 'index out of bounds' : 'no such key';
    case 'invalid_regular_expression':
      return 'the pattern is not a valid regular expression';
    case 'no_such_overload':
      // `no such overload: dyn<double> + int`: types and operators only.
      return /^no such overload: [\w<>, ()+\-*/%=!&|.[\]]*$/i.test(summary) ? lowerFirst(summary) : 'no such overload';
    case 'index_out_of_bounds':
      return 'index out of bounds';
    case 'division_by_zero':
      return 'division by zero';
    case 'modulus_by_zero':
      return 'modulus by zero';
    default:
      return code ? `it could not be evaluated (${code.replace(/_/g, ' ')})` : 'it could not be evaluated';
  }
}

function hintFor(code: string | undefined, summary: string, part: string | undefined): string | undefined {
  switch (code) {
    case 'no_such_key': {
      // `steps.a.output.key`: the failing access is the whole path; test for it with `has()`.
      if (part && /^[\w.]+$/.test(part) && part.includes('.')) return `test for it first: \`has(${part}) && …\``;
      return 'test for it first with `has(x.key)`, or `"key" in x` for a key that is not a name';
    }
    case 'no_such_overload':
      if (/\bdouble\b/.test(summary) && /\bint\b/.test(summary)) return 'JSON numbers are doubles in CEL: write `1.0` instead of `1` in arithmetic, or convert with `int(…)` or `double(…)`';
      return 'CEL does not convert between types: convert with `string(…)`, `int(…)` or `double(…)`, or compare like with like';
    case 'index_out_of_bounds':
      return 'check the length first: `size(list) > i && …`';
    case 'division_by_zero':
    case 'modulus_by_zero':
      return 'check the divisor first: `d != 0 && …`';
    case 'invalid_regular_expression':
      return 'fix the pattern given to `matches`';
    default:
      return undefined;
  }
}

/**
 * A CEL value as a person reads it, by its type only (`a string`, `an int`, `a list of 2`): the value itself
 * may be a secret, and the message is printed and stored.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return 'an int';
  if (typeof value === 'number') return 'a double';
  if (typeof value === 'string') return 'a string';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof Date) return 'a timestamp';
  if (value instanceof Map) return 'a map';
  if (typeof value === 'object') {
    // The library's own values (`1u`, `duration("1s")`, `type(x)`) by their class; a plain object is a map.
    const kind = (value as object).constructor?.name;
    if (!kind || kind === 'Object') return 'a map';
    const words: Record<string, string> = { UnsignedInt: 'an unsigned int', Duration: 'a duration', Type: 'a type', Optional: 'an optional' };
    return words[kind] ?? `a value of type ${kind}`;
  }
  return `a ${typeof value}`;
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

function oneLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0]!.toLowerCase() + text.slice(1) : text;
}

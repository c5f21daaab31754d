/**
 * What `validate` needs to know about a condition before anything runs: whether it parses and type-checks to
 * a boolean, and every step, input and environment variable it names (read off the AST, so a name inside a
 * string literal is not a name). Offsets are into the expression; the caller maps them to lines and columns.
 * Checking names against the workflow (does step `x` exist, does it have `.items`) is the caller's: this
 * module knows CEL, not workflows.
 */
import type { ASTNode } from '@marcbachmann/cel-js';
import { didYouMean } from '../core/suggest.ts';
import { CONDITION_ROOTS, describeType, MAX_CONDITION_LENGTH, parseCondition } from './environment.ts';

export interface ConditionProblem {
  /** Offset into the expression. */
  offset: number;
  code: string;
  message: string;
  hint?: string;
  /** For `unknown_name`: the name, so the caller can suggest a better spelling it knows of (`steps.<name>`). */
  name?: string;
}

/** `steps.<id>.<property>` or `steps["<id>"]["<property>"]`, as found in the expression. */
export interface StepAccess {
  id: string;
  /** Absent when nothing follows the id (`steps.a == null`), which is reported already. */
  property?: string;
  offset: number;
  /** The access as written, up to the property: `steps["fetch-data"].status`. */
  text: string;
}

export interface NameAccess {
  name: string;
  offset: number;
  text: string;
}

export interface ConditionAnalysis {
  problems: ConditionProblem[];
  steps: StepAccess[];
  inputs: NameAccess[];
  /** It reads `inputs` as a whole (`"x" in inputs`, `inputs[inputs.which]`): every input must be bound. */
  allInputs: boolean;
  env: NameAccess[];
  /** The result's type as checked (`bool`, or `dyn` when it depends on data); absent when it did not check. */
  type?: string;
}

/** Macros whose first argument names a variable for the arguments after it (`list.exists(x, x > 1)`). */
const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
const ROOTS: ReadonlySet<string> = new Set(CONDITION_ROOTS);
const EXAMPLE = 'conditions are CEL, e.g. `steps.check.output.score > 0.5 && inputs.mode == "fast"`';
/** The statuses a step has when a condition reads it (it has ended). */
const STATUSES: readonly string[] = ['succeeded', 'failed', 'skipped', 'cancelled'];
const DASHED = /^steps\s*\.\s*([A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)+)/;

export function analyzeCondition(expression: string): ConditionAnalysis {
  const analysis: ConditionAnalysis = { problems: [], steps: [], inputs: [], allInputs: false, env: [] };
  if (expression.length > MAX_CONDITION_LENGTH) {
    analysis.problems.push({ offset: 0, code: 'condition_too_complex', message: `the condition is longer than ${MAX_CONDITION_LENGTH} characters`, hint: 'compute the decision in a step, and test its output' });
    return analysis;
  }
  if (expression.trim() === '') {
    analysis.problems.push({ offset: 0, code: 'condition_syntax', message: 'the condition is empty', hint: EXAMPLE });
    return analysis;
  }
  let parsed;
  try {
    parsed = parseCondition(expression);
  } catch (error) {
    analysis.problems.push(syntaxProblem(expression, error));
    return analysis;
  }
  let checked;
  try {
    new Walker(expression, analysis).visit(parsed.ast, new Set());
    checked = parsed.check();
  } catch (error) {
    // Not expected from a parsed expression; a problem to report, never a crash of `validate`.
    analysis.problems.push({ offset: 0, code: 'condition_type', message: `the condition could not be checked: ${lowerFirst(String((error as Error)?.message ?? error))}` });
    return analysis;
  }
  const dashed = analysis.problems.some((p) => p.code === 'condition_dashed_id');
  if (!checked.valid) {
    // `steps.fetch-data` also leaves `data` an unknown name: the dashed-id problem already says why.
    if (!dashed) analysis.problems.push(typeProblem(expression, checked.error));
  } else {
    analysis.type = checked.type ?? 'dyn';
    if (analysis.type !== 'bool' && analysis.type !== 'dyn') {
      analysis.problems.push({
        offset: 0,
        code: 'condition_not_boolean',
        message: `the condition is ${describeType(analysis.type)}, not a boolean`,
        hint: 'compare it to something, e.g. `… == "yes"`, `… > 0` or `size(…) > 0`',
      });
    }
  }
  return analysis;
}

type Key = { key: string | number; end: number } | { dynamic: ASTNode; end: number };

class Walker {
  readonly #text: string;
  readonly #out: ConditionAnalysis;

  constructor(text: string, out: ConditionAnalysis) {
    this.#text = text;
    this.#out = out;
  }

  visit(node: ASTNode, bound: ReadonlySet<string>): void {
    switch (node.op) {
      case 'value':
        return;
      case 'id':
        if (this.#isRoot(node, bound)) this.#root(node, [], bound);
        return;
      case '.':
      case '[]': {
        const { base, keys } = flatten(node);
        if (base.op === 'id' && this.#isRoot(base, bound)) return this.#root(base, keys, bound);
        this.visit(base, bound);
        for (const k of keys) if ('dynamic' in k) this.visit(k.dynamic, bound);
        return;
      }
      case '==':
      case '!=': {
        this.#statusLiteral(node.args as [ASTNode, ASTNode]);
        for (const child of children(node.args)) this.visit(child, bound);
        return;
      }
      case 'rcall': {
        const [name, receiver, args] = node.args;
        this.visit(receiver, bound);
        const variable = args[0]?.op === 'id' ? args[0].args : undefined;
        if (variable !== undefined && COMPREHENSIONS.has(name)) {
          const inner = new Set(bound).add(variable);
          for (const arg of args.slice(1)) this.visit(arg, inner);
        } else if (variable !== undefined && name === 'bind' && receiver.op === 'id' && receiver.args === 'cel' && args.length === 3) {
          this.visit(args[1]!, bound);
          this.visit(args[2]!, new Set(bound).add(variable));
        } else for (const arg of args) this.visit(arg, bound);
        return;
      }
      default:
        for (const child of children(node.args)) this.visit(child, bound);
    }
  }

  /** `steps.x.status == "sucess"`: a status no step ever has makes the comparison always false (or true). */
  #statusLiteral([left, right]: [ASTNode, ASTNode]): void {
    const [access, literal] = right.op === 'value' ? [left, right] : [right, left];
    if (literal.op !== 'value' || (typeof literal.args === 'string' && STATUSES.includes(literal.args))) return;
    const { base, keys } = flatten(access);
    const last = keys[keys.length - 1];
    if (base.op !== 'id' || base.args !== 'steps' || keys.length !== 2 || !last || !('key' in last) || last.key !== 'status') return;
    this.#out.problems.push({
      offset: literal.start,
      code: 'condition_unknown_status',
      message: `\`${this.#text.slice(literal.start, literal.end)}\` is not a status a step can have: this comparison never changes`,
      hint: (typeof literal.args === 'string' ? didYouMean(literal.args, STATUSES) : undefined) ?? `a step has one of these statuses when a condition reads it: ${STATUSES.map((x) => `\`"${x}"\``).join(', ')}`,
    });
  }

  #isRoot(node: ASTNode & { op: 'id' }, bound: ReadonlySet<string>): boolean {
    return ROOTS.has(node.args) && !bound.has(node.args);
  }

  #root(base: ASTNode & { op: 'id' }, keys: Key[], bound: ReadonlySet<string>): void {
    const out = this.#out;
    const offset = base.start;
    const text = (k: number) => this.#text.slice(offset, keys[k]?.end ?? base.end);
    for (const k of keys) if ('dynamic' in k) this.visit(k.dynamic, bound);
    const [first, second] = keys;
    const named = first && 'key' in first && typeof first.key === 'string' ? first.key : undefined;
    const problem = (code: string, message: string, hint: string) => out.problems.push({ offset, code, message, hint });
    switch (base.args) {
      case 'steps': {
        const dashed = DASHED.exec(this.#text.slice(offset));
        if (dashed && named !== undefined && dashed[1]!.startsWith(`${named}-`) && this.#text[first!.end] === '-') {
          const [head, ...rest] = dashed[1]!.split('-');
          return void problem('condition_dashed_id', `\`${dashed[0]}\` reads as \`steps.${head}\` minus \`${rest.join('-')}\``, `write \`steps["${dashed[1]}"]\`: an id with \`-\` is written in brackets in a condition`);
        }
        if (named === undefined) {
          const what = keys.length === 0 ? '`steps` on its own' : `\`${text(0)}\``;
          return void problem('condition_reference', `${what}: a condition names each step it reads by its id`, 'write `steps.<id>.output` or `steps["<id>"].status`, so the step is waited for');
        }
        if (second && !('key' in second && typeof second.key === 'string')) {
          problem('condition_reference', `\`${text(1)}\`: name the property of \`steps.${named}\``, `write \`steps.${named}.output\` or \`steps.${named}.status\``);
        } else if (!second) {
          problem('condition_reference', `\`${text(0)}\` needs a property`, `write \`${text(0)}.output\` or \`${text(0)}.status\``);
        }
        const property = second && 'key' in second && typeof second.key === 'string' ? second.key : undefined;
        out.steps.push({ id: named, ...(property === undefined ? {} : { property }), offset, text: text(property === undefined ? 0 : 1) });
        return;
      }
      case 'inputs':
        if (named === undefined) out.allInputs = true;
        else out.inputs.push({ name: named, offset, text: text(0) });
        return;
      case 'env':
        if (named === undefined) {
          return void problem('condition_reference', `${keys.length === 0 ? '`env` on its own' : `\`${text(0)}\``}: a condition names each environment variable it reads`, 'write `env.NAME` or `env["NAME"]`');
        }
        if (keys.length > 1) problem('condition_reference', `\`${text(1)}\`: an environment variable is a string and has no fields`, `compare \`${text(0)}\` itself, e.g. \`${text(0)} == "1"\``);
        out.env.push({ name: named, offset, text: text(0) });
        return;
    }
  }
}

/** `a.b["c"][x]` → base `a`, keys `b`, `c` and the dynamic `x`, each with where its access ends. */
function flatten(node: ASTNode): { base: ASTNode; keys: Key[] } {
  const keys: Key[] = [];
  let current = node;
  for (;;) {
    if (current.op === '.') {
      keys.unshift({ key: current.args[1], end: current.end });
      current = current.args[0];
    } else if (current.op === '[]') {
      const index = current.args[1];
      const literal = index.op === 'value' && (typeof index.args === 'string' || typeof index.args === 'bigint' || typeof index.args === 'number');
      keys.unshift(literal ? { key: typeof index.args === 'string' ? index.args : Number(index.args), end: current.end } : { dynamic: index, end: current.end });
      current = current.args[0];
    } else return { base: current, keys };
  }
}

/** The nodes among an operator's arguments (which mix nodes, strings and lists of nodes). */
function children(args: unknown): ASTNode[] {
  if (Array.isArray(args)) return args.flatMap(children);
  return args !== null && typeof args === 'object' && 'op' in args ? [args as ASTNode] : [];
}

function syntaxProblem(expression: string, error: unknown): ConditionProblem {
  const e = error as { code?: string; summary?: string; message?: string; range?: { start: number; end: number } };
  const offset = Math.min(e.range?.start ?? 0, expression.length);
  const summary = e.summary ?? String(e.message ?? error);
  if (e.code === 'limit_exceeded') {
    return { offset, code: 'condition_too_complex', message: `the condition is too complex: ${summary.replace(/^Exceeded /, 'more than the limit of ').replace(/\(/, '').replace(/\)$/, '')}`, hint: 'compute the decision in a step, and test its output' };
  }
  const word = /^[A-Za-z_]\w*/.exec(expression.slice(offset))?.[0] ?? /\w*$/.exec(expression.slice(0, offset))?.[0];
  const dashed = /\bsteps\s*\.\s*([A-Za-z_]\w*(?:-\w+)+)/.exec(expression);
  let message = `syntax error in the condition: ${lowerFirst(summary)}`;
  let hint = EXAMPLE;
  if (dashed) hint = `write \`steps["${dashed[1]}"]\`: an id with \`-\` is written in brackets in a condition`;
  else if (/Unexpected character: =/.test(summary)) hint = 'compare with `==` (`=` alone is not an operator)';
  else if (word && /^(and|or|not)$/i.test(word)) hint = `write \`${{ and: '&&', or: '||', not: '!' }[word.toLowerCase()]}\` for \`${word}\``;
  else if (e.code === 'unterminated_string') hint = 'close the string with the quote that opened it';
  else if (/EOF/.test(summary)) {
    message = 'the condition ends too early';
    hint = 'something is missing at its end: an operand after an operator, or a closing bracket';
  } else if (e.code === 'reserved_identifier') hint = 'reserved words of CEL cannot be names';
  return { offset, code: 'condition_syntax', message, hint };
}

function typeProblem(expression: string, error: unknown): ConditionProblem {
  const e = error as { code?: string; summary?: string; message?: string; range?: { start: number; end: number } };
  const offset = Math.min(e.range?.start ?? 0, expression.length);
  const summary = e.summary ?? String(e.message ?? error);
  if (e.code === 'unknown_variable') {
    const name = e.range ? expression.slice(e.range.start, e.range.end) : (/: (\S+)$/.exec(summary)?.[1] ?? '');
    const hint =
      didYouMean(name, CONDITION_ROOTS) ??
      (name === 'item' ? 'a `foreach` step\'s `if` decides for the whole step, before its items: it cannot read the item' : 'a condition reads `steps.<id>…`, `inputs.<name>` and `env.<NAME>`');
    return { offset, code: 'unknown_name', message: `unknown name \`${name}\` in the condition`, hint, name };
  }
  const numbers = /\bint\b/.test(summary) && /\bdouble\b/.test(summary);
  const hint =
    e.code === 'invalid_macro_argument' && /^has\(/.test(summary)
      ? '`has()` takes a name and `.` fields: `has(steps.a.output.key)`; for an id with `-`, write `"output" in steps["fetch-data"]`'
      : numbers
        ? 'CEL keeps ints and doubles apart: write `1.0` for a double, or convert with `int(…)` or `double(…)`'
        : 'CEL does not convert between types: use `string(…)`, `int(…)` or `double(…)`, and its functions: `size`, `has`, `contains`, `startsWith`, `matches`, `exists`, `all`, `filter`';
  return { offset, code: 'condition_type', message: `type error in the condition: ${lowerFirst(summary)}`, hint };
}

function lowerFirst(text: string): string {
  const line = text.split('\n')[0]!;
  return /^[A-Z][a-z]/.test(line) ? line[0]!.toLowerCase() + line.slice(1) : line;
}

/**
 * The semantic checks of the flow-control keys: `foreach` (and `as`, `maxConcurrency`), `if`, and the two
 * spellings of `dependsOn`. Called by `checkSemantics` for each step, with what it knows of the whole file;
 * every problem is reported (none stops the others), each where it was written.
 */
import { analyzeCondition, unwrapCondition } from '../condition/index.ts';
import type { SourceLocation } from '../core/errors.ts';
import { didYouMean } from '../core/suggest.ts';
import type { EdgeReason } from '../graph/plan.ts';
import type { PathKey } from '../template/parse.ts';
import { compileValue, type CompiledValue, type LocatedReference, type TemplateValue } from '../template/value.ts';
import { RESERVED_ITEM_NAMES } from './schema.ts';
import type { Locator } from './source.ts';
import type { ConditionSpec } from './types.ts';
import { describePath, show } from './zod-issues.ts';

export interface FlowContext {
  raw: Record<string, unknown>;
  source: Locator;
  report(at: SourceLocation, code: string, message: string, hint?: string): void;
  reportTemplateProblems(compiled: CompiledValue, base: PathKey[]): void;
  /** Checks a reference (unknown step, property, input, self) and adds its edge; the target, when sound. */
  checkReference(r: LocatedReference, base: PathKey[], self: number): number | undefined;
  addEdge(step: number, target: number, reason: EdgeReason, at: () => SourceLocation): void;
  ids: ReadonlyMap<string, number>;
  /** Declared inputs and their types (`string` when not said). */
  inputs: ReadonlyMap<string, string>;
  /** What `steps.<id>.…` may read of the step at an index, and the action it has, if any. */
  propertiesOf(target: number): { properties: readonly string[]; action: string | undefined; foreach: boolean };
}

const LIST_HINT = 'write a YAML list (`foreach: [a, b]`) or exactly one reference to a list (`foreach: ${steps.<id>.output}`); a string is never split';

/** `as`, `maxConcurrency` without `foreach`; `as` that would hide a root; `dependsOn` spelled twice. The item's name. */
export function checkFlowKeys(step: Record<string, unknown>, i: number, ctx: FlowContext): string | undefined {
  const { source, raw, report } = ctx;
  // Made only for a problem: this runs for every step of a 10,000-step file.
  const label = () => describePath(['steps', i], raw);
  const foreach = 'foreach' in step;
  for (const key of ['as', 'maxConcurrency']) {
    if (key in step && !foreach) report(source.locate(['steps', i, key], { key: true }), 'needs_foreach', `${label()}: \`${key}\` applies only to a step with \`foreach\``, `add \`foreach:\` with the list to run over, or remove \`${key}\``);
  }
  if ('dependsOn' in step && 'depends_on' in step) {
    // At whichever of the two comes second.
    const later = [source.locate(['steps', i, 'dependsOn'], { key: true }), source.locate(['steps', i, 'depends_on'], { key: true })].sort((a, b) => a.line - b.line || a.column - b.column)[1]!;
    report(later, 'duplicate_key', `${label()} has both \`dependsOn\` and \`depends_on\`: they are one key, spelled two ways`, 'keep `dependsOn` and list every step there');
  }
  const as = step['as'];
  if (typeof as === 'string' && RESERVED_ITEM_NAMES.includes(as)) {
    report(source.locate(['steps', i, 'as']), 'as_shadows_root', `${label()} → as: \`${as}\` would hide the \`\${${as}.…}\` references`, 'choose another name for the item, e.g. `as: doc`');
    return foreach ? 'item' : undefined;
  }
  if (!foreach) return undefined;
  return typeof as === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(as) ? as : 'item';
}

/** The `foreach` value: a literal list, or exactly one reference to something that can be a list. */
export function checkForeach(value: unknown, i: number, item: string, ctx: FlowContext): TemplateValue | undefined {
  const { source, raw, report } = ctx;
  const base: PathKey[] = ['steps', i, 'foreach'];
  const where = describePath(base, raw);
  if (typeof value !== 'string' && !Array.isArray(value)) {
    report(source.locate(base), 'foreach_not_list', `${where}: expected a list, got ${show(value)}`, LIST_HINT);
    return undefined;
  }
  const compiled = compileValue(value, { item });
  ctx.reportTemplateProblems(compiled, base);
  let sound = compiled.problems.length === 0;
  for (const r of compiled.references) {
    const at = () => source.locateInString([...base, ...r.path], r.offset, r.raw);
    if (r.ref.root === 'item' || r.ref.root === 'foreach') {
      report(at(), 'bad_template', `\`${r.raw}\` in the list of a \`foreach\`: the item and \`foreach.…\` exist only in the step's block`, 'the list comes first: it is read before any item runs');
      sound = false;
    } else if (ctx.checkReference(r, base, i) === undefined && r.ref.root === 'steps') sound = false;
  }
  if (typeof value === 'string' && compiled.problems.length === 0) {
    const single = compiled.value;
    if (single.kind === 'literal') {
      report(source.locate(base), 'foreach_not_list', `${where}: expected a list, got a string (${show(value)})`, LIST_HINT);
      return undefined;
    }
    if (single.kind !== 'single') {
      const first = compiled.references[0]!;
      report(source.locateInString(base, first.offset, first.raw), 'foreach_not_list', `${where}: text around \`${first.raw}\` makes a string, not a list`, `write \`foreach: ${first.raw}\` alone`);
      return undefined;
    }
    const ref = single.ref;
    const notList = (what: string, hint = LIST_HINT) => report(source.locateInString(base, 0, single.raw), 'foreach_not_list', `${where}: \`${single.raw}\` is ${what}, not a list`, hint);
    if (ref.root === 'env') return void notList('an environment variable (a string)');
    if (ref.root === 'steps' && ref.property === 'status' && ref.path.length === 0) return void notList('a status (a string)');
    if (ref.root === 'inputs' && ref.path.length === 0) {
      const type = ctx.inputs.get(ref.name);
      if (type !== undefined && type !== 'array') return void notList(`input \`${ref.name}\`, declared \`${type}\``, `declare it \`type: array\` under \`inputs:\``);
    }
  }
  return sound ? compiled.value : undefined;
}

/** The `if` condition: its syntax, type, and every step and input it names (each step an edge). */
export function checkCondition(text: string, i: number, ctx: FlowContext): ConditionSpec | undefined {
  const { source, raw, report, ids } = ctx;
  const path: PathKey[] = ['steps', i, 'if'];
  const unwrapped = unwrapCondition(text);
  if (!unwrapped.ok) {
    report(source.locateInValue(path, unwrapped.offset), 'condition_template', unwrapped.message, unwrapped.hint);
    return undefined;
  }
  const { expression, offset: start } = unwrapped;
  const at = (offset: number) => source.locateInValue(path, start + offset);
  const analysis = analyzeCondition(expression);
  let sound = analysis.problems.length === 0;
  for (const p of analysis.problems) {
    let hint = p.hint;
    if (p.code === 'unknown_name' && p.name !== undefined) {
      if (ids.has(p.name)) hint = `a step is read as \`steps.${p.name}.output\` (or \`.status\`)`;
      else if (ctx.inputs.has(p.name)) hint = `an input is read as \`inputs.${p.name}\``;
    }
    report(at(p.offset), p.code, p.message, hint);
  }
  const self = describePath(['steps', i], raw);
  const named: string[] = [];
  const statusOf: string[] = [];
  for (const access of analysis.steps) {
    const target = ids.get(access.id);
    const where = () => at(access.offset);
    if (target === undefined) {
      report(where(), 'unknown_step', `unknown step \`${access.id}\` in the condition`, didYouMean(access.id, ids.keys()) ?? 'no step has that id');
      sound = false;
      continue;
    }
    if (target === i) {
      report(where(), 'self_reference', `${self}: its condition names the step itself`, 'a condition is decided before its step runs: it can read only other steps');
      sound = false;
      continue;
    }
    if (access.property !== undefined) {
      const { properties, action, foreach } = ctx.propertiesOf(target);
      if (!properties.includes(access.property)) {
        const hint = access.property === 'items' && !foreach ? 'only a step with `foreach` has `items`' : (didYouMean(access.property, properties) ?? `available: ${properties.join(', ')}`);
        report(where(), 'unknown_property', `\`${access.text}\`: ${aStep(action)} has no \`${access.property}\``, hint);
        sound = false;
        continue;
      }
      if (access.property === 'status' && !statusOf.includes(access.id)) statusOf.push(access.id);
    }
    if (!named.includes(access.id)) {
      named.push(access.id);
      ctx.addEdge(i, target, { kind: 'condition', expression: expression.trim() }, where);
    }
  }
  const inputs: string[] = [];
  for (const input of analysis.inputs) {
    if (!ctx.inputs.has(input.name)) {
      report(at(input.offset), 'unknown_input', `unknown input \`${input.name}\` in the condition`, didYouMean(input.name, ctx.inputs.keys()) ?? 'declare it under `inputs:`');
      sound = false;
    } else if (!inputs.includes(input.name)) inputs.push(input.name);
  }
  if (!sound) return undefined;
  return {
    expression: expression.trim(),
    location: source.locate(path),
    steps: named,
    statusOf,
    inputs: analysis.allInputs ? [...ctx.inputs.keys()] : inputs,
    env: [...new Set(analysis.env.map((e) => e.name))],
  };
}

/** "an `llm` step", "a `file` step", "a step": the article as the name is read aloud (`llm` is el-el-em). */
export function aStep(action: string | undefined): string {
  if (!action) return 'a step';
  return `${/^(?:[aeiou]|llm|http|html|mcp|s3)/i.test(action) ? 'an' : 'a'} \`${action}\` step`;
}

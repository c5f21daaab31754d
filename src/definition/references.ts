/**
 * The checks zod cannot make: unique ids, exactly one action per step, every `${…}` and `depends_on` pointing
 * at something real, and no cycles. Works on the raw document, tolerating parts zod already rejected, so one
 * pass reports every problem.
 */
import type { ActionRegistry } from '../actions/registry.ts';
import type { Resource, StaticContext } from '../actions/types.ts';
import type { Diagnostic, SourceLocation } from '../core/errors.ts';
import { didYouMean } from '../core/suggest.ts';
import { buildPlan, type EdgeReason, type Plan } from '../graph/plan.ts';
import { resourceEdges } from '../graph/resources.ts';
import { parseModel } from '../providers/model.ts';
import type { PathKey } from '../template/parse.ts';
import { knownValue, writtenString } from '../template/known.ts';
import { compileValue, referencesOf, type CompiledValue, type LocatedReference, type TemplateValue } from '../template/value.ts';
import { isTemplate } from '../actions/templated.ts';
import { aStep, checkCondition, checkFlowKeys, checkForeach, type FlowContext } from './flow.ts';
import { STEP_ID } from './schema.ts';
import { itemsMs, knownItemCount } from '../scheduler/estimate.ts';
import type { Locator } from './source.ts';
import type { ConditionSpec } from './types.ts';

export interface CheckedStep {
  id: string;
  action: string;
  compiled: CompiledValue;
  /** The `foreach` list, compiled, and the item's name. */
  foreach?: { items: TemplateValue; as: string };
  condition?: ConditionSpec;
}

export interface SemanticResult {
  diagnostics: Diagnostic[];
  /** Present when every step could be placed in the graph. */
  plan?: Plan;
  steps: (CheckedStep | undefined)[];
  outputs: Record<string, CompiledValue>;
}

/** What every step has, whatever its action: `${steps.<id>.output}` and `.status`. */
export const BASE_PROPERTIES: readonly string[] = ['output', 'status'];
/** What a `foreach` step has besides: each item's status (`${steps.<id>.items}`). */
export const FOREACH_PROPERTIES: readonly string[] = ['items'];
const NO_RESOURCES: readonly Resource[] = Object.freeze([]);
const NO_EDGES: ReadonlyMap<number, readonly EdgeReason[]> = new Map();
/** `config.maxConcurrency` when the file gives none (as `load.ts` defaults it). */
const DEFAULT_LIMIT = 10;

export function checkSemantics(raw: Record<string, unknown>, source: Locator, actions: ActionRegistry, baseDir: string): SemanticResult {
  const diagnostics: Diagnostic[] = [];
  const report = (at: SourceLocation, code: string, message: string, hint?: string) =>
    diagnostics.push({ ...at, code, message, ...(hint ? { hint } : {}) });

  const rawSteps = Array.isArray(raw['steps']) ? (raw['steps'] as unknown[]) : [];
  const inputNames = isRecord(raw['inputs']) ? Object.keys(raw['inputs']) : [];
  const inputTypes = new Map(inputNames.map((name) => {
    const def = (raw['inputs'] as Record<string, unknown>)[name];
    const type = isRecord(def) && typeof def['type'] === 'string' ? def['type'] : 'string';
    return [name, type];
  }));
  const ids = new Map<string, number>();
  const actionOf: (string | undefined)[] = [];
  const isForeach: boolean[] = [];
  const actionNames = actions.names();

  // Pass 1: ids and actions, so references in pass 2 can be checked against the whole file.
  rawSteps.forEach((step, i) => {
    if (!isRecord(step)) return;
    const id = step['id'];
    if (typeof id === 'string' && STEP_ID.test(id)) {
      const first = ids.get(id);
      if (first === undefined) ids.set(id, i);
      else {
        const line = source.locate(['steps', first, 'id']).line;
        report(source.locate(['steps', i, 'id']), 'duplicate_id', `duplicate step id \`${id}\`: already used by the step at line ${line}`, 'step ids must be unique');
      }
    }
    const present = Object.keys(step).filter((k) => actions.get(k));
    actionOf[i] = present.length === 1 ? present[0] : undefined;
    isForeach[i] = 'foreach' in step;
    const label = typeof id === 'string' ? `step \`${id}\`` : `step ${i + 1}`;
    if (present.length === 0) {
      // An unknown key that looks like an action (`llmm`) is already reported with its suggestion.
      const typo = Object.keys(step).some((k) => !actions.get(k) && didYouMean(k, actionNames));
      if (!typo) report(source.locate(['steps', i]), 'no_action', `${label} has no action`, `add one of: ${actionNames.map((n) => `\`${n}\``).join(', ')}`);
    } else if (present.length > 1) {
      report(source.locate(['steps', i, present[1]!], { key: true }), 'multiple_actions', `${label} has more than one action (${present.map((p) => `\`${p}\``).join(', ')}); a step does exactly one thing`, 'split it into one step per action');
    }
  });

  // Pass 2: templates, references and depends_on become edges (or diagnostics). Most steps of a large file
  // have one or two edges and touch no file, so the per-step containers are made only when needed.
  const edges: (Map<number, EdgeReason[]> | undefined)[] = new Array(rawSteps.length);
  // Where each edge was written, found only if a cycle through it is reported: locating every reference of a
  // large valid file up front cost more than all the other checks together.
  // A list of [target, where], not a Map: a Map per step cost more than the list, read only for a cycle.
  const edgeAt: ([number, () => SourceLocation][] | undefined)[] = new Array(rawSteps.length);
  const addEdge = (step: number, target: number, reason: EdgeReason, at: () => SourceLocation) => {
    const map = (edges[step] ??= new Map<number, EdgeReason[]>());
    const list = map.get(target);
    if (!list) {
      map.set(target, [reason]);
      (edgeAt[step] ??= []).push([target, at]);
    } else if (reason.kind !== 'reference' || !list.some((e) => e.kind === 'reference' && e.ref === reason.ref)) list.push(reason);
  };
  const steps: (CheckedStep | undefined)[] = [];
  const accesses: (readonly Resource[])[] = new Array(rawSteps.length).fill(NO_RESOURCES);
  const allowedProperties = new Map<string, string[]>();
  const propertiesOf = (target: number) => {
    const action = actionOf[target];
    const foreach = isForeach[target] === true;
    const key = `${action ?? ''}${foreach ? ' foreach' : ''}`;
    let properties = allowedProperties.get(key);
    if (!properties) {
      properties = [...BASE_PROPERTIES, ...(foreach ? FOREACH_PROPERTIES : []), ...((action && actions.get(action)?.exposes) ?? [])];
      allowedProperties.set(key, properties);
    }
    return { properties, action, foreach };
  };

  const checkReference = (r: LocatedReference, base: PathKey[], self: number | undefined): number | undefined => {
    // The item and `foreach.…` name nothing outside the step: no edge, nothing to check.
    const at = () => source.locateInString([...base, ...r.path], r.offset, r.raw);
    const ref = r.ref;
    if (ref.root === 'inputs') {
      if (!inputNames.includes(ref.name)) {
        report(at(), 'unknown_input', `unknown input \`${ref.name}\` in \`${r.raw}\``, didYouMean(ref.name, inputNames) ?? `declare it under \`inputs:\``);
      }
      return undefined;
    }
    if (ref.root !== 'steps') return undefined;
    const target = ids.get(ref.step);
    if (target === undefined) {
      report(at(), 'unknown_step', `unknown step \`${ref.step}\` in \`${r.raw}\``, didYouMean(ref.step, ids.keys()) ?? 'no step has that id');
      return undefined;
    }
    if (target === self) {
      report(at(), 'self_reference', `step \`${ref.step}\` refers to itself in \`${r.raw}\``, 'a step can only use the results of other steps');
      return undefined;
    }
    const { properties: allowed, action, foreach } = propertiesOf(target);
    if (!allowed.includes(ref.property)) {
      const hint = ref.property === 'items' && !foreach ? 'only a step with `foreach` has `items`' : (didYouMean(ref.property, allowed) ?? `available: ${allowed.join(', ')}`);
      report(at(), 'unknown_property', `\`${r.raw}\`: ${aStep(action)} has no \`${ref.property}\``, hint);
      return undefined;
    }
    if (self !== undefined) addEdge(self, target, { kind: 'reference', ref: r.raw }, at);
    return target;
  };

  function reportTemplateProblems(compiled: CompiledValue, base: PathKey[]) {
    for (const p of compiled.problems) report(source.locateInString([...base, ...p.path], p.offset, '${'), 'bad_template', p.message, p.hint);
  }

  const flow: FlowContext = { raw, source, report, reportTemplateProblems, checkReference, addEdge, ids, inputs: inputTypes, propertiesOf };

  rawSteps.forEach((step, i) => {
    if (!isRecord(step)) return;
    // The flow keys are checked even in a step with no sound action, so one pass reports them all.
    const item = checkFlowKeys(step, i, flow);
    const foreach = item !== undefined && 'foreach' in step ? checkForeach(step['foreach'], i, item, flow) : undefined;
    const condition = typeof step['if'] === 'string' ? checkCondition(step['if'], i, flow) : undefined;
    for (const key of ['dependsOn', 'depends_on'] as const) {
      const dependsOn = Array.isArray(step[key]) ? step[key] : [];
      dependsOn.forEach((name, j) => {
        if (typeof name !== 'string') return;
        const at = () => source.locate(['steps', i, key, j]);
        const target = ids.get(name);
        if (target === undefined) report(at(), 'unknown_step', `unknown step \`${name}\` in \`${key}\``, didYouMean(name, ids.keys()) ?? 'no step has that id');
        else if (target === i) report(at(), 'self_reference', `step \`${name}\` cannot depend on itself`);
        else addEdge(i, target, { kind: 'depends_on' }, at);
      });
    }
    const action = actionOf[i];
    if (action === undefined) return;
    const block = step[action];
    const base: PathKey[] = ['steps', i, action];
    const compiled = compileValue(block, item === undefined ? {} : { item });
    reportTemplateProblems(compiled, base);
    for (const r of compiled.references) checkReference(r, base, i);
    const definition = actions.get(action);
    if (isRecord(block) && definition) {
      // The action's own checks and what it touches see the block as written, and ask when a value is known.
      const scope = { item, itemFromSteps: foreach !== undefined && referencesOf(foreach).some((r) => r.root === 'steps') };
      const ctx: StaticContext = { baseDir, known: (value) => knownValue(value, scope), written: (value) => writtenString(value, scope) };
      for (const p of definition.check?.(block, ctx) ?? []) {
        const at = p.offset === undefined ? source.locate([...base, ...p.path]) : source.locateInString([...base, ...p.path], p.offset, '${');
        report(at, p.code, p.message, p.hint);
      }
      if (definition.resources) accesses[i] = definition.resources(block, ctx);
    }
    steps[i] = {
      id: String(step['id']),
      action,
      compiled,
      ...(foreach && item !== undefined ? { foreach: { items: foreach, as: item } } : {}),
      ...(condition ? { condition } : {}),
    };
  });

  const rawOutputs = isRecord(raw['outputs']) ? raw['outputs'] : {};
  const outputs: Record<string, CompiledValue> = {};
  for (const [name, value] of Object.entries(rawOutputs)) {
    const compiled = compileValue(value);
    reportTemplateProblems(compiled, ['outputs', name]);
    for (const r of compiled.references) checkReference(r, ['outputs', name], undefined);
    outputs[name] = compiled;
  }
  if (isRecord(raw['config'])) checkModel(raw['config']['model'], ['config', 'model'], source, report);

  // The graph. Steps that could not be checked stand in as isolated nodes, so cycles among the rest are
  // still reported; the plan itself is only kept when every step is sound.
  const sound = rawSteps.map((_, i) => steps[i] !== undefined && ids.get(steps[i]!.id) === i);
  resourceEdges(accesses).forEach((extra, i) => {
    for (const [d, reason] of extra) {
      const map = (edges[i] ??= new Map<number, EdgeReason[]>());
      map.set(d, [...(map.get(d) ?? []), reason]);
    }
  });
  // Weighted by each action's typical duration, so the critical path is the one the scheduler favours on a
  // first run (one model call outweighs a chain of file writes). A foreach step over a list written in the
  // file weighs as its items, in waves as wide as its slots: its own maxConcurrency inside the run's limit.
  const limit = positiveInteger(isRecord(raw['config']) ? raw['config']['maxConcurrency'] : undefined) ?? DEFAULT_LIMIT;
  const weight = (i: number) => {
    const step = steps[i]!;
    const typical = actions.get(step.action)?.typicalMs ?? 1;
    const count = step.foreach ? knownItemCount(step.foreach.items) : undefined;
    if (count === undefined) return typical;
    return itemsMs({ count, itemMs: typical, cap: positiveInteger((rawSteps[i] as Record<string, unknown>)['maxConcurrency']) ?? Infinity }, limit);
  };
  const result = buildPlan(
    rawSteps.map((_, i) => ({
      id: sound[i] ? steps[i]!.id : `#${i}`,
      dependsOn: (sound[i] && edges[i]) || NO_EDGES,
      ...(sound[i] ? { weight: weight(i) } : {}),
    })),
  );
  let plan: Plan | undefined;
  if (!result.ok) {
    for (const cycle of result.cycles) {
      const names = [...cycle, cycle[0]!].map((c) => steps[c]!.id);
      const next = cycle[1] ?? cycle[0]!;
      const at = edgeAt[cycle[0]!]?.find(([target]) => target === next)?.[1]() ?? source.locate(['steps', cycle[0]!]);
      report(at, 'cycle', `dependency cycle: ${names.join(' → ')}`, 'each step waits for the next; remove one of these references or `depends_on` entries');
    }
  } else if (rawSteps.length > 0 && sound.every(Boolean)) plan = result.plan;
  return { diagnostics, ...(plan ? { plan } : {}), steps, outputs };
}

function checkModel(value: unknown, path: PathKey[], source: Locator, report: (at: SourceLocation, code: string, message: string, hint?: string) => void) {
  if (typeof value !== 'string' || isTemplate(value)) return;
  const parsed = parseModel(value);
  if ('problem' in parsed) report(source.locate(path), 'invalid_model', parsed.problem, parsed.hint);
}

/** The value when it is an integer ≥ 1 (else zod reports it; the weights do without it). */
function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : undefined;
}

/** A YAML map (not null, not a list). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

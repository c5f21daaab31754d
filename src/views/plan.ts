/**
 * What a workflow will do, before it does it: the execution flow as numbered stages, each step's dependencies
 * and why, the critical path, the effective concurrency, the calls it will make, and — when earlier runs were
 * recorded — how long it should take. Pure: no network, nothing executed. Rendered as text, JSON, Mermaid or DOT.
 */
import { defaultActions } from '../compose.ts';
import type { ActionRegistry } from '../actions/registry.ts';
import type { AnyAction } from '../actions/types.ts';
import type { UnitUsage } from '../core/report.ts';
import type { StepSpec, WorkflowSpec } from '../definition/types.ts';
import { criticalPathBy, weightedRemaining, type EdgeReason } from '../graph/plan.ts';
import { formatCost, formatDuration } from '../report/progress.ts';
import type { Pricing } from '../scheduler/hooks.ts';
import { flowCost, type ExpectedCost } from './plan-cost.ts';
import { dataChosen, type DataChosen } from '../scheduler/confine.ts';
import { estimateRun } from '../scheduler/estimate.ts';
import { literalFields, referencesOf } from '../template/value.ts';
import { flowDurations, flowTokens, foreachLabel, foreachView, stepWidth, type FlowHistory, type PlanForeach } from './plan-flow.ts';

const count = (n: number) => n.toLocaleString('en-US');

export interface PlanReason {
  /** The step depended on. */
  step: string;
  kind: EdgeReason['kind'];
  /** The reference (`${steps.x.output}`), the resource (`file /abs/path`) or the condition's expression; absent for depends_on. */
  detail?: string;
}

export type { PlanForeach } from './plan-flow.ts';

export interface PlanStepView {
  action: string;
  dependsOn: string[];
  reasons: PlanReason[];
  expectedMs?: number;
  dataChosen?: string[];
  /**
   * A foreach step: how many items (when the file gives the list, or it is an input's list and the input's
   * value was given), and which list it reads when a reference decides.
   */
  foreach?: PlanForeach;
  /** Foreach steps whose items earlier runs timed: the median item time (`expectedMs` is for all of them). */
  expectedItemMs?: number;
  /** The step's `if`, as evaluated: it runs only when this is true. */
  condition?: string;
  /** A final failure does not stop the run. */
  continueOnError?: true;
  /**
   * With the step cache on for this step (`plan --cache`, `config.cache`, its own `cache`): `hit` when its request
   * is answered there already (a foreach step: every item's), `miss` when it will be sent, `unknown` when it
   * uses what another step makes (known only as the run goes). See src/cache/preview.ts.
   */
  cache?: 'hit' | 'miss' | 'unknown';
  /** A foreach step whose list is known: how many of its items are answered from the cache. */
  cacheHits?: number;
}

export interface PlanView {
  workflow: string;
  stages: string[][];
  criticalPath: string[];
  steps: Record<string, PlanStepView>;
  /**
   * Destinations (a `file` path, an `http` URL or host header, an `llm` model) that a step output chooses, and how the run confines them;
   * absent when there are none. The step's `dataChosen` lists the same keys.
   */
  confinement?: { step: string; key: string; refs: string[]; rule: string }[];
  maxConcurrency: number;
  /** The most steps (or items) that can run at once here: the limit, or the widest stage if that is smaller. */
  effectiveConcurrency: number;
  /**
   * Calls the run makes before retries, a foreach step counting once per item when the file gives its list.
   * `perItem`: the foreach steps whose count is known only at run time (not in the numbers): each makes one
   * call of `call` per item of `of`.
   */
  calls: CallCounts;
  /**
   * With a record of earlier runs: the expected wall time at this concurrency (the scheduler's policy played
   * out over each step's median duration), the critical path's length in time, and how many steps the record
   * timed (the others count as the median of their action, else its typical duration).
   */
  expected?: {
    ms: number;
    criticalPathMs: number;
    timedSteps: number;
    /**
     * Tokens the run's model calls should use: each call's median in earlier runs, and for calls the record
     * has no count of, the median of those it has. Absent when it has none.
     */
    tokens?: { input: number; output: number; knownCalls: number };
    /** What those tokens cost at today's prices (see plan-cost.ts): present with `tokens`, when prices are given. */
    cost?: ExpectedCost;
  };
}

/**
 * Calls by kind (the kinds the actions declare, `ActionDefinition.calls`: `llm`, `http`, `fileWrites`,
 * `fileReads`, `commands`, …), every kind present even at 0.
 */
export type CallCounts = { [kind: string]: number } & { perItem?: { step: string; of?: string; call: string }[] };

export interface PlanHistory {
  /** Step id → median ms in earlier runs (see `stepHistory`). */
  durations: Readonly<Record<string, number>>;
  /**
   * Foreach step id → median ms of one item in earlier runs. Named as the store's `StepHistory.itemDurations`,
   * so `plan` passes the store's history through unchanged.
   */
  itemDurations?: Readonly<Record<string, number>>;
  /**
   * Step id → median tokens in earlier runs, for the steps that reported them (a foreach step: over its items),
   * with the model they were used with.
   */
  usage?: Readonly<Record<string, UnitUsage>>;
  /** Today's prices, to say what the expected tokens cost. */
  pricing?: Pricing;
  /**
   * Calls the step cache will answer, by step id (`all`: every call of the step): they are not counted in the
   * calls, time, tokens or cost the plan expects.
   */
  answered?: Readonly<Record<string, number | 'all'>>;
  /** For each action's typical duration (default: the built-in actions). */
  actions?: ActionRegistry;
}

/**
 * `inputs`: the input values the run would get (`plan -i`, defaults filled in), when known: a foreach step over
 * an input's list then has a count, as one over a YAML list does.
 */
export function describePlan(spec: WorkflowSpec, maxConcurrency = spec.config.maxConcurrency, history?: PlanHistory, inputs?: Readonly<Record<string, unknown>>): PlanView {
  const { plan } = spec;
  const registry = history?.actions ?? defaultActions();
  const foreach = spec.steps.map((s) => (s.foreach ? foreachView(s.foreach, inputs) : undefined));
  const actions = spec.steps.map((s) => registry.get(s.action));
  const record: FlowHistory = history ?? { durations: {} };
  // A foreach step whose count is known runs as its items, each in a slot of its own: the estimate plays
  // them so, and the step's own expected time is its waves of items (what the estimate weighs it as).
  const { expected, itemMs, items } = flowDurations(spec.steps, foreach, actions, record, maxConcurrency);
  // The share of each step's calls that will be made: the step cache answers the rest, at no time or cost.
  const callsOf = (i: number) => (foreach[i] ? (foreach[i]!.count ?? 0) : 1);
  const share = (i: number): number => {
    const answered = history?.answered?.[spec.steps[i]!.id];
    if (answered === undefined) return 1;
    if (answered === 'all') return 0;
    return callsOf(i) > 0 ? Math.max(0, callsOf(i) - answered) / callsOf(i) : 1;
  };
  spec.steps.forEach((_, i) => {
    const paid = share(i);
    if (paid === 1) return;
    expected[i] = expected[i]! * paid;
    const each = items[i];
    if (each) items[i] = { ...each, count: Math.round(each.count * paid) };
  });
  const estimate = history ? estimateRun(plan, expected, maxConcurrency, items) : undefined;
  // Without a record, the plan's own path weighs each step as one call of its action; a foreach step of 100
  // calls weighs as 100 calls shared among its slots.
  const weighted = !history && items.some(Boolean) ? criticalPathBy(plan.steps, weightedRemaining(plan, expected)) : undefined;
  const steps: PlanView['steps'] = {};
  const calls = Object.fromEntries(callKinds(registry).map((c) => [c.kind, 0])) as CallCounts;
  const perItem: NonNullable<PlanView['calls']['perItem']> = [];
  const confinement: NonNullable<PlanView['confinement']> = [];
  for (const step of spec.steps) {
    const node = plan.steps[step.index]!;
    const reasons: PlanReason[] = [];
    for (const d of node.dependsOn) {
      for (const r of node.reasons.get(d) ?? []) {
        const detail = r.kind === 'reference' ? r.ref : r.kind === 'resource' ? r.label : r.kind === 'condition' ? r.expression : undefined;
        reasons.push({ step: plan.steps[d]!.id, kind: r.kind, ...(detail ? { detail } : {}) });
      }
    }
    // Over a list a step's output made, the item is data like that output (as the run confines it).
    const itemIsData = step.foreach !== undefined && referencesOf(step.foreach.items).some((r) => r.root === 'steps');
    const chosen = dataChosen(step.input, registry.get(step.action)?.destinations, itemIsData);
    for (const c of chosen) confinement.push({ step: step.id, key: c.key, refs: c.refs, rule: confinementRule(c, spec) });
    const f = foreach[step.index];
    const item = itemMs[step.index];
    steps[step.id] = {
      action: step.action,
      dependsOn: node.dependsOn.map((d) => plan.steps[d]!.id),
      reasons,
      ...(history ? { expectedMs: Math.round(expected[step.index]!) } : {}),
      ...(chosen.length ? { dataChosen: chosen.map((c) => c.key) } : {}),
      ...(f ? { foreach: f } : {}),
      ...(item === undefined ? {} : { expectedItemMs: Math.round(item) }),
      ...(step.condition ? { condition: step.condition.expression } : {}),
      ...(step.continueOnError ? { continueOnError: true as const } : {}),
    };
    const call = callKind(step, registry.get(step.action));
    if (!call) continue;
    if (f?.count === undefined && f) perItem.push({ step: step.id, ...(f.of ? { of: f.of } : {}), call });
    else calls[call] = (calls[call] ?? 0) + Math.round((f ? f.count! : 1) * share(step.index));
  }
  if (perItem.length) calls.perItem = perItem;
  const widest = Math.max(...plan.stages.map((stage) => stage.reduce((sum, id) => sum + stepWidth(steps[id]!.foreach, maxConcurrency), 0)));
  const tokens = history ? flowTokens(spec.steps, foreach, history.usage, (s) => registry.get(s.action)?.usesTokens === true, share) : undefined;
  const cost = tokens && history?.pricing ? flowCost(spec.steps, foreach, history.usage, (s) => registry.get(s.action)?.usesTokens === true, history.pricing, share) : undefined;
  return {
    workflow: spec.file,
    stages: plan.stages.map((s) => [...s]),
    criticalPath: (estimate?.criticalPath ?? weighted)?.map((i) => spec.steps[i]!.id) ?? [...plan.criticalPath],
    steps,
    maxConcurrency,
    effectiveConcurrency: Math.min(maxConcurrency, widest),
    calls,
    ...(confinement.length ? { confinement } : {}),
    ...(estimate && history
      ? {
          expected: {
            ms: Math.round(estimate.ms),
            criticalPathMs: Math.round(estimate.criticalPathMs),
            timedSteps: spec.steps.filter((s) => history.durations[s.id] !== undefined || history.itemDurations?.[s.id] !== undefined).length,
            ...(tokens ? { tokens } : {}),
            ...(cost ? { cost } : {}),
          },
        }
      : {}),
  };
}

/** A foreach step as the plan shows it, counted when it reads an input whose value is known. */
/** Which kind of call one run of the step's action makes (undefined for an action that counts none). */
function callKind(step: StepSpec, action: AnyAction | undefined): string | undefined {
  const kinds = action?.calls;
  if (!kinds?.length) return undefined;
  return action!.callOf?.(literalFields(step.input)) ?? kinds[0]!.kind;
}

/** Every kind of call the actions count, in the registry's order. */
function callKinds(registry: ActionRegistry): { kind: string; noun: string }[] {
  return registry.all().flatMap((a) => a.calls ?? []);
}

/** How the run will confine a destination a step's output chooses (see scheduler/confine.ts). */
function confinementRule(chosen: DataChosen, spec: WorkflowSpec): string {
  const { allowedDirs, allowedHosts } = spec.config;
  const listed = allowedHosts.length ? `config.http.allowHosts: ${allowedHosts.join(', ')}` : undefined;
  const orListed = `else the host must be listed in config.http.allowHosts${listed ? ` (${allowedHosts.join(', ')})` : ''}`;
  switch (chosen.kind) {
    case 'path':
      return allowedDirs.length ? 'confined to the workflow folder and config.files.allow' : 'confined to the workflow folder';
    case 'url':
      if (chosen.fixedHost) return `host ${chosen.fixedHost} fixed by the template, the value URL-encoded`;
      // The run counts the author's inputs and environment before the value as the template's own text.
      if (chosen.authorPrefix) return `host fixed by ${chosen.authorPrefix} when it gives a scheme and host and a \`/\`, the value URL-encoded; ${orListed}`;
      return listed ? `host must be in ${listed}` : 'host must be written before it in the template, or listed in config.http.allowHosts';
    case 'headers':
      return listed ? `host must be in ${listed}` : 'refused: config.http.allowHosts lists no host';
    case 'model':
      if (chosen.fixedProvider) return `provider ${chosen.fixedProvider} fixed by the template`;
      if (chosen.authorPrefix) return `provider fixed by ${chosen.authorPrefix} when it gives one (\`provider:\`); else refused`;
      return `refused: the provider must be written before it in the template, e.g. \`openai:${chosen.refs[0]}\``;
  }
}

/** A step as the stage list names it: `summarize ×100`, `summarize × items of list`, `(if)`, `(continueOnError)`. */
function stepLabel(id: string, step: PlanStepView): string {
  return `${id}${step.foreach ? ` ${foreachLabel(step.foreach)}` : ''}${step.condition ? ' (if)' : ''}${step.continueOnError ? ' (continueOnError)' : ''}`;
}

function reasonText(r: PlanReason): string {
  switch (r.kind) {
    case 'depends_on':
      return `${r.step} (depends_on)`;
    case 'reference':
      return `${r.step} (${r.detail})`;
    case 'condition':
      return `${r.step} (if: ${r.detail})`;
    case 'resource':
      return `${r.step} (same ${r.detail})`;
  }
}

/** `actions`: the registry the view was made with, for the calls' names (default: the built-in actions). */
export function planText(view: PlanView, name: string, actions: ActionRegistry = defaultActions()): string {
  const n = Object.keys(view.steps).length;
  const lines = [`Plan for ${name}: ${n} step${n === 1 ? '' : 's'} in ${view.stages.length} stage${view.stages.length === 1 ? '' : 's'}`, ''];
  view.stages.forEach((stage, k) => {
    lines.push(`${k + 1}. ${stage.map((id) => stepLabel(id, view.steps[id]!)).join(', ')}${stage.length > 1 ? '   (in parallel)' : ''}`);
    for (const id of stage) {
      const step = view.steps[id]!;
      const { reasons } = step;
      if (reasons.length) lines.push(`     ${id} ← ${reasons.map(reasonText).join(', ')}`);
      // A condition that names no step has no edge to show it on.
      if (step.condition && !reasons.some((r) => r.kind === 'condition')) lines.push(`     ${id} if: ${step.condition}`);
      if (step.foreach) {
        const slots = step.foreach.maxConcurrency === undefined ? '' : `up to ${Math.min(step.foreach.maxConcurrency, view.maxConcurrency)} items at once`;
        const each = step.expectedItemMs === undefined ? '' : `about ${formatDuration(step.expectedItemMs)} an item`;
        const said = [slots, each].filter(Boolean).join(', ');
        if (said) lines.push(`     ${id} ${foreachLabel(step.foreach)}: ${said}`);
      }
      for (const c of view.confinement ?? []) {
        if (c.step === id) lines.push(`     data-chosen: ${id}.${c.key} ← ${c.refs.join(', ')} (${c.rule})`);
      }
    }
  });
  const kinds = callKinds(actions);
  // The calls that use tokens, named as their kind when the workflow makes one kind of them.
  const tokenKinds = actions.all().filter((a) => a.usesTokens).flatMap((a) => a.calls ?? []).filter((c) => (view.calls[c.kind] ?? 0) > 0);
  const tokenCalls = tokenKinds.reduce((sum, c) => sum + (view.calls[c.kind] ?? 0), 0);
  const tokenNoun = tokenKinds.length === 1 ? tokenKinds[0]!.noun : 'model call';
  const plural = (count: number, one: string, many = `${one}s`) => `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
  const { expected } = view;
  const conditional = Object.values(view.steps).filter((s) => s.condition).length;
  // Kinds the workflow makes, each with the foreach steps whose count is known only at run time.
  const said = kinds.filter((c) => (view.calls[c.kind] ?? 0) > 0 || view.calls.perItem?.some((p) => p.call === c.kind)).map((c) => calls(c.kind, c.noun));
  function calls(kind: string, one: string): string {
    const per = new Map<string, number>();
    for (const p of view.calls.perItem ?? []) if (p.call === kind) per.set(p.of ?? 'its list', (per.get(p.of ?? 'its list') ?? 0) + 1);
    return plural(view.calls[kind] ?? 0, one) + [...per].map(([of, k]) => ` + ${k} per item of ${of}`).join('');
  }
  lines.push(
    '',
    `Critical path: ${view.criticalPath.join(' → ')} (${plural(view.criticalPath.length, 'step')}${expected ? `, about ${formatDuration(expected.criticalPathMs)}` : ''})`,
    `Concurrency: up to ${view.effectiveConcurrency} at once (limit ${view.maxConcurrency})`,
    ...(expected ? [`Expected time: about ${formatDuration(expected.ms)}, from earlier runs (${expected.timedSteps} of ${plural(n, 'step')} timed)`] : []),
    ...(expected?.tokens
      ? [`Expected tokens: about ${count(expected.tokens.input)} in, ${count(expected.tokens.output)} out (${count(expected.tokens.knownCalls)} of ${plural(tokenCalls, tokenNoun)} from earlier runs)`]
      : []),
    ...(expected?.cost ? [costLine(expected.cost)] : []),
    said.length
      ? `Calls: ${said.join(', ')} (before retries${conditional ? `; ${plural(conditional, 'step runs', 'steps run')} only if ${conditional === 1 ? 'its condition holds' : 'their conditions hold'}` : ''})`
      : 'Calls: none',
    ...cacheLine(view),
  );
  return lines.join('\n') + '\n';
}

/** "Expected cost: about $0.0123 (openai:gpt-4o-mini $0.0123), at today's prices", or which models have no price. */
function costLine(cost: ExpectedCost): string {
  if (cost.usd !== null) return `Expected cost: about ${formatCost(cost.usd, Object.entries(cost.byModel))}, at today's prices`;
  const unpriced = Object.entries(cost.byModel).filter(([, usd]) => usd === null).map(([model]) => model);
  return `Expected cost: — (${unpriced.join(', ')} ${unpriced.length === 1 ? 'has' : 'have'} no price)`;
}

/** `Step cache: 2 hits (a, b), 1 miss (c [3 of 10 items hit]), 1 known only during the run (d)`; nothing when it is off. */
function cacheLine(view: PlanView): string[] {
  const by = { hit: [] as string[], miss: [] as string[], unknown: [] as string[] };
  for (const [id, step] of Object.entries(view.steps)) {
    if (!step.cache) continue;
    const items = step.cacheHits === undefined || step.cache === 'hit' ? '' : ` [${step.cacheHits} of ${step.foreach?.count ?? '?'} items hit]`;
    by[step.cache].push(id + items);
  }
  const part = (ids: string[], one: string, many: string) => (ids.length ? [`${ids.length} ${ids.length === 1 ? one : many} (${ids.join(', ')})`] : []);
  const parts = [...part(by.hit, 'hit', 'hits'), ...part(by.miss, 'miss', 'misses'), ...part(by.unknown, 'known only during the run', 'known only during the run')];
  return parts.length ? [`Step cache: ${parts.join(', ')}`] : [];
}

export function planJson(view: PlanView): string {
  return JSON.stringify(view, null, 2) + '\n';
}

/** The label of a step's node: its id (`×N` for a foreach step), its action, and `continueOnError` when it has it. */
function nodeLines(step: string, info: PlanStepView): string[] {
  return [`${step}${info.foreach ? ` ${foreachLabel(info.foreach)}` : ''}`, info.action, ...(info.continueOnError ? ['continueOnError'] : [])];
}

/** The edge's label: the condition when the dependency is named in the step's `if`. */
function edgeLabel(info: PlanStepView, dep: string): string | undefined {
  const condition = info.reasons.find((r) => r.step === dep && r.kind === 'condition');
  return condition ? `if: ${condition.detail}` : undefined;
}

/** Text inside a quoted Mermaid label: quotes and markup as Mermaid's entity codes. */
const mermaidText = (s: string) => s.replace(/[#"<>&|]/g, (c) => `#${c.charCodeAt(0)};`);

/**
 * Mermaid flowchart: one node per step (labelled with its action; `×N` for a foreach step), an edge per
 * dependency (labelled `if: …` when it is named in a condition); the critical path in bold, steps that
 * continue on error with a dashed border.
 */
export function planMermaid(view: PlanView): string {
  const id = (step: string) => `s_${step.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const lines = ['flowchart LR'];
  for (const [step, info] of Object.entries(view.steps)) lines.push(`  ${id(step)}["${mermaidText(nodeLines(step, info).join(' · '))}"]`);
  const critical = new Set(view.criticalPath.slice(1).map((s, i) => `${view.criticalPath[i]}>${s}`));
  let edge = 0;
  const criticalEdges: number[] = [];
  for (const [step, info] of Object.entries(view.steps)) {
    for (const dep of info.dependsOn) {
      const label = edgeLabel(info, dep);
      lines.push(`  ${id(dep)} -->${label ? `|"${mermaidText(label)}"|` : ''} ${id(step)}`);
      if (critical.has(`${dep}>${step}`)) criticalEdges.push(edge);
      edge++;
    }
  }
  lines.push(`  classDef critical stroke-width:3px`);
  if (view.criticalPath.length) lines.push(`  class ${view.criticalPath.map(id).join(',')} critical`);
  if (criticalEdges.length) lines.push(`  linkStyle ${criticalEdges.join(',')} stroke-width:3px`);
  const continues = Object.entries(view.steps).filter(([, info]) => info.continueOnError).map(([step]) => id(step));
  if (continues.length) lines.push('  classDef continues stroke-dasharray:5 3', `  class ${continues.join(',')} continues`);
  return lines.join('\n') + '\n';
}

/** Graphviz DOT: the same graph, stages as ranks, the critical path in bold, `if:` on condition edges. */
export function planDot(view: PlanView): string {
  const q = (s: string) => JSON.stringify(s);
  const onPath = new Set(view.criticalPath);
  const critical = new Set(view.criticalPath.slice(1).map((s, i) => `${view.criticalPath[i]}>${s}`));
  const lines = ['digraph workflow {', '  rankdir=LR;', '  node [shape=box, style=rounded];'];
  for (const [step, info] of Object.entries(view.steps)) {
    const attrs = [`label=${q(nodeLines(step, info).join('\n'))}`, ...(onPath.has(step) ? ['penwidth=3'] : []), ...(info.continueOnError ? ['style="rounded,dashed"'] : [])];
    lines.push(`  ${q(step)} [${attrs.join(', ')}];`);
  }
  for (const [step, info] of Object.entries(view.steps)) {
    for (const dep of info.dependsOn) {
      const label = edgeLabel(info, dep);
      const attrs = [...(label ? [`label=${q(label)}`] : []), ...(critical.has(`${dep}>${step}`) ? ['penwidth=3'] : [])];
      lines.push(`  ${q(dep)} -> ${q(step)}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`);
    }
  }
  view.stages.forEach((stage) => lines.push(`  { rank=same; ${stage.map(q).join('; ')}; }`));
  lines.push('}');
  return lines.join('\n') + '\n';
}

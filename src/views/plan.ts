/**
 * What a workflow will do, before it does it: the execution flow as numbered stages, each step's dependencies
 * and why, the critical path, the effective concurrency, the calls it will make, and — when earlier runs were
 * recorded — how long it should take. Pure: no network, nothing executed. Rendered as text, JSON, Mermaid or DOT.
 */
import { builtinActions } from '../actions/builtin.ts';
import type { ActionRegistry } from '../actions/registry.ts';
import { median } from '../core/median.ts';
import type { TokenCount } from '../core/report.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import type { EdgeReason } from '../graph/plan.ts';
import { formatDuration } from '../report/progress.ts';
import { expectedDurations } from '../scheduler/durations.ts';
import { dataChosen, type DataChosen } from '../scheduler/confine.ts';
import { estimateRun } from '../scheduler/estimate.ts';
import { literalFields } from '../template/value.ts';

const count = (n: number) => n.toLocaleString('en-US');

export interface PlanReason {
  /** The step depended on. */
  step: string;
  kind: EdgeReason['kind'];
  /** The reference (`${steps.x.output}`), or the resource (`file /abs/path`); absent for depends_on. */
  detail?: string;
}

export interface PlanView {
  workflow: string;
  stages: string[][];
  criticalPath: string[];
  steps: Record<string, { action: string; dependsOn: string[]; reasons: PlanReason[]; expectedMs?: number; dataChosen?: string[] }>;
  /**
   * Destinations (a `file` path, an `http` URL or host header, an `llm` model) that a step's output chooses, and how the run confines them;
   * absent when there are none. The step's `dataChosen` lists the same keys.
   */
  confinement?: { step: string; key: string; refs: string[]; rule: string }[];
  maxConcurrency: number;
  /** The most steps that can run at once here: the limit, or the widest stage if that is smaller. */
  effectiveConcurrency: number;
  calls: { llm: number; http: number; fileWrites: number; fileReads: number };
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
  };
}

export interface PlanHistory {
  /** Step id → median ms in earlier runs (see `stepHistory`). */
  durations: Readonly<Record<string, number>>;
  /** Step id → median tokens in earlier runs, for the steps that reported them. */
  usage?: Readonly<Record<string, TokenCount>>;
  /** For each action's typical duration (default: the built-in actions). */
  actions?: ActionRegistry;
}

export function describePlan(spec: WorkflowSpec, maxConcurrency = spec.config.maxConcurrency, history?: PlanHistory): PlanView {
  const { plan } = spec;
  let expected: Float64Array | undefined;
  let estimate: ReturnType<typeof estimateRun> | undefined;
  const registry = history?.actions ?? builtinActions();
  if (history) {
    expected = expectedDurations(spec.steps, spec.steps.map((s) => registry.get(s.action)), history.durations);
    estimate = estimateRun(plan, expected, maxConcurrency);
  }
  const steps: PlanView['steps'] = {};
  const calls = { llm: 0, http: 0, fileWrites: 0, fileReads: 0 };
  const confinement: NonNullable<PlanView['confinement']> = [];
  for (const step of spec.steps) {
    const node = plan.steps[step.index]!;
    const reasons: PlanReason[] = [];
    for (const d of node.dependsOn) {
      for (const r of node.reasons.get(d) ?? []) {
        const detail = r.kind === 'reference' ? r.ref : r.kind === 'resource' ? r.label : undefined;
        reasons.push({ step: plan.steps[d]!.id, kind: r.kind, ...(detail ? { detail } : {}) });
      }
    }
    const chosen = dataChosen(step.input, registry.get(step.action)?.destinations);
    for (const c of chosen) confinement.push({ step: step.id, key: c.key, refs: c.refs, rule: confinementRule(c, spec) });
    steps[step.id] = {
      action: step.action,
      dependsOn: node.dependsOn.map((d) => plan.steps[d]!.id),
      reasons,
      ...(expected ? { expectedMs: Math.round(expected[step.index]!) } : {}),
      ...(chosen.length ? { dataChosen: chosen.map((c) => c.key) } : {}),
    };
    if (step.action === 'llm') calls.llm++;
    else if (step.action === 'http') calls.http++;
    else if (step.action === 'file') {
      const op = literalFields(step.input)['action'];
      if (op === 'write' || op === 'append' || op === 'delete') calls.fileWrites++;
      else calls.fileReads++;
    }
  }
  const widest = Math.max(...plan.stages.map((s) => s.length));
  return {
    workflow: spec.file,
    stages: plan.stages.map((s) => [...s]),
    criticalPath: estimate ? estimate.criticalPath.map((i) => spec.steps[i]!.id) : [...plan.criticalPath],
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
            timedSteps: spec.steps.filter((s) => history.durations[s.id] !== undefined).length,
            ...expectedTokens(spec, history),
          },
        }
      : {}),
  };
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

function expectedTokens(spec: WorkflowSpec, history: PlanHistory): { tokens?: NonNullable<PlanView['expected']>['tokens'] } {
  const calls = spec.steps.filter((s) => s.action === 'llm');
  const known = calls.map((s) => history.usage?.[s.id]).filter((u) => u !== undefined);
  if (known.length === 0) return {};
  const typical = { inputTokens: median(known.map((u) => u.inputTokens)), outputTokens: median(known.map((u) => u.outputTokens)) };
  const each = calls.map((s) => history.usage?.[s.id] ?? typical);
  const sum = (pick: (u: TokenCount) => number) => Math.round(each.reduce((total, u) => total + pick(u), 0));
  return { tokens: { input: sum((u) => u.inputTokens), output: sum((u) => u.outputTokens), knownCalls: known.length } };
}

export function planText(view: PlanView, name: string): string {
  const n = Object.keys(view.steps).length;
  const lines = [`Plan for ${name}: ${n} step${n === 1 ? '' : 's'} in ${view.stages.length} stage${view.stages.length === 1 ? '' : 's'}`, ''];
  view.stages.forEach((stage, k) => {
    lines.push(`${k + 1}. ${stage.join(', ')}${stage.length > 1 ? '   (in parallel)' : ''}`);
    for (const id of stage) {
      const { reasons } = view.steps[id]!;
      const why = reasons.map((r) => (r.kind === 'depends_on' ? `${r.step} (depends_on)` : r.kind === 'reference' ? `${r.step} (${r.detail})` : `${r.step} (same ${r.detail})`));
      if (why.length) lines.push(`     ${id} ← ${why.join(', ')}`);
      for (const c of view.confinement ?? []) {
        if (c.step === id) lines.push(`     data-chosen: ${id}.${c.key} ← ${c.refs.join(', ')} (${c.rule})`);
      }
    }
  });
  const { llm, http, fileWrites, fileReads } = view.calls;
  const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;
  const { expected } = view;
  lines.push(
    '',
    `Critical path: ${view.criticalPath.join(' → ')} (${plural(view.criticalPath.length, 'step')}${expected ? `, about ${formatDuration(expected.criticalPathMs)}` : ''})`,
    `Concurrency: up to ${view.effectiveConcurrency} at once (limit ${view.maxConcurrency})`,
    ...(expected ? [`Expected time: about ${formatDuration(expected.ms)}, from earlier runs (${expected.timedSteps} of ${plural(n, 'step')} timed)`] : []),
    ...(expected?.tokens
      ? [`Expected tokens: about ${count(expected.tokens.input)} in, ${count(expected.tokens.output)} out (${expected.tokens.knownCalls} of ${plural(llm, 'LLM call')} from earlier runs)`]
      : []),
    `Calls: ${plural(llm, 'LLM call')}, ${plural(http, 'HTTP request')}, ${plural(fileWrites, 'file write')}, ${plural(fileReads, 'file read')} (before retries)`,
  );
  return lines.join('\n') + '\n';
}

export function planJson(view: PlanView): string {
  return JSON.stringify(view, null, 2) + '\n';
}

/** Mermaid flowchart: one node per step (labelled with its action), an edge per dependency; the critical path in bold. */
export function planMermaid(view: PlanView): string {
  const id = (step: string) => `s_${step.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const lines = ['flowchart LR'];
  for (const [step, info] of Object.entries(view.steps)) lines.push(`  ${id(step)}["${step} · ${info.action}"]`);
  const critical = new Set(view.criticalPath.slice(1).map((s, i) => `${view.criticalPath[i]}>${s}`));
  let edge = 0;
  const criticalEdges: number[] = [];
  for (const [step, info] of Object.entries(view.steps)) {
    for (const dep of info.dependsOn) {
      lines.push(`  ${id(dep)} --> ${id(step)}`);
      if (critical.has(`${dep}>${step}`)) criticalEdges.push(edge);
      edge++;
    }
  }
  lines.push(`  classDef critical stroke-width:3px`);
  if (view.criticalPath.length) lines.push(`  class ${view.criticalPath.map(id).join(',')} critical`);
  if (criticalEdges.length) lines.push(`  linkStyle ${criticalEdges.join(',')} stroke-width:3px`);
  return lines.join('\n') + '\n';
}

/** Graphviz DOT: the same graph, stages as ranks, the critical path in bold. */
export function planDot(view: PlanView): string {
  const q = (s: string) => JSON.stringify(s);
  const onPath = new Set(view.criticalPath);
  const critical = new Set(view.criticalPath.slice(1).map((s, i) => `${view.criticalPath[i]}>${s}`));
  const lines = ['digraph workflow {', '  rankdir=LR;', '  node [shape=box, style=rounded];'];
  for (const [step, info] of Object.entries(view.steps)) lines.push(`  ${q(step)} [label=${q(`${step}\n${info.action}`)}${onPath.has(step) ? ', penwidth=3' : ''}];`);
  for (const [step, info] of Object.entries(view.steps)) {
    for (const dep of info.dependsOn) lines.push(`  ${q(dep)} -> ${q(step)}${critical.has(`${dep}>${step}`) ? ' [penwidth=3]' : ''};`);
  }
  view.stages.forEach((stage) => lines.push(`  { rank=same; ${stage.map(q).join('; ')}; }`));
  lines.push('}');
  return lines.join('\n') + '\n';
}

/**
 * `plan` for foreach steps, conditions and continueOnError. Until the definition's parser reads the new keys,
 * the specs are built by hand: a parsed workflow, with `foreach`, `condition` and `continueOnError` set on its
 * steps and the plan rebuilt with the edges they add (as the parser will).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtinActions } from '../actions/builtin.ts';
import type { ConditionSpec, ForeachSpec, StepSpec, WorkflowSpec } from '../definition/types.ts';
import { buildPlan, type EdgeReason } from '../graph/plan.ts';
import { compileValue } from '../template/value.ts';
import { workflow } from '../../test/support/workflow.ts';
import { describePlan, planDot, planJson, planMermaid, planText } from './plan.ts';

interface Flow {
  /** A YAML list, or a reference (`${steps.list.output}`). */
  foreach?: unknown;
  maxConcurrency?: number;
  /** The expression, and the steps it names. */
  if?: [string, ...string[]];
  continueOnError?: true;
}

function withFlow(spec: WorkflowSpec, flows: Record<string, Flow>): WorkflowSpec {
  const extra = new Map<number, Map<number, EdgeReason[]>>();
  const add = (i: number, d: number, reason: EdgeReason) => {
    const map = extra.get(i) ?? new Map<number, EdgeReason[]>();
    map.set(d, [...(map.get(d) ?? []), reason]);
    extra.set(i, map);
  };
  const steps = spec.steps.map((step): StepSpec => {
    const flow = flows[step.id];
    if (!flow) return step;
    let foreach: ForeachSpec | undefined;
    if (flow.foreach !== undefined) {
      const compiled = compileValue(flow.foreach);
      for (const r of compiled.references) if (r.ref.root === 'steps') add(step.index, spec.plan.byId.get(r.ref.step)!, { kind: 'reference', ref: r.raw });
      foreach = { items: compiled.value, as: 'item', ...(flow.maxConcurrency ? { maxConcurrency: flow.maxConcurrency } : {}) };
    }
    let condition: ConditionSpec | undefined;
    if (flow.if) {
      const [expression, ...named] = flow.if;
      for (const id of named) add(step.index, spec.plan.byId.get(id)!, { kind: 'condition', expression });
      condition = { expression, location: step.location, steps: named, statusOf: [], inputs: [], env: [] };
    }
    return { ...step, ...(foreach ? { foreach } : {}), ...(condition ? { condition } : {}), continueOnError: flow.continueOnError ?? false };
  });
  const actions = builtinActions();
  const result = buildPlan(
    spec.plan.steps.map((node, i) => {
      const dependsOn = new Map(node.reasons);
      for (const [d, reasons] of extra.get(i) ?? []) dependsOn.set(d, [...(dependsOn.get(d) ?? []), ...reasons]);
      return { id: node.id, dependsOn, weight: actions.get(steps[i]!.action)?.typicalMs ?? 1 };
    }),
  );
  assert.ok(result.ok);
  return { ...spec, steps, plan: result.plan };
}

const llm = (id: string, prompt = 'x') => `  - id: ${id}\n    llm: { model: "echo:x", prompt: "${prompt}" }\n`;
const fanOut = () =>
  withFlow(
    workflow(`steps:\n  - id: list\n    http: { url: "http://127.0.0.1:1/list" }\n${llm('summarize')}${llm('titles')}${llm('classify')}${llm('urgent')}${llm('combine', '${steps.summarize.output} ${steps.titles.output}')}`, '/tmp/p'),
    {
      summarize: { foreach: '${steps.list.output}', maxConcurrency: 4, continueOnError: true },
      titles: { foreach: ['a', 'b', 'c'] },
      urgent: { if: ['steps.classify.output.urgency >= 4 && inputs.mode != "dry-run"', 'classify'] },
    },
  );

describe('plan: foreach, if and continueOnError', () => {
  it('shows a foreach step as ×N when the file gives the list, else as × items of the list step', () => {
    const view = describePlan(fanOut());
    assert.deepEqual(view.steps['titles']!.foreach, { count: 3 });
    assert.deepEqual(view.steps['summarize']!.foreach, { of: 'list', maxConcurrency: 4 });
    assert.deepEqual(view.steps['summarize']!.reasons, [{ step: 'list', kind: 'reference', detail: '${steps.list.output}' }]);
    const text = planText(view, 'wf.yaml');
    assert.match(text, /^1\. list, titles ×3, classify   \(in parallel\)$/m);
    assert.match(text, /^2\. summarize × items of list \(continueOnError\), urgent \(if\)   \(in parallel\)$/m);
    assert.match(text, /^ {5}summarize ← list \(\$\{steps\.list\.output\}\)$/m);
    assert.match(text, /^ {5}summarize × items of list: up to 4 items at once$/m);
  });

  it('counts calls once per item when the count is known, and names the list when it is not', () => {
    const view = describePlan(fanOut());
    assert.deepEqual(view.calls, { llm: 3 + 3, http: 1, fileWrites: 0, fileReads: 0, perItem: [{ step: 'summarize', of: 'list', call: 'llm' }] });
    assert.match(planText(view, 'wf.yaml'), /^Calls: 6 LLM calls \+ 1 per item of list, 1 HTTP request, 0 file writes, 0 file reads \(before retries; 1 step runs only if its condition holds\)$/m);
    const plain = describePlan(workflow(`steps:\n${llm('a')}`));
    assert.deepEqual(plain.calls, { llm: 1, http: 0, fileWrites: 0, fileReads: 0 }, 'no perItem key without foreach steps');
  });

  it('puts the condition on the edge, and on its own line when it names no step', () => {
    const spec = withFlow(workflow(`inputs:\n  mode: { type: string }\nsteps:\n${llm('classify')}${llm('urgent')}${llm('dry')}`), {
      urgent: { if: ['steps.classify.output.urgency >= 4', 'classify'] },
      dry: { if: ['inputs.mode == "dry-run"'] },
    });
    const view = describePlan(spec);
    assert.deepEqual(view.steps['urgent']!.reasons, [{ step: 'classify', kind: 'condition', detail: 'steps.classify.output.urgency >= 4' }]);
    assert.equal(view.steps['urgent']!.condition, 'steps.classify.output.urgency >= 4');
    const text = planText(view, 'wf.yaml');
    assert.match(text, /^ {5}urgent ← classify \(if: steps\.classify\.output\.urgency >= 4\)$/m);
    assert.match(text, /^ {5}dry if: inputs\.mode == "dry-run"$/m);
    assert.match(text, /\(before retries; 2 steps run only if their conditions hold\)$/m);
  });

  it('extends --json without renaming anything: foreach, condition, continueOnError only where they apply', () => {
    const json = JSON.parse(planJson(describePlan(fanOut())));
    assert.deepEqual(Object.keys(json), ['workflow', 'stages', 'criticalPath', 'steps', 'maxConcurrency', 'effectiveConcurrency', 'calls']);
    assert.deepEqual(json.steps.summarize, { action: 'llm', dependsOn: ['list'], reasons: [{ step: 'list', kind: 'reference', detail: '${steps.list.output}' }], foreach: { of: 'list', maxConcurrency: 4 }, continueOnError: true });
    assert.deepEqual(json.steps.urgent.condition, 'steps.classify.output.urgency >= 4 && inputs.mode != "dry-run"');
    assert.deepEqual(json.steps.classify, { action: 'llm', dependsOn: [], reasons: [] });
  });

  it('a foreach step fills as many slots as its items may take', () => {
    const view = describePlan(fanOut(), 10);
    // Stage 2: summarize (4 at once, count unknown) + urgent; stage 1: list + titles (3) + classify.
    assert.equal(view.effectiveConcurrency, 5);
    assert.equal(describePlan(fanOut(), 3).effectiveConcurrency, 3);
  });

  it('expects median item time × items ÷ its slots, never less than one item', () => {
    const spec = withFlow(workflow(`steps:\n${llm('each')}${llm('few')}${llm('open')}${llm('other')}`), {
      each: { foreach: Array.from({ length: 100 }, (_, i) => i), maxConcurrency: 4 },
      few: { foreach: [1, 2] },
      open: { foreach: '${inputs.files}' },
    });
    const history = { durations: { other: 300, open: 7000 }, itemDurations: { each: 50, few: 80, open: 90 } };
    const view = describePlan(spec, 10, history);
    assert.equal(view.steps['each']!.expectedMs, (50 * 100) / 4, '4 at once, inside the limit of 10');
    assert.equal(describePlan(spec, 2, history).steps['each']!.expectedMs, (50 * 100) / 2, 'the global limit is tighter');
    assert.equal(view.steps['few']!.expectedMs, 80, 'two items side by side take one item’s time');
    assert.equal(view.steps['open']!.expectedMs, 7000, 'count unknown: the whole step as it went before');
    assert.equal(view.steps['each']!.expectedItemMs, 50);
    assert.equal(view.expected!.timedSteps, 4);
    assert.match(planText(view, 'wf.yaml'), /^ {5}each ×100: up to 4 items at once, about 50 ms an item$/m);
    assert.deepEqual(view.criticalPath, ['open']);
    // No item record: an item counts as one call of its action (here the other llm steps' median).
    const untimed = describePlan(spec, 10, { durations: { other: 300 } });
    assert.equal(untimed.steps['each']!.expectedMs, (300 * 100) / 4);
    assert.equal(untimed.steps['each']!.expectedItemMs, undefined);
    assert.deepEqual(untimed.criticalPath, ['each']);
  });

  it('weighs a foreach step of many items on the critical path even without a record', () => {
    const spec = withFlow(workflow(`steps:\n${llm('a')}${llm('b', '${steps.a.output}')}${llm('each')}`), { each: { foreach: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], maxConcurrency: 2 } });
    assert.deepEqual(describePlan(spec).criticalPath, ['each']);
    assert.deepEqual(describePlan(workflow(`steps:\n${llm('a')}${llm('b', '${steps.a.output}')}${llm('each')}`)).criticalPath, ['a', 'b']);
  });

  it('expects a foreach step’s tokens over its items', () => {
    const spec = withFlow(workflow(`steps:\n${llm('one')}${llm('each')}${llm('new')}`), { each: { foreach: [1, 2, 3, 4] } });
    const view = describePlan(spec, 10, { durations: { one: 10 }, usage: { one: { inputTokens: 10, outputTokens: 20 }, each: { inputTokens: 200, outputTokens: 80 } } });
    // Per call: one 10/20, each 50/20 → median (upper) 50/20 for `new`.
    assert.deepEqual(view.expected!.tokens, { input: 10 + 200 + 50, output: 20 + 80 + 20, knownCalls: 5 });
    assert.equal(view.calls.llm, 6);
  });

  it('labels foreach nodes ×N and condition edges in Mermaid and DOT', () => {
    const view = describePlan(fanOut());
    const mermaid = planMermaid(view);
    assert.match(mermaid, /^ {2}s_titles\["titles ×3 · llm"\]$/m);
    assert.match(mermaid, /^ {2}s_summarize\["summarize × items of list · llm · continueOnError"\]$/m);
    assert.match(mermaid, /^ {2}s_classify -->\|"if: steps\.classify\.output\.urgency #62;= 4 #38;#38; inputs\.mode != #34;dry-run#34;"\| s_urgent$/m);
    assert.match(mermaid, /^ {2}s_list --> s_summarize$/m);
    assert.match(mermaid, /^ {2}class s_summarize continues$/m);
    const dot = planDot(view);
    assert.match(dot, /^ {2}"titles" \[label="titles ×3\\nllm"\];$/m);
    assert.match(dot, /^ {2}"summarize" \[label="summarize × items of list\\nllm\\ncontinueOnError", penwidth=3, style="rounded,dashed"\];$/m);
    assert.match(dot, /^ {2}"classify" -> "urgent" \[label="if: steps\.classify\.output\.urgency >= 4 && inputs\.mode != \\"dry-run\\""\];$/m);
  });
});

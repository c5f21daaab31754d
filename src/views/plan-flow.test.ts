/** `plan` for foreach steps, conditions and continueOnError, on workflows as the definition reads them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workflow } from '../../test/support/workflow.ts';
import { describePlan, planDot, planJson, planMermaid, planText } from './plan.ts';

/** An llm step; `keys`: more lines of its block (`foreach: …`, `if: …`), each indented as the step's keys. */
const llm = (id: string, keys: string[] = [], prompt = 'x') => `  - id: ${id}\n${keys.map((k) => `    ${k}\n`).join('')}    llm: { model: "echo:x", prompt: "${prompt}" }\n`;
const CONDITION = 'steps.classify.output.size() > 40 && inputs.mode != "dry-run"';
const fanOut = () =>
  workflow(
    `inputs:\n  mode: { type: string, default: live }\nsteps:\n  - id: list\n    http: { url: "http://127.0.0.1:1/list" }\n` +
      llm('summarize', ['foreach: ${steps.list.output}', 'maxConcurrency: 4', 'continueOnError: true']) +
      llm('titles', ['foreach: [a, b, c]']) +
      llm('classify') +
      llm('urgent', [`if: '${CONDITION}'`]) +
      llm('combine', [], '${steps.summarize.output} ${steps.titles.output}'),
    '/tmp/p',
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
    assert.deepEqual(view.calls, { llm: 3 + 3, http: 1, fileWrites: 0, fileReads: 0, commands: 0, perItem: [{ step: 'summarize', of: 'list', call: 'llm' }] });
    assert.match(planText(view, 'wf.yaml'), /^Calls: 6 LLM calls \+ 1 per item of list, 1 HTTP request \(before retries; 1 step runs only if its condition holds\)$/m);
    const plain = describePlan(workflow(`steps:\n${llm('a')}`));
    assert.deepEqual(plain.calls, { llm: 1, http: 0, fileWrites: 0, fileReads: 0, commands: 0 }, 'no perItem key without foreach steps');
  });

  it('puts the condition on the edge, and on its own line when it names no step', () => {
    const spec = workflow(`inputs:\n  mode: { type: string }\nsteps:\n${llm('classify')}${llm('urgent', ['if: steps.classify.output.size() >= 4'])}${llm('dry', [`if: 'inputs.mode == "dry-run"'`])}`);
    const view = describePlan(spec);
    assert.deepEqual(view.steps['urgent']!.reasons, [{ step: 'classify', kind: 'condition', detail: 'steps.classify.output.size() >= 4' }]);
    assert.equal(view.steps['urgent']!.condition, 'steps.classify.output.size() >= 4');
    const text = planText(view, 'wf.yaml');
    assert.match(text, /^ {5}urgent ← classify \(if: steps\.classify\.output\.size\(\) >= 4\)$/m);
    assert.match(text, /^ {5}dry if: inputs\.mode == "dry-run"$/m);
    assert.match(text, /\(before retries; 2 steps run only if their conditions hold\)$/m);
  });

  it('extends --json without renaming anything: foreach, condition, continueOnError only where they apply', () => {
    const json = JSON.parse(planJson(describePlan(fanOut())));
    assert.deepEqual(Object.keys(json), ['workflow', 'stages', 'criticalPath', 'steps', 'maxConcurrency', 'effectiveConcurrency', 'calls']);
    assert.deepEqual(json.steps.summarize, { action: 'llm', dependsOn: ['list'], reasons: [{ step: 'list', kind: 'reference', detail: '${steps.list.output}' }], foreach: { of: 'list', maxConcurrency: 4 }, continueOnError: true });
    assert.deepEqual(json.steps.urgent.condition, CONDITION);
    assert.deepEqual(json.steps.classify, { action: 'llm', dependsOn: [], reasons: [] });
  });

  it('a foreach step fills as many slots as its items may take', () => {
    const view = describePlan(fanOut(), 10);
    // Stage 2: summarize (4 at once, count unknown) + urgent; stage 1: list + titles (3) + classify.
    assert.equal(view.effectiveConcurrency, 5);
    assert.equal(describePlan(fanOut(), 3).effectiveConcurrency, 3);
  });

  it('expects median item time × items ÷ its slots, never less than one item', () => {
    const hundred = JSON.stringify(Array.from({ length: 100 }, (_, i) => i));
    const spec = workflow(`inputs:\n  files: { type: array, default: [] }\nsteps:\n${llm('each', [`foreach: ${hundred}`, 'maxConcurrency: 4'])}${llm('few', ['foreach: [1, 2]'])}${llm('open', ['foreach: ${inputs.files}'])}${llm('other')}`);
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
    const spec = workflow(`steps:\n${llm('a')}${llm('b', [], '${steps.a.output}')}${llm('each', ['foreach: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]', 'maxConcurrency: 2'])}`);
    assert.deepEqual(describePlan(spec).criticalPath, ['each']);
    assert.deepEqual(describePlan(workflow(`steps:\n${llm('a')}${llm('b', [], '${steps.a.output}')}${llm('each')}`)).criticalPath, ['a', 'b']);
  });

  it('expects a foreach step’s tokens over its items', () => {
    const spec = workflow(`steps:\n${llm('one')}${llm('each', ['foreach: [1, 2, 3, 4]'])}${llm('new')}`);
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
    assert.match(mermaid, /^ {2}s_classify -->\|"if: steps\.classify\.output\.size\(\) #62; 40 #38;#38; inputs\.mode != #34;dry-run#34;"\| s_urgent$/m);
    assert.match(mermaid, /^ {2}s_list --> s_summarize$/m);
    assert.match(mermaid, /^ {2}class s_summarize continues$/m);
    const dot = planDot(view);
    assert.match(dot, /^ {2}"titles" \[label="titles ×3\\nllm"\];$/m);
    assert.match(dot, /^ {2}"summarize" \[label="summarize × items of list\\nllm\\ncontinueOnError", penwidth=3, style="rounded,dashed"\];$/m);
    assert.match(dot, /^ {2}"classify" -> "urgent" \[label="if: steps\.classify\.output\.size\(\) > 40 && inputs\.mode != \\"dry-run\\""\];$/m);
  });
});

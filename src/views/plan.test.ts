import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadWorkflow } from '../definition/load.ts';
import { workflow } from '../../test/support/workflow.ts';
import { describePlan, planDot, planMermaid, planText } from './plan.ts';

const EXAMPLES = join(import.meta.dirname, '../../examples');

describe('plan views', () => {
  it('the mixed example prints exactly its three stages, with dependencies and why', async () => {
    const view = describePlan(await loadWorkflow(join(EXAMPLES, 'mixed.yaml')));
    const text = planText(view, 'examples/mixed.yaml');
    assert.deepEqual(text.split('\n').filter((l) => /^\d+\. /.test(l)), ['1. read_file', '2. process1, process2, process3   (in parallel)', '3. combine']);
    assert.match(text, /^ {5}process2 ← read_file \(\$\{steps\.read_file\.output\}\)$/m);
    assert.match(text, /^Critical path: read_file → process1 → combine \(3 steps\)$/m);
    assert.match(text, /^Concurrency: up to 3 at once \(limit 10\)$/m);
    assert.match(text, /^Calls: 4 LLM calls, 1 file read \(before retries\)$/m);
    assert.deepEqual(view.steps['combine']!.dependsOn, ['process1', 'process2', 'process3']);
  });

  it('explains depends_on and file-path edges', () => {
    const view = describePlan(workflow(`steps:\n  - id: w\n    file: { action: write, path: out.txt, content: x }\n  - id: r\n    file: { action: read, path: out.txt }\n  - id: after\n    depends_on: [r]\n    http: { url: "http://127.0.0.1:1/" }\n`, '/tmp/p'));
    assert.deepEqual(view.steps['r']!.reasons, [{ step: 'w', kind: 'resource', detail: 'file /tmp/p/out.txt' }]);
    assert.deepEqual(view.steps['after']!.reasons, [{ step: 'r', kind: 'depends_on' }]);
    assert.deepEqual(view.calls, { llm: 0, http: 1, fileWrites: 1, fileReads: 1, commands: 0 });
  });

  it('marks destinations a step output chooses, and says how the run confines them', () => {
    const view = describePlan(
      workflow(
        `config:\n  http: { allowHosts: ["*.example.org"] }\nsteps:\n  - id: ask\n    llm: { prompt: x }\n  - id: save\n    file: { action: write, path: "out/\${steps.ask.output}.md", content: "\${steps.ask.output}" }\n  - id: get\n    http: { url: "https://api.example.com/items/\${steps.ask.output}" }\n  - id: post\n    http: { method: POST, url: "\${steps.ask.output}", body: "\${steps.ask.output}" }\n  - id: mine\n    file: { action: write, path: "../\${inputs.p}", content: "\${steps.ask.output}" }\ninputs:\n  p: { type: string }\n`,
        '/tmp/p',
      ),
    );
    assert.deepEqual(view.steps['save']!.dataChosen, ['path']);
    assert.deepEqual(view.steps['post']!.dataChosen, ['url']);
    assert.equal(view.steps['mine']!.dataChosen, undefined, 'paths from inputs are the author’s');
    assert.equal(view.steps['ask']!.dataChosen, undefined);
    const text = planText(view, 'wf.yaml');
    assert.match(text, /^ {5}save ← ask \(\$\{steps\.ask\.output\}\)\n {5}data-chosen: save\.path ← \$\{steps\.ask\.output\} \(confined to the workflow folder\)$/m);
    assert.match(text, /^ {5}data-chosen: get\.url ← \$\{steps\.ask\.output\} \(host api\.example\.com fixed by the template, the value URL-encoded\)$/m);
    assert.match(text, /^ {5}data-chosen: post\.url ← \$\{steps\.ask\.output\} \(host must be in config\.http\.allowHosts: \*\.example\.org\)$/m);
    assert.equal(text.match(/data-chosen/g)?.length, 3);
  });

  it('says what the run does with a host the author’s input may fix, a host header and a model', () => {
    const view = describePlan(
      workflow(
        `inputs:\n  base: { type: string }\nconfig:\n  http: { allowHosts: ["api.example.com"] }\nsteps:\n  - id: ask\n    llm: { prompt: x }\n  - id: get\n    http: { url: "\${inputs.base}/v1/\${steps.ask.output}", headers: { X-Forwarded-Host: "\${steps.ask.output}" } }\n  - id: said\n    llm: { prompt: x, model: "\${env.PROVIDER}:\${steps.ask.output}" }\n`,
        '/tmp/p',
      ),
    );
    assert.deepEqual(view.steps['get']!.dataChosen, ['url', 'headers.X-Forwarded-Host']);
    const text = planText(view, 'wf.yaml');
    assert.match(text, /^ {5}data-chosen: get\.url ← \$\{steps\.ask\.output\} \(host fixed by \$\{inputs\.base\}\/v1\/ when it gives a scheme and host and a `\/`, the value URL-encoded; else the host must be listed in config\.http\.allowHosts \(api\.example\.com\)\)$/m);
    assert.match(text, /^ {5}data-chosen: get\.headers\.X-Forwarded-Host ← \$\{steps\.ask\.output\} \(host must be in config\.http\.allowHosts: api\.example\.com\)$/m);
    assert.match(text, /^ {5}data-chosen: said\.model ← \$\{steps\.ask\.output\} \(provider fixed by \$\{env\.PROVIDER\}: when it gives one \(`provider:`\); else refused\)$/m);
  });

  it('measures the critical path in expected time: one API call outweighs a chain of file writes', () => {
    const view = describePlan(
      workflow(
        `steps:\n  - id: w1\n    file: { action: write, path: a.txt, content: x }\n  - id: w2\n    file: { action: append, path: a.txt, content: y }\n  - id: w3\n    file: { action: append, path: a.txt, content: z }\n  - id: call\n    http: { url: "http://127.0.0.1:1/" }\n`,
        '/tmp/p',
      ),
    );
    assert.deepEqual(view.stages, [['w1', 'call'], ['w2'], ['w3']]);
    assert.deepEqual(view.criticalPath, ['call']);
  });

  it('renders Mermaid and DOT for the founding examples', async () => {
    const view = describePlan(await loadWorkflow(join(EXAMPLES, 'mixed.yaml')));
    const mermaid = planMermaid(view);
    assert.match(mermaid, /^flowchart LR\n/);
    assert.equal(mermaid.match(/ --> /g)?.length, 6);
    assert.match(mermaid, /^ {2}s_read_file --> s_process1$/m);
    assert.match(mermaid, /^ {2}class s_read_file,s_process1,s_combine critical$/m);
    assert.match(mermaid, /^ {2}linkStyle 0,3 stroke-width:3px$/m);
    const dot = planDot(describePlan(await loadWorkflow(join(EXAMPLES, 'sequential.yaml'))));
    assert.match(dot, /^digraph workflow \{/);
    assert.match(dot, /^ {2}"fetch" -> "analyze" \[penwidth=3\];$/m);
    assert.match(dot, /^ {2}\{ rank=same; "fetch"; \}$/m);
    const parallel = describePlan(await loadWorkflow(join(EXAMPLES, 'parallel.yaml')));
    assert.deepEqual(parallel.stages, [['task1', 'task2', 'task3']]);
    assert.equal(planMermaid(parallel).match(/-->/g), null);
  });

  it('handles a 1,000-step graph', () => {
    // 100 chains of 10: stage k holds the k-th step of every chain.
    const steps = Array.from({ length: 1000 }, (_, i) => `  - id: s${i}\n${i % 10 ? `    depends_on: [s${i - 1}]\n` : ''}    llm: { prompt: x }\n`).join('');
    const view = describePlan(workflow(`config:\n  maxConcurrency: 16\nsteps:\n${steps}`));
    assert.equal(view.stages.length, 10);
    assert.ok(view.stages.every((s) => s.length === 100));
    assert.deepEqual(view.criticalPath, Array.from({ length: 10 }, (_, i) => `s${i}`));
    assert.equal(view.effectiveConcurrency, 16);
    assert.equal(planMermaid(view).match(/ --> /g)?.length, 900);
    assert.equal(planDot(view).match(/ -> /g)?.length, 900);
  });
});

describe('plan: the expected time of foreach steps, played as their items', () => {
  const http = (id: string, keys: string[] = []) => `  - id: ${id}\n${keys.map((k) => `    ${k}\n`).join('')}    http: { url: "http://127.0.0.1:1/${id}" }\n`;
  const beside = (limit = 3) => workflow(`inputs:\n  pages: { type: array }\nconfig:\n  maxConcurrency: ${limit}\nsteps:\n${http('long')}${http('each', ['foreach: [1, 2, 3, 4, 5, 6, 7, 8]', 'maxConcurrency: 2'])}`);
  const history = { durations: { long: 300, each: 400 }, itemDurations: { each: 100 } };

  it('8 items of 100 ms, 2 at once, beside a 300 ms step: 400 ms at limit 3, 700 ms at limit 2 (the items hold both slots first)', () => {
    const view = describePlan(beside(), 3, history);
    assert.equal(view.expected!.ms, 400);
    assert.equal(view.expected!.criticalPathMs, 400);
    assert.deepEqual(view.criticalPath, ['each']);
    assert.equal(view.steps['each']!.expectedMs, 400);
    // As one step in one slot, the 300 ms step ran beside it: 400.
    assert.equal(describePlan(beside(2), 2, history).expected!.ms, 700);
  });

  it('steps beside a foreach step count the slots its items take', () => {
    const spec = workflow(`config:\n  maxConcurrency: 3\nsteps:\n${http('each', ['foreach: [1, 2, 3, 4, 5, 6]'])}${http('a')}${http('b')}`);
    const view = describePlan(spec, 3, { durations: { a: 200, b: 200 }, itemDurations: { each: 100 } });
    assert.equal(view.steps['each']!.expectedMs, 200);
    assert.equal(view.expected!.ms, 400, 'not 200: three steps of 200 ms side by side');
  });

  it('shares a whole-step time over the waves when the record has no item times', () => {
    assert.equal(describePlan(beside(2), 2, { durations: { long: 300, each: 400 } }).expected!.ms, 700);
  });

  it('counts a list from an input whose value is given: ×N, its calls, its items in the estimate', () => {
    const spec = workflow(`inputs:\n  pages: { type: array }\nconfig:\n  maxConcurrency: 3\nsteps:\n${http('long')}${http('pages', ['foreach: ${inputs.pages}'])}`);
    const recorded = { durations: { long: 300, pages: 250 }, itemDurations: { pages: 100 } };
    const unknown = describePlan(spec, 3, recorded);
    assert.deepEqual(unknown.steps['pages']!.foreach, { of: 'inputs.pages' });
    assert.equal(unknown.expected!.ms, 300, 'count unknown: the whole step as it went, in one slot');
    const view = describePlan(spec, 3, recorded, { pages: [1, 2, 3, 4, 5, 6] });
    assert.deepEqual(view.steps['pages']!.foreach, { count: 6, of: 'inputs.pages' });
    assert.deepEqual(view.calls, { llm: 0, http: 7, fileWrites: 0, fileReads: 0, commands: 0 });
    assert.match(planText(view, 'wf.yaml'), /^1\. long, pages ×6   \(in parallel\)$/m);
    // long first (300 ms left against 200); the items in the two slots beside it, 2 at a time: done at 300.
    assert.equal(view.expected!.ms, 300);
    // At limit 2, one slot beside long: three items by 300, then the last three over both slots.
    assert.equal(describePlan(spec, 2, recorded, { pages: [1, 2, 3, 4, 5, 6] }).expected!.ms, 500);
    assert.deepEqual(describePlan(spec, 3, undefined, { pages: [] }).steps['pages']!.foreach, { count: 0, of: 'inputs.pages' });
  });
});

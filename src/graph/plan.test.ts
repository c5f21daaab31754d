import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadWorkflow } from '../definition/load.ts';
import { workflow } from '../../test/support/workflow.ts';
import { buildPlan, weightedRemaining, type Plan } from './plan.ts';

const EXAMPLES = join(import.meta.dirname, '../../examples');
const deps = (plan: Plan, id: string) => plan.steps[plan.byId.get(id)!]!.dependsOn.map((d) => plan.steps[d]!.id);
const dependents = (plan: Plan, id: string) => plan.steps[plan.byId.get(id)!]!.dependents.map((d) => plan.steps[d]!.id);

describe('the founding document’s examples', () => {
  it('automatic parallelization: three independent steps, one stage', async () => {
    const { plan } = await loadWorkflow(join(EXAMPLES, 'parallel.yaml'));
    assert.deepEqual(plan.stages, [['task1', 'task2', 'task3']]);
    for (const id of ['task1', 'task2', 'task3']) assert.deepEqual(deps(plan, id), []);
  });

  it('sequential dependencies: analyze waits for fetch', async () => {
    const { plan } = await loadWorkflow(join(EXAMPLES, 'sequential.yaml'));
    assert.deepEqual(plan.stages, [['fetch'], ['analyze']]);
    assert.deepEqual(deps(plan, 'analyze'), ['fetch']);
    assert.deepEqual([...plan.steps[1]!.reasons.get(0)!], [{ kind: 'reference', ref: '${steps.fetch.output}' }]);
    assert.deepEqual(plan.criticalPath, ['fetch', 'analyze']);
  });

  it('mixed: read_file, then process1–3 in parallel, then combine', async () => {
    const { plan } = await loadWorkflow(join(EXAMPLES, 'mixed.yaml'));
    assert.deepEqual(plan.stages, [['read_file'], ['process1', 'process2', 'process3'], ['combine']]);
    assert.deepEqual(dependents(plan, 'read_file'), ['process1', 'process2', 'process3']);
    assert.deepEqual(deps(plan, 'combine'), ['process1', 'process2', 'process3']);
    assert.deepEqual(plan.criticalPath, ['read_file', 'process1', 'combine']);
    assert.ok(await readFile(join(EXAMPLES, 'data.txt'), 'utf8'));
  });
});

describe('dependencies', () => {
  it('come from references anywhere in the block, and from depends_on', () => {
    const { plan } = workflow(`
steps:
  - id: a
    http: { url: "http://127.0.0.1:1/" }
  - id: b
    http:
      url: "http://127.0.0.1:1/"
      headers: { x-token: "\${steps.a.output.token}" }
  - id: c
    depends_on: [a]
    llm: { prompt: "no data from a" }
`);
    assert.deepEqual(deps(plan, 'b'), ['a']);
    assert.deepEqual([...plan.steps[2]!.reasons.get(0)!], [{ kind: 'depends_on' }]);
  });

  it('order file steps that touch the same path, in file order, when one of them writes', () => {
    const { plan } = workflow(`
steps:
  - id: read1
    file: { action: read, path: data.txt }
  - id: read2
    file: { action: read, path: ./data.txt }
  - id: write
    file: { action: write, path: data.txt, content: new }
  - id: read3
    file: { action: read, path: data.txt }
  - id: other
    file: { action: write, path: other.txt, content: x }
  - id: list
    file: { action: list, path: . }
  - id: cleanup
    file: { action: delete, path: data.txt }
`);
    assert.deepEqual(deps(plan, 'read2'), [], 'reads commute');
    assert.deepEqual(deps(plan, 'write'), ['read1', 'read2'], 'a write waits for earlier reads');
    assert.deepEqual(deps(plan, 'read3'), ['write'], 'a read waits for the earlier write');
    assert.deepEqual(deps(plan, 'other'), [], 'writes of different files in one folder stay parallel');
    assert.deepEqual(deps(plan, 'list'), ['write', 'other'], 'listing a folder waits for files created in it');
    // Delete waits for everything that touched the file or listed its folder (some of these edges are also
    // implied by others; the plan keeps them, they cost nothing at run time).
    assert.deepEqual(deps(plan, 'cleanup'), ['read1', 'read2', 'write', 'read3', 'list']);
    assert.deepEqual(plan.steps[3]!.reasons.get(2), [{ kind: 'resource', label: `file ${join(process.cwd(), 'data.txt')}` }]);
  });

  it('does not order steps whose paths are only known at run time', () => {
    const { plan } = workflow(`
steps:
  - id: name
    llm: { prompt: "a file name" }
  - id: write
    file: { action: write, path: "\${steps.name.output}", content: x }
  - id: read
    file: { action: read, path: out.txt }
`);
    assert.deepEqual(deps(plan, 'read'), []);
  });
});

describe('buildPlan', () => {
  const node = (id: string, ...on: number[]) => ({ id, dependsOn: new Map(on.map((d) => [d, [{ kind: 'depends_on' as const }]])) });

  it('finds every cycle, as a path from its first-declared step', () => {
    const result = buildPlan([node('a', 1), node('b', 0), node('c'), node('d', 4), node('e', 5), node('f', 3), node('g', 0)]);
    assert.equal(result.ok, false);
    assert.deepEqual(!result.ok && result.cycles, [[0, 1], [3, 4, 5]]);
  });

  it('puts the longest chain on the critical path, even when declared last', () => {
    const steps = [...Array.from({ length: 5 }, (_, i) => node(`short${i}`)), node('c0'), node('c1', 5), node('c2', 6)];
    const result = buildPlan(steps);
    assert.ok(result.ok);
    assert.deepEqual(result.plan.criticalPath, ['c0', 'c1', 'c2']);
    assert.equal(result.plan.steps[5]!.remaining, 3);
    assert.equal(result.plan.steps[0]!.remaining, 1);
  });

  it('weights the remaining path by step costs', () => {
    const result = buildPlan([node('a1'), node('a2', 0), node('a3', 1), node('long')]);
    assert.ok(result.ok);
    assert.deepEqual([...weightedRemaining(result.plan, [10, 10, 10, 5000])], [30, 20, 10, 5000]);
    assert.deepEqual([...weightedRemaining(result.plan, [4, 1, 2, 5000])], [7, 3, 2, 5000]);
  });

  it('handles a 10,000-step chain without recursion', () => {
    const steps = Array.from({ length: 10_000 }, (_, i) => (i === 0 ? node('s0') : node(`s${i}`, i - 1)));
    const result = buildPlan(steps);
    assert.ok(result.ok);
    assert.equal(result.plan.stages.length, 10_000);
    assert.equal(result.plan.criticalPath.length, 10_000);
  });
});

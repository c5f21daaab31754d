/**
 * What a resume takes from the record of a run with foreach steps, conditions and continued failures: which
 * steps run again and which of their items are offered for reuse (the run reuses one only if its key matches).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workflow } from '../../test/support/workflow.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import { planResume } from './resume.ts';
import type { ItemRecord, RunRecord, StepRecord } from './types.ts';

/** list → each (foreach) → combine (foreach over each's output) → report; `urgent` hangs off list. */
const base = workflow(`steps:
  - id: list
    llm: { model: echo, prompt: "list" }
  - id: each
    llm: { model: echo, prompt: "\${steps.list.output}" }
  - id: urgent
    llm: { model: echo, prompt: "\${steps.list.output}" }
  - id: combine
    llm: { model: echo, prompt: "\${steps.each.output}" }
  - id: report
    llm: { model: echo, prompt: "\${steps.combine.output}" }
`);
// The loader that reads `foreach:` is not this module's business: the spec is given one here.
const spec: WorkflowSpec = { ...base, steps: base.steps.map((s) => (s.id === 'each' || s.id === 'combine' ? { ...s, foreach: { items: { kind: 'literal', value: [] }, as: 'item' } } : s)) };
const FINGERPRINTS = ['fl', 'fe.l1', 'fu', 'fc.l1', 'fr'];

const run: RunRecord = { id: 'r1', workflow: spec.file, workflowHash: 'h', inputs: {}, status: 'succeeded', startedAt: 1, pid: 1, host: 'h', stepCount: 5, stepsDone: 3 };
const item = (index: number, status: ItemRecord['status'] = 'succeeded', extra: Partial<ItemRecord> = {}): ItemRecord => ({
  index, key: `k${index}`, status, ...(status === 'succeeded' ? { output: `o${index}` } : { error: 'boom' }), reused: false, redacted: false, ...extra,
});
function step(stepId: string, status: StepRecord['status'], extra: Partial<StepRecord> = {}): StepRecord {
  const i = spec.plan.byId.get(stepId)!;
  return { stepId, position: i, fingerprint: FINGERPRINTS[i]!, dependsOn: spec.plan.steps[i]!.dependsOn.map((d) => spec.steps[d]!.id), status, reused: false, redacted: false, ...extra };
}
/** A run in which `each` failed on items 1 and 3 under continueOnError (item 2's result held a secret). */
const continued = (): StepRecord[] => [
  step('list', 'succeeded', { output: ['a', 'b', 'c', 'd', 'e'] }),
  step('each', 'failed', { continued: true, itemCount: 5, items: [item(0), item(1, 'failed'), item(2, 'succeeded', { redacted: true }), item(3, 'failed'), item(4)] }),
  step('urgent', 'skipped', { skipReason: 'condition' }),
  step('combine', 'skipped', { skipReason: 'upstream_failed' }),
  step('report', 'skipped', { skipReason: 'upstream_skipped' }),
];

describe('planResume with foreach steps', () => {
  it('re-runs a continued failure, the steps it skipped and the skipped condition, offering the items that succeeded (not the redacted one)', () => {
    const plan = planResume(spec, { run, steps: continued() }, FINGERPRINTS);
    assert.deepEqual(Object.keys(plan.reuse), ['list']);
    assert.deepEqual(plan.remaining, ['each', 'urgent', 'combine', 'report']);
    assert.deepEqual(plan.changed, []);
    assert.deepEqual(plan.reuseItems, { each: new Map([[0, { key: 'k0', output: 'o0' }], [4, { key: 'k4', output: 'o4' }]]) });
    assert.deepEqual(plan.items, [{ stepId: 'each', reusable: 2, total: 5 }]);
  });

  it('offers a re-run step’s items whatever made it run again: a step upstream, its list edited, a killed run', () => {
    const done = (): StepRecord[] => [
      step('list', 'succeeded', { output: ['a', 'b'] }),
      step('each', 'succeeded', { output: ['o0', 'o1'], itemCount: 2, items: [item(0), item(1, 'succeeded', { properties: { model: 'echo' } })] }),
      step('urgent', 'succeeded', { output: 'u' }),
      step('combine', 'succeeded', { output: ['c0'], itemCount: 1, items: [item(0)] }),
      step('report', 'succeeded', { output: 'r' }),
    ];
    const upstream = planResume(spec, { run, steps: done() }, ['fl2', ...FINGERPRINTS.slice(1)]);
    assert.deepEqual(upstream.changed.map((c) => [c.stepId, c.reason]), [['list', 'changed'], ['each', 'upstream'], ['urgent', 'upstream'], ['combine', 'upstream'], ['report', 'upstream']]);
    assert.deepEqual(upstream.reuseItems, { each: new Map([[0, { key: 'k0', output: 'o0' }], [1, { key: 'k1', output: 'o1', properties: { model: 'echo' } }]]), combine: new Map([[0, { key: 'k0', output: 'o0' }]]) });

    // A literal list edited: the step's fingerprint changes in its list part only.
    const edited = planResume(spec, { run, steps: done() }, ['fl', 'fe.l2', 'fu', 'fc.l1', 'fr']);
    assert.deepEqual(edited.changed.map((c) => [c.stepId, c.reason]), [['each', 'changed'], ['combine', 'upstream'], ['report', 'upstream']]);
    assert.equal(edited.reuseItems['each']?.size, 2);

    // Killed mid-step: no result for the step, and no count, but the items it finished.
    const killed = done().map((s) => (s.stepId === 'each' ? step('each', 'pending', { items: [item(0)] }) : s.position > 1 ? step(s.stepId, 'pending') : s));
    const resumed = planResume(spec, { run: { ...run, status: 'interrupted' }, steps: killed }, FINGERPRINTS);
    assert.deepEqual(resumed.reuseItems, { each: new Map([[0, { key: 'k0', output: 'o0' }]]) });
    assert.deepEqual(resumed.items, [{ stepId: 'each', reusable: 1 }]);
  });

  it('offers none when what each item does changed (a prompt, a model), or for the step --from names; steps below --from keep theirs', () => {
    const steps = continued().map((s) => (s.stepId === 'combine' ? step('combine', 'succeeded', { itemCount: 2, items: [item(0), item(1)] }) : s));
    const changed = planResume(spec, { run, steps }, ['fl', 'fe2.l1', 'fu', 'fc.l1', 'fr']);
    assert.deepEqual(changed.reuseItems['each'], undefined);
    assert.deepEqual(changed.items[0], { stepId: 'each', reusable: 0, total: 5 });

    const fromEach = planResume(spec, { run, steps }, FINGERPRINTS, 'each');
    assert.equal(fromEach.reuseItems['each'], undefined, '--from each: all of its items run again');
    assert.equal(fromEach.reuseItems['combine']?.size, 2, 'combine, below it, reuses what is unchanged');
    assert.deepEqual(fromEach.items, [{ stepId: 'each', reusable: 0, total: 5 }, { stepId: 'combine', reusable: 2, total: 2 }]);
  });

  it('takes a foreach step that is reused whole with its items, for the new run’s record', () => {
    const steps = [
      step('list', 'succeeded', { output: ['a', 'b'] }),
      step('each', 'succeeded', { output: ['o0', 'o1'], itemCount: 2, items: [item(0), item(1)] }),
      step('urgent', 'failed', { error: 'boom' }),
      step('combine', 'not_run'),
      step('report', 'not_run'),
    ];
    const plan = planResume(spec, { run: { ...run, status: 'failed' }, steps }, FINGERPRINTS);
    assert.deepEqual(plan.reuse['each'], { output: ['o0', 'o1'], items: [{ index: 0, key: 'k0', output: 'o0' }, { index: 1, key: 'k1', output: 'o1' }] });
    assert.deepEqual(plan.reuseItems, {});
    assert.deepEqual(plan.remaining, ['urgent', 'combine', 'report']);
    assert.deepEqual(plan.items, [], 'combine never got to its list: nothing to say about its items');
  });
});

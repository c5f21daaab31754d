import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPlan, type EdgeReason } from '../graph/plan.ts';
import { RunState } from './state.ts';

/** a → b → c, and d beside them; `deps` as [step, dependency] pairs. */
function plan(ids: string[], deps: [number, number][]) {
  const result = buildPlan(ids.map((id, i) => ({ id, dependsOn: new Map<number, EdgeReason[]>(deps.filter(([s]) => s === i).map(([, d]) => [d, [{ kind: 'depends_on' }]])) })));
  if (!result.ok) throw new Error('cycle');
  return result.plan;
}

describe('RunState', () => {
  it('frees a dependent only when every dependency has settled, and runs it when all succeeded', () => {
    const state = new RunState(plan(['a', 'b', 'c'], [[2, 0], [2, 1]]), []);
    assert.deepEqual(state.roots(), [0, 1]);
    state.start(0);
    state.start(1);
    assert.deepEqual(state.settle(0, 'succeeded'), []);
    assert.deepEqual(state.settle(1, 'succeeded'), [2]);
    assert.deepEqual(state.readiness(2), { kind: 'run' });
  });

  it('skips with the most telling reason, unless the condition reads that step status', () => {
    const p = plan(['a', 'b', 'c', 'd'], [[2, 0], [2, 1], [3, 0]]);
    const state = new RunState(p, [undefined, undefined, undefined, new Set([0])]);
    state.settle(0, 'failed', { continued: true });
    assert.deepEqual(state.readiness(3), { kind: 'condition' }, 'd reads the status of a: its condition decides');
    state.settle(1, 'skipped', { skipReason: 'condition' });
    assert.deepEqual(state.readiness(2), { kind: 'skip', reason: 'upstream_failed' });
  });

  it('a failure that stops the run is not for a condition to decide', () => {
    const state = new RunState(plan(['a', 'b'], [[1, 0]]), [undefined, new Set([0])]);
    state.settle(0, 'failed');
    assert.deepEqual(state.readiness(1), { kind: 'skip', reason: 'upstream_failed' });
  });

  it('settles what is left when the run ends: skipped with a reason, else not_run', () => {
    const state = new RunState(plan(['a', 'b', 'c', 'd'], [[1, 0], [2, 1]]), []);
    state.start(0);
    state.settle(0, 'cancelled');
    state.finish();
    assert.deepEqual(state.status, ['cancelled', 'skipped', 'skipped', 'not_run']);
    assert.deepEqual(state.skipReason.slice(1, 3), ['upstream_cancelled', 'upstream_skipped']);
  });

  it('never starts a step twice', () => {
    const state = new RunState(plan(['a'], []), []);
    state.start(0);
    assert.throws(() => state.start(0), /started twice/);
  });
});

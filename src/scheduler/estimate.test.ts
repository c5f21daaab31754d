import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workflow } from '../../test/support/workflow.ts';
import { estimateRun } from './estimate.ts';

/** Steps given as `id` or `id<-dep,dep`, each an http call (the durations are the test's, not the action's). */
function plan(...steps: string[]) {
  const text = steps.map((s) => {
    const [id, deps] = s.split('<-');
    return `  - id: ${id}\n${deps ? `    depends_on: [${deps}]\n` : ''}    http: { url: "http://127.0.0.1:1/" }\n`;
  });
  return workflow(`steps:\n${text.join('')}`).plan;
}

describe('run estimates', () => {
  it('a chain takes the sum of its steps, and is the critical path', () => {
    const estimate = estimateRun(plan('a', 'b<-a', 'c<-b'), [100, 200, 300], 10);
    assert.deepEqual(estimate, { ms: 600, criticalPath: [0, 1, 2], criticalPathMs: 600 });
  });

  it('independent steps share the limit', () => {
    const four = plan('a', 'b', 'c', 'd');
    assert.equal(estimateRun(four, [10, 10, 10, 10], 2).ms, 20);
    assert.equal(estimateRun(four, [10, 10, 10, 10], 4).ms, 10);
    assert.equal(estimateRun(four, [10, 10, 10, 10], 1).ms, 40);
  });

  it('plays out the scheduler’s policy: the longest remaining time starts first', () => {
    // Declared first, the short steps would take both slots in file order and finish at 25; the chain x → y
    // goes first instead, beside them: 20.
    const estimate = estimateRun(plan('s1', 's2', 's3', 'x', 'y<-x'), [5, 5, 5, 10, 10], 2);
    assert.equal(estimate.ms, 20);
    assert.deepEqual(estimate.criticalPath, [3, 4]);
    assert.equal(estimate.criticalPathMs, 20);
  });

  it('a step starts when its last dependency ends', () => {
    // a (10) and b (30) in parallel, c waits for both: 30 + 5.
    assert.equal(estimateRun(plan('a', 'b', 'c<-a,b'), [10, 30, 5], 10).ms, 35);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workflow } from '../../test/support/workflow.ts';
import { estimateRun, itemsMs, knownItemCount } from './estimate.ts';

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

describe('run estimates with foreach steps played as items', () => {
  const items = (count: number, itemMs: number, cap = Infinity) => ({ count, itemMs, cap });

  it('a foreach of 8 items × 100 ms, 2 at once, beside a 300 ms step at limit 3: 400 ms', () => {
    const estimate = estimateRun(plan('each', 'long'), [0, 300], 3, [items(8, 100, 2)]);
    assert.deepEqual(estimate, { ms: 400, criticalPath: [0], criticalPathMs: 400 });
  });

  it('its items hold the slots they take: at limit 2 the 300 ms step waits for them (the policy: more time left first)', () => {
    // As one step of 400 ms it would leave the other slot to `long`, and end at 400.
    assert.equal(estimateRun(plan('each', 'long'), [0, 300], 2, [items(8, 100, 2)]).ms, 400 + 300);
    // The step alone over the same slots: its waves.
    assert.equal(estimateRun(plan('each'), [0], 2, [items(8, 100, 2)]).ms, 400);
  });

  it('steps beside a foreach step wait for its items when they are behind it in priority', () => {
    // 6 items fill 3 slots for 200 ms; the two 200 ms steps (the same priority, declared after) run after them.
    // Seen as one step, the estimate was 200 ms: three steps side by side.
    assert.equal(estimateRun(plan('each', 'a', 'b'), [0, 200, 200], 3, [items(6, 100)]).ms, 400);
  });

  it('items start as slots free: a long step’s slot goes to the next item', () => {
    // long (300) first; items one at a time beside it, then the last one in the slot long leaves.
    assert.equal(estimateRun(plan('long', 'each'), [300, 0], 2, [undefined, items(4, 100)]).ms, 400);
  });

  it('a step starts when the last item of the foreach step before it ends', () => {
    const estimate = estimateRun(plan('each', 'after<-each'), [0, 50], 10, [items(5, 100, 2)]);
    assert.deepEqual(estimate, { ms: 300 + 50, criticalPath: [0, 1], criticalPathMs: 350 });
  });

  it('fewer items than slots take one item’s time; an empty list settles at once and takes no slot', () => {
    assert.equal(estimateRun(plan('each'), [0], 10, [items(3, 100)]).ms, 100);
    const empty = estimateRun(plan('none', 'next<-none'), [999, 50], 1, [items(0, 100)]);
    assert.deepEqual(empty, { ms: 50, criticalPath: [0, 1], criticalPathMs: 50 });
  });

  it('a foreach step without a count plays as one step of its expected time', () => {
    assert.equal(estimateRun(plan('each', 'long'), [400, 300], 2, [undefined]).ms, 400);
  });

  it('plays 100,000 items as items', () => {
    assert.equal(estimateRun(plan('each', 'after<-each'), [0, 1], 10, [items(100_000, 1)]).ms, 10_000 + 1);
  });

  it('weighs a foreach step as its waves of items', () => {
    assert.equal(itemsMs(items(8, 100, 2), 3), 400);
    assert.equal(itemsMs(items(5, 100, 2), 10), 300, 'a last wave of one item takes an item’s time');
    assert.equal(itemsMs(items(8, 100), 3), 300, 'the run’s limit when the step has no cap');
    assert.equal(itemsMs(items(0, 100), 3), 0);
  });
});

describe('item counts known before the run', () => {
  const list = (yaml: string) => workflow(`inputs:\n  files: { type: array }\n  cfg: { type: object }\nsteps:\n  - id: list\n    http: { url: "http://127.0.0.1:1/" }\n  - id: each\n    foreach: ${yaml}\n    http: { url: "http://127.0.0.1:1/\${item}" }\n`).steps[1]!.foreach!.items;

  it('counts a YAML list, with or without references in it', () => {
    assert.equal(knownItemCount(list('[a, b, c]')), 3);
    assert.equal(knownItemCount(list('["${steps.list.output}", b]')), 2);
    assert.equal(knownItemCount(list('[]')), 0);
  });

  it('counts an input’s list when its value is known, else leaves it to the run', () => {
    assert.equal(knownItemCount(list('${inputs.files}'), { files: [1, 2, 3, 4] }), 4);
    assert.equal(knownItemCount(list('${inputs.cfg.pages}'), { cfg: { pages: ['a', 'b'] } }), 2);
    assert.equal(knownItemCount(list('${inputs.files}')), undefined);
    assert.equal(knownItemCount(list('${inputs.files}'), {}), undefined);
    assert.equal(knownItemCount(list('${inputs.cfg.pages}'), { cfg: { pages: 'a,b' } }), undefined, 'not a list: the run fails the step');
    assert.equal(knownItemCount(list('${steps.list.output}'), { files: [1] }), undefined);
  });
});

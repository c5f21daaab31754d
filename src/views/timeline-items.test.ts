import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStyle } from '../report/style.ts';
import type { RunRecord } from '../store/types.ts';
import { buildTimeline, timelineSvg, timelineText, type TimelineItemInput, type TimelineStep } from './timeline.ts';
import { inFlight, packItems } from './timeline-items.ts';

const plain = createStyle({ isTTY: false }, {});
const run: RunRecord = { id: 'run-1234abcd', workflow: '/w.yaml', workflowHash: 'h', inputs: {}, status: 'succeeded', startedAt: 1000, finishedAt: 2000, pid: 1, host: 'h', stepCount: 3, stepsDone: 3 };
const step = (stepId: string, position: number, startedAt: number | undefined, finishedAt: number | undefined, extra: Partial<TimelineStep> = {}): TimelineStep => ({
  stepId, position, fingerprint: 'f', dependsOn: [], status: 'succeeded', reused: false,
  ...(startedAt === undefined ? {} : { startedAt }), ...(finishedAt === undefined ? {} : { finishedAt }), ...extra,
});
/** `n` items of `ms` each, `slots` at once, starting at `from` (epoch ms), each starting the moment a slot frees. */
function items(n: number, ms: number, slots: number, from: number, failed: (i: number) => boolean = () => false): TimelineItemInput[] {
  return Array.from({ length: n }, (_, i) => {
    const startedAt = from + Math.floor(i / slots) * ms;
    return { index: i, status: failed(i) ? 'failed' : 'succeeded', startedAt, finishedAt: startedAt + ms };
  });
}

describe('items on the timeline', () => {
  it('packs items into as many lanes as ran at once, a lane never holding two at the same time', () => {
    const packed = packItems([...items(10, 100, 3, 1100), { index: 10, status: 'succeeded', reused: true }, { index: 11, status: 'not_run' }], 1000);
    assert.equal(packed.peak, 3);
    assert.deepEqual({ ...packed, bars: packed.bars.length }, { total: 12, succeeded: 11, failed: 0, cancelled: 0, notRun: 1, reused: 1, peak: 3, bars: 10 });
    for (let lane = 0; lane < 3; lane++) {
      const inLane = packed.bars.filter((b) => b.lane === lane);
      inLane.slice(1).forEach((b, k) => assert.ok(b.start >= inLane[k]!.end, `lane ${lane} overlaps`));
    }
    assert.deepEqual(packed.bars.slice(0, 4).map((b) => [b.index, b.lane, b.start]), [[0, 0, 100], [1, 1, 100], [2, 2, 100], [3, 0, 200]]);
  });

  it('counts items in flight per column', () => {
    const { bars } = packItems(items(4, 100, 2, 1000), 1000);
    assert.deepEqual([...inFlight(bars, 400, 4)], [2, 2, 0, 0], 'an item that ends on an edge is not in the next column');
    assert.deepEqual([...inFlight(bars, 300, 2)].map((n) => n.toFixed(2)), ['2.00', '0.67'], 'the average over the column: never more than ran at once');
  });

  it('text: a foreach step is one row of items in flight and one line of what they did', () => {
    const t = buildTimeline(run, [
      step('list', 0, 1000, 1100),
      step('summarize', 1, 1100, 1900, { status: 'failed', continued: true, dependsOn: ['list'], items: items(16, 200, 4, 1100, (i) => i === 3 || i === 9) }),
      step('urgent', 2, undefined, undefined, { status: 'skipped', skipReason: 'condition' }),
    ]);
    const text = timelineText(t, 80, plain);
    for (const line of text.split('\n')) assert.ok([...line].length <= 80, line);
    const lines = text.split('\n');
    const row = lines.findIndex((l) => l.startsWith('summarize'));
    assert.match(lines[row]!, /^summarize ▕ +[▁▂▃▄▅▆▇█·]+ *▏ 800 ms failed, continued$/);
    assert.match(lines[row]!, /█{10,}/, 'four at once for the whole span: its peak, drawn full');
    assert.equal(lines[row + 1], '           └ 16 items, up to 4 at once, 2 failed ([3] [9]), on the critical path');
    assert.match(text, /^urgent +▕ +▏ skipped · condition false$/m);
    // Wide enough to see: every item a rect of its own, in its lane, failures marked.
    const svg = timelineSvg(t);
    assert.equal(svg.match(/<rect class="item[^"]*" data-step="summarize" data-lane="[0-3]" data-items="1" data-index="\d+"/g)!.length, 16);
    assert.deepEqual([...svg.matchAll(/<rect class="item failed" [^>]*data-index="(\d+)"/g)].map((m) => Number(m[1])), [3, 9]);
    assert.match(svg, /<rect class="bar critical failed continued" data-step="summarize"/);
  });

  it('100,000 items stay one row in text, and about width × lanes rects in SVG', () => {
    const many = items(100_000, 80, 8, 1000, (i) => i % 10_000 === 7);
    const t = buildTimeline({ ...run, finishedAt: 1000 + 1_000_000 }, [step('each', 0, 1000, 1000 + 1_000_000, { items: many })]);
    assert.equal(t.bars[0]!.items!.peak, 8);
    const rows = timelineText(t, 100, plain).split('\n').filter((l) => l.includes('▕'));
    assert.equal(rows.length, 1);
    const svg = timelineSvg(t);
    const rects = svg.match(/<rect class="item/g)!.length;
    assert.ok(rects <= 8 * 760, `${rects} rects`);
    assert.equal(svg.match(/<rect class="item failed"/g)!.length, 10, 'each failed item marked, never hidden by its neighbours');
    assert.match(svg, /<rect class="item failed" data-step="each" data-lane="7" data-items="\d+" x="180\.0" [^>]*><title>each: \d+ items, 1 failed<\/title>/);
    const drawn = [...svg.matchAll(/data-items="(\d+)"/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    assert.equal(drawn, 100_000, 'every item is in some rect');
  });

  it('items a stopped run never started count as not run', () => {
    const t = buildTimeline(run, [step('each', 0, 1000, 1300, { status: 'cancelled', items: items(3, 100, 1, 1000), itemCount: 10 })]);
    assert.deepEqual({ ...t.bars[0]!.items!, bars: undefined }, { total: 10, succeeded: 3, failed: 0, cancelled: 0, notRun: 7, reused: 0, peak: 1, bars: undefined });
    assert.match(timelineText(t, 80, plain), /└ 10 items, up to 1 at once, 7 not run/);
  });

  it('a step recorded without items draws as before', () => {
    const t = buildTimeline(run, [step('a', 0, 1000, 2000)]);
    assert.equal(t.bars[0]!.items, undefined);
    assert.doesNotMatch(timelineSvg(t), /class="item/);
  });
});

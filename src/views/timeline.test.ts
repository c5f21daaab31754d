import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStyle } from '../report/style.ts';
import type { RunRecord, StepRecord } from '../store/types.ts';
import { buildTimeline, timelineHtml, timelineSvg, timelineText } from './timeline.ts';

const run: RunRecord = { id: 'run-1234abcd', workflow: '/w.yaml', workflowHash: 'h', inputs: {}, status: 'succeeded', startedAt: 1000, finishedAt: 1300, pid: 1, host: 'h', stepCount: 5, stepsDone: 5 };
const step = (stepId: string, position: number, startedAt: number | undefined, finishedAt: number | undefined, dependsOn: string[] = [], extra: Partial<StepRecord> = {}): StepRecord => ({
  stepId, position, fingerprint: 'f', dependsOn, status: 'succeeded', reused: false,
  ...(startedAt === undefined ? {} : { startedAt }), ...(finishedAt === undefined ? {} : { finishedAt }), ...extra,
});
const steps = [
  step('read', 0, 1000, 1050),
  step('a', 1, 1050, 1250, ['read']),
  step('b', 2, 1050, 1100, ['read']),
  step('combine', 3, 1250, 1300, ['a', 'b']),
  step('cached', 4, undefined, undefined, [], { reused: true }),
];

describe('timeline', () => {
  it('marks the chain that decided when the run ended', () => {
    const t = buildTimeline(run, steps);
    assert.equal(t.totalMs, 300);
    assert.deepEqual(t.bars.filter((b) => b.critical).map((b) => b.id), ['read', 'a', 'combine']);
    assert.deepEqual(t.bars.find((b) => b.id === 'b'), { id: 'b', status: 'succeeded', start: 50, end: 100, reused: false, critical: false });
  });

  it('ends the path at the step that ended last even when fast steps end in the same millisecond', () => {
    // All but the read take under a millisecond: process1–3 and combine all end at 1010, combine after them.
    const fast = [step('read', 0, 1000, 1009), step('p1', 1, 1009, 1010, ['read']), step('p2', 2, 1009, 1010, ['read']), step('combine', 3, 1010, 1010, ['p1', 'p2'])];
    assert.deepEqual(buildTimeline({ ...run, finishedAt: 1010 }, fast).bars.filter((b) => b.critical).map((b) => b.id), ['read', 'p1', 'combine']);
  });

  it('draws text that fits the width, one row per step', () => {
    const text = timelineText(buildTimeline(run, steps), 80, createStyle({ isTTY: false }, {}));
    const rows = text.split('\n').filter((l) => l.includes('▕'));
    assert.equal(rows.length, 5);
    for (const row of text.split('\n')) assert.ok([...row].length <= 80, row);
    assert.match(rows[1]!, /^a +▕ +█+ +▏ 200 ms$/);
    assert.match(rows[2]!, /^b +▕ +▒+ +▏ 50 ms$/);
    assert.match(rows[4]!, /reused$/);
  });

  it('marks a step answered from the step cache', () => {
    const t = buildTimeline(run, [...steps.slice(0, 4), step('hit', 4, 1000, 1001, [], { cached: true })]);
    assert.equal(t.bars[4]!.cached, true);
    assert.match(timelineText(t, 80, createStyle({ isTTY: false }, {})), /^hit +▕.*▏ 1 ms cached$/m);
    assert.match(timelineSvg(t), /<rect class="bar cached" data-step="hit"/);
  });

  it('renders a self-contained SVG and HTML', () => {
    const svg = timelineSvg(buildTimeline(run, steps));
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.doesNotMatch(svg, /(href|src)=/, 'nothing loaded from elsewhere');
    assert.equal(svg.match(/<rect class="bar/g)?.length, 4);
    assert.equal(svg.match(/<rect class="bar critical"/g)?.length, 3);
    assert.match(timelineHtml(buildTimeline(run, steps)), /^<!doctype html>[\s\S]*<svg[\s\S]*<\/svg>\n<\/body><\/html>\n$/);
  });
});

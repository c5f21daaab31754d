/** Foreach steps, skips and continued failures in the live frame, the plain log and the closing summary. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent } from '../core/events.ts';
import type { RunReport } from '../core/report.ts';
import { renderFrame } from './frame.ts';
import { HEARTBEAT_MS, plainReporter, PRINTED_ITEM_FAILURES } from './plain.ts';
import { RunProgress } from './progress.ts';
import { createStyle } from './style.ts';
import { formatSummary } from './summary.ts';

const plain = createStyle({ isTTY: false }, {});
const colour = createStyle({ isTTY: true }, {});
const strip = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');
const r = 'r';

const start = (stepIds: string[]): RunEvent => ({ type: 'run:start', runId: r, workflow: 'w', stepIds, maxConcurrency: 8, inputs: {}, at: 0 });
const stepStart = (stepId: string, at = 0): RunEvent => ({ type: 'step:start', runId: r, stepId, at });
const items = (stepId: string, count: number, at = 0): RunEvent => ({ type: 'step:items', runId: r, stepId, count, at });
const itemStart = (stepId: string, index: number, at = 0): RunEvent => ({ type: 'item:start', runId: r, stepId, index, at });
const itemEnd = (stepId: string, index: number, status: 'succeeded' | 'failed' | 'cancelled' = 'succeeded', at = 0, extra: Partial<Extract<RunEvent, { type: 'item:end' }>> = {}): RunEvent => ({
  type: 'item:end', runId: r, stepId, index, key: `k${index}`, status, at, ...(status === 'failed' ? { error: `boom ${index}\ndetail` } : {}), ...extra,
});

/** A run of `summarize` over `total` items: `done` ended (those in `failing` failed), `running` more in flight. */
function foreachEvents(total: number, done: number, running: number, failing: Set<number> = new Set()): RunEvent[] {
  const events = [start(['list', 'summarize', 'combine']), stepStart('list'), { type: 'step:end', runId: r, stepId: 'list', status: 'succeeded', at: 10, durationMs: 10 } as RunEvent, stepStart('summarize', 10), items('summarize', total, 10)];
  for (let i = 0; i < done + running; i++) events.push(itemStart('summarize', i, 10));
  for (let i = 0; i < done; i++) events.push(itemEnd('summarize', i, failing.has(i) ? 'failed' : 'succeeded', 20 + i));
  return events;
}

describe('a foreach step in the live frame', () => {
  it('is one line with items done, running and failed, updated from item events', () => {
    const p = new RunProgress();
    for (const e of foreachEvents(100, 37, 4, new Set([3, 17]))) p.apply(e);
    const lines = renderFrame(p, { width: 100, height: 24, now: 1210, style: plain });
    assert.equal(lines.length, 4, 'three steps and the summary: no line per item');
    assert.match(lines[1]!, /^ {2}\S summarize {2}▸ 37\/100 items · 4 running · 2 failed · 1\.20 s$/);
    assert.match(lines[3]!, /1 succeeded, 1 running, 1 waiting · 37\/100 items$/);
  });

  it('ends as one line: items and time, its reused items, or how many items failed', () => {
    const p = new RunProgress();
    for (const e of foreachEvents(3, 0, 0)) p.apply(e);
    p.apply(itemEnd('summarize', 0, 'succeeded', 20, { reused: true }));
    p.apply(itemStart('summarize', 1));
    p.apply(itemStart('summarize', 2));
    p.apply(itemEnd('summarize', 1));
    assert.equal(p.steps[1]!.items!.running, 1, 'a reused item never held a slot');
    p.apply(itemEnd('summarize', 2));
    p.apply({ type: 'step:end', runId: r, stepId: 'summarize', status: 'succeeded', at: 40, durationMs: 30, items: [0, 1, 2].map((index) => ({ index, status: 'succeeded', attempts: 1 })) });
    assert.match(renderFrame(p, { width: 100, height: 24, now: 50, style: plain })[1]!, /^ {2}✓ summarize {2}3 items \(1 reused\) · 30 ms$/);
  });

  it('a continued failure has its own mark and colour; a fatal one stays red ✗', () => {
    const p = new RunProgress();
    p.apply(start(['fetch', 'summarize', 'boom']));
    p.apply({ type: 'step:end', runId: r, stepId: 'fetch', status: 'failed', at: 5, error: 'HTTP 500: boom\nbody', continued: true });
    p.apply(items('summarize', 100));
    p.apply({
      type: 'step:end', runId: r, stepId: 'summarize', status: 'failed', at: 9, continued: true,
      items: Array.from({ length: 100 }, (_, index) => ({ index, status: index % 40 === 3 ? 'failed' : 'succeeded', attempts: 1 })),
    });
    p.apply({ type: 'step:end', runId: r, stepId: 'boom', status: 'failed', at: 9, error: 'timeout' });
    const lines = renderFrame(p, { width: 100, height: 24, now: 10, style: colour });
    assert.equal(strip(lines[0]!), '  ! fetch      continued · HTTP 500: boom');
    assert.equal(strip(lines[1]!), '  ! summarize  continued · 3 of 100 items failed');
    assert.equal(strip(lines[2]!), '  ✗ boom       timeout');
    assert.match(lines[0]!, /\u001b\[33m!/, 'yellow');
    assert.match(lines[2]!, /\u001b\[31m✗/, 'red');
    assert.match(strip(lines[3]!), /3 failed \(2 continued\)/);
  });

  it('a skipped step shows its reason', () => {
    const p = new RunProgress();
    p.apply(start(['urgent', 'notify', 'old']));
    p.apply({ type: 'step:end', runId: r, stepId: 'urgent', status: 'skipped', skipReason: 'condition', at: 1 });
    p.apply({ type: 'step:end', runId: r, stepId: 'notify', status: 'skipped', skipReason: 'upstream_failed', at: 1 });
    p.apply({ type: 'step:end', runId: r, stepId: 'old', status: 'skipped', at: 1 });
    const lines = renderFrame(p, { width: 80, height: 24, now: 2, style: plain });
    assert.deepEqual(lines.slice(0, 3), ['  − urgent  skipped · condition false', '  − notify  skipped · a dependency failed', '  − old     skipped']);
  });

  it('100,000 items: counters, not records; the frame stays one line for the step', () => {
    const p = new RunProgress();
    for (const e of foreachEvents(100_000, 0, 0)) p.apply(e);
    for (let i = 0; i < 100_000; i++) {
      p.apply(itemStart('summarize', i));
      p.apply(itemEnd('summarize', i, i % 1000 === 0 ? 'failed' : 'succeeded'));
    }
    const step = p.steps[1]!;
    assert.deepEqual({ ...step.items, errors: step.items!.errors.length }, { total: 100_000, done: 100_000, running: 0, succeeded: 99_900, failed: 100, cancelled: 0, reused: 0, cached: 0, errors: 3 });
    assert.match(renderFrame(p, { width: 100, height: 24, now: 5000, style: plain })[1]!, /▸ 100,000\/100,000 items · 100 failed/);
  });
});

describe('a foreach step in the plain log', () => {
  const log = (events: RunEvent[]) => {
    let out = '';
    const report = plainReporter((t) => (out += t), plain);
    for (const e of events) report(e);
    return out.split('\n').filter(Boolean);
  };

  it('prints its item count, each failed item, a line per tenth of the items, and one closing line', () => {
    const events = foreachEvents(100, 100, 0, new Set([3, 57]));
    events.push({ type: 'step:end', runId: r, stepId: 'summarize', status: 'failed', continued: true, at: 200, durationMs: 190, items: Array.from({ length: 100 }, (_, index) => ({ index, status: index === 3 || index === 57 ? 'failed' : 'succeeded', attempts: 1 })) });
    const lines = log(events);
    assert.deepEqual(lines.filter((l) => l.includes('summarize')), [
      '  ▶ summarize started',
      '  ▸ summarize 100 items',
      '  ✗ summarize[3] failed: boom 3',
      '  ▸ summarize 10/100 items · 90 running · 1 failed',
      '  ▸ summarize 20/100 items · 80 running · 1 failed',
      '  ▸ summarize 30/100 items · 70 running · 1 failed',
      '  ▸ summarize 40/100 items · 60 running · 1 failed',
      '  ▸ summarize 50/100 items · 50 running · 1 failed',
      '  ✗ summarize[57] failed: boom 57',
      '  ▸ summarize 60/100 items · 40 running · 2 failed',
      '  ▸ summarize 70/100 items · 30 running · 2 failed',
      '  ▸ summarize 80/100 items · 20 running · 2 failed',
      '  ▸ summarize 90/100 items · 10 running · 2 failed',
      '  ! summarize failed in 190 ms, continued: 2 of 100 items failed',
    ]);
  });

  it('never floods: 10,000 items, 500 of them failing, print a few dozen lines', () => {
    const failing = new Set(Array.from({ length: 500 }, (_, k) => k * 20));
    const lines = log(foreachEvents(10_000, 10_000, 0, failing));
    assert.equal(lines.filter((l) => /summarize\[\d+\] failed/.test(l)).length, PRINTED_ITEM_FAILURES);
    assert.equal(lines.filter((l) => l.includes('more items failed')).length, 1);
    assert.equal(lines.filter((l) => l.startsWith('  ▸ summarize') && l.includes('/')).length, 9);
    assert.ok(lines.length < 40, `${lines.length} lines`);
  });

  it('a step of a few items prints no tenths: they would be a line per item', () => {
    const lines = log(foreachEvents(8, 8, 0, new Set([2])));
    assert.deepEqual(lines.filter((l) => l.includes('summarize')), ['  ▶ summarize started', '  ▸ summarize 8 items', '  ✗ summarize[2] failed: boom 2']);
  });

  it('a long step says how far it got when it has printed nothing for a minute of the run’s own time', () => {
    // 1,000 items, one every 25 s of event time: a tenth takes 100 items, so the heartbeat decides.
    const events: RunEvent[] = [start(['slow']), stepStart('slow'), items('slow', 1000)];
    for (let i = 0; i < 6; i++) events.push(itemStart('slow', i), itemEnd('slow', i, 'succeeded', (i + 1) * 25_000));
    const lines = log(events).filter((l) => l.includes('/1,000'));
    assert.deepEqual(lines, ['  ▸ slow 3/1,000 items', '  ▸ slow 6/1,000 items'], `every ${HEARTBEAT_MS} ms of event time, not of the clock`);
  });

  it('says why a step was skipped, and marks a continued failure apart from a fatal one', () => {
    const lines = log([
      start(['a', 'b', 'c', 'd']),
      { type: 'step:end', runId: r, stepId: 'a', status: 'failed', continued: true, error: 'HTTP 500', at: 1, durationMs: 3 },
      { type: 'step:end', runId: r, stepId: 'b', status: 'skipped', skipReason: 'condition', at: 1 },
      { type: 'step:end', runId: r, stepId: 'c', status: 'failed', error: 'HTTP 404', at: 1, durationMs: 3 },
      { type: 'step:end', runId: r, stepId: 'd', status: 'not_run', at: 1 },
    ]);
    assert.deepEqual(lines.slice(1), ['  ! a failed in 3 ms, continued: HTTP 500', '  − b skipped: condition false', '  ✗ c failed in 3 ms: HTTP 404', '  ⊘ d not run']);
  });
});

describe('the closing summary', () => {
  const report = (extra: Partial<RunReport>, steps: RunReport['steps']): RunReport => ({
    runId: 'r', workflow: 'w', status: 'succeeded', startedAt: '', finishedAt: '', durationMs: 3200, steps, outputs: {}, usage: {}, cost: { usd: 0, byModel: {} }, ...extra,
  });

  it('a run with continued failures succeeds, and lists them: errors, and a foreach step’s failed items by index', () => {
    const items = Array.from({ length: 100 }, (_, index) => ({ index, status: [3, 17, 42, 90].includes(index) ? ('failed' as const) : ('succeeded' as const), attempts: 1, ...([3, 17, 42, 90].includes(index) ? { error: `HTTP 500 at ${index}\nbody` } : {}) }));
    const text = formatSummary(
      report({ continued: ['fetch', 'summarize'] }, {
        fetch: { status: 'failed', output: undefined, error: 'HTTP 500: boom', continued: true },
        summarize: { status: 'failed', output: [], continued: true, items },
        combine: { status: 'succeeded', output: 'x' },
        urgent: { status: 'skipped', output: undefined, skipReason: 'condition' },
        fallback: { status: 'skipped', output: undefined, skipReason: 'condition' },
        notify: { status: 'skipped', output: undefined, skipReason: 'upstream_failed' },
      }),
      plain,
    );
    assert.equal(
      text,
      [
        '✓ succeeded in 3.20 s (1 succeeded, 2 failed and continued, 3 skipped)',
        '  ! continued after failure: fetch, summarize',
        '    fetch: HTTP 500: boom',
        '    summarize: 4 of 100 items failed',
        '      [3] HTTP 500 at 3',
        '      [17] HTTP 500 at 17',
        '      [42] HTTP 500 at 42',
        '      … and 1 more',
        '  − skipped (condition false): urgent, fallback',
        '  − skipped (a dependency failed): notify',
        '',
      ].join('\n'),
    );
    assert.match(formatSummary(report({ continued: ['fetch'] }, { fetch: { status: 'failed', output: undefined, error: 'x', continued: true } }), colour), /^\u001b\[32m✓ succeeded/, 'green: it is a success');
  });

  it('a failed run lists only the skips its conditions chose: the rest follow from the failure', () => {
    const text = formatSummary(
      report({ status: 'failed', error: 'step `a` failed: HTTP 404' }, {
        a: { status: 'failed', output: undefined, error: 'HTTP 404' },
        b: { status: 'skipped', output: undefined, skipReason: 'upstream_failed' },
        c: { status: 'skipped', output: undefined, skipReason: 'condition' },
      }),
      plain,
    );
    assert.equal(text, '✗ failed in 3.20 s (1 failed, 2 skipped)\n  step `a` failed: HTTP 404\n  − skipped (condition false): c\n');
  });
});

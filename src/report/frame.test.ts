import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStyle } from './style.ts';
import type { RunEvent } from '../core/events.ts';
import { renderFrame } from './frame.ts';
import { RunProgress } from './progress.ts';

const plain = createStyle({ isTTY: false }, {});
const colour = createStyle({ isTTY: true }, {});
const visible = (s: string) => [...s.replace(/\u001b\[[0-9;]*m/g, '')].length;

function progress(n: number, running: number, failed = 0): RunProgress {
  const p = new RunProgress();
  const ids = Array.from({ length: n }, (_, i) => `step_${i}`);
  const events: RunEvent[] = [{ type: 'run:start', runId: 'r', workflow: 'w', stepIds: ids, maxConcurrency: 10, inputs: {}, at: 0 }];
  ids.slice(0, running + failed + 5).forEach((id, i) => events.push({ type: 'step:start', runId: 'r', stepId: id, at: 100 + i }));
  ids.slice(running, running + 5).forEach((id) => events.push({ type: 'step:end', runId: 'r', stepId: id, status: 'succeeded', at: 900, durationMs: 800, usage: { model: 'openai:m', inputTokens: 100, outputTokens: 150 } }));
  ids.slice(running + 5, running + 5 + failed).forEach((id) => events.push({ type: 'step:end', runId: 'r', stepId: id, status: 'failed', at: 900, error: 'HTTP 500: boom\nmore' }));
  events.push({ type: 'step:notice', runId: 'r', stepId: ids[0]!, notice: { type: 'waiting', reason: 'rate limited (429)', untilMs: 3000 }, at: 950 });
  for (const e of events) p.apply(e);
  return p;
}

describe('the live frame', () => {
  it('shows every step when they fit, and a summary with counts, tokens and rate-limit waits', () => {
    const lines = renderFrame(progress(8, 2), { width: 80, height: 24, now: 1000, style: plain });
    assert.equal(lines.length, 9);
    assert.match(lines[0]!, /^ {2}\S step_0 +900 ms · rate limited \(429\), 2\.00 s left$/);
    assert.match(lines[2]!, /^ {2}✓ step_2 +800 ms$/);
    assert.equal(lines[8], '1.00 s · 5 succeeded, 2 running, 1 waiting · 1.3k tokens · 1 rate-limited');
  });

  it('stays compact at 500 steps: failures and running steps, then counts, within the terminal', () => {
    for (const [width, height] of [[80, 24], [40, 10], [200, 50]] as const) {
      const lines = renderFrame(progress(500, 30, 2), { width, height, now: 1000, style: colour });
      assert.ok(lines.length <= height - 1, `${lines.length} lines for ${height} rows`);
      for (const line of lines) assert.ok(visible(line) <= width, `too wide for ${width}: ${line}`);
      assert.match(lines[0]!.replace(/\u001b\[[0-9;]*m/g, ''), /✗ step_35/);
      // 2 failed + 30 running: those that do not fit are counted on one line.
      if (height < 34) assert.match(lines.at(-2)!.replace(/\u001b\[[0-9;]*m/g, ''), /… and \d+ more running/);
      else assert.equal(lines.length, 33);
      if (width >= 80) assert.match(lines.at(-1)!.replace(/\u001b\[[0-9;]*m/g, ''), /5 succeeded, 2 failed, 30 running, 463 waiting/);
    }
  });

  it('writes no escape codes without colour', () => {
    for (const line of renderFrame(progress(500, 30, 2), { width: 80, height: 24, now: 1000, style: plain })) assert.doesNotMatch(line, /\u001b/);
  });
});

describe('cost in the live frame', () => {
  it('shows each step\'s cost, the run\'s, and each model\'s when there are several; "—" for a model with no price', () => {
    const p = new RunProgress();
    const events: RunEvent[] = [
      { type: 'run:start', runId: 'r', workflow: 'w', stepIds: ['a', 'b', 'c', 'd'], maxConcurrency: 10, inputs: {}, at: 0 },
      { type: 'step:end', runId: 'r', stepId: 'a', status: 'succeeded', at: 500, durationMs: 500, usage: { model: 'openai:x', inputTokens: 1000, outputTokens: 300 }, costUsd: 0.004 },
      { type: 'step:end', runId: 'r', stepId: 'b', status: 'succeeded', at: 500, durationMs: 500, usage: { model: 'openai:x', inputTokens: 1000, outputTokens: 300 }, costUsd: 0.004 },
      { type: 'step:end', runId: 'r', stepId: 'c', status: 'succeeded', at: 500, durationMs: 0, cached: true },
    ];
    for (const e of events) p.apply(e);
    let lines = renderFrame(p, { width: 120, height: 24, now: 1000, style: plain });
    assert.match(lines[0]!, /✓ a +500 ms · \$0\.0040$/);
    assert.match(lines[2]!, /✓ c +cached$/);
    assert.equal(lines.at(-1), '1.00 s · 3 succeeded, 1 waiting · 2.6k tokens · $0.0080');
    p.apply({ type: 'step:end', runId: 'r', stepId: 'd', status: 'succeeded', at: 900, durationMs: 400, usage: { model: 'ollama:y', inputTokens: 10, outputTokens: 10 }, costUsd: null });
    lines = renderFrame(p, { width: 120, height: 24, now: 1000, style: plain });
    assert.match(lines[3]!, /✓ d +400 ms · —$/);
    assert.equal(lines.at(-1), '1.00 s · 4 succeeded · 2.6k tokens · — (openai:x $0.0080, ollama:y —)');
  });

  it('adds up a foreach step\'s items as they end, cached ones counted', () => {
    const p = new RunProgress();
    p.apply({ type: 'run:start', runId: 'r', workflow: 'w', stepIds: ['f'], maxConcurrency: 10, inputs: {}, at: 0 });
    p.apply({ type: 'step:start', runId: 'r', stepId: 'f', at: 0 });
    p.apply({ type: 'step:items', runId: 'r', stepId: 'f', count: 3, at: 0 });
    for (const index of [0, 1]) p.apply({ type: 'item:end', runId: 'r', stepId: 'f', index, key: 'k', status: 'succeeded', at: 100, usage: { model: 'openai:x', inputTokens: 1, outputTokens: 1 }, costUsd: 0.002 });
    p.apply({ type: 'item:end', runId: 'r', stepId: 'f', index: 2, key: 'k', status: 'succeeded', at: 100, cached: true });
    const lines = renderFrame(p, { width: 120, height: 24, now: 1000, style: plain });
    assert.match(lines[0]!, /f +▸ 3\/3 items · 1 cached · \$0\.0040 · 1\.00 s$/);
    assert.match(lines.at(-1)!, / · \$0\.0040$/);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunReport } from '../core/report.ts';
import { formatUsd } from './progress.ts';
import { createStyle } from './style.ts';
import { formatFailure, formatSummary } from './summary.ts';

const plain = createStyle({ isTTY: false }, {});
const report = (extra: Partial<RunReport>): RunReport => ({
  runId: 'r',
  workflow: 'w.yaml',
  status: 'succeeded',
  startedAt: '',
  finishedAt: '',
  durationMs: 1200,
  steps: { a: { status: 'succeeded', output: 1 } },
  outputs: {},
  usage: {},
  cost: { usd: 0, byModel: {} },
  ...extra,
});

describe('the closing summary', () => {
  it('says what the run cost, by model, and what the cache saved', () => {
    const text = formatSummary(report({ cost: { usd: 0.0123, byModel: { 'openai:gpt-4o-mini': 0.01, 'anthropic:claude': 0.0023 } }, cache: { hits: 38, savedUsd: 0.42, savedTokens: 100 } }), plain);
    assert.equal(text, '✓ succeeded in 1.20 s (1 succeeded)\n  cost: $0.0123 (openai:gpt-4o-mini $0.0100, anthropic:claude $0.0023)\n  cache: 38 hits, saved ~$0.4200\n');
  });

  it('shows a model with no price as "—", never $0, and says nothing of money for a run that spent none', () => {
    assert.match(formatSummary(report({ cost: { usd: null, byModel: { 'openai:a': 0.5, 'ollama:b': null } } }), plain), /^ {2}cost: — \(openai:a \$0\.5000, ollama:b —\)$/m);
    assert.doesNotMatch(formatSummary(report({ cost: { usd: 0, byModel: { echo: 0 } } }), plain), /cost/);
    assert.match(formatSummary(report({ cache: { hits: 1, savedUsd: null, savedTokens: 1234 } }), plain), /^ {2}cache: 1 hit, saved 1,234 tokens$/m);
  });

  it('gives a run the budget stopped its own line, what it spent, and how to go on', () => {
    const stopped = report({
      status: 'budget_exceeded',
      steps: { a: { status: 'succeeded', output: 1 }, b: { status: 'not_run', output: null } },
      cost: { usd: 0.008, byModel: { 'openai:m': 0.008 } },
      budget: { usd: 0.01, spentUsd: 0.008, spentTokens: 2600 },
      error: 'the budget stopped the run ($0.0080 spent of $0.01)',
      hint: 'resume it with a larger budget',
    });
    assert.equal(formatSummary(stopped, plain), '$ budget exceeded in 1.20 s (1 succeeded, 1 not run)\n  the budget stopped the run ($0.0080 spent of $0.01)\n  hint: resume it with a larger budget\n  docs: docs/cost-and-cache.md#when-the-budget-stops-a-run\n  cost: $0.0080 (openai:m $0.0080)\n');
    assert.match(formatFailure(stopped, plain), /^budget exceeded: the budget stopped the run/);
  });

  it('rounds dollars for display only', () => {
    assert.deepEqual([0, 0.00004, 0.0001, 0.012345, 0.99996, 1234.5, null].map(formatUsd), ['$0.00', '<$0.0001', '$0.0001', '$0.0123', '$1.00', '$1,234.50', '—']);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelPrices } from '../cost/prices.ts';
import { workflow } from '../../test/support/workflow.ts';
import { describePlan, planText } from './plan.ts';

const pricing = new ModelPrices({ given: { 'openai:a': { input: 1, output: 10 }, 'openai:b': { input: 2, output: 20 } }, table: false });
const spec = workflow(`steps:
  - id: a
    llm: { model: openai:a, prompt: x }
  - id: b
    llm: { model: openai:b, prompt: y }
  - id: each
    foreach: [1, 2, 3, 4]
    llm: { model: openai:a, prompt: "z \${item}" }
  - id: new
    llm: { model: openai:a, prompt: w }
`);
const durations = { a: 10, b: 10, each: 10, new: 10 };

describe('plan: expected cost', () => {
  it('prices the tokens earlier runs used at today\'s prices, by model, and the calls it has not seen at the median per call', () => {
    // a: $0.004, b: $0.008, each (4 calls): $0.016 → $0.004 a call; new (no record): the median, $0.004.
    const usage = { a: { model: 'openai:a', inputTokens: 1000, outputTokens: 300 }, b: { model: 'openai:b', inputTokens: 1000, outputTokens: 300 }, each: { model: 'openai:a', inputTokens: 4000, outputTokens: 1200 } };
    const view = describePlan(spec, 10, { durations, usage, pricing });
    assert.deepEqual(view.expected!.cost!.byModel, { 'openai:a': 0.02, 'openai:b': 0.008 });
    assert.ok(Math.abs(view.expected!.cost!.usd! - 0.032) < 1e-12);
    assert.match(planText(view, 'w.yaml'), /^Expected tokens: .*\nExpected cost: about \$0\.0320 \(openai:a \$0\.0200, openai:b \$0\.0080\), at today's prices$/m);
  });

  it('says which model has no price rather than a smaller sum', () => {
    const usage = { a: { model: 'openai:a', inputTokens: 1000, outputTokens: 300 }, b: { model: 'openai:unpriced', inputTokens: 1000, outputTokens: 300 } };
    const view = describePlan(spec, 10, { durations, usage, pricing });
    assert.equal(view.expected!.cost!.usd, null);
    assert.match(planText(view, 'w.yaml'), /^Expected cost: — \(openai:unpriced has no price\)$/m);
  });

  it('says nothing of cost without prices or without a record of tokens', () => {
    assert.equal(describePlan(spec, 10, { durations, usage: { a: { model: 'openai:a', inputTokens: 1, outputTokens: 1 } } }).expected!.cost, undefined);
    assert.equal(describePlan(spec, 10, { durations, pricing }).expected!.cost, undefined);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConductorError } from '../core/errors.ts';
import { RunBudget } from './budget.ts';
import { ModelPrices } from './prices.ts';

// $1 per million input tokens, $10 per million output: 1000 in + 300 out is $0.004.
const pricing = new ModelPrices({ given: { 'p:m': { input: 1, output: 10 } }, table: false });
const call = { model: 'p:m', inputTokens: 1000, outputTokens: 300 };
const used = { model: 'p:m', inputTokens: 1000, outputTokens: 300 };

describe('the budget', () => {
  it('holds each call\'s worst case and refuses the one that would pass the limit: $0.01 allows two calls of $0.004', async () => {
    const budget = new RunBudget({ usd: 0.01 }, pricing);
    const first = await budget.reserve(call);
    assert.ok(first);
    budget.settle(first, used);
    const second = await budget.reserve(call);
    assert.ok(second);
    budget.settle(second, used);
    assert.equal(await budget.reserve(call), undefined);
    assert.equal(budget.exceeded, false, 'refused before it was spent: never crossed');
    assert.deepEqual(budget.report(), { usd: 0.01, spentUsd: 0.008, spentTokens: 2600 });
    // Closed: a smaller call that would fit is refused too (nothing new starts once the budget stopped the run).
    assert.equal(await budget.reserve({ model: 'p:m', inputTokens: 1, outputTokens: 1 }), undefined);
  });

  it('fits exactly at the limit, whatever floating point makes of the sum', async () => {
    const budget = new RunBudget({ usd: 0.01 }, pricing);
    for (const c of [call, call, { model: 'p:m', inputTokens: 1000, outputTokens: 100 }]) {
      const r = await budget.reserve(c);
      assert.ok(r, 'fits');
      budget.settle(r, c);
    }
    assert.equal(budget.exceeded, false);
  });

  it('without maxTokens reserves only the prompt, and says when a real answer crossed the limit', async () => {
    const budget = new RunBudget({ usd: 0.01 }, pricing);
    const prompt = { model: 'p:m', inputTokens: 1000 };
    for (let i = 0; i < 2; i++) budget.settle((await budget.reserve(prompt))!, used);
    const third = await budget.reserve(prompt);
    assert.ok(third, '$0.008 + $0.001 fits');
    budget.settle(third, used);
    assert.equal(budget.exceeded, true);
    assert.ok(Math.abs(budget.report().spentUsd - 0.012) < 1e-12);
    assert.equal(await budget.reserve(prompt), undefined);
  });

  it('makes a call that does not fit beside calls in flight wait for them, and decides by what they really spent', async () => {
    // Worst case $0.006 (a 3000-token prompt), real $0.004: two fit in $0.0105 one after the other.
    const budget = new RunBudget({ usd: 0.0105 }, pricing);
    const big = { model: 'p:m', inputTokens: 3000, outputTokens: 300 };
    const a = (await budget.reserve(big))!;
    let b: unknown = 'pending';
    const waiting = budget.reserve(big).then((r) => (b = r));
    await Promise.resolve();
    assert.equal(b, 'pending', '$0.006 + $0.006 does not fit: it waits');
    budget.settle(a, used);
    await waiting;
    assert.ok(b, '$0.004 spent + $0.006 fits once the first settled');
    // A third waits for the second, then is refused: with nothing in flight, $0.008 + $0.006 never fits.
    const third = budget.reserve(big);
    budget.settle(b as never, used);
    assert.equal(await third, undefined);
    assert.equal(budget.exceeded, false);
  });

  it('lets waiting calls go in the order they asked, and refuses them all once the first never fits', async () => {
    const budget = new RunBudget({ usd: 0.01 }, pricing);
    const held = (await budget.reserve({ model: 'p:m', inputTokens: 1000, outputTokens: 800 }))!; // $0.009
    const order: string[] = [];
    const big = budget.reserve({ model: 'p:m', inputTokens: 1000, outputTokens: 900 }).then((r) => order.push(`big ${r ? 'held' : 'refused'}`)); // $0.01
    const small = budget.reserve({ model: 'p:m', inputTokens: 10, outputTokens: 0 }).then((r) => order.push(`small ${r ? 'held' : 'refused'}`));
    budget.settle(held, { model: 'p:m', inputTokens: 1000, outputTokens: 200 }); // $0.003 spent: big needs $0.01
    await Promise.all([big, small]);
    assert.deepEqual(order, ['big refused', 'small refused']);
  });

  it('stops waiting when the run is cancelled', async () => {
    const budget = new RunBudget({ tokens: 1000 }, pricing);
    const held = (await budget.reserve({ model: 'p:m', inputTokens: 900 }))!;
    const controller = new AbortController();
    const waiting = budget.reserve({ model: 'p:m', inputTokens: 900 }, controller.signal);
    controller.abort();
    assert.equal(await waiting, undefined);
    budget.settle(held, { model: 'p:m', inputTokens: 100, outputTokens: 0 });
    assert.ok(await budget.reserve({ model: 'p:m', inputTokens: 900 }), 'the budget is not closed by a cancelled wait');
  });

  it('counts tokens against a token budget, with or without prices', async () => {
    const budget = new RunBudget({ tokens: 2000 }, new ModelPrices({ table: false }));
    const r = (await budget.reserve({ model: 'x:unpriced', inputTokens: 800, outputTokens: 200 }))!;
    budget.settle(r, { model: 'x:unpriced', inputTokens: 700, outputTokens: 150 });
    assert.ok(await budget.reserve({ model: 'x:unpriced', inputTokens: 900, outputTokens: 200 }), '850 + 1100 ≤ 2000');
    assert.equal(budget.report().spentTokens, 850);
  });

  it('refuses a model with no price under a budget in dollars, with what to do', async () => {
    const budget = new RunBudget({ usd: 1 }, new ModelPrices({ table: false }));
    await assert.rejects(budget.reserve({ model: 'ollama:llama3.2', inputTokens: 10 }), (error: ConductorError) => {
      assert.equal(error.code, 'no_price');
      assert.match(error.hint!, /ollama:llama3\.2: \{ input: …, output: … \}/);
      return true;
    });
  });

  it('lets echo through for nothing: it is no model', async () => {
    const budget = new RunBudget({ usd: 0.000001, tokens: 1 }, new ModelPrices({ table: false }));
    const r = await budget.reserve({ model: 'echo', inputTokens: 5000, outputTokens: 100 });
    assert.ok(r);
    budget.settle(r, { model: 'echo', inputTokens: 0, outputTokens: 0 });
    assert.equal(budget.exceeded, false);
  });

  it('refuses limits that are not positive numbers', () => {
    assert.throws(() => new RunBudget({ usd: 0 }, pricing), /budget's `usd` to be a number > 0, got `0`/);
    assert.throws(() => new RunBudget({ tokens: Number.NaN }, pricing), /`tokens`/);
  });
});

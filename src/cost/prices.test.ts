import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { ModelPrices } from './prices.ts';

const { calcPrice } = createRequire(import.meta.url)('@pydantic/genai-prices') as typeof import('@pydantic/genai-prices');

describe('model prices', () => {
  it('price the tokens at the given prices per million, to far below the cent', () => {
    const prices = new ModelPrices({ given: { 'openai:m': { input: 0.15, output: 0.6 } }, table: false });
    assert.equal(prices.costOf({ model: 'openai:m', inputTokens: 1_000_000, outputTokens: 0 }), 0.15);
    const usd = prices.costOf({ model: 'openai:m', inputTokens: 1234, outputTokens: 567 })!;
    assert.ok(Math.abs(usd - (1234 * 0.15 + 567 * 0.6) / 1e6) < 1e-15);
    // A thousand calls add up to a thousand times one, to the cent.
    let total = 0;
    for (let i = 0; i < 1000; i++) total += prices.costOf({ model: 'openai:m', inputTokens: 1000, outputTokens: 300 })!;
    assert.equal(total.toFixed(2), (1000 * (1000 * 0.15 + 300 * 0.6) / 1e6).toFixed(2));
  });

  it('price cached input tokens at cachedInput, else as input', () => {
    const prices = new ModelPrices({ given: { 'a:x': { input: 2, output: 8, cachedInput: 0.5 }, 'a:y': { input: 2, output: 8 } }, table: false });
    assert.equal(prices.costOf({ model: 'a:x', inputTokens: 1_000_000, outputTokens: 0, cachedInputTokens: 400_000 }), 1.2 + 0.2);
    assert.equal(prices.costOf({ model: 'a:y', inputTokens: 1_000_000, outputTokens: 0, cachedInputTokens: 400_000 }), 2);
  });

  it('a model with no price costs null, never 0; echo costs exactly 0; ollama has no price unless given', () => {
    const prices = new ModelPrices();
    assert.equal(prices.costOf({ model: 'openai:no-such-model-here', inputTokens: 10, outputTokens: 10 }), null);
    assert.equal(prices.costOf({ model: 'ollama:llama3.2', inputTokens: 10, outputTokens: 10 }), null);
    assert.equal(prices.costOf({ inputTokens: 10, outputTokens: 10 }), null, 'no model named');
    assert.equal(prices.costOf({ model: 'echo', inputTokens: 10, outputTokens: 10 }), 0);
    assert.equal(prices.has('ollama:llama3.2'), false);
    const given = new ModelPrices({ given: { 'ollama:llama3.2': { input: 0, output: 0 } } });
    assert.equal(given.costOf({ model: 'ollama:llama3.2', inputTokens: 10, outputTokens: 10 }), 0);
  });

  it('take OpenAI and Anthropic models from the genai-prices table, as it prices them', () => {
    const prices = new ModelPrices();
    const usage = { inputTokens: 12_345, outputTokens: 678, cachedInputTokens: 1000 };
    for (const [provider, model] of [['openai', 'gpt-4o-mini'], ['anthropic', 'claude-sonnet-4-5'], ['anthropic', 'claude-3-5-haiku-latest']] as const) {
      const expected = calcPrice({ input_tokens: usage.inputTokens, output_tokens: usage.outputTokens, cache_read_tokens: usage.cachedInputTokens }, model, { providerId: provider })!.total_price;
      const usd = prices.costOf({ model: `${provider}:${model}`, ...usage })!;
      assert.ok(Math.abs(usd - expected) < 1e-12, `${provider}:${model}: ${usd} ≠ ${expected}`);
    }
  });

  it('let given prices win over the table', () => {
    const prices = new ModelPrices({ given: { 'openai:gpt-4o-mini': { input: 1, output: 1 } } });
    assert.equal(prices.costOf({ model: 'openai:gpt-4o-mini', inputTokens: 1_000_000, outputTokens: 1_000_000 }), 2);
  });
});

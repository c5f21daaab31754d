/**
 * The store contract's step cache: entries by key, hits counted, the reader's age limit, stats by action, clearing.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { ContractSuite } from './contract-support.ts';

export function cacheContract({ it, session }: ContractSuite): void {
  describe('the step cache', () => {
    it('gives back what was kept, as it was, and counts each hit', async (t) => {
      const { store } = await session(t);
      const cache = store.cache!;
      const usage = { model: 'openai:m', inputTokens: 10, outputTokens: 5 };
      await cache.put('llm:a', { action: 'llm', output: { answer: [1, 'two', null] }, properties: { model: 'openai:m' }, usage, costUsd: 0.002 });
      await cache.put('http:b', { action: 'http', output: null });
      await cache.put('file:c', { action: 'file', output: undefined });
      assert.deepEqual(await cache.take('llm:a', 0), { action: 'llm', output: { answer: [1, 'two', null] }, properties: { model: 'openai:m' }, usage, costUsd: 0.002 });
      assert.deepEqual(await cache.take('http:b', 0), { action: 'http', output: null });
      assert.deepEqual(await cache.take('file:c', 0), { action: 'file', output: undefined });
      assert.equal(await cache.take('llm:none', 0), undefined);
      await cache.take('llm:a', 0);
      const llm = (await cache.stats()).find((s) => s.action === 'llm')!;
      assert.equal(llm.hits, 2);
      assert.ok(llm.lastHitAt! >= Date.now() - 60_000);
    });

    it('finds only an entry made at or after the reader\'s limit; `has` looks without counting a hit; put replaces, keeping the hits', async (t) => {
      const { store } = await session(t);
      const cache = store.cache!;
      const before = Date.now();
      await cache.put('llm:k', { action: 'llm', output: 'kept' });
      const after = Date.now();
      assert.equal(await cache.has('llm:k', after + 60_000), false);
      assert.equal(await cache.take('llm:k', after + 60_000), undefined, 'made before the limit');
      assert.equal(await cache.has('llm:k', before), true);
      assert.equal(await cache.has('llm:missing', 0), false);
      assert.equal((await cache.stats())[0]!.hits, 0, 'has() is not a hit');
      assert.equal((await cache.take('llm:k', before))?.output, 'kept');
      assert.equal((await cache.take('llm:k', 0))?.output, 'kept');
      await cache.put('llm:k', { action: 'llm', output: 'new' });
      assert.equal((await cache.take('llm:k', after))?.output, 'new', 'made again: it counts from now');
      const [stats] = await cache.stats();
      assert.equal(stats!.hits, 3, 'the hits the old one saved stay counted');
      assert.equal(stats!.entries, 1);
    });

    it('sums entries, bytes, hits and savings by action, most entries first; a hit whose model has no price makes the saving unknown', async (t) => {
      const { store } = await session(t);
      const cache = store.cache!;
      const usage = { model: 'openai:m', inputTokens: 100, outputTokens: 20 };
      const before = Date.now();
      await cache.put('llm:1', { action: 'llm', output: 'abc', usage, costUsd: 0.25 });
      await cache.put('llm:2', { action: 'llm', output: 'é', usage, costUsd: 0.5 });
      await cache.put('http:1', { action: 'http', output: { ok: true }, properties: { status: 200 } });
      const after = Date.now();
      for (let k = 0; k < 3; k++) await cache.take('llm:1', 0);
      await cache.take('llm:2', 0);
      await cache.take('http:1', 0);
      const [llm, http] = await cache.stats();
      const { lastHitAt, oldest, newest, ...rest } = llm!;
      // Bytes of the JSON text: "é" is two bytes of UTF-8.
      assert.deepEqual(rest, { action: 'llm', entries: 2, bytes: '"abc"'.length + '"é"'.length + 1, hits: 4, savedUsd: 1.25, savedTokens: 480 });
      assert.ok(before <= oldest && oldest <= newest && newest <= after);
      assert.ok(lastHitAt! >= newest);
      assert.deepEqual([http!.action, http!.entries, http!.savedUsd, http!.savedTokens, http!.bytes], ['http', 1, 0, 0, JSON.stringify({ ok: true }).length + JSON.stringify({ status: 200 }).length]);
      await cache.put('llm:3', { action: 'llm', output: 'x', usage: { ...usage, model: 'openai:unpriced' }, costUsd: null });
      assert.equal((await cache.stats())[0]!.savedUsd, 1.25, 'never hit: it saved nothing yet');
      await cache.take('llm:3', 0);
      assert.equal((await cache.stats())[0]!.savedUsd, null);
    });

    it('clears the entries made before a time, or every one', async (t) => {
      const { store } = await session(t);
      const cache = store.cache!;
      const before = Date.now();
      await cache.put('llm:1', { action: 'llm', output: 1 });
      await cache.put('http:1', { action: 'http', output: 2 });
      assert.equal(await cache.clear(before), 0, 'none was made before');
      assert.equal(await cache.clear(Date.now() + 1), 2);
      assert.deepEqual(await cache.stats(), []);
      await cache.put('llm:2', { action: 'llm', output: 3 });
      assert.equal(await cache.clear(), 1);
      assert.equal(await cache.take('llm:2', 0), undefined);
    });
  });
}

/**
 * The step cache's table in the run store: entries by key, hits counted, expiry by the reader's limit, stats by
 * action and clearing by age; a failure of the file is the store's error, for the step cache to take as a miss.
 * Ages are set through a second connection to the file, as time would have made them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { tempDir } from '../../test/support/workflow.ts';
import { SqliteRunStore, type SqliteStoreOptions } from './sqlite.ts';

const DAY = 86_400_000;

async function openStore(t: { after(fn: () => unknown): void }, options: SqliteStoreOptions = {}) {
  const path = join(await tempDir(t), 'runs.db');
  const store = new SqliteRunStore(path, options);
  const other = new DatabaseSync(path);
  t.after(async () => {
    other.close();
    await store.close();
  });
  /** Sets when an entry was made. */
  const age = (key: string, createdAt: number) => other.prepare('UPDATE cache_entries SET created_at = ? WHERE key = ?').run(createdAt, key);
  return { path, store, cache: store.cache!, other, age };
}

describe('the store\'s cache entries', () => {
  it('gives back what was kept, as it was, and counts each hit', async (t) => {
    const { cache, other } = await openStore(t);
    const usage = { model: 'openai:m', inputTokens: 10, outputTokens: 5 };
    await cache.put('llm:a', { action: 'llm', output: { answer: [1, 'two', null] }, properties: { model: 'openai:m' }, usage, costUsd: 0.002 });
    await cache.put('http:b', { action: 'http', output: null });
    await cache.put('file:c', { action: 'file', output: undefined });
    assert.deepEqual(await cache.take('llm:a', 0), { action: 'llm', output: { answer: [1, 'two', null] }, properties: { model: 'openai:m' }, usage, costUsd: 0.002 });
    assert.deepEqual(await cache.take('http:b', 0), { action: 'http', output: null });
    assert.deepEqual(await cache.take('file:c', 0), { action: 'file', output: undefined });
    assert.equal(await cache.take('llm:none', 0), undefined);
    await cache.take('llm:a', 0);
    const row = other.prepare("SELECT hits, last_hit_at FROM cache_entries WHERE key = 'llm:a'").get() as { hits: number; last_hit_at: number };
    assert.equal(row.hits, 2);
    assert.ok(row.last_hit_at >= Date.now() - 60_000);
  });

  it('finds only an entry made at or after the reader\'s limit; `has` looks without counting a hit', async (t) => {
    const { cache, age } = await openStore(t);
    const now = Date.now();
    await cache.put('llm:k', { action: 'llm', output: 'kept' });
    age('llm:k', now - 2 * DAY);
    assert.equal(await cache.has('llm:k', now - DAY), false);
    assert.equal(await cache.take('llm:k', now - DAY), undefined, 'older than a TTL of one day');
    assert.equal(await cache.has('llm:k', now - 3 * DAY), true);
    assert.equal((await cache.stats())[0]!.hits, 0, 'has() is not a hit');
    assert.equal((await cache.take('llm:k', now - 3 * DAY))?.output, 'kept', 'within a TTL of three days');
    assert.equal((await cache.take('llm:k', 0))?.output, 'kept', 'without a TTL');
    // Made again: it counts from now, and the hits the old one saved stay counted.
    await cache.put('llm:k', { action: 'llm', output: 'new' });
    assert.equal((await cache.take('llm:k', now - DAY))?.output, 'new');
    assert.equal((await cache.stats())[0]!.hits, 3);
  });

  it('sums entries, bytes, hits and savings by action; a hit whose model has no price makes the saving unknown', async (t) => {
    const { cache, age } = await openStore(t);
    const usage = { model: 'openai:m', inputTokens: 100, outputTokens: 20 };
    await cache.put('llm:1', { action: 'llm', output: 'abc', usage, costUsd: 0.01 });
    await cache.put('llm:2', { action: 'llm', output: 'é', usage, costUsd: 0.03 });
    await cache.put('http:1', { action: 'http', output: { ok: true }, properties: { status: 200 } });
    age('llm:1', 1_000);
    age('llm:2', 2_000);
    for (let k = 0; k < 3; k++) await cache.take('llm:1', 0);
    await cache.take('llm:2', 0);
    await cache.take('http:1', 0);
    const [llm, http] = await cache.stats();
    const { lastHitAt, ...rest } = llm!;
    // Bytes of the JSON text as stored: "é" is two bytes of UTF-8.
    assert.deepEqual(rest, { action: 'llm', entries: 2, bytes: '"abc"'.length + '"é"'.length + 1, hits: 4, savedUsd: 0.06, savedTokens: 480, oldest: 1_000, newest: 2_000 });
    assert.ok(lastHitAt! > 2_000);
    assert.equal(http!.savedUsd, 0, 'no model call: nothing paid, $0 saved');
    assert.equal(http!.savedTokens, 0);
    assert.equal(http!.bytes, JSON.stringify({ ok: true }).length + JSON.stringify({ status: 200 }).length);
    await cache.put('llm:3', { action: 'llm', output: 'x', usage: { ...usage, model: 'openai:unpriced' }, costUsd: null });
    assert.equal((await cache.stats())[0]!.savedUsd, 0.06, 'never hit: it saved nothing yet');
    await cache.take('llm:3', 0);
    assert.equal((await cache.stats())[0]!.savedUsd, null);
  });

  it('clears every entry, or those made before a time', async (t) => {
    const { cache, age } = await openStore(t);
    await cache.put('llm:old', { action: 'llm', output: 1 });
    await cache.put('llm:new', { action: 'llm', output: 2 });
    age('llm:old', 1_000);
    age('llm:new', 5_000);
    assert.equal(await cache.clear(3_000), 1);
    assert.equal(await cache.take('llm:old', 0), undefined);
    assert.equal((await cache.take('llm:new', 0))?.output, 2);
    assert.equal(await cache.clear(), 1);
    assert.deepEqual(await cache.stats(), []);
  });

  it('fails as the store does (store_failed, naming the file) when the file is locked, and tries nothing once the store is broken', async (t) => {
    const { path, store, cache, other } = await openStore(t, { busyTimeoutMs: 20 });
    await cache.put('llm:k', { action: 'llm', output: 'kept' });
    other.exec('BEGIN IMMEDIATE');
    const storeFailed = (e: Error & { code?: string }) => e.code === 'store_failed' && e.message.includes(path) && /locked/.test(e.message);
    await assert.rejects(cache.put('llm:j', { action: 'llm', output: 1 }), storeFailed);
    // Found, but its hit cannot be counted: the store's failure, not an answer.
    await assert.rejects(cache.take('llm:k', 0), storeFailed);
    // A failed write of the store's own (the run's record) marks it broken: the cache then stays out of the way.
    await store.recordStep('r', 'a', { status: 'succeeded' });
    assert.throws(() => store.flush(), storeFailed);
    other.exec('ROLLBACK');
    assert.equal(await cache.take('llm:k', 0), undefined);
    await cache.put('llm:j', { action: 'llm', output: 1 });
    assert.deepEqual(other.prepare('SELECT key FROM cache_entries').all().map((r) => r['key']), ['llm:k']);
  });
});

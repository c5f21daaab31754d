/**
 * The step cache's key, policy and lookups, on steps parsed from YAML with the built-in actions and a store of
 * entries in memory: what makes two requests the same, which steps are cached for how long, and that a failing
 * store is a miss, never a failed step.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workflow } from '../../test/support/workflow.ts';
import { builtinActions } from '../actions/builtin.ts';
import type { AnyAction } from '../actions/types.ts';
import { UsageError } from '../core/errors.ts';
import type { CacheEntries, CacheEntry } from '../store/types.ts';
import { cacheKey } from './key.ts';
import { cachePolicy, cacheUsed, stepSetting, type CachePolicy } from './policy.ts';
import { StoreStepCache } from './step-cache.ts';

const actions = builtinActions();
const llm = actions.get('llm')!;
const http = actions.get('http')!;
const DAY = 86_400_000;

/** Entries in memory, with the times they were made. */
class MemoryEntries implements CacheEntries {
  readonly rows = new Map<string, CacheEntry & { createdAt: number; hits: number }>();
  failing = false;
  readonly now: () => number;
  constructor(now: () => number) {
    this.now = now;
  }
  async take(key: string, notBefore: number): Promise<CacheEntry | undefined> {
    if (this.failing) throw new Error('database is locked');
    const row = this.rows.get(key);
    if (!row || row.createdAt < notBefore) return undefined;
    row.hits++;
    const { createdAt: _c, hits: _h, ...entry } = row;
    return entry;
  }
  async has(key: string, notBefore: number): Promise<boolean> {
    return (this.rows.get(key)?.createdAt ?? -Infinity) >= notBefore;
  }
  async put(key: string, entry: CacheEntry): Promise<void> {
    if (this.failing) throw new Error('disk full');
    this.rows.set(key, { ...entry, createdAt: this.now(), hits: 0 });
  }
  async stats(): Promise<never> {
    throw new Error('not used');
  }
  async clear(): Promise<number> {
    return 0;
  }
}

function setup(yaml: string, policy: CachePolicy, env: Record<string, string> = {}, model?: string) {
  let now = 100 * DAY;
  const entries = new MemoryEntries(() => now);
  const spec = workflow(yaml);
  const cache = new StoreStepCache({ entries, policy, context: { env, defaults: { maxConcurrency: 10, rateLimits: {}, ...(model ? { model } : {}) }, baseDir: '/w' }, now: () => now });
  const step = (id: string) => spec.steps.find((s) => s.id === id)!;
  const key = (id: string, action: AnyAction, input: unknown) => cache.keyFor(step(id), action, input);
  return { cache, entries, key, step, spec, later: (ms: number) => (now += ms) };
}

const twoSteps = `steps:
  - id: a
    llm: { prompt: hi }
  - id: b
    cache: { ttl: 1d }
    llm: { prompt: hi }
  - id: never
    cache: false
    llm: { prompt: hi }
  - id: post
    http: { url: "http://x/", method: POST }
  - id: postCached
    cache: true
    http: { url: "http://x/", method: POST }
`;

describe('the cache key', () => {
  it('is the same for the same request whoever sends it, and another for another model, temperature, endpoint or action version', () => {
    const { key } = setup(twoSteps, { run: {} });
    const base = { prompt: 'hi', model: 'openai:m', temperature: 0.2 };
    const k = key('a', llm, base)!;
    assert.match(k, /^llm:[0-9a-f]{64}$/);
    assert.equal(key('b', llm, { temperature: 0.2, model: 'openai:m', prompt: 'hi' }), k, 'another step, keys in another order');
    assert.notEqual(key('a', llm, { ...base, model: 'openai:n' }), k);
    assert.notEqual(key('a', llm, { ...base, temperature: 0.3 }), k);
    assert.notEqual(key('a', llm, { ...base, prompt: 'hi!' }), k);
    assert.notEqual(setup(twoSteps, { run: {} }, { OPENAI_BASE_URL: 'http://proxy/v1' }).key('a', llm, base), k, 'another endpoint');
    assert.notEqual(key('a', { ...llm, version: 99 }, base), k, 'an action that now does something else');
    assert.equal(cacheKey(llm, base, null), cacheKey(llm, { ...base }, undefined));
  });

  it('names the effective model when the step names none (the default decides where it goes)', () => {
    const input = { prompt: 'hi' };
    const a = setup(twoSteps, { run: {} }, {}, 'openai:a').key('a', llm, input);
    const b = setup(twoSteps, { run: {} }, {}, 'openai:b').key('a', llm, input);
    assert.notEqual(a, b);
    assert.equal(setup(twoSteps, { run: {} }, {}, 'openai:a').key('b', llm, { prompt: 'hi', model: 'openai:a' }) === a, false, 'the model as written is part of the request');
    // No default at all: the provider whose key is set answers. Which key it is does not change the answer.
    const withKey = (env: Record<string, string>) => setup(twoSteps, { run: {} }, env).key('a', llm, input);
    assert.notEqual(withKey({ OPENAI_API_KEY: 'sk-one' }), withKey({ ANTHROPIC_API_KEY: 'sk-one' }));
    assert.equal(withKey({ OPENAI_API_KEY: 'sk-one' }), withKey({ OPENAI_API_KEY: 'sk-two' }));
  });

  it('takes the block\'s keys in any order, and what they hold as written (a schema\'s property order is part of the request)', () => {
    const llm = { name: 'llm', version: 2 } as never;
    assert.equal(cacheKey(llm, { prompt: 'p', model: 'm' }, null), cacheKey(llm, { model: 'm', prompt: 'p' }, null));
    assert.notEqual(cacheKey(llm, { prompt: 'p', schema: { properties: { a: {}, b: {} } } }, null), cacheKey(llm, { prompt: 'p', schema: { properties: { b: {}, a: {} } } }, null));
  });
});

describe('the cache policy', () => {
  it('takes the command line over the workflow, and refuses both flags at once', () => {
    assert.throws(() => cachePolicy({}, { cache: true, noCache: true }), UsageError);
    assert.deepEqual(cachePolicy({ cache: { ttlMs: DAY } }, { noCache: true }), { off: true });
    assert.deepEqual(cachePolicy({ cache: { ttlMs: DAY } }, { cache: true }), { run: { ttlMs: DAY } }, '--cache keeps config.cache\'s TTL');
    assert.deepEqual(cachePolicy({}, { cache: true }), { run: {} }, '--cache alone: no TTL');
    assert.deepEqual(cachePolicy({ cache: {} }, {}), { run: {} });
    assert.deepEqual(cachePolicy({}, {}), {});
  });

  it('caches what only looks when on for the run, anything whose step says so, and nothing the step or --no-cache turns off', () => {
    const { step } = setup(twoSteps, {});
    const ask = { prompt: 'hi' };
    const post = { url: 'http://x/', method: 'POST' };
    const on: CachePolicy = { run: { ttlMs: 7 * DAY } };
    assert.deepEqual(stepSetting(on, step('a'), llm, ask), { ttlMs: 7 * DAY });
    assert.deepEqual(stepSetting(on, step('b'), llm, ask), { ttlMs: DAY }, 'the step\'s TTL first');
    assert.equal(stepSetting(on, step('never'), llm, ask), undefined);
    assert.equal(stepSetting(on, step('post'), http, post), undefined, 'a POST changes something: not cached unless the step says so');
    assert.deepEqual(stepSetting(on, step('postCached'), http, post), { ttlMs: 7 * DAY }, 'cache: true takes config.cache\'s TTL');
    assert.deepEqual(stepSetting(on, step('a'), http, { url: 'http://x/' }), { ttlMs: 7 * DAY }, 'a GET');
    assert.equal(stepSetting({}, step('a'), llm, ask), undefined, 'off for the run');
    assert.deepEqual(stepSetting({}, step('postCached'), http, post), {}, 'on for this step alone, no TTL');
    assert.equal(stepSetting({ off: true }, step('postCached'), http, post), undefined, '--no-cache wins over the step');
    assert.equal(cacheUsed({}, workflow('steps:\n  - id: a\n    llm: { prompt: hi }\n').steps), false);
    assert.equal(cacheUsed({}, workflow('steps:\n  - id: a\n    cache: true\n    llm: { prompt: hi }\n').steps), true);
    assert.equal(cacheUsed({ off: true, run: {} } as CachePolicy, workflow('steps:\n  - id: a\n    cache: true\n    llm: { prompt: hi }\n').steps), false);
  });
});

describe('the step cache over the store', () => {
  it('gives back what was kept under the same request, until the step\'s TTL has passed', async () => {
    const { cache, key, later } = setup(twoSteps, { run: {} });
    const input = { prompt: 'hi', model: 'openai:m' };
    const usage = { model: 'openai:m', inputTokens: 3, outputTokens: 4 };
    await cache.put(key('a', llm, input)!, { output: 'hello', properties: { finishReason: 'stop' }, usage, costUsd: 0.5 });
    later(2 * DAY);
    assert.deepEqual(await cache.get(key('a', llm, input)!), { output: 'hello', properties: { finishReason: 'stop' }, usage, costUsd: 0.5 }, 'no TTL: two days old is fine');
    assert.equal(await cache.get(key('b', llm, input)!), undefined, 'step b takes entries a day old at most');
  });

  it('keeps which action made an entry, and gives no price when none was known (the run prices it now)', async () => {
    const { cache, key, entries } = setup(twoSteps, { run: {} });
    const k = key('postCached', http, { url: 'http://x/', method: 'POST' })!;
    await cache.put(k, { output: { ok: 1 }, costUsd: null });
    assert.equal(entries.rows.get(k)!.action, 'http');
    assert.deepEqual(await cache.get(k), { output: { ok: 1 } });
  });

  it('takes a store that fails for a miss, and one that cannot keep an entry for nothing kept', async () => {
    const { cache, key, entries } = setup(twoSteps, { run: {} });
    const k = key('a', llm, { prompt: 'hi' })!;
    await cache.put(k, { output: 'x' });
    entries.failing = true;
    assert.equal(await cache.get(k), undefined);
    await cache.put(k, { output: 'y' });
    entries.failing = false;
    assert.equal((await cache.get(key('a', llm, { prompt: 'hi' })!))?.output, 'x');
  });

  it('has no key for a step that is not cached, or an input JSON cannot write', () => {
    const { key } = setup(twoSteps, {});
    assert.equal(key('a', llm, { prompt: 'hi' }), undefined);
    let deep: unknown = 'x';
    for (let k = 0; k < 100_000; k++) deep = [deep];
    assert.equal(setup(twoSteps, { run: {} }).key('a', llm, { prompt: 'hi', schema: { deep } }), undefined);
  });
});

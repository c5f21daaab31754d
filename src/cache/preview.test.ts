/**
 * What `plan` says about the step cache: hits and misses for steps whose input is known before the run (from
 * the file, the inputs given, the environment), per item for a foreach step over a known list, and `unknown`
 * for steps that use another step's output. Looking never counts as a hit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workflow } from '../../test/support/workflow.ts';
import { builtinActions } from '../actions/builtin.ts';
import { describePlan, planText } from '../views/plan.ts';
import { previewCache, type PreviewOptions } from './preview.ts';
import { stepKey } from './step-cache.ts';

const actions = builtinActions();
const context = { env: { HOST: 'http://h' }, defaults: { maxConcurrency: 10, rateLimits: {} }, baseDir: '/w' };
const spec = workflow(`inputs:
  topic: { type: string }
  list: { type: array, default: [] }
steps:
  - id: fixed
    llm: { model: "openai:m", prompt: "hello" }
  - id: topic
    llm: { model: "openai:m", prompt: "about \${inputs.topic}" }
  - id: after
    llm: { model: "openai:m", prompt: "more on \${steps.fixed.output}" }
  - id: each
    foreach: [x, y, z]
    llm: { model: "openai:m", prompt: "item \${item} of \${foreach.count}" }
  - id: fromInput
    foreach: \${inputs.list}
    llm: { model: "openai:m", prompt: "item \${item}" }
  - id: get
    http: { url: "\${env.HOST}/a" }
  - id: post
    http: { url: "http://h/a", method: POST }
  - id: off
    cache: false
    llm: { model: "openai:m", prompt: "hello" }
`);

/** A store holding the keys of these units, as the run would have made them. */
function kept(units: [id: string, input: Record<string, unknown>][]): Set<string> {
  return new Set(units.map(([id, input]) => stepKey({ run: {} }, spec.steps.find((s) => s.id === id)!, actions.get(spec.steps.find((s) => s.id === id)!.action)!, input, context)!.key));
}

function preview(keys: Set<string>, inputs: Record<string, unknown>, options: Partial<PreviewOptions> = {}) {
  return previewCache(spec, { policy: { run: {} }, inputs, context, actions, entries: { has: async (key) => keys.has(key) }, ...options });
}

describe('the plan\'s look at the step cache', () => {
  it('says hit or miss where the request is known before the run, and unknown where a step\'s output decides it', async () => {
    const keys = kept([
      ['fixed', { model: 'openai:m', prompt: 'hello' }],
      ['topic', { model: 'openai:m', prompt: 'about cats' }],
      ['each', { model: 'openai:m', prompt: 'item x of 3' }],
      ['get', { url: 'http://h/a' }],
    ]);
    assert.deepEqual(await preview(keys, { topic: 'cats', list: [] }), {
      fixed: { cache: 'hit' },
      topic: { cache: 'hit' },
      after: { cache: 'unknown' },
      each: { cache: 'miss', cacheHits: 1 },
      get: { cache: 'hit' },
    });
    const other = await preview(keys, { list: ['x'] });
    assert.equal(other['topic']?.cache, 'unknown', 'an input not given');
    assert.deepEqual(other['fromInput'], { cache: 'miss', cacheHits: 0 });
    assert.deepEqual((await preview(keys, { topic: 'dogs' }))['topic'], { cache: 'miss' });
  });

  it('says nothing with --no-cache, and only of steps that say cache when it is off for the run', async () => {
    assert.deepEqual(await preview(new Set(), {}, { policy: { off: true } }), {});
    const own = workflow('steps:\n  - id: a\n    cache: true\n    http: { url: "http://h/", method: POST }\n  - id: b\n    llm: { model: "openai:m", prompt: hi }\n');
    assert.deepEqual(await previewCache(own, { policy: {}, inputs: {}, context, actions }), { a: { cache: 'miss' } });
  });

  it('looks at entries no older than the step\'s TTL', async () => {
    const ttl = workflow('steps:\n  - id: a\n    cache: { ttl: 1h }\n    llm: { model: "openai:m", prompt: hi }\n');
    const seen: number[] = [];
    await previewCache(ttl, { policy: {}, inputs: {}, context, actions, now: 10_000_000, entries: { has: async (_key, notBefore) => (seen.push(notBefore), true) } });
    assert.deepEqual(seen, [10_000_000 - 3_600_000]);
  });

  it('shows in the plan as one line, and in its JSON per step', () => {
    const view = describePlan(spec, undefined, undefined, { topic: 'cats' });
    Object.assign(view.steps['fixed']!, { cache: 'hit' });
    Object.assign(view.steps['each']!, { cache: 'miss', cacheHits: 1 });
    Object.assign(view.steps['after']!, { cache: 'unknown' });
    assert.match(planText(view, 'w.yaml'), /\nStep cache: 1 hit \(fixed\), 1 miss \(each \[1 of 3 items hit\]\), 1 known only during the run \(after\)\n$/);
    assert.doesNotMatch(planText(describePlan(spec), 'w.yaml'), /Step cache/);
  });
});

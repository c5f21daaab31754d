import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtinActions } from '../actions/builtin.ts';
import { workflow } from '../../test/support/workflow.ts';
import { expectedDurations } from './durations.ts';

const spec = workflow(`
steps:
  - id: h1
    http: { url: "http://127.0.0.1:1/a" }
  - id: h2
    http: { url: "http://127.0.0.1:1/b" }
  - id: h3
    http: { url: "http://127.0.0.1:1/c" }
  - id: f1
    file: { action: read, path: x.txt }
`);
const registry = builtinActions();
const actions = spec.steps.map((s) => registry.get(s.action)!);

describe('expected durations', () => {
  it('with no history, uses each action’s typical duration', () => {
    assert.deepEqual([...expectedDurations(spec.steps, actions)], [300, 300, 300, 1]);
  });

  it('prefers a step’s own history, then what steps of the same action took', () => {
    assert.deepEqual([...expectedDurations(spec.steps, actions, { h1: 40, h2: 60, f1: 9 })], [40, 60, 60, 9]);
  });

  it('counts an action with no typical duration as the median of all history', () => {
    const plain = actions.map((a) => ({ ...a, typicalMs: undefined }));
    assert.deepEqual([...expectedDurations(spec.steps, plain, { h1: 40 })], [40, 40, 40, 40]);
    assert.deepEqual([...expectedDurations(spec.steps, plain)], [1, 1, 1, 1]);
  });
});

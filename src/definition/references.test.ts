/** The plan's own critical path, before any run: each step weighs its action's typical time; a foreach step over a list the file gives, its items in waves over its slots. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workflow } from '../../test/support/workflow.ts';

/** An llm step (typically 3 s); `keys`: more lines of the step. */
const llm = (id: string, keys: string[] = [], prompt = 'x') => `  - id: ${id}\n${keys.map((k) => `    ${k}\n`).join('')}    llm: { model: "echo:x", prompt: "${prompt}" }\n`;
const chain = llm('a') + llm('b', [], '${steps.a.output}');
const critical = (text: string) => workflow(text).plan.criticalPath;

describe('critical path weights of foreach steps', () => {
  it('weighs a YAML list as its items over its slots: 12 items 2 at once outweigh a chain of two calls', () => {
    assert.deepEqual(critical(`steps:\n${chain}${llm('each', ['foreach: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]', 'maxConcurrency: 2'])}`), ['each']);
  });

  it('a list no wider than its slots weighs one call', () => {
    assert.deepEqual(critical(`steps:\n${chain}${llm('each', ['foreach: [1, 2, 3]'])}`), ['a', 'b']);
  });

  it('counts waves over config.maxConcurrency when the step has no cap of its own', () => {
    assert.deepEqual(critical(`config:\n  maxConcurrency: 1\nsteps:\n${chain}${llm('each', ['foreach: [1, 2, 3]'])}`), ['each']);
    assert.deepEqual(critical(`config:\n  maxConcurrency: 2\nsteps:\n${chain}${llm('each', ['foreach: [1, 2, 3]', 'maxConcurrency: 5'])}`), ['a', 'b'], 'two waves of one call, against two calls: the first declared wins');
  });

  it('counts a YAML list whose items hold references; a list from a step’s output weighs one call', () => {
    assert.deepEqual(critical(`steps:\n${chain}${llm('each', ['foreach: ["${steps.a.output}", x, y]', 'maxConcurrency: 1'])}`), ['a', 'each']);
    const three = `${chain}${llm('c', [], '${steps.b.output}')}`;
    assert.deepEqual(critical(`steps:\n${three}${llm('list')}${llm('each', ['foreach: ${steps.list.output}', 'maxConcurrency: 1'])}`), ['a', 'b', 'c']);
  });

  it('an empty list weighs nothing', () => {
    assert.deepEqual(critical(`steps:\n${llm('each', ['foreach: []'])}${llm('one')}`), ['one']);
  });
});

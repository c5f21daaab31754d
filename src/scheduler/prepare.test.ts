/** A run's expected step times and priorities, as `prepareRun` gives them before anything runs. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workflow } from '../../test/support/workflow.ts';
import { prepareRun, withEstimates } from './prepare.ts';

/** An llm step (typically 3 s) on the echo provider; `keys`: more lines of the step. */
const llm = (id: string, keys: string[] = []) => `  - id: ${id}\n${keys.map((k) => `    ${k}\n`).join('')}    llm: { model: "echo:x", prompt: "x" }\n`;

describe('priorities of foreach steps', () => {
  it('a list from an input takes its items in waves over its slots, as a list the file gives does', () => {
    const spec = workflow(`inputs:\n  pages: { type: array, default: [] }\nsteps:\n${llm('pages', ['foreach: ${inputs.pages}', 'maxConcurrency: 2'])}${llm('listed', ['foreach: [1, 2, 3, 4, 5]', 'maxConcurrency: 2'])}${llm('one')}`);
    const prepared = prepareRun(spec, { inputs: { pages: [1, 2, 3, 4, 5, 6, 7, 8] } });
    assert.deepEqual([...prepared.expected], [3000 * 4, 3000 * 3, 3000]);
    assert.equal(prepareRun(spec).expected[0], 0, 'an empty list settles at once');
  });

  it('a foreach step’s recorded time is its own, and not what one call of its action takes', () => {
    const spec = workflow(`steps:\n${llm('each', ['foreach: [1, 2, 3, 4]', 'maxConcurrency: 1'])}${llm('one')}${llm('two')}`);
    const prepared = withEstimates(prepareRun(spec), { each: 40_000, one: 100 });
    // Without `each` among the medians, `two` expects what `one` took; `each` what it took as a whole.
    assert.deepEqual([...prepared.expected], [40_000, 100, 100]);
    const unrecorded = withEstimates(prepareRun(spec), { one: 100 });
    assert.equal(unrecorded.expected[0], 4 * 100, 'its items count as calls of the action as recorded');
  });
});

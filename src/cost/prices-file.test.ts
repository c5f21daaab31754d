import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WorkflowInvalidError } from '../core/errors.ts';
import { tempDir } from '../../test/support/workflow.ts';
import { parsePrices, readPricesFile } from './prices-file.ts';

const problems = (text: string) => {
  try {
    parsePrices(text, '/home/u/.conductor/prices.yaml');
  } catch (error) {
    assert.ok(error instanceof WorkflowInvalidError);
    return error.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}${d.hint ? ` (${d.hint})` : ''}`);
  }
  assert.fail('expected problems');
};

describe('prices.yaml', () => {
  it('reads prices per million tokens by provider:model', () => {
    assert.deepEqual(parsePrices('openai:gpt-4o-mini: { input: 0.15, output: 0.60 }\nanthropic:x:\n  input: 3\n  output: 15\n  cachedInput: 0.3\n', 'p.yaml'), {
      'openai:gpt-4o-mini': { input: 0.15, output: 0.6 },
      'anthropic:x': { input: 3, output: 15, cachedInput: 0.3 },
    });
    assert.deepEqual(parsePrices('# nothing yet\n', 'p.yaml'), {});
  });

  it('says where a malformed file is wrong', () => {
    assert.match(problems('openai:m: { input: 0.15 }\n')[0]!, /^1:1 `openai:m` needs `output`/);
    assert.match(problems('openai:m: { input: 0.15, output: cheap }\n')[0]!, /^1:34 `openai:m.output`: expected US dollars per million output tokens, got `"cheap"`/);
    assert.match(problems('openai:m: { input: 1, output: 2 }\ngpt-4o: { input: 1, output: 2 }\n')[0]!, /^2:1 the prices file: `gpt-4o`: expected `provider:model`/);
    assert.match(problems('openai:m: { input: 1, outptu: 2 }\n')[0]!, /unknown key `outptu`.*did you mean `output`/);
    assert.match(problems('openai:m: { input: 1, output: 2\n')[0]!, /^2:1 Flow map/);
    assert.match(problems('- openai:m\n')[0]!, /^1:1 the prices file is a map/);
  });

  it('is no prices when it is not there', async (t) => {
    const dir = await tempDir(t);
    assert.deepEqual(await readPricesFile(join(dir, 'prices.yaml')), {});
    await writeFile(join(dir, 'prices.yaml'), 'openai:m: { input: 1, output: 2 }\n');
    assert.deepEqual(await readPricesFile(join(dir, 'prices.yaml')), { 'openai:m': { input: 1, output: 2 } });
  });
});

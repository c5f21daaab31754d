/** The package as a library: what `import … from 'conductor'` gives (the built entry point). */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { ROOT } from './support/cli.ts';

it('exports loadWorkflow and runWorkflow from the built package', async () => {
  const lib = (await import(join(ROOT, 'dist/index.js'))) as typeof import('../src/index.ts');
  const spec = await lib.loadWorkflow(join(ROOT, 'examples/mixed.yaml'));
  assert.deepEqual(spec.plan.stages, [['read_file'], ['process1', 'process2', 'process3'], ['combine']]);
  const report = await lib.runWorkflow(spec, { env: { CONDUCTOR_MODEL: 'echo' } });
  assert.equal(report.status, 'succeeded');
  assert.match(String(report.outputs['report']), /^Combine these analyses:/);
});

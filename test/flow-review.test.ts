/**
 * Review of #13 through the CLI: what `run` and `resume` promise for foreach steps, as the stand-in server sees it
 * (a request is an item that ran). It failed before items were recorded and resumed.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from './support/cli.ts';
import { reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

const storeArgs = (dir: string) => ['--store', join(dir, 'runs.db')];

describe('review: resume after a continued foreach', { timeout: 180_000 }, () => {
  it('re-runs exactly the 3 failed items, and reuses the 7 that succeeded', async (t) => {
    const dir = await tempDir(t);
    let fixed = false;
    const broken = new Set(['i2', 'i5', 'i7']);
    server.fallback((req, res) => {
      const id = req.path.split('/').pop()!;
      if (!fixed && broken.has(id)) return reply(res, 400, { error: `${id} is broken` });
      reply(res, 200, { id });
    });
    const items = Array.from({ length: 10 }, (_, i) => `i${i}`);
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: each
    foreach: [${items.join(', ')}]
    continueOnError: true
    retry: { attempts: 1 }
    http: { url: "${server.url}/rv-resume/\${item}" }
`,
    );
    const first = await run(['run', file, '--json', ...storeArgs(dir)]);
    assert.equal(first.code, 0, first.stderr);
    const report = JSON.parse(first.stdout);
    assert.deepEqual(report.continued, ['each']);
    assert.equal(server.requests.filter((r) => r.path.startsWith('/rv-resume/')).length, 10);

    fixed = true;
    const resumed = await run(['resume', report.runId, '--json', ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const again = server.requests.filter((r) => r.path.startsWith('/rv-resume/')).slice(10).map((r) => r.path.split('/').pop()).sort();
    assert.deepEqual(again, ['i2', 'i5', 'i7'], 'only the failed items ran again');
    const after = JSON.parse(resumed.stdout);
    assert.equal(after.steps.each.status, 'succeeded');
    assert.deepEqual(after.steps.each.output, items.map((id) => ({ id })));
    assert.deepEqual(after.steps.each.items.map((i: { reused?: boolean }) => i.reused === true), items.map((id) => !broken.has(id)));
  });
});

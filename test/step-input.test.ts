/**
 * What each step ran with (its resolved input), end to end through the real CLI: `run --json` shows it with the
 * templates filled in, `runs show --json` gives the same back from the store, and a credential in it is found
 * nowhere — not in the report, not in `runs show`, not in the store file's bytes.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../src/core/report.ts';
import type { StepRecord } from '../src/store/types.ts';
import { run } from './support/cli.ts';
import { reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

/** `runs show <id> --json`: the run's steps as recorded. */
async function shown(id: string, store: string): Promise<{ text: string; steps: Record<string, StepRecord> }> {
  const r = await run(['runs', 'show', id, '--json', '--store', store]);
  assert.equal(r.code, 0, r.stderr);
  const steps = (JSON.parse(r.stdout) as { steps: StepRecord[] }).steps;
  return { text: r.stdout, steps: Object.fromEntries(steps.map((s) => [s.stepId, s])) };
}

describe("a step's resolved input, through the CLI", { timeout: 180_000 }, () => {
  it('run --json shows the prompt with the file filled in, and runs show --json gives the same from the store', async (t) => {
    const dir = await tempDir(t);
    const text = 'The quarterly numbers went up.\nAnd "quotes" too.';
    await writeFile(join(dir, 'doc.txt'), text);
    const path = await writeWorkflow(dir, `steps:
  - id: read
    file: { action: read, path: doc.txt }
  - id: summarize
    llm: { prompt: "Summarize: \${steps.read.output}" }
  - id: each
    foreach: [a, b]
    llm: { prompt: "\${item} of \${steps.read.output}" }
`);
    const store = join(dir, 'runs.db');
    const r = await run(['run', path, '--json', '--store', store], { env: { CONDUCTOR_MODEL: 'echo' } });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as RunReport;
    const input = report.steps['summarize']!.input as { prompt: string };
    assert.equal(input.prompt, `Summarize: ${text}`);
    assert.deepEqual(report.steps['each']!.items!.map((item) => (item.input as { prompt: string }).prompt), [`a of ${text}`, `b of ${text}`]);
    const { steps } = await shown(report.runId, store);
    assert.deepEqual(steps['summarize']!.input, report.steps['summarize']!.input);
    assert.deepEqual(steps['read']!.input, report.steps['read']!.input);
    assert.deepEqual(steps['each']!.items!.map((item) => item.input), report.steps['each']!.items!.map((item) => item.input));
  });

  it('an Authorization header from the environment and a secret input are found nowhere: report, runs show, the store file', async (t) => {
    const dir = await tempDir(t);
    const token = 'tok-cli-5e8d2a4f6b1c9e07';
    const apiKey = 'key-given-as-input-31c7';
    server.route('/cli/call', (_req, res) => reply(res, 401, { error: 'denied' }));
    const path = await writeWorkflow(dir, `inputs:
  api_key: { type: string }
steps:
  - id: call
    retry: { attempts: 1 }
    http:
      url: "${server.url}/cli/call"
      method: POST
      headers: { Authorization: "Bearer \${env.SOME_TOKEN}" }
      body: { key: "\${inputs.api_key}", note: visible }
`);
    const store = join(dir, 'runs.db');
    const r = await run(['run', path, '--json', '--store', store, '-i', `api_key=${apiKey}`], { env: { SOME_TOKEN: token } });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(server.byPath('/cli/call')[0]!.headers['authorization'], `Bearer ${token}`, 'sent as it was');
    for (const secret of [token, apiKey]) assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret));
    const report = JSON.parse(r.stdout) as RunReport;
    const input = report.steps['call']!.input as { headers: Record<string, string>; body: unknown };
    assert.deepEqual([input.headers['Authorization'], input.body], ['***', { key: '***', note: 'visible' }]);
    const { text, steps } = await shown(report.runId, store);
    for (const secret of [token, apiKey]) assert.ok(!text.includes(secret));
    assert.deepEqual(steps['call']!.input, input);
    for (const file of [store, `${store}-wal`]) {
      if (!existsSync(file)) continue;
      const bytes = await readFile(file);
      for (const secret of [token, apiKey]) assert.ok(!bytes.includes(secret), `${secret} is not in ${file}`);
    }
  });
});

/**
 * NODE_USE_ENV_PROXY=1 sends `http` steps and provider calls through HTTP_PROXY, as Node's own `fetch` does. The
 * stand-in plays the proxy: it answers requests for hosts that do not exist, so an answer proves the route.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from './support/cli.ts';
import { addLlmRoutes } from './support/llm-stand-ins.ts';
import { reply, StandIn } from './support/stand-in.ts';

describe('NODE_USE_ENV_PROXY', () => {
  let proxy: StandIn;
  const dir = mkdtempSync(join(tmpdir(), 'conductor-proxy-'));
  before(async () => {
    proxy = await StandIn.start();
    proxy.route('/data', (_req, res) => reply(res, 200, { via: 'proxy' }));
    addLlmRoutes(proxy);
  });
  after(async () => {
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes http steps and provider calls through HTTP_PROXY', async () => {
    const file = join(dir, 'wf.yaml');
    writeFileSync(file, 'steps:\n  - id: fetch\n    http: { url: "http://api.conductor-test.invalid/data" }\n  - id: ask\n    llm: { model: "openai:gpt-4o-mini", prompt: "hello" }\n');
    const env = { NODE_USE_ENV_PROXY: '1', HTTP_PROXY: proxy.url, NO_PROXY: '', OPENAI_BASE_URL: 'http://llm.conductor-test.invalid/v1', OPENAI_API_KEY: 'k' };
    const result = await run(['run', file, '--json', '--no-store'], { env });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { steps: Record<string, { output: unknown }> };
    assert.deepEqual(report.steps['fetch']!.output, { via: 'proxy' });
    const hosts = proxy.requests.map((r) => r.headers.host);
    assert.ok(hosts.includes('api.conductor-test.invalid') && hosts.includes('llm.conductor-test.invalid'), hosts.join(', '));
  });
});

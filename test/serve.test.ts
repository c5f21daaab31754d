/**
 * `conductor serve`, first slice: the API against a real server on 127.0.0.1 (the app in-process on an
 * ephemeral port), and the command itself as users start it (the built binary). The store is seeded by
 * actually running workflows with the echo model.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import { runStore } from '../src/compose.ts';
import { createApp, type AppOptions } from '../src/server/app.ts';
import { RunManager } from '../src/server/run-manager.ts';
import type { RunStore } from '../src/store/types.ts';
import { conductor, ROOT, run } from './support/cli.ts';

const TOKEN = 'serve-test-token-5f0c2a9e7b';
const env = { CONDUCTOR_MODEL: 'echo' };

/** Folders made for the suites, removed once every test has run. */
const made: string[] = [];
after(() => Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true }))));
async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'conductor-serve-'));
  made.push(dir);
  return dir;
}

/** The app on 127.0.0.1, on a port the system picks, starting runs with the echo model. */
async function listen(given: Omit<AppOptions, 'runs' | 'postedRoot'> & Partial<AppOptions>): Promise<{ base: string; runs: RunManager; close(): Promise<void> }> {
  const runs = given.runs ?? new RunManager({ store: given.store, place: { env: { ...process.env, ...env }, cwd: given.root } });
  const app = createApp({ postedRoot: join(await scratch(), 'posted'), ...given, runs });
  const server = await new Promise<Server>((done) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => done(s as Server));
  });
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    runs,
    close: async () => {
      await runs.close();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

/** A request whose path is sent exactly as written (fetch would normalise `..` away). */
function raw(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((done, fail) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => done({ status: res.statusCode!, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

async function getJson(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, { headers });
  const text = await res.text();
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, `${path}: ${text}`);
  return { status: res.status, body: JSON.parse(text) };
}

const NESTED = 'name: nested\nsteps:\n  - id: first\n    llm:\n      prompt: "one"\n  - id: second\n    llm:\n      prompt: "two ${steps.first.output}"\n';
const BAD = 'name: bad\nsteps:\n  - id: a\n    llm:\n      prompt: "${steps.missing.output}"\n  - id: b\n    nope: 1\n';

describe('conductor serve: the API', { timeout: 300_000 }, () => {
  let root: string;
  let storePath: string;
  let store: RunStore;
  let server: { base: string; close(): Promise<void> };
  const runIds: string[] = [];
  const reports: any[] = [];

  before(async () => {
    root = await scratch();
    const outside = await scratch();
    storePath = join(await scratch(), 'runs.db');
    await cp(join(ROOT, 'examples/parallel.yaml'), join(root, 'good.yaml'));
    await mkdir(join(root, 'sub'));
    await writeFile(join(root, 'sub/nested.yaml'), NESTED);
    await writeFile(join(root, 'bad.yaml'), BAD);
    await writeFile(join(root, 'notes.txt'), 'not a workflow');
    for (const skipped of ['.hidden', 'node_modules']) {
      await mkdir(join(root, skipped));
      await cp(join(ROOT, 'examples/parallel.yaml'), join(root, skipped, 'w.yaml'));
    }
    await cp(join(ROOT, 'examples/parallel.yaml'), join(outside, 'secret.yaml'));
    await symlink(join(outside, 'secret.yaml'), join(root, 'out.yaml'));
    await symlink(join(root, 'good.yaml'), join(root, 'alias.yaml'));
    for (const file of ['good.yaml', 'sub/nested.yaml']) {
      const result = await run(['run', join(root, file), '--json', '--store', storePath], { env });
      assert.equal(result.code, 0, result.stderr);
      reports.push(JSON.parse(result.stdout));
      runIds.push(reports.at(-1)!.runId);
    }
    store = await runStore(storePath, { access: 'read' });
    server = await listen({ root, store: async () => store });
  });
  after(async () => {
    await server?.close();
    await store?.close();
  });

  it('lists the workflow files under the root with their validation status, skipping dot-folders, node_modules and links out', async () => {
    const { status, body } = await getJson(server.base, '/api/workflows');
    assert.equal(status, 200);
    assert.deepEqual(body.workflows.map((w: { path: string }) => w.path), ['alias.yaml', 'bad.yaml', 'good.yaml', 'sub/nested.yaml']);
    const bad = body.workflows.find((w: { path: string }) => w.path === 'bad.yaml');
    assert.equal(bad.valid, false);
    assert.ok(bad.problems >= 2, JSON.stringify(bad));
    assert.deepEqual(body.workflows.find((w: { path: string }) => w.path === 'good.yaml'), { path: 'good.yaml', valid: true, problems: 0, warnings: 0 });
  });

  it('gives a plan as `plan --format json` prints it, for nested paths too', async () => {
    for (const path of ['good.yaml', 'sub/nested.yaml']) {
      const { status, body } = await getJson(server.base, `/api/workflows/${path}/plan`);
      assert.equal(status, 200);
      const cli = await run(['plan', path, '--format', 'json', '--store', storePath], { cwd: root, env });
      assert.equal(cli.code, 0, cli.stderr);
      const { inputs, ...plan } = body;
      assert.deepEqual(plan, JSON.parse(cli.stdout));
      // Both ran once before: the plan expects what they took.
      assert.equal(typeof plan.expected?.ms, 'number', JSON.stringify(plan));
      assert.deepEqual(inputs, {});
    }
    const encoded = await getJson(server.base, '/api/workflows/sub%2Fnested.yaml/plan');
    assert.equal(encoded.status, 200);
  });

  it('answers an invalid workflow\'s plan with 422 and exactly the problems `validate --json` gives', async () => {
    const { status, body } = await getJson(server.base, '/api/workflows/bad.yaml/plan');
    assert.equal(status, 422);
    const cli = await run(['validate', 'bad.yaml', '--json'], { cwd: root, env });
    assert.equal(cli.code, 2);
    assert.deepEqual(body.problems, JSON.parse(cli.stdout));
    assert.ok(body.problems.every((p: { line: number; file: string }) => p.line > 0 && p.file === 'bad.yaml'), JSON.stringify(body.problems));
    assert.equal(typeof body.error, 'string');
  });

  it('refuses paths outside the root with 403 and a hint, before reading anything', async () => {
    // The last two: hidden folders and node_modules, which the listing skips, are not served by path either.
    const refused = ['..%2Fx.yaml', '%2Fetc%2Fpasswd', '/etc/passwd', 'a%2F..%2F..%2Fx.yaml', 'a/..%2F..%2Fx.yaml', 'out.yaml', 'x%00.yaml', 'notes.txt', '..%2F..%2F..%2Fetc%2Fpasswd', '.hidden/w.yaml', 'node_modules/w.yaml'];
    for (const path of refused) {
      const { status, body } = await getJson(server.base, `/api/workflows/${path}/plan`);
      assert.equal(status, 403, `${path}: ${JSON.stringify(body)}`);
      assert.equal(typeof body.error, 'string');
      assert.equal(typeof body.hint, 'string');
      assert.doesNotMatch(JSON.stringify(body), /task1|root:/, path);
    }
    // Sent unencoded (URL parsing would resolve them before routing), `..` segments are refused too.
    for (const path of ['/api/workflows/../../x.yaml/plan', '/api/workflows/a/../../x.yaml/plan', '/api/workflows/../../../etc/passwd/plan', '/api/workflows/a/%2e%2e/%2E%2E/x.yaml/plan']) {
      const answer = await raw(server.base, path);
      assert.equal(answer.status, 403, `${path}: ${answer.body}`);
      assert.match(answer.body, /^\{"error":"the path goes up/);
    }
    // A link that stays inside the root is served.
    assert.equal((await getJson(server.base, '/api/workflows/alias.yaml/plan')).status, 200);
    assert.equal((await getJson(server.base, '/api/workflows/missing.yaml/plan')).status, 404);
  });

  it('lists recorded runs, filtered and paginated', async () => {
    const all = await getJson(server.base, '/api/runs');
    assert.equal(all.status, 200);
    assert.equal(all.body.total, 2);
    assert.deepEqual(new Set(all.body.runs.map((r: { id: string }) => r.id)), new Set(runIds));
    assert.ok(all.body.runs.every((r: { status: string }) => r.status === 'succeeded'));
    const cli = await run(['runs', '--json', '--store', storePath], { env });
    assert.deepEqual(all.body.runs, JSON.parse(cli.stdout));

    const one = await getJson(server.base, '/api/runs?workflow=sub%2Fnested.yaml');
    assert.deepEqual(one.body.runs.map((r: { id: string }) => r.id), [runIds[1]]);
    assert.equal(one.body.total, 1);
    const byPath = await getJson(server.base, `/api/runs?workflow=${encodeURIComponent(join(root, 'good.yaml'))}`);
    assert.deepEqual(byPath.body.runs.map((r: { id: string }) => r.id), [runIds[0]]);
    assert.deepEqual((await getJson(server.base, '/api/runs?status=failed')).body, { runs: [], total: 0 });
    const page = await getJson(server.base, '/api/runs?limit=1&offset=1');
    assert.equal(page.body.runs.length, 1);
    assert.equal(page.body.runs[0].id, all.body.runs[1].id);
    for (const bad of ['limit=0', 'limit=501', 'limit=x', 'offset=-1', 'status=done']) {
      const answer = await getJson(server.base, `/api/runs?${bad}`);
      assert.equal(answer.status, 400, bad);
      assert.equal(typeof answer.body.hint, 'string', bad);
    }
  });

  it('shows a run in the shape `conductor run --json` printed it, with its inputs and dependencies beside; an unknown id is 404', async () => {
    const { status, body } = await getJson(server.base, `/api/runs/${runIds[1]}`);
    assert.equal(status, 200);
    const printed = reports[1];
    for (const key of ['runId', 'workflow', 'status', 'startedAt', 'finishedAt', 'outputs', 'usage', 'cost']) assert.deepEqual(body[key], printed[key], key);
    assert.deepEqual(Object.keys(body.steps), Object.keys(printed.steps));
    for (const [id, step] of Object.entries<any>(printed.steps)) {
      for (const key of ['status', 'output', 'attempts', 'startedAt', 'finishedAt', 'durationMs']) assert.deepEqual(body.steps[id][key], step[key], `${id}.${key}`);
    }
    assert.deepEqual(body.steps.second.dependsOn, ['first']);
    assert.deepEqual(body.steps.first.dependsOn, []);
    assert.equal(body.live, false);
    assert.deepEqual(body.inputs, {});
    assert.equal(body.stepsDone, 2);
    const missing = await getJson(server.base, '/api/runs/00000000-0000-4000-8000-000000000000');
    assert.equal(missing.status, 404);
    assert.equal(typeof missing.body.error, 'string');
  });

  it('describes exactly its endpoints in OpenAPI 3.1', async () => {
    const { status, body } = await getJson(server.base, '/api/openapi.json');
    assert.equal(status, 200);
    assert.equal(body.openapi, '3.1.0');
    assert.deepEqual(Object.keys(body.paths).sort(), ['/api/openapi.json', '/api/runs', '/api/runs/{id}', '/api/runs/{id}/cancel', '/api/runs/{id}/events', '/api/runs/{id}/resume', '/api/runs/{id}/steps/{step}/history', '/api/workflows', '/api/workflows/{path}/plan']);
  });

  it('answers an unknown endpoint with a JSON 404', async () => {
    const { status, body } = await getJson(server.base, '/api/nothing');
    assert.equal(status, 404);
    assert.equal(typeof body.hint, 'string');
  });
});

describe('conductor serve: failures and the token', () => {
  let root: string;
  before(async () => {
    root = await scratch();
    await cp(join(ROOT, 'examples/parallel.yaml'), join(root, 'good.yaml'));
  });

  it('answers an unexpected failure with a bare 500, no message or stack', async () => {
    const server = await listen({ root, store: async () => { throw new Error('boom at /secret/place'); } });
    try {
      const { status, body } = await getJson(server.base, '/api/runs');
      assert.equal(status, 500);
      assert.deepEqual(body, { error: 'internal error' });
    } finally {
      await server.close();
    }
  });

  it('needs the token on every request when one is set: 401 without it or with a wrong one, and never echoes it', async () => {
    const server = await listen({ root, token: TOKEN, store: async () => { throw new Error('the store must not be opened without the token'); } });
    try {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${TOKEN}x` }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
        for (const path of ['/api/workflows', '/api/runs', '/api/workflows/good.yaml/plan', '/api/openapi.json', '/nothing']) {
          const res = await fetch(server.base + path, { headers });
          const text = await res.text();
          assert.equal(res.status, 401, `${path} ${JSON.stringify(headers)}`);
          assert.ok(!text.includes(TOKEN), text);
          assert.equal(typeof JSON.parse(text).error, 'string');
        }
      }
      // Nothing is started, cancelled or resumed without it (the runs' store is never even opened).
      for (const [path, body] of [['/api/runs', { workflow: 'good.yaml' }], ['/api/runs', { yaml: 'steps: []' }], ['/api/runs/x/cancel', {}], ['/api/runs/x/resume', {}], ['/api/runs/x/events', undefined]] as const) {
        const res = await fetch(server.base + path, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
        assert.equal(res.status, 401, path);
        await res.text();
      }
      assert.equal(server.runs.active, 0);
      // Before anything else is looked at: a path the server would refuse is 401 too.
      assert.equal((await raw(server.base, '/api/workflows/a/../../x.yaml/plan')).status, 401);
      const ok = await getJson(server.base, '/api/workflows', { authorization: `Bearer ${TOKEN}` });
      assert.equal(ok.status, 200);
      // The scheme's case does not matter (RFC 9110); the token's does.
      assert.equal((await getJson(server.base, '/api/workflows', { authorization: `bearer ${TOKEN}` })).status, 200);
      assert.equal(ok.body.workflows.length, 1);
    } finally {
      await server.close();
    }
  });
});

/** Starts `conductor serve` and waits for its one listening line; the base URL from it. */
async function started(args: string[], extra: Record<string, string> = {}) {
  const proc = conductor(['serve', '--port', '0', ...args], { env: extra });
  let seen = '';
  const base = await new Promise<string>((done, fail) => {
    proc.child.stderr!.on('data', (d: Buffer) => {
      seen += d;
      const match = /^conductor serve: (http:\/\/127\.0\.0\.1:\d+) \(root .+\)$/m.exec(seen);
      if (match) done(match[1]!);
    });
    proc.done.then((r) => fail(new Error(`serve exited ${r.code} before listening: ${r.stderr}`)));
  });
  return { ...proc, base };
}

describe('conductor serve: the command', { timeout: 300_000 }, () => {
  let root: string;
  before(async () => {
    root = await scratch();
    await cp(join(ROOT, 'examples/parallel.yaml'), join(root, 'good.yaml'));
  });

  it('refuses to bind a non-loopback address without CONDUCTOR_SERVE_TOKEN (exit 2, one line and a hint)', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.1']) {
      const result = await run(['serve', '--host', host, '--port', '0', '--root', root]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^error: binding .+ needs a token/m);
      assert.match(result.stderr, /hint: set CONDUCTOR_SERVE_TOKEN/);
      assert.doesNotMatch(result.stderr, /conductor serve: http/);
    }
  });

  it('refuses a bad --port or --root with exit 2', async () => {
    for (const port of ['x', '-1', '65536', '1.5']) {
      const result = await run(['serve', '--port', port, '--root', root]);
      assert.equal(result.code, 2, `${port}: ${result.stderr}`);
      assert.match(result.stderr, /--port/);
    }
    const noRoot = await run(['serve', '--port', '0', '--root', join(root, 'missing')]);
    assert.equal(noRoot.code, 2, noRoot.stderr);
  });

  it('serves on loopback, with the token when it is set, and stops on the first Ctrl-C with exit 0', async () => {
    const server = await started(['--root', root], { CONDUCTOR_SERVE_TOKEN: TOKEN });
    const denied = await fetch(`${server.base}/api/workflows`);
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const ok = await getJson(server.base, '/api/workflows', { authorization: `Bearer ${TOKEN}` });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.workflows.map((w: { path: string }) => w.path), ['good.yaml']);
    server.child.kill('SIGINT');
    const result = await server.done;
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!result.stderr.includes(TOKEN));
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  });

  it('bound to every address with a token: 401 for every request without it, and nothing is started', async () => {
    const proc = conductor(['serve', '--port', '0', '--host', '0.0.0.0', '--root', root], { env: { CONDUCTOR_SERVE_TOKEN: TOKEN, CONDUCTOR_MODEL: 'echo', CONDUCTOR_HOME: await scratch() } });
    let seen = '';
    const port = await new Promise<string>((done, fail) => {
      proc.child.stderr!.on('data', (d: Buffer) => {
        seen += d;
        const match = /^conductor serve: http:\/\/0\.0\.0\.0:(\d+) /m.exec(seen);
        if (match) done(match[1]!);
      });
      proc.done.then((r) => fail(new Error(`serve exited ${r.code}: ${r.stderr}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    try {
      const json = { 'content-type': 'application/json' };
      for (const [method, path, body] of [['POST', '/api/runs', '{"workflow": "good.yaml"}'], ['GET', '/api/runs', undefined], ['GET', '/api/workflows', undefined], ['POST', '/api/runs/x/cancel', '{}']] as const) {
        const res = await fetch(base + path, { method, headers: json, ...(body ? { body } : {}) });
        assert.equal(res.status, 401, `${method} ${path}`);
        await res.text();
      }
      const listed = await getJson(base, '/api/runs', { authorization: `Bearer ${TOKEN}` });
      assert.deepEqual(listed.body.runs, []);
      // With it, a run starts.
      const started = await fetch(`${base}/api/runs`, { method: 'POST', headers: { ...json, authorization: `Bearer ${TOKEN}` }, body: '{"workflow": "good.yaml"}' });
      assert.equal(started.status, 202);
      await started.text();
    } finally {
      proc.child.kill('SIGINT');
      assert.equal((await proc.done).code, 0);
    }
  });

  it('says when the port is in use (exit 2); without a token it answers only requests addressed to localhost', async () => {
    const first = await started(['--root', root]);
    try {
      assert.equal((await raw(first.base, '/api/workflows')).status, 200);
      const rebound = await raw(first.base, '/api/workflows', { host: 'attacker.example' });
      assert.equal(rebound.status, 403);
      assert.doesNotMatch(rebound.body, /good\.yaml/);
      const port = new URL(first.base).port;
      const result = await run(['serve', '--port', port, '--root', root]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use`));
    } finally {
      first.child.kill('SIGINT');
      assert.equal((await first.done).code, 0);
    }
  });
});

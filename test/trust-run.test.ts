/**
 * Issue #12, the run's side, through the real CLI: a closed pipe never stops a run, secrets never reach what is
 * printed or stored, timeouts and Retry-After waits are bounded, and `--quiet` still says why a run failed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, run, TEST_HOME } from './support/cli.ts';
import { addLlmRoutes } from './support/llm-stand-ins.ts';
import { reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

const NO_STACK = /^\s+at /m;

/** Runs a shell pipeline from the repository root; resolves with the exit status of every command in it. */
function pipeline(command: string, env: Record<string, string>): Promise<{ statuses: number[]; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', `${command}; echo "STATUS \${PIPESTATUS[@]}"`], {
      cwd: ROOT,
      env: { PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env['PATH'] ?? ''}`, HOME: process.env['HOME'] ?? '', CONDUCTOR_HOME: TEST_HOME, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('close', () => resolve({ statuses: (/STATUS ([\d ]+)/.exec(output)?.[1] ?? '').trim().split(' ').map(Number), output }));
  });
}

describe('a closed stdout or stderr', () => {
  it('never stops or corrupts a run: it finishes, is recorded, and exits with its own code', async (t) => {
    const dir = await tempDir(t);
    const wf = await writeWorkflow(dir, `
steps:
  - id: a
    llm: { prompt: "first" }
  - id: b
    llm: { prompt: "then \${steps.a.output}" }
  - id: write
    file: { action: write, path: out.txt, content: "\${steps.b.output}" }
outputs:
  text: \${steps.b.output}
`);
    const store = join(dir, 'runs.db');
    const conductor = `node bin/conductor.js run ${wf} --store ${store}`;
    for (const [command, expected] of [
      [`${conductor} 2>&1 | head -0`, 0],
      [`${conductor} 2>&1 | head -1`, 0],
      [`${conductor} --json | head -c 1`, 0],
      [`${conductor} 2>/dev/null | true`, 0],
    ] as const) {
      const { statuses, output } = await pipeline(command, { CONDUCTOR_MODEL: 'echo' });
      assert.equal(statuses[0], expected, `${command}: ${output}`);
      assert.doesNotMatch(output, NO_STACK);
    }
    assert.equal(await readFile(join(dir, 'out.txt'), 'utf8'), 'then first');
    const runs = JSON.parse((await run(['runs', '--json', '--store', store])).stdout) as { status: string }[];
    assert.deepEqual(runs.map((r) => r.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
  });

  it('a failed run still exits 1 when nobody reads its output', async (t) => {
    const dir = await tempDir(t);
    const wf = await writeWorkflow(dir, `steps:\n  - id: read\n    file: { action: read, path: missing.txt }\n`);
    const { statuses } = await pipeline(`node bin/conductor.js run ${wf} --no-store 2>&1 | head -0`, {});
    assert.equal(statuses[0], 1);
  });
});

describe('secrets', () => {
  const KEY = 'sk-live-0123456789abcdefghij';
  const AUTH = 'Bearer live-auth-value-42';
  const TOKEN = 'tok-plain-name-value';
  const NAMED = 'hunter2-named';
  const COOKIE = 'session-cookie-value-99';

  it('never reach run output, --json, --quiet, the live lines or the store, whatever their variable is called', async (t) => {
    server.route('/secrets/login', (req, res) =>
      reply(res, 200, { welcome: 'ok', sawAuth: req.headers['authorization'], sawToken: req.headers['x-token'] }, { 'set-cookie': `sid=${COOKIE}; Path=/; HttpOnly` }),
    );
    server.route('/secrets/echo', (req, res) => reply(res, 200, { echoed: req.body }));
    const dir = await tempDir(t);
    const wf = await writeWorkflow(dir, `
config:
  secrets: [PLAIN_NAMED]
steps:
  - id: model
    llm: { prompt: "the key is \${env.MY_API_KEY} and \${env.PLAIN_NAMED}" }
  - id: login
    http:
      url: ${server.url}/secrets/login
      headers: { authorization: "\${env.API_AUTH}", x-token: "\${env.PLAIN_TOKEN}" }
  - id: echo
    http:
      method: POST
      url: ${server.url}/secrets/echo
      body: { cookie: "\${steps.login.headers.set-cookie}", model: "\${steps.model.output}" }
outputs:
  model: \${steps.model.output}
  login: \${steps.login.output}
  echo: \${steps.echo.output}
`);
    const store = join(dir, 'runs.db');
    const env = { CONDUCTOR_MODEL: 'echo', MY_API_KEY: KEY, API_AUTH: AUTH, PLAIN_TOKEN: TOKEN, PLAIN_NAMED: NAMED };
    const results = [
      await run(['run', wf, '--store', store], { env }),
      await run(['run', wf, '--store', store, '--json'], { env }),
      await run(['run', wf, '--store', store, '--quiet'], { env }),
    ];
    const recorded = await run(['runs', 'show', JSON.parse(results[1]!.stdout).runId, '--json', '--store', store]);
    const listed = await run(['runs', '--json', '--store', store]);
    for (const r of [...results, recorded, listed]) {
      assert.equal(r.code, 0, r.stderr);
      for (const secret of [KEY, AUTH, 'live-auth-value-42', TOKEN, NAMED, COOKIE]) {
        assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${secret} leaked:\n${r.stdout}\n${r.stderr}`);
      }
    }
    // The steps still got the real values: the server saw them, and the echo step sent the real cookie.
    const login = server.byPath('/secrets/login').at(-1)!;
    assert.equal(login.headers['authorization'], AUTH);
    assert.equal(login.headers['x-token'], TOKEN);
    assert.match(server.byPath('/secrets/echo').at(-1)!.body, new RegExp(COOKIE));
    const report = JSON.parse(results[1]!.stdout) as { outputs: Record<string, any>; steps: Record<string, any> };
    assert.equal(report.outputs['model'], 'the key is *** and ***');
    assert.equal(report.steps['login'].properties.headers['set-cookie'], '***');
  });
});

describe('--quiet', () => {
  it('prints the failure on stderr: the step, its error and the hint', async (t) => {
    const dir = await tempDir(t);
    const wf = await writeWorkflow(dir, `steps:\n  - id: read\n    file: { action: read, path: missing.txt }\n`);
    const r = await run(['run', wf, '--quiet', '--no-store']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^failed: read: .*missing\.txt/m);
    const recorded = await run(['run', wf, '--quiet', '--store', join(dir, 'runs.db')]);
    assert.match(recorded.stderr, /^failed: read: .*\n {2}docs: docs\/language\.md#file\n {2}run [0-9a-f-]+ · conductor resume [0-9a-f]{8}\n$/m);
  });
});

describe('timeouts', () => {
  it('a step-level `timeout` bounds each attempt, and the hint names the keys that exist', async (t) => {
    server.route('/slow/never', () => {}); // never answers
    const dir = await tempDir(t);
    const wf = await writeWorkflow(dir, `
steps:
  - id: call
    timeout: 0.3
    retry: { attempts: 1 }
    http: { url: ${server.url}/slow/never }
`);
    const r = await run(['run', wf, '--json', '--no-store']);
    assert.equal(r.code, 1);
    const step = JSON.parse(r.stdout).steps.call;
    assert.equal(step.errorCode, 'timeout');
    assert.match(step.error, /timed out after 0\.3 s \(set by the step's `timeout`\)/);
    assert.match(step.hint, /`timeout:` on the step.*`config\.timeout`/);
  });

  it('a timed-out step fails at its timeout: it is not retried (the call may have been carried out)', async (t) => {
    server.route('/slow/once', () => {}); // never answers
    const dir = await tempDir(t);
    const wf = await writeWorkflow(dir, `steps:\n  - id: call\n    timeout: 0.3\n    retry: { attempts: 3, backoff: 0 }\n    http: { method: POST, url: ${server.url}/slow/once }\n`);
    const r = await run(['run', wf, '--json', '--no-store']);
    assert.equal(r.code, 1, r.stderr);
    const step = JSON.parse(r.stdout).steps.call;
    assert.deepEqual([step.errorCode, step.attempts], ['timeout', 1]);
    assert.equal(server.byPath('/slow/once').length, 1, 'the server saw the POST once');
  });

  it('an llm step whose provider sends headers and then nothing fails at its timeout', async (t) => {
    const provider = await StandIn.start();
    t.after(() => provider.close());
    addLlmRoutes(provider, {
      intercept: (_request, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        return true; // and nothing more, ever
      },
    });
    const dir = await tempDir(t);
    const wf = await writeWorkflow(dir, `
config: { timeout: 0.5 }
steps:
  - id: ask
    retry: { attempts: 1 }
    llm: { prompt: "hello", model: "openai:gpt-4o-mini" }
`);
    const r = await run(['run', wf, '--json', '--no-store'], { env: { OPENAI_API_KEY: 'sk-test-key-for-the-stand-in', OPENAI_BASE_URL: `${provider.url}/v1` } });
    assert.equal(r.code, 1, r.stderr);
    const step = JSON.parse(r.stdout).steps.ask;
    assert.equal(step.errorCode, 'timeout');
    assert.match(step.error, /set by `config\.timeout`/);
    await provider.until(() => provider.requests.length === 1 && provider.requests[0]!.aborted);
  });
});

describe('Retry-After', () => {
  for (const [name, header, timeout, expected] of [
    ['beyond 10 minutes', '86400', 'timeout: 3600', /asked to wait 24 h before trying again, more than 10 min/],
    ['beyond the step timeout', '30', 'timeout: 5', /asked to wait 30 s before trying again, longer than the step's timeout \(5 s/],
  ] as const) {
    it(`a wait ${name} fails the step at once, naming the wait and what to do`, async (t) => {
      const path = `/retry-after/${header}`;
      server.route(path, (_req, res) => reply(res, 429, { error: 'slow down' }, { 'retry-after': header }));
      const dir = await tempDir(t);
      const wf = await writeWorkflow(dir, `steps:\n  - id: call\n    ${timeout}\n    http: { url: ${server.url}${path} }\n`);
      const r = await run(['run', wf, '--no-store'], {});
      assert.equal(r.code, 1);
      assert.match(r.stderr, expected);
      assert.match(r.stderr, /hint: `conductor resume` the run once the provider.s limit has reset/);
      assert.doesNotMatch(r.stderr, /waiting/);
      assert.equal(server.byPath(path).length, 1);
    });
  }
});

describe('error bodies', () => {
  it('show their first line in messages; --json keeps the whole body', async (t) => {
    const page = `<!DOCTYPE html>\n<html>\n${'<p>upstream noise</p>\n'.repeat(40)}</html>`;
    server.route('/html-error', (_req, res) => reply(res, 503, page));
    const dir = await tempDir(t);
    const wf = await writeWorkflow(dir, `steps:\n  - id: call\n    retry: { attempts: 2, backoff: 0 }\n    http: { url: ${server.url}/html-error }\n`);
    const text = await run(['run', wf, '--no-store']);
    assert.equal(text.code, 1);
    assert.doesNotMatch(text.stderr, /upstream noise/);
    assert.match(text.stderr, /HTTP 503: <!DOCTYPE html>…/);
    const store = join(dir, 'runs.db');
    const json = await run(['run', wf, '--store', store, '--json']);
    const report = JSON.parse(json.stdout);
    assert.equal(report.steps.call.errorDetail, page);
    const shown = JSON.parse((await run(['runs', 'show', report.runId, '--json', '--store', store])).stdout);
    assert.equal(shown.steps.find((s: { stepId: string }) => s.stepId === 'call').errorDetail, page);
  });
});

describe('the first screen', () => {
  it('`npx conductor` through the system Node prints what conductor prints, and no npm warning', async (t) => {
    // What a new user has: the machine's own node and npm, not the project's Node 24 first, and an npx cache
    // that has not seen this project (npm warns about engines on the first look only).
    const PATH = (process.env['PATH'] ?? '').split(':').filter((p) => !p.includes('node_modules')).join(':');
    const cache = await tempDir(t);
    const result = await new Promise<{ out: string; code: number | null }>((resolve) => {
      const child = spawn('npx', ['conductor', '--version'], { cwd: ROOT, env: { PATH, HOME: process.env['HOME'] ?? '', npm_config_cache: cache }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (out += d));
      child.on('close', (code) => resolve({ out, code }));
    });
    assert.equal(result.code, 0, result.out);
    assert.match(result.out, /^\d+\.\d+\.\d+\n$/);
  });
});

describe('secrets, the hard cases', () => {
  const scan = (texts: string[], secrets: string[]) => {
    for (const text of texts) for (const secret of secrets) assert.ok(!text.includes(secret), `${secret} leaked in:\n${text}`);
  };
  /** Runs a workflow three ways (plain, --json, and its record), and gives every text a user or the store holds. */
  async function everything(t: { after(fn: () => unknown): void }, text: string, env: Record<string, string>, args: string[] = []) {
    const dir = await tempDir(t);
    const wf = await writeWorkflow(dir, text);
    const store = join(dir, 'runs.db');
    const plain = await run(['run', wf, '--store', store, ...args], { env });
    const json = await run(['run', wf, '--store', store, '--json', ...args], { env });
    const runId = (JSON.parse(json.stdout) as { runId: string }).runId;
    const shown = await run(['runs', 'show', runId, '--json', '--store', store]);
    let bytes = '';
    for (const name of ['runs.db', 'runs.db-wal']) bytes += await readFile(join(dir, name), 'latin1').catch(() => '');
    return { plain, json, report: JSON.parse(json.stdout), texts: [plain.stdout, plain.stderr, json.stdout, json.stderr, shown.stdout, bytes] };
  }

  it('a token one step receives and another sends as a credential is masked in the first one’s result too', async (t) => {
    const TOKEN = 'tok_SUPER_login_token_0042';
    server.route('/hard/login', (_req, res) => reply(res, 200, { token: TOKEN, user: 'bob' }));
    server.route('/hard/use', (req, res) => reply(res, 200, { ok: req.headers['authorization'] === `Bearer ${TOKEN}` }));
    const { report, texts } = await everything(t, `
steps:
  - id: login
    http: { method: POST, url: ${server.url}/hard/login }
  - id: use
    http: { url: ${server.url}/hard/use, headers: { authorization: "Bearer \${steps.login.output.token}" } }
outputs:
  ok: \${steps.use.output.ok}
`, {});
    assert.equal(report.outputs.ok, true, 'the real token was sent');
    assert.deepEqual(report.steps.login.output, { token: '***', user: 'bob' });
    scan(texts, [TOKEN]);
  });

  it('what is left of a secret where a message was cut is masked too', async (t) => {
    const KEY = 'sk-live-ABCDEFGHIJKLMNOP0123';
    server.route('/hard/cut', (_req, res) => reply(res, 400, `${'x'.repeat(190)}${KEY}\nmore`));
    const { plain, texts } = await everything(t, `steps:\n  - id: call\n    http: { url: ${server.url}/hard/cut }\n`, { MY_API_KEY: KEY });
    assert.equal(plain.code, 1);
    scan(texts, [KEY.slice(0, 6), KEY.slice(-6)]);
  });

  it('escaped spellings, numbers, short named values, encoded URLs and URL passwords', async (t) => {
    const QUOTED = 'pa"ss\\word-1234';
    const PIN = '12345678';
    server.route('/hard/echo', (req, res) => reply(res, 200, { body: req.body, url: req.url, n: Number(PIN) }));
    const { plain, report, texts } = await everything(t, `
steps:
  - id: echo
    http:
      method: POST
      url: "${server.url}/hard/echo?key=\${env.SPACED_API_KEY}"
      body: { k: "\${env.QUOTED_API_KEY}", short: "\${env.DB_PASSWORD}" }
  - id: fail
    http: { url: "http://user:\${env.URL_PASS}@127.0.0.1:1/x" }
    retry: { attempts: 1 }
    depends_on: [echo]
`, { QUOTED_API_KEY: QUOTED, PIN_PASSWORD: PIN, DB_PASSWORD: 'hunt2r', SPACED_API_KEY: 'my "pass" word<>é', URL_PASS: 'correct horse battery' });
    assert.equal(plain.code, 1);
    assert.doesNotMatch(plain.stderr, /internal error/);
    assert.equal(report.steps.echo.output.n, '***');
    scan(texts, [QUOTED, JSON.stringify(QUOTED).slice(1, -1), PIN, 'hunt2r', encodeURIComponent('my "pass" word<>é'), 'correct horse battery', 'correct%20horse']);
  });

  it('an API answer nested 20,000 deep is kept as text, not a crash', async (t) => {
    server.route('/hard/deep', (_req, res) => reply(res, 200, `${'['.repeat(20_000)}1${']'.repeat(20_000)}`, { 'content-type': 'application/json' }));
    const { plain, report } = await everything(t, `steps:\n  - id: deep\n    http: { url: ${server.url}/hard/deep }\n`, { MY_API_KEY: 'sk-live-ABCDEFGHIJKLMNOP0123' });
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(typeof report.steps.deep.output, 'string');
  });

  it('a secret input is masked by its name, however short', async (t) => {
    const { texts } = await everything(t, `inputs:\n  db_password: { type: string }\nsteps:\n  - id: a\n    file: { action: exists, path: x }\n`, {}, ['-i', 'db_password=abc']);
    for (const text of texts.slice(0, 5)) assert.doesNotMatch(text, /"abc"/);
  });

  it('secret inputs: every string in them, and never echoed back when they are wrong', async (t) => {
    const { texts } = await everything(
      t,
      `inputs:\n  credentials: { type: object }\nsteps:\n  - id: show\n    llm: { prompt: "as \${inputs.credentials.user} with \${inputs.credentials.pass}" }\noutputs:\n  said: \${steps.show.output}\n`,
      { CONDUCTOR_MODEL: 'echo' },
      ['-i', 'credentials={"user":"bobby","pass":"Tr0ub4dor&3x"}'],
    );
    scan(texts, ['Tr0ub4dor&3x', 'bobby']);
    const dir = await tempDir(t);
    const wf = await writeWorkflow(dir, `inputs:\n  session_token: { type: object }\nsteps:\n  - id: a\n    file: { action: exists, path: x }\n`);
    const wrong = await run(['run', wf, '--no-store', '-i', 'session_token=eyJhbGciOi.SECRETPAYLOAD']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /input `session_token`: expected a JSON object, got a value \(not shown: the input is secret\)/);
    scan([wrong.stderr, wrong.stdout], ['SECRETPAYLOAD']);
  });
});

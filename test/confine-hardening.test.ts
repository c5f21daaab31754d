/**
 * The ways round "a model's answer never chooses where data goes" that an adversarial tester found, each closed,
 * end to end through the real CLI: a redirect from an allowed host to another, a `..` segment climbing a fixed
 * URL's path, a destructive file operation on the workflow itself, its folder or `.git`, a `Host` header chosen
 * by data, a model (and so a provider) chosen by data, and what `plan` says about all of them. With the `echo`
 * model a step "answers" its prompt, so a prompt is a model's choice.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from './support/cli.ts';
import { addLlmRoutes } from './support/llm-stand-ins.ts';
import { addRedirects, reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

/** Two stand-ins: two origins on 127.0.0.1. `home` is the one workflows allow; `elsewhere` must receive nothing. */
let home: StandIn;
let elsewhere: StandIn;
before(async () => {
  [home, elsewhere] = await Promise.all([StandIn.start(), StandIn.start()]);
  addRedirects(home);
  addLlmRoutes(elsewhere);
});
after(() => Promise.all([home.close(), elsewhere.close()]));

const env = { CONDUCTOR_MODEL: 'echo', SVC_TOKEN: 'tok-abcdefghijklmnop' };
const port = (s: StandIn) => new URL(s.url).port;

async function runJson(file: string, extraEnv: Record<string, string> = {}): Promise<{ code: number | null; report: any; stderr: string }> {
  const result = await run(['run', file, '--json'], { env: { ...env, ...extraEnv } });
  return { code: result.code, report: JSON.parse(result.stdout), stderr: result.stderr };
}

describe('a redirect of a data-chosen URL', () => {
  /** A model picks a URL on the allowed host; the `send` step POSTs a body and a credential header to it. */
  const post = (url: string, config: string) =>
    `${config}steps:\n  - id: ask\n    llm: { prompt: "${url}" }\n  - id: send\n    retry: { attempts: 3, backoff: 0 }\n    http:\n      method: POST\n      url: "\${steps.ask.output}"\n      headers: { x-custom-auth: "\${env.SVC_TOKEN}" }\n      body: { data: private }\n`;

  it('to a host allowHosts does not list is refused before it is sent: the other host receives nothing', async (t) => {
    const allow = `config:\n  http: { allowHosts: ["127.0.0.1:${port(home)}"] }\n`;
    const file = await writeWorkflow(await tempDir(t), post(`${home.url}/hop?to=${elsewhere.url}/steal`, allow));
    const { code, report } = await runJson(file);
    assert.equal(code, 1);
    assert.equal(report.steps.send.errorCode, 'not_allowed');
    assert.equal(report.steps.send.attempts, 1, 'not retried');
    assert.match(report.steps.send.error, new RegExp(`redirected to \`${elsewhere.url}/steal\`.*\`config\\.http\\.allowHosts\` does not list`));
    assert.deepEqual(elsewhere.byPath('/steal'), []);
    assert.equal(home.byPath('/hop').length, 1);
  });

  it('with a host fixed by the template may stay on that origin, and may not leave it', async (t) => {
    home.route('/landing', (_req, res) => reply(res, 200, { landed: true }));
    const dir = await tempDir(t);
    const fixed = (answer: string) =>
      `steps:\n  - id: ask\n    llm: { prompt: "${answer}" }\n  - id: get\n    http: { url: "${home.url}/\${steps.ask.output}", headers: { x-custom-auth: "\${env.SVC_TOKEN}" } }\noutputs:\n  got: "\${steps.get.output}"\n`;
    home.route('/in', (_req, res) => {
      res.writeHead(302, { location: '/landing' });
      res.end();
    });
    home.route('/out', (_req, res) => {
      res.writeHead(302, { location: `${elsewhere.url}/steal` });
      res.end();
    });
    const stays = await runJson(await writeWorkflow(dir, fixed('in'), 'in.yaml'));
    assert.equal(stays.code, 0, stays.stderr);
    assert.deepEqual(stays.report.outputs.got, { landed: true });
    assert.equal(home.byPath('/landing').at(-1)!.headers['x-custom-auth'], env.SVC_TOKEN, 'same origin: headers kept');
    const leaves = await runJson(await writeWorkflow(dir, fixed('out'), 'out.yaml'));
    assert.equal(leaves.code, 1);
    assert.equal(leaves.report.steps.get.errorCode, 'not_allowed');
    assert.match(leaves.report.steps.get.error, new RegExp(`redirected to \`${elsewhere.url}/steal\`, off ${home.url}, the origin its template fixes`));
    assert.deepEqual(elsewhere.byPath('/steal'), []);
  });
});

describe('a dot segment in a URL with a fixed host', () => {
  it('`..` or `.` as a whole segment is refused: the path prefix holds, nothing is sent', async (t) => {
    home.route('/api/x', (_req, res) => reply(res, 200, 'climbed'));
    const dir = await tempDir(t);
    for (const answer of ['..', '.']) {
      const file = await writeWorkflow(dir, `steps:\n  - id: ask\n    llm: { prompt: "${answer}" }\n  - id: get\n    http: { url: "${home.url}/api/v1/\${steps.ask.output}/x" }\n`);
      const before = home.requests.length;
      const { code, report } = await runJson(file);
      assert.equal(code, 1, answer);
      assert.equal(report.steps.get.errorCode, 'not_allowed');
      assert.match(report.steps.get.error, /makes the path segment `\.{1,2}`/);
      assert.equal(home.requests.length, before, `nothing sent for ${answer}`);
    }
    assert.deepEqual(home.byPath('/api/x'), []);
  });

  it('`../admin` still arrives encoded, on that host, below the prefix', async (t) => {
    home.route('/api/v1/..%2Fadmin/x', (_req, res) => reply(res, 200, 'ok'));
    const file = await writeWorkflow(await tempDir(t), `steps:\n  - id: ask\n    llm: { prompt: "../admin" }\n  - id: get\n    http: { url: "${home.url}/api/v1/\${steps.ask.output}/x" }\n`);
    const { code, stderr } = await runJson(file);
    assert.equal(code, 0, stderr);
    assert.equal(home.byPath('/api/v1/..%2Fadmin/x').length, 1);
  });
});

describe('a data-chosen file operation that changes something', () => {
  /** A model answers `answer`; a `file` step does `op` on the path it chose. */
  const chosen = (answer: string, op: string, config = '') =>
    `${config}steps:\n  - id: ask\n    llm: { prompt: "${answer}" }\n  - id: act\n    file: { action: ${op}, path: "\${steps.ask.output}"${op === 'write' || op === 'append' ? ', content: owned' : ''} }\n`;

  it('may not delete the workflow folder: exit 1, not_allowed, everything still there', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'keep.txt'), 'keep');
    const file = await writeWorkflow(dir, chosen('.', 'delete'));
    const { code, report } = await runJson(file);
    assert.equal(code, 1);
    assert.equal(report.steps.act.errorCode, 'not_allowed');
    assert.match(report.steps.act.error, /is the workflow's folder/);
    assert.match(report.steps.act.hint, /write the path into the workflow/);
    assert.deepEqual((await readdir(dir)).sort(), ['keep.txt', 'workflow.yaml']);
  });

  it('may not write, append to or delete the workflow file itself, so a later resume runs what the author wrote', async (t) => {
    const dir = await tempDir(t);
    for (const op of ['write', 'append', 'delete']) {
      const text = chosen('flow.yaml', op);
      const file = await writeWorkflow(dir, text, 'flow.yaml');
      const { code, report } = await runJson(file);
      assert.equal(code, 1, op);
      assert.equal(report.steps.act.errorCode, 'not_allowed');
      assert.match(report.steps.act.error, /is the workflow file/);
      assert.equal(await readFile(file, 'utf8'), text, `${op}: the workflow is unchanged`);
    }
  });

  it('may not touch anything in `.git`, a folder `config.files.allow` lists, or a folder holding the workflow', async (t) => {
    const root = await tempDir(t);
    const wf = join(root, 'a/wf');
    await mkdir(join(wf, '.git/hooks'), { recursive: true });
    await mkdir(join(root, 'shared'));
    const config = 'config:\n  files: { allow: [../../shared, ../..] }\n';
    const cases: [string, string, RegExp][] = [
      ['.git/hooks/pre-commit', 'write', /is a `\.git` folder or inside one/],
      ['.git', 'delete', /is a `\.git` folder or inside one/],
      ['../../shared', 'delete', /is `[^`]*shared`, a folder `config\.files\.allow` lists/],
      ['../..', 'delete', /a folder `config\.files\.allow` lists/],
      ['..', 'delete', /holds the workflow file/],
    ];
    for (const [answer, op, message] of cases) {
      const { code, report } = await runJson(await writeWorkflow(wf, chosen(answer, op, config)));
      assert.equal(code, 1, `${op} ${answer}`);
      assert.equal(report.steps.act.errorCode, 'not_allowed');
      assert.match(report.steps.act.error, message);
    }
    assert.deepEqual(await readdir(join(wf, '.git/hooks')), []);
    assert.ok((await stat(join(root, 'shared'))).isDirectory());
  });

  it('still reads them, and still writes and deletes below the folder', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'old.txt'), 'old');
    assert.equal((await runJson(await writeWorkflow(dir, chosen('.', 'list'), 'list.yaml'))).code, 0);
    assert.equal((await runJson(await writeWorkflow(dir, chosen('read.yaml', 'read'), 'read.yaml'))).code, 0);
    assert.equal((await runJson(await writeWorkflow(dir, chosen('out/new.txt', 'write'), 'write.yaml'))).code, 0);
    assert.equal((await runJson(await writeWorkflow(dir, chosen('old.txt', 'delete'), 'delete.yaml'))).code, 0);
    assert.equal(await readFile(join(dir, 'out/new.txt'), 'utf8'), 'owned');
    assert.ok(!(await readdir(dir)).includes('old.txt'));
  });
});

describe('a data-chosen Host header', () => {
  const hostFrom = (answer: string, header = 'Host', config = '') =>
    `${config}steps:\n  - id: ask\n    llm: { prompt: "${answer}" }\n  - id: send\n    http: { method: POST, url: "${home.url}/vhost", headers: { ${header}: "\${steps.ask.output}" }, body: private }\n`;

  it('naming a host allowHosts does not list is refused: nothing is sent', async (t) => {
    home.route('/vhost', (_req, res) => reply(res, 200, 'ok'));
    const dir = await tempDir(t);
    for (const header of ['Host', 'X-Forwarded-Host', 'Forwarded']) {
      const answer = header === 'Forwarded' ? 'for=1.2.3.4;host=evil.example.net' : 'evil.example.net';
      const { code, report } = await runJson(await writeWorkflow(dir, hostFrom(answer, header)));
      assert.equal(code, 1, header);
      assert.equal(report.steps.send.errorCode, 'not_allowed');
      assert.match(report.steps.send.error, new RegExp(`the ${header} header .*host \`evil\\.example\\.net\`, which \`config\\.http\\.allowHosts\` does not list`));
    }
    assert.deepEqual(home.byPath('/vhost'), []);
  });

  it('may name a host allowHosts lists', async (t) => {
    const file = await writeWorkflow(await tempDir(t), hostFrom(`127.0.0.1:${port(home)}`, 'Host', 'config:\n  http: { allowHosts: ["127.0.0.1"] }\n'));
    const { code, stderr } = await runJson(file);
    assert.equal(code, 0, stderr);
    assert.equal(home.byPath('/vhost').at(-1)!.headers.host, `127.0.0.1:${port(home)}`);
  });
});

describe('a data-chosen model', () => {
  const openai = { OPENAI_API_KEY: 'sk-test-aaaaaaaaaaaaaaaaaaaa', OPENAI_BASE_URL: '' };

  it('naming its own provider is refused: the prompt goes nowhere', async (t) => {
    const file = await writeWorkflow(await tempDir(t), `steps:\n  - id: pick\n    llm: { prompt: "openai:gpt-4o" }\n  - id: send\n    llm: { prompt: "PRIVATE DATA", model: "\${steps.pick.output}" }\n`);
    const { code, report } = await runJson(file, { ...openai, OPENAI_BASE_URL: `${elsewhere.url}/v1` });
    assert.equal(code, 1);
    assert.equal(report.steps.send.errorCode, 'not_allowed');
    assert.match(report.steps.send.error, /the model `openai:gpt-4o`, chosen by \$\{steps\.pick\.output\}, does not keep its provider in the template/);
    assert.match(report.steps.send.hint, /`echo:\$\{steps\.pick\.output\}`|`openai:\$\{steps\.pick\.output\}`/);
    assert.deepEqual(elsewhere.byPath('/v1/chat/completions'), []);
  });

  it('may pick a model of the provider the template names', async (t) => {
    const file = await writeWorkflow(await tempDir(t), `steps:\n  - id: pick\n    llm: { prompt: "anthropic:claude" }\n  - id: send\n    llm: { prompt: "local only", model: "echo:\${steps.pick.output}" }\noutputs:\n  said: "\${steps.send.output}"\n`);
    const { code, report, stderr } = await runJson(file);
    assert.equal(code, 0, stderr);
    assert.equal(report.outputs.said, 'local only');
  });
});

describe('the hint for a host that is not allowed', () => {
  it('keeps the scheme and port the URL was written with', async (t) => {
    const file = await writeWorkflow(await tempDir(t), `steps:\n  - id: ask\n    llm: { prompt: "http://127.0.0.1:8765/x" }\n  - id: get\n    http: { url: "\${steps.ask.output}" }\n`);
    const { report } = await runJson(file);
    assert.equal(report.steps.get.errorCode, 'not_allowed');
    assert.match(report.steps.get.hint, /^write the scheme and host into the template \(`http:\/\/127\.0\.0\.1:8765\/…\/\$\{steps\.ask\.output\}`/);
  });
});

describe('`plan` says what the run does', () => {
  it('marks Host headers and models chosen by data, and a host the author’s input may fix', async (t) => {
    const file = await writeWorkflow(
      await tempDir(t),
      `inputs:\n  base: { type: string, default: "http://127.0.0.1:18083/" }\nsteps:\n  - id: a\n    llm: { prompt: x }\n  - id: g\n    http: { url: "\${inputs.base}\${steps.a.output}" }\n  - id: h\n    http: { url: "http://127.0.0.1:18083/", headers: { Host: "\${steps.a.output}" } }\n  - id: j\n    llm: { prompt: x, model: "\${steps.a.output}" }\n  - id: k\n    llm: { prompt: x, model: "openai:\${steps.a.output}" }\n`,
    );
    const { stdout } = await run(['plan', file, '--no-store']);
    assert.match(stdout, /^ {5}data-chosen: g\.url ← \$\{steps\.a\.output\} \(host fixed by \$\{inputs\.base\} when it gives a scheme and host and a `\/`, the value URL-encoded; else the host must be listed in config\.http\.allowHosts\)$/m);
    assert.doesNotMatch(stdout, /g\.url ← \$\{steps\.a\.output\} \(host must be/);
    assert.match(stdout, /^ {5}data-chosen: h\.headers\.Host ← \$\{steps\.a\.output\} \(refused: config\.http\.allowHosts lists no host\)$/m);
    assert.match(stdout, /^ {5}data-chosen: j\.model ← \$\{steps\.a\.output\} \(refused: the provider must be written before it in the template, e\.g\. `openai:\$\{steps\.a\.output\}`\)$/m);
    assert.match(stdout, /^ {5}data-chosen: k\.model ← \$\{steps\.a\.output\} \(provider openai fixed by the template\)$/m);
    const json = JSON.parse((await run(['plan', file, '--no-store', '--format', 'json'])).stdout);
    assert.deepEqual(json.steps.h.dataChosen, ['headers.Host']);
    assert.deepEqual(json.steps.j.dataChosen, ['model']);
  });
});

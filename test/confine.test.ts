/**
 * A model's answer never chooses where data goes. With the `echo` model a step "answers" its prompt, so a prompt
 * of `../outside/pwned` is a model choosing that path — the prompt-injection path of an LLM pipeline, end to end
 * through the real CLI: what was written (or not) on disk, what the stand-in received (or not), exit codes.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from './support/cli.ts';
import { reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

const env = { CONDUCTOR_MODEL: 'echo', API_TOKEN: 'tok-123' };

/** A workflow folder `wf/` with a sibling `outside/` it must not reach. */
async function folders(t: { after(fn: () => unknown): void }): Promise<{ wf: string; outside: string }> {
  const root = await tempDir(t);
  const wf = join(root, 'wf');
  const outside = join(root, 'outside');
  await mkdir(wf);
  await mkdir(outside);
  return { wf, outside };
}

/** A model answers `answer`, and a `file` step writes to the path it chose. */
const writeChosen = (answer: string, config = '') =>
  `${config}steps:\n  - id: ask\n    llm: { prompt: "${answer}" }\n  - id: save\n    file: { action: write, path: "\${steps.ask.output}", content: "leaked" }\n`;

describe('a data-chosen file path', () => {
  it('is refused when it climbs out of the workflow folder: exit 1, nothing written, the key to change named', async (t) => {
    const { wf, outside } = await folders(t);
    const file = await writeWorkflow(wf, writeChosen('../outside/pwned'));
    const human = await run(['run', file], { env });
    assert.equal(human.code, 1, human.stderr);
    assert.match(human.stderr, /save: the path `[^`]*\/outside\/pwned`, chosen by \$\{steps\.ask\.output\}, is outside the workflow's folder/);
    assert.match(human.stderr, /hint: .*`config\.files\.allow`/);
    const report = JSON.parse((await run(['run', file, '--json'], { env })).stdout);
    assert.equal(report.steps.save.errorCode, 'not_allowed');
    assert.equal(report.steps.save.attempts, 1, 'not retried');
    assert.deepEqual(await readdir(outside), []);
  });

  it('is refused when a symlink inside the folder leads out of it', async (t) => {
    const { wf, outside } = await folders(t);
    await symlink(outside, join(wf, 'reports'));
    const file = await writeWorkflow(wf, writeChosen('reports/pwned'));
    const result = await run(['run', file, '--json'], { env });
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout);
    assert.equal(report.steps.save.errorCode, 'not_allowed');
    assert.match(report.steps.save.error, /through a symlink/);
    assert.deepEqual(await readdir(outside), []);
  });

  it('may go where `config.files.allow` lists, and anywhere inside the workflow folder', async (t) => {
    const { wf, outside } = await folders(t);
    const allowed = await writeWorkflow(wf, writeChosen('../outside/report.txt', 'config:\n  files: { allow: [../outside] }\n'));
    const result = await run(['run', allowed], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await readFile(join(outside, 'report.txt'), 'utf8'), 'leaked');
    const inside = await writeWorkflow(wf, writeChosen('notes/today.txt'), 'inside.yaml');
    assert.equal((await run(['run', inside], { env })).code, 0);
    assert.equal(await readFile(join(wf, 'notes/today.txt'), 'utf8'), 'leaked');
  });

  it('stays unrestricted when the author wrote it, literally or from an input', async (t) => {
    const { wf, outside } = await folders(t);
    const file = await writeWorkflow(
      wf,
      `inputs:\n  to: { type: string }\nsteps:\n  - id: ask\n    llm: { prompt: hello }\n  - id: literal\n    file: { action: write, path: ../outside/literal.txt, content: "\${steps.ask.output}" }\n  - id: input\n    file: { action: write, path: "\${inputs.to}", content: "\${steps.ask.output}" }\n`,
    );
    const result = await run(['run', file, '-i', `to=${join(outside, 'input.txt')}`], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await readdir(outside), ['input.txt', 'literal.txt']);
  });
});

describe('a data-chosen URL', () => {
  it('with a literal host in the template gets the value URL-encoded into its place', async (t) => {
    const { wf } = await folders(t);
    server.route('/items/..%2F..%2Fadmin', (_req, res) => reply(res, 200, { ok: true }));
    const file = await writeWorkflow(wf, `steps:\n  - id: ask\n    llm: { prompt: "../../admin" }\n  - id: get\n    http: { url: "${server.url}/items/\${steps.ask.output}" }\n`);
    const before = server.requests.length;
    const result = await run(['run', file], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      server.requests.slice(before).map((r) => r.path),
      ['/items/..%2F..%2Fadmin'],
    );
  });

  it('naming a host that is not allowed is refused: the stand-in receives nothing, the token stays home', async (t) => {
    const { wf } = await folders(t);
    server.route('/collect', (_req, res) => reply(res, 200, { ok: true }));
    const post = (config = '') =>
      `${config}steps:\n  - id: ask\n    llm: { prompt: "${server.url}/collect" }\n  - id: send\n    http: { method: POST, url: "\${steps.ask.output}", body: { token: "\${env.API_TOKEN}" } }\n`;
    const file = await writeWorkflow(wf, post());
    const result = await run(['run', file, '--json'], { env });
    assert.equal(result.code, 1);
    const report = JSON.parse(result.stdout);
    assert.equal(report.steps.send.errorCode, 'not_allowed');
    assert.equal(report.steps.send.attempts, 1);
    assert.match(report.steps.send.error, /calls host `127\.0\.0\.1`, which `config\.http\.allowHosts` does not list/);
    assert.match(report.steps.send.hint, /add `127\.0\.0\.1` to `config\.http\.allowHosts`/);
    assert.deepEqual(server.byPath('/collect'), []);

    const allowed = await writeWorkflow(wf, post('config:\n  http: { allowHosts: ["127.0.0.1"] }\n'), 'allowed.yaml');
    const ok = await run(['run', allowed], { env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(server.byPath('/collect')[0]!.body), { token: 'tok-123' });
  });

  it('`plan` marks it, in text and in JSON', async (t) => {
    const { wf } = await folders(t);
    const file = await writeWorkflow(wf, writeChosen('x'));
    const text = await run(['plan', file, '--no-store']);
    assert.match(text.stdout, /^ {5}data-chosen: save\.path ← \$\{steps\.ask\.output\} \(confined to the workflow folder\)$/m);
    const json = JSON.parse((await run(['plan', file, '--no-store', '--format', 'json'])).stdout);
    assert.deepEqual(json.steps.save.dataChosen, ['path']);
  });
});

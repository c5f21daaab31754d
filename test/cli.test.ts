/** The command line as users meet it: the built binary, real processes, exit codes and output. */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { conductor, ROOT, run } from './support/cli.ts';
import { Gate, reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

const NO_STACK = /^\s+at /m;

describe('conductor', () => {
  it('--version and --help', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.deepEqual(await run(['--version']), { code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    for (const command of ['run', 'validate', 'schema']) assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
    const runHelp = await run(['run', '--help']);
    assert.match(runHelp.stdout, /--max-concurrency <N> +How many steps may run at once/);
  });

  it('bad usage exits 2 with a hint and no stack', async () => {
    const unknown = await run(['valdate', 'x.yaml']);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, 'error: unknown command `valdate`\n  hint: did you mean `validate`?\n');
    const flag = await run(['run', 'examples/mixed.yaml', '--paralel']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Unknown option '--paralel'/);
    const limit = await run(['run', 'examples/mixed.yaml', '--max-concurrency', '0']);
    assert.equal(limit.code, 2);
    assert.match(limit.stderr, /`--max-concurrency` expects an integer from 1 to 1000, got `0`/);
  });
});

describe('start-up', () => {
  it('loads no provider SDK, HTTP client or store for --version, validate and plan (nothing recorded yet)', async (t) => {
    const dir = await tempDir(t);
    for (const args of [['--version'], ['validate', 'examples/mixed.yaml'], ['plan', 'examples/mixed.yaml']]) {
      const list = join(dir, `${args[0]}.txt`);
      const result = await run(args, { env: { NODE_OPTIONS: `--import=${join(ROOT, 'test/support/record-modules.ts')}`, CONDUCTOR_TEST_MODULES: list, CONDUCTOR_HOME: dir } });
      assert.equal(result.code, 0, result.stderr);
      const loaded = (await readFile(list, 'utf8')).split('\n');
      assert.ok(loaded.some((url) => url.includes('/dist/cli/')), `${args[0]}: the recorder saw the CLI load`);
      const heavy = loaded.filter((url) => /\/node_modules\/(ai|@ai-sdk\/[^/]+|ollama-ai-provider-v2|undici)\/|^node:sqlite$/.test(url));
      assert.deepEqual(heavy, [], `${args.join(' ')} loaded them`);
    }
  });
});

describe('conductor validate', () => {
  it('accepts a valid workflow', async () => {
    const result = await run(['validate', 'examples/mixed.yaml']);
    assert.deepEqual(result, { code: 0, stdout: '✓ examples/mixed.yaml is valid: 5 steps in 3 stages, critical path 3\n', stderr: '' });
  });

  it('reports every problem as file:line:col with a code frame and a hint, exit 2, no stack', async () => {
    const result = await run(['validate', 'test/fixtures/invalid/references.yaml']);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^test\/fixtures\/invalid\/references\.yaml:7:26: error: unknown step `proces1` in `\$\{steps\.proces1\.output\}`\n {2}7 \| {7}prompt: "Summarize \$\{steps\.proces1\.output\} about \$\{inputs\.topik\}"\n {4}\| {26}\^\n {2}hint: did you mean `process1`\?$/m);
    assert.match(result.stderr, /5 problems found; nothing was run\.\n$/);
    assert.doesNotMatch(result.stderr, NO_STACK);
    assert.doesNotMatch(result.stderr, /\u001b\[/, 'NO_COLOR: no escape codes');
    const debug = await run(['validate', 'test/fixtures/invalid/references.yaml', '--debug']);
    assert.match(debug.stderr, NO_STACK);
  });

  it('prints nothing but its own diagnostics: no warning from the YAML parser on a key written as a list', async () => {
    const result = await run(['validate', 'test/fixtures/invalid/keys.yaml']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^test\/fixtures\/invalid\/keys\.yaml:2:3: error: /);
    assert.match(result.stderr, /4 problems found; nothing was run\.\n$/);
    assert.doesNotMatch(result.stderr, /Warning|\(node:/);
  });

  it('--json prints the problems as {file, line, column, code, message, hint, severity, docs}', async () => {
    const result = await run(['validate', 'test/fixtures/invalid/cycle.yaml', '--json']);
    assert.equal(result.code, 2);
    assert.deepEqual(JSON.parse(result.stdout), [
      {
        file: 'test/fixtures/invalid/cycle.yaml',
        line: 4,
        column: 16,
        code: 'cycle',
        message: 'dependency cycle: a → c → b → a',
        hint: 'each step waits for the next; remove one of these references or `depends_on` entries',
        severity: 'error',
        docs: 'docs/language.md#dependencies',
      },
    ]);
    assert.deepEqual(JSON.parse((await run(['validate', 'examples/parallel.yaml', '--json'])).stdout), []);
  });

  it('names a missing file', async () => {
    const result = await run(['validate', 'nowhere.yaml']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^nowhere\.yaml: error: no such file\n/);
  });
});

describe('conductor schema', () => {
  it('prints the JSON Schema, and the committed copy is current', async () => {
    const result = await run(['schema']);
    assert.equal(result.code, 0);
    const schema = JSON.parse(result.stdout) as { properties: Record<string, unknown>; required: string[] };
    assert.deepEqual(Object.keys(schema.properties), ['name', 'description', 'inputs', 'config', 'steps', 'outputs']);
    assert.deepEqual(schema.required, ['steps']);
    const committed = await readFile(join(ROOT, 'schema/workflow.schema.json'), 'utf8');
    assert.equal(committed, result.stdout, 'run `npm run schema` to refresh schema/workflow.schema.json');
  });
});

describe('conductor run', () => {
  it('runs the founding document’s examples end to end', async () => {
    const env = { CONDUCTOR_MODEL: 'echo' };
    const mixed = await run(['run', 'examples/mixed.yaml'], { env });
    assert.equal(mixed.code, 0, mixed.stderr);
    assert.match(mixed.stdout, /^report: \|/);
    assert.match(mixed.stdout, /Key points: Extract key points: Conductor runs the steps/);
    assert.match(mixed.stderr, /✓ succeeded in .* \(5 succeeded\)/);
    const parallel = await run(['run', 'examples/parallel.yaml', '--json'], { env });
    assert.equal(parallel.code, 0);
    assert.deepEqual(Object.values(JSON.parse(parallel.stdout).steps).map((s) => (s as { output: string }).output), ['Generate a recipe', 'Generate a workout plan', 'Generate a reading list']);
    server.route('/data', (_req, res) => reply(res, 200, { temperature: 21 }));
    const sequential = await run(['run', 'examples/sequential.yaml', '-i', `url=${server.url}/data`, '--quiet'], { env });
    assert.deepEqual(sequential, { code: 0, stdout: 'analysis: \'Analyze: {"temperature":21}\'\n', stderr: '' });
  });

  it('--json prints exactly one report with the documented shape', async (t) => {
    const dir = await tempDir(t);
    server.route('/shape/ok', (_req, res) => reply(res, 200, { n: 1 }));
    const file = await writeWorkflow(dir, `steps:\n  - id: get\n    http: { url: "${server.url}/shape/ok" }\n  - id: save\n    file: { action: write, path: out.json, content: "\${steps.get.output}" }\noutputs:\n  n: \${steps.get.output.n}\n`);
    const result = await run(['run', file, '--json']);
    assert.equal(result.code, 0);
    assert.equal(result.stderr, '');
    const report = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(report), ['runId', 'workflow', 'status', 'startedAt', 'finishedAt', 'durationMs', 'steps', 'outputs', 'usage', 'cost']);
    assert.deepEqual(report.cost, { usd: 0, byModel: {} }, 'no model call: nothing spent');
    assert.equal(report.status, 'succeeded');
    assert.deepEqual(Object.keys(report.steps), ['get', 'save']);
    assert.deepEqual(Object.keys(report.steps.get), ['status', 'output', 'input', 'startedAt', 'finishedAt', 'durationMs', 'attempts', 'properties']);
    assert.deepEqual(report.steps.get.input, { url: `${server.url}/shape/ok` }, 'what it ran with');
    assert.deepEqual(report.steps.get.output, { n: 1 });
    assert.deepEqual(report.outputs, { n: 1 });
    assert.equal(typeof report.durationMs, 'number');
    assert.ok(!Number.isNaN(Date.parse(report.startedAt)));
    assert.equal(await readFile(join(dir, 'out.json'), 'utf8'), '{\n  "n": 1\n}\n');
  });

  it('exits 1 when a step fails, naming the step and why', async (t) => {
    const dir = await tempDir(t);
    server.route('/fails', (_req, res) => reply(res, 500, { error: 'broken' }));
    const file = await writeWorkflow(dir, `steps:\n  - id: fetch\n    retry: { attempts: 1 }\n    http: { url: "${server.url}/fails" }\n`);
    const human = await run(['run', file]);
    assert.equal(human.code, 1);
    assert.match(human.stderr, new RegExp(`✗ fetch failed in .*: GET ${server.url}/fails → HTTP 500: \\{"error":"broken"\\}`));
    assert.match(human.stderr, /✗ failed in .* \(1 failed\)\n {2}fetch: GET .* → HTTP 500/);
    assert.doesNotMatch(human.stderr, NO_STACK);
    const json = await run(['run', file, '--json']);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).steps.fetch.status, 'failed');
  });

  it('says what to do about a failure where there is something to say: under the reason, and in --json', async (t) => {
    const dir = await tempDir(t);
    const never = new Gate();
    t.after(() => never.open());
    server.route('/hangs', async () => never.wait());
    const file = await writeWorkflow(dir, `steps:\n  - id: slow\n    retry: { attempts: 1 }\n    http: { url: "${server.url}/hangs", timeout: 0.05 }\n`);
    const human = await run(['run', file]);
    assert.equal(human.code, 1);
    assert.match(human.stderr, /\n {2}slow: GET .*\/hangs: timed out after 0\.05 s \(set by `http\.timeout`\)\n {2}hint: raise `timeout:` on the step \(seconds\), or `config\.timeout` for every step\n/);
    const report = JSON.parse((await run(['run', file, '--json'])).stdout);
    assert.match(report.steps.slow.hint, /^raise `timeout:`/);
    assert.equal(report.hint, report.steps.slow.hint);
    const shown = await run(['runs', 'show', report.runId]);
    assert.match(shown.stdout, /^ {2}slow +failed .*timed out after 0\.05 s .*\n {8}hint: raise `timeout:`/m, 'and it is kept with the run');
  });

  it('checks inputs before anything runs (exit 2), and reads @file values', async (t) => {
    const dir = await tempDir(t);
    server.route('/echo-body', (req, res) => reply(res, 200, req.body));
    const file = await writeWorkflow(dir, `inputs:\n  text: { type: string }\nsteps:\n  - id: send\n    http: { method: POST, url: "${server.url}/echo-body", body: "\${inputs.text}" }\noutputs:\n  sent: \${steps.send.output}\n`);
    const before = server.requests.length;
    const missing = await run(['run', file]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /workflow\.yaml:2:3: error: missing required input `text`\n[\s\S]*hint: pass it with `-i text=…`/);
    assert.equal(server.requests.length, before);
    await writeFile(join(dir, 'note.txt'), 'from a file');
    const fromFile = await run(['run', file, '-i', 'text=@note.txt', '--quiet'], { cwd: dir });
    assert.deepEqual(fromFile, { code: 0, stdout: 'sent: from a file\n', stderr: '' });
  });

  it('Ctrl-C cancels in-flight requests and exits 130', async (t) => {
    const dir = await tempDir(t);
    const never = new Gate();
    server.route('/forever', async () => never.wait());
    const file = await writeWorkflow(dir, `steps:\n  - id: wait\n    http: { url: "${server.url}/forever" }\n`);
    const { child, done } = conductor(['run', file]);
    await server.until(() => server.byPath('/forever').length === 1);
    child.kill('SIGINT');
    const result = await done;
    assert.equal(result.code, 130);
    assert.match(result.stderr, /⊘ cancelled in .* \(1 cancelled\)/);
    await server.until(() => server.byPath('/forever')[0]!.endedAt !== undefined);
    assert.equal(server.byPath('/forever')[0]!.aborted, true);
    never.open();
  });
});

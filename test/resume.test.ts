/**
 * Run history and resume, through the CLI as users meet them: a stand-in server counts the requests each step
 * makes, so "not executed again" is what the server saw, not what the report claims.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { conductor, run } from './support/cli.ts';
import { addLlmRoutes } from './support/llm-stand-ins.ts';
import { Gate, reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => (server = addLlmRoutes(await StandIn.start())));
after(() => server.close());

const count = (prefix: string) => (step: string) => server.byPath(`/${prefix}/${step}`).length;

/** a → b → c, and d on its own; each step GETs /<prefix>/<id> and passes on what it got. */
function chain(prefix: string): string {
  return `steps:
  - id: a
    http: { url: "${server.url}/${prefix}/a" }
  - id: b
    http: { url: "${server.url}/${prefix}/b?from=\${steps.a.output.value}" }
  - id: c
    retry: { attempts: 1 }
    http: { url: "${server.url}/${prefix}/c?from=\${steps.b.output.value}" }
  - id: d
    http: { url: "${server.url}/${prefix}/d" }
outputs:
  last: \${steps.c.output.value}
  other: \${steps.d.output.value}
`;
}

const storeArgs = (dir: string) => ['--store', join(dir, 'runs.db')];

describe('resume', { timeout: 180_000 }, () => {
  it('after a failure at step k, runs exactly the steps that had not succeeded, with the same outputs as a clean run', async (t) => {
    const dir = await tempDir(t);
    let fixed = false;
    server.fallback((req, res) => {
      if (req.path === '/fail/c' && !fixed) return reply(res, 503, 'c is down');
      reply(res, 200, { value: `${req.path.split('/').pop()}(${new URL(req.url, 'http://x').searchParams.get('from') ?? ''})` });
    });
    const file = await writeWorkflow(dir, chain('fail'));
    const first = await run(['run', file, '--json', ...storeArgs(dir)]);
    assert.equal(first.code, 1);
    const failed = JSON.parse(first.stdout);
    assert.equal(failed.steps.c.status, 'failed');
    const n = count('fail');
    assert.deepEqual([n('a'), n('b'), n('c'), n('d')], [1, 1, 1, 1]);

    fixed = true;
    const resumed = await run(['resume', failed.runId.slice(0, 8), '--json', ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual([n('a'), n('b'), n('c'), n('d')], [1, 1, 2, 1], 'only c ran again');
    const report = JSON.parse(resumed.stdout);
    assert.deepEqual(report.outputs, { last: 'c(b(a()))', other: 'd()' });
    assert.deepEqual([report.steps.a.reused, report.steps.c.reused], [true, undefined]);

    const clean = await run(['run', file, '--json', '--no-store']);
    assert.deepEqual(JSON.parse(clean.stdout).outputs, report.outputs);

    const human = await run(['resume', failed.runId, ...storeArgs(dir)]);
    assert.match(human.stderr, /^resuming run .* \(failed\) of .*workflow\.yaml\n {2}reused: a, b, d\n {2}to run: c\n/);
  });

  it('after kill -9 mid-flight, the run shows as interrupted and resumes without re-running finished steps', async (t) => {
    const dir = await tempDir(t);
    const hold = new Gate();
    server.fallback(async (req, res) => {
      if (req.path === '/kill/b') await hold.wait();
      reply(res, 200, { value: req.path });
    });
    const file = await writeWorkflow(dir, chain('kill'));
    const { child, done } = conductor(['run', file, ...storeArgs(dir)]);
    // a has finished (b only starts after it), d has been answered, b is in flight.
    await server.until(() => server.byPath('/kill/b').length === 1 && server.byPath('/kill/d')[0]?.endedAt !== undefined);
    // d's result is committed when its step ends, a moment after the server answered: wait for the store.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const shown = JSON.parse((await run(['runs', '--json', ...storeArgs(dir)])).stdout)[0];
      if (shown?.stepsDone === 2 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await done;
    hold.open();

    const listed = JSON.parse((await run(['runs', '--json', ...storeArgs(dir)])).stdout);
    assert.equal(listed[0].status, 'interrupted');
    assert.equal(listed[0].stepsDone, 2);
    const n = count('kill');
    const resumed = await run(['resume', listed[0].id, '--json', ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual([n('a'), n('b'), n('c'), n('d')], [1, 2, 1, 1]);
  });

  it('a run whose machine is gone (a killed CI container) resumes once it has been quiet; a live one is refused', async (t) => {
    const dir = await tempDir(t);
    server.fallback((req, res) => (req.path === '/ci/c' ? reply(res, 503, 'c is down') : reply(res, 200, { value: req.path })));
    const file = await writeWorkflow(dir, chain('ci'));
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
    // As the store on a shared volume would hold it had the job been killed on another machine mid-run.
    const db = new DatabaseSync(join(dir, 'runs.db'));
    t.after(() => db.close());
    const lastSeen = (agoMs: number) =>
      db.prepare("UPDATE runs SET status = 'running', finished_at = NULL, host = 'ci-runner-7', heartbeat_at = ? WHERE id = ?").run(Date.now() - agoMs, first.runId);

    lastSeen(1_000);
    const busy = await run(['resume', first.runId, ...storeArgs(dir)]);
    assert.equal(busy.code, 2);
    assert.match(busy.stderr, /^error: run .* is still running \(process \d+ on ci-runner-7\)\n {2}hint: /);

    lastSeen(5 * 60_000);
    assert.equal(JSON.parse((await run(['runs', '--json', ...storeArgs(dir)])).stdout)[0].status, 'interrupted');
    server.fallback((req, res) => reply(res, 200, { value: req.path }));
    const resumed = await run(['resume', first.runId, '--json', ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const n = count('ci');
    assert.deepEqual([n('a'), n('b'), n('c'), n('d')], [1, 1, 2, 1], 'only c ran again');
  });

  it('after editing one step, re-runs that step and its dependents only, and says which', async (t) => {
    const dir = await tempDir(t);
    server.fallback((req, res) => reply(res, 200, { value: req.path }));
    const file = await writeWorkflow(dir, chain('edit'));
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
    assert.equal(first.status, 'succeeded');
    await writeFile(file, (await readFile(file, 'utf8')).replace(`/edit/b?from=`, `/edit/b?v=2&from=`));
    const resumed = await run(['resume', first.runId, ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /the workflow file changed since that run\n {2}reused: a, d\n {2}re-run: b \(changed: its definition, the input values it uses, or its model\)\n {2}re-run: c \(a step it depends on re-runs\)\n/);
    const n = count('edit');
    assert.deepEqual([n('a'), n('b'), n('c'), n('d')], [1, 2, 2, 1]);
  });

  it('--from re-runs a step and everything downstream', async (t) => {
    const dir = await tempDir(t);
    server.fallback((req, res) => reply(res, 200, { value: req.path }));
    const file = await writeWorkflow(dir, chain('from'));
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
    const resumed = await run(['resume', first.runId, '--from', 'b', '--json', ...storeArgs(dir)]);
    assert.equal(resumed.code, 0);
    const n = count('from');
    assert.deepEqual([n('a'), n('b'), n('c'), n('d')], [1, 2, 2, 1]);
    const wrong = await run(['resume', first.runId, '--from', 'bb', ...storeArgs(dir)]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /`--from bb`: the workflow has no step `bb`\n {2}hint: did you mean `b`\?/);
  });
});

describe('resume reuses only real results of the same work', { timeout: 180_000 }, () => {
  it('runs again a step whose recorded output held a secret, so what it feeds on is the real value, not ***', async (t) => {
    const dir = await tempDir(t);
    const key = 'sk-live-resume-0123456789abcdef';
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: key
    llm: { model: echo, prompt: "token=\${env.MY_API_KEY}" }
  - id: check
    file: { action: read, path: ready.txt }
  - id: save
    file: { action: write, path: out.txt, content: "\${steps.key.output} \${steps.check.output}" }
`,
    );
    const env = { MY_API_KEY: key };
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)], { env })).stdout);
    assert.deepEqual([first.steps.key.status, first.steps.check.status, first.steps.save.status], ['succeeded', 'failed', 'skipped']);
    await writeFile(join(dir, 'ready.txt'), 'ready');

    const resumed = await run(['resume', first.runId, ...storeArgs(dir)], { env });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /\n {2}reused: nothing\n {2}re-run: key \(its recorded output held a secret\)\n {2}to run: check, save\n/);
    assert.equal(await readFile(join(dir, 'out.txt'), 'utf8'), `token=${key} ready`);
    const db = await readFile(join(dir, 'runs.db'), 'latin1') + (await readFile(join(dir, 'runs.db-wal'), 'latin1').catch(() => ''));
    assert.ok(!db.includes(key), 'the store still holds no secret');
  });

  it('asks for a secret input again instead of sending the record’s *** in its place', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `inputs:\n  api_token: { type: string }\n  api_key: { type: string, default: public-demo-key }\nsteps:\n  - id: use\n    file: { action: write, path: out.txt, content: "token=\${inputs.api_token}" }\n  - id: check\n    depends_on: [use]\n    file: { action: read, path: ready.txt }\n`);
    const first = JSON.parse((await run(['run', file, '-i', 'api_token=tok-realvalue-123456', '--json', ...storeArgs(dir)])).stdout);
    assert.equal(first.status, 'failed');
    const refused = await run(['resume', first.runId, ...storeArgs(dir)]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /error: the run's input `api_token` held a secret, which the record does not keep\n {2}hint: give it again: -i api_token=…/);
    await writeFile(join(dir, 'ready.txt'), 'yes');
    const resumed = await run(['resume', first.runId, '-i', 'api_token=tok-realvalue-123456', ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(await readFile(join(dir, 'out.txt'), 'utf8'), 'token=tok-realvalue-123456');
  });

  it('resumes with the run’s own --model and --max-concurrency unless they are given again', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, `steps:\n  - id: ask\n    llm: { prompt: "hello" }\n  - id: check\n    depends_on: [ask]\n    file: { action: read, path: ready.txt }\n`);
    // No key and no CONDUCTOR_MODEL: without the recorded --model, the resume would fall back to another model.
    const first = JSON.parse((await run(['run', file, '--model', 'echo', '--max-concurrency', '3', '--json', ...storeArgs(dir)])).stdout);
    assert.equal(first.status, 'failed');
    await writeFile(join(dir, 'ready.txt'), 'yes');
    const resumed = await run(['resume', first.runId, '--json', ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const report = JSON.parse(resumed.stdout);
    assert.equal(report.steps.ask.reused, true);
    const shown = JSON.parse((await run(['runs', 'show', report.runId, '--json', ...storeArgs(dir)])).stdout);
    assert.deepEqual(shown.run.options, { model: 'echo', maxConcurrency: 3 });
  });

  it('runs an llm step again when the model it would use changed (--model, CONDUCTOR_MODEL, config.model), and reuses it when not', async (t) => {
    const dir = await tempDir(t);
    const text = (config: string) => `${config}steps:
  - id: ask
    llm: { prompt: "hello" }
  - id: check
    depends_on: [ask]
    file: { action: read, path: ready.txt }
`;
    const file = await writeWorkflow(dir, text(''));
    const env = (model: string) => ({ CONDUCTOR_MODEL: model, OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: 'test-key-not-secret-1234' });
    const asked = () => server.byPath('/v1/chat/completions').map((r) => JSON.parse(r.body).model as string);
    const before = asked().length;
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)], { env: env('echo') })).stdout);
    assert.equal(first.steps.ask.output, 'hello');
    const resume = async (model: string, ...args: string[]) => {
      const result = await run(['resume', first.runId, ...args, ...storeArgs(dir)], { env: env(model) });
      assert.equal(result.code, 1, result.stderr);
      return /reused: ask\n/.test(result.stderr) ? 'reused' : /re-run: ask \(changed: its definition, the input values it uses, or its model\)\n/.test(result.stderr) ? 'changed' : result.stderr;
    };

    assert.equal(await resume('echo'), 'reused', 'same model');
    assert.equal(await resume('echo', '--model', 'openai:model-b'), 'changed', '--model');
    assert.equal(await resume('openai:model-c'), 'changed', 'CONDUCTOR_MODEL');
    await writeFile(file, text('config:\n  model: echo\n'));
    assert.equal(await resume('openai:model-c'), 'reused', 'config.model names the model the step ran with');
    await writeFile(file, text('config:\n  model: openai:model-d\n'));
    assert.equal(await resume('echo'), 'changed', 'config.model');
    assert.deepEqual(asked().slice(before), ['model-b', 'model-c', 'model-d'], 'each changed model was asked once');
  });

  it('a resume killed at any instant loses nothing it reused: resuming whatever `runs` lists first re-runs no step that had succeeded', async (t) => {
    // Three instants: before the new run is recorded (its first output), the moment its row is visible in the
    // store, and while a step it re-runs is in flight. Each is an event, not a delay.
    const instants = ['first output', 'run recorded', 'step in flight'] as const;
    for (const instant of instants) {
      const dir = await tempDir(t);
      const prefix = `killed-${instants.indexOf(instant)}`;
      const hold = new Gate();
      let cFails = true;
      server.fallback(async (req, res) => {
        if (req.path === `/${prefix}/c` && cFails) return reply(res, 503, 'c is down');
        if (req.path === `/${prefix}/c`) await hold.wait();
        reply(res, 200, { value: req.path });
      });
      const file = await writeWorkflow(dir, chain(prefix));
      const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
      assert.equal(first.status, 'failed');
      cFails = false;

      const { child, done } = conductor(['resume', first.runId, ...storeArgs(dir)]);
      const store = join(dir, 'runs.db');
      if (instant === 'first output') await new Promise((resolve) => child.stderr!.once('data', resolve));
      if (instant === 'run recorded') await until(() => runRows(store) > 1);
      if (instant === 'step in flight') await server.until(() => server.byPath(`/${prefix}/c`).length === 2);
      child.kill('SIGKILL');
      await done;
      hold.open();

      // Whatever was recorded, a run is never there without the results it reused.
      const db = new DatabaseSync(store, { readOnly: true });
      const killed = db.prepare('SELECT id FROM runs WHERE resumed_from IS NOT NULL').get() as { id: string } | undefined;
      const reusedRows = killed ? (db.prepare('SELECT count(*) AS n FROM step_runs WHERE run_id = ? AND reused = 1').get(killed.id) as { n: number }).n : 3;
      db.close();
      assert.equal(reusedRows, 3, `${instant}: the killed run was recorded with a, b and d reused`);

      const latest = JSON.parse((await run(['runs', '--json', ...storeArgs(dir)])).stdout)[0];
      const resumed = await run(['resume', latest.id, '--json', ...storeArgs(dir)]);
      assert.equal(resumed.code, 0, `${instant}: ${resumed.stderr}`);
      const n = count(prefix);
      assert.deepEqual([n('a'), n('b'), n('d')], [1, 1, 1], `${instant}: a, b and d ran once, in the first run`);
    }
  });
});

/** Runs recorded in the store, read as another process sees them (0 until the file exists). */
function runRows(path: string): number {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path, { readOnly: true });
    return (db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n;
  } catch {
    return 0;
  } finally {
    db?.close();
  }
}

/** Checks `test` on every turn of the event loop until it holds (10 s at most). */
async function until(test: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!test()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('the store', { timeout: 180_000 }, () => {
  it('survives concurrent runs of different workflows', async (t) => {
    const dir = await tempDir(t);
    server.fallback((req, res) => void setTimeout(() => reply(res, 200, { value: req.path }), 2));
    const steps = (prefix: string) => Array.from({ length: 30 }, (_, i) => `  - id: s${i}\n    http: { url: "${server.url}/${prefix}/${i}" }\n`).join('');
    const one = await writeWorkflow(dir, `config:\n  maxConcurrency: 4\nsteps:\n${steps('one')}`, 'one.yaml');
    const two = await writeWorkflow(dir, `config:\n  maxConcurrency: 4\nsteps:\n${steps('two')}`, 'two.yaml');
    const results = await Promise.all([run(['run', one, ...storeArgs(dir)]), run(['run', two, ...storeArgs(dir)]), run(['run', one, ...storeArgs(dir)])]);
    assert.deepEqual(results.map((r) => r.code), [0, 0, 0], results.map((r) => r.stderr).join('\n'));
    const listed = JSON.parse((await run(['runs', '--json', ...storeArgs(dir)])).stdout);
    assert.equal(listed.length, 3);
    for (const r of listed) assert.deepEqual([r.status, r.stepsDone, r.stepCount], ['succeeded', 30, 30]);
  });

  it('lists runs newest first and shows one, with complete outputs in JSON', async (t) => {
    const dir = await tempDir(t);
    const long = 'x'.repeat(500);
    server.route('/show/long', (_req, res) => reply(res, 200, long));
    const file = await writeWorkflow(dir, `steps:\n  - id: long\n    http: { url: "${server.url}/show/long" }\n`);
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
    const second = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
    const table = (await run(['runs', ...storeArgs(dir)])).stdout.split('\n');
    assert.match(table[0]!, /^ID +STATUS +STARTED +DURATION +STEPS +COST +WORKFLOW$/);
    assert.ok(table[1]!.startsWith(second.runId.slice(0, 8)) && table[2]!.startsWith(first.runId.slice(0, 8)));
    assert.match(table[1]!, / succeeded .* 1\/1 /);
    const shown = await run(['runs', 'show', first.runId, ...storeArgs(dir)]);
    assert.match(shown.stdout, /^ {2}long +succeeded +[\d.]+ m?s +x+…$/m);
    const json = JSON.parse((await run(['runs', 'show', first.runId, '--json', ...storeArgs(dir)])).stdout);
    assert.equal(json.steps[0].output, long);
    const missing = await run(['runs', 'show', 'nope', ...storeArgs(dir)]);
    assert.equal(missing.code, 2);
  });

  it('remembers how long steps took, and schedules the next run by it', async (t) => {
    const dir = await tempDir(t);
    server.fallback((req, res) => reply(res, 200, req.path));
    const file = await writeWorkflow(
      dir,
      `config:\n  maxConcurrency: 1\nsteps:\n  - id: q1\n    http: { url: "${server.url}/learn/q1" }\n  - id: q2\n    http: { url: "${server.url}/learn/q2?after=\${steps.q1.statusCode}" }\n  - id: slow\n    http: { url: "${server.url}/learn/slow" }\n`,
    );
    const order = () => server.requests.filter((r) => r.path.startsWith('/learn/')).map((r) => r.path.split('/')[2]);
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
    assert.deepEqual(order(), ['q1', 'q2', 'slow'], 'first run: by steps');
    // What that run recorded, made unmistakable: `slow` took a second, the others a millisecond. (Timing real
    // steps would order them by this machine's load.)
    const db = new DatabaseSync(join(dir, 'runs.db'));
    db.prepare("UPDATE step_runs SET finished_at = started_at + (CASE step_id WHEN 'slow' THEN 1000 ELSE 1 END) WHERE run_id = ?").run(first.runId);
    db.close();
    await run(['run', file, ...storeArgs(dir)]);
    assert.deepEqual(order().slice(3), ['slow', 'q1', 'q2'], 'second run: the step that took longest first');
    await run(['run', file, '--no-store']);
    assert.deepEqual(order().slice(6), ['q1', 'q2', 'slow'], 'without the store there is no history');
  });

  it('a store that cannot be opened is one clear error, exit 2, and nothing runs', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'not-a-folder'), 'x');
    const file = await writeWorkflow(dir, `steps:\n  - id: a\n    http: { url: "${server.url}/never" }\n`);
    const result = await run(['run', file, '--store', join(dir, 'not-a-folder', 'runs.db')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error: cannot open the run store .*not-a-folder\/runs\.db: .*\n {2}hint: .*--no-store\n {2}docs: docs\/plan-and-history\.md#run-history\n$/);
    assert.equal(server.byPath('/never').length, 0);
  });

  it('never writes secrets: keys from the environment, tokens used in headers, secret inputs, session cookies', async (t) => {
    const dir = await tempDir(t);
    const key = 'sk-proj-conductor-secret-abcdef0123456789';
    const token = 'tok_live_0123456789abcdefghijklmn';
    const session = 'sess_4f9a8b7c6d5e4f3a2b1c';
    server.route('/echo-auth', (req, res) => {
      res.setHeader('set-cookie', [`session=${session}; HttpOnly`, 'theme=dark']);
      reply(res, 200, { sawAuthorization: req.headers['authorization'], sawKey: req.headers['x-key'] });
    });
    const file = await writeWorkflow(
      dir,
      `inputs:\n  api_token: { type: string }\nsteps:\n  - id: call\n    http:\n      url: "${server.url}/echo-auth"\n      headers: { authorization: "Bearer \${env.SERVICE_TOKEN}", x-key: "\${inputs.api_token}" }\n`,
    );
    const result = await run(['run', file, '-i', `api_token=${key}`, ...storeArgs(dir)], { env: { SERVICE_TOKEN: token, OPENAI_API_KEY: key } });
    assert.equal(result.code, 0, result.stderr);
    const shown = (await run(['runs', 'show', JSON.parse((await run(['runs', '--json', ...storeArgs(dir)])).stdout)[0].id, '--json', ...storeArgs(dir)])).stdout;
    // The whole credential header (scheme and token) is a secret, wherever it turns up.
    assert.match(shown, /"sawAuthorization": "\*\*\*"/);
    let bytes = '';
    for (const name of ['runs.db', 'runs.db-wal']) bytes += await readFile(join(dir, name), 'latin1').catch(() => '');
    assert.ok(bytes.length > 0);
    assert.ok(!bytes.includes(key) && !bytes.includes(token), 'no secret in the store files');
    assert.ok(!bytes.includes(session), 'no session cookie in the store files');
    assert.match(shown, /"set-cookie": "\*\*\*"/, 'the header is kept, its value is not');
  });
});

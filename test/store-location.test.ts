/**
 * Where the CLI records runs: `--store` (a path, or a postgres:// URL), else CONDUCTOR_STORE, else the default
 * file in CONDUCTOR_HOME — the same for every command that opens the store.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { redactUrl } from '../src/core/service-url.ts';
import { ROOT, run } from './support/cli.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

describe('the store the CLI records into', { timeout: 180_000 }, () => {
  it('is CONDUCTOR_STORE when set, for `run` and `runs` alike; --store wins over it', async (t) => {
    const dir = await tempDir(t);
    const home = join(dir, 'home');
    const chosen = join(dir, 'chosen.db');
    const file = await writeWorkflow(dir, 'steps:\n  - id: a\n    shell: { run: "echo hi" }\n');
    const env = { CONDUCTOR_HOME: home, CONDUCTOR_STORE: chosen };
    const ran = await run(['run', file, '--json'], { env });
    assert.equal(ran.code, 0, ran.stderr);
    const { runId } = JSON.parse(ran.stdout) as { runId: string };
    assert.ok(existsSync(chosen), 'recorded where CONDUCTOR_STORE says');
    assert.ok(!existsSync(join(home, 'runs.db')), 'not in CONDUCTOR_HOME');

    const listed = await run(['runs', '--json'], { env });
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { id: string }[]).map((r) => r.id), [runId]);
    const shown = await run(['runs', 'show', runId.slice(0, 8), '--json'], { env });
    assert.equal(shown.code, 0, shown.stderr);

    // --store names another file: nothing recorded there, and the message says which store it looked in.
    const other = join(dir, 'other.db');
    const elsewhere = await run(['runs', 'show', runId.slice(0, 8), '--store', other], { env });
    assert.equal(elsewhere.code, 2);
    assert.match(elsewhere.stderr, new RegExp(`no run \`${runId.slice(0, 8)}\` in the store ${other.replaceAll('.', '\\.')}`));
  });

  it('is a PostgreSQL server for a postgres:// location: one line naming it with its password masked, exit 2, nothing run', async (t) => {
    const dir = await tempDir(t);
    // Port 1: nothing listens there.
    const url = 'postgres://app:hunter2@127.0.0.1:1/conductor';
    const file = await writeWorkflow(dir, `steps:\n  - id: a\n    file: { action: write, path: ran.txt, content: ran }\n`);
    for (const [args, env] of [[['runs', '--store', url], {}], [['run', file], { CONDUCTOR_STORE: url }]] as const) {
      const result = await run([...args], { env: { CONDUCTOR_HOME: join(dir, 'home'), ...env } });
      assert.equal(result.code, 2, result.stderr);
      assert.ok(result.stderr.includes(redactUrl(url)), result.stderr);
      assert.doesNotMatch(result.stderr, /hunter2/);
      assert.doesNotMatch(result.stderr, /^\s+at /m);
    }
    assert.ok(!existsSync(join(dir, 'ran.txt')), 'nothing ran');
    assert.ok(!existsSync(join(dir, 'home', 'runs.db')), 'no file store made instead');
  });

  it('on a SQLite file never loads the PostgreSQL client', async (t) => {
    const dir = await tempDir(t);
    const file = await writeWorkflow(dir, 'steps:\n  - id: a\n    shell: { run: "echo hi" }\n');
    for (const args of [['run', file], ['runs']]) {
      const list = join(dir, `${args[0]}.txt`);
      const result = await run(args, { env: { NODE_OPTIONS: `--import=${join(ROOT, 'test/support/record-modules.ts')}`, CONDUCTOR_TEST_MODULES: list, CONDUCTOR_HOME: dir } });
      assert.equal(result.code, 0, result.stderr);
      const loaded = (await readFile(list, 'utf8')).split('\n');
      assert.ok(loaded.includes('node:sqlite'), `${args[0]}: the recorder saw the store load`);
      assert.deepEqual(loaded.filter((url) => /\/node_modules\/pg[^/]*\/|\/store\/postgres/.test(url)), [], `${args[0]} loaded them`);
    }
  });
});

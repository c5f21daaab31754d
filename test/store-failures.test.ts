/**
 * The run store failing under a run, through the CLI as users meet it: another process holding the write lock,
 * a disk that takes no more bytes, a file that cannot be written, a damaged file. Each is one message naming
 * the store and the cause — no stack trace, no "internal error" — and a run the store fails under is stopped
 * (its in-flight steps aborted, as the stand-in sees) and exits 1.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { ROOT, run, TEST_HOME, type CliResult } from './support/cli.ts';
import { Gate, reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

const NO_STACK = /^\s+at /m;

/**
 * File modes do not stop root. As root, a command that must meet them runs as root without the capabilities
 * that override them (util-linux's setpriv), rather than as another user: another user may not be able to
 * reach the checkout at all (a clone in a private temporary folder), and nothing here should depend on that.
 */
const HONOUR_FILE_MODES = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search,-fowner', '--'] : [];

/**
 * `conductor` with a shell around it (`ulimit` for a disk that fills up), or meeting file modes even as root
 * (a store this process may not write).
 */
function conductorAs(args: string[], options: { shell?: string; fileModes?: boolean; env?: Record<string, string> } = {}): Promise<CliResult> {
  const bin = join(ROOT, 'bin/conductor.js');
  const [program, ...rest] = [
    ...(options.fileModes ? HONOUR_FILE_MODES : []),
    ...(options.shell ? ['sh', '-c', `${options.shell}; exec "$0" "$@"`] : []),
    process.execPath,
    bin,
    ...args,
  ];
  const child = spawn(program!, rest, {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', CONDUCTOR_HOME: TEST_HOME, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Two steps in flight: `first` answers when the test says, `slow` only when its client goes away. */
function twoSteps(prefix: string, firstBody = 'first'): { text: string; release: () => void; finish: () => void } {
  const first = new Gate();
  const end = new Gate();
  server.route(`/${prefix}/first`, async (_req, res) => {
    await first.wait();
    reply(res, 200, firstBody);
  });
  server.route(`/${prefix}/slow`, async (_req, res) => {
    await end.wait();
    reply(res, 200, 'slow');
  });
  const text = `steps:\n  - id: first\n    http: { url: "${server.url}/${prefix}/first" }\n  - id: slow\n    http: { url: "${server.url}/${prefix}/slow" }\n`;
  return { text, release: () => first.open(), finish: () => end.open() };
}

const inFlight = (prefix: string) => server.until(() => server.byPath(`/${prefix}/first`).length === 1 && server.byPath(`/${prefix}/slow`).length === 1);
const slowAborted = (prefix: string) => server.byPath(`/${prefix}/slow`)[0]?.aborted === true;

describe('a store that fails during a run', { timeout: 180_000 }, () => {
  it('locked by another process past the wait: one message naming the file, in-flight steps aborted, exit 1', async (t) => {
    const dir = await tempDir(t);
    const store = join(dir, 'runs.db');
    const steps = twoSteps('locked');
    t.after(steps.finish);
    const file = await writeWorkflow(dir, steps.text);
    const done = conductorAs(['run', file, '--store', store], { env: { CONDUCTOR_STORE_TIMEOUT: '0.3' } });
    await inFlight('locked');
    // Another process takes the write lock while the run is going, and keeps it.
    const other = new DatabaseSync(store, { timeout: 10_000 });
    other.exec('BEGIN IMMEDIATE');
    steps.release();
    const result = await done;
    other.exec('ROLLBACK');
    other.close();

    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`\n {2}cannot write to the run store ${store}: it is locked by another process \\(waited 0\\.3 s for it\\)\n {2}hint: .*CONDUCTOR_STORE_TIMEOUT.*conductor resume`));
    assert.doesNotMatch(result.stderr, NO_STACK);
    assert.ok(slowAborted('locked'), 'the step still in flight was aborted');
  });

  it('on a disk that takes no more bytes: the disk error, not "cannot rollback", in-flight steps aborted, exit 1', async (t) => {
    const dir = await tempDir(t);
    const store = join(dir, 'runs.db');
    // A result of 1 MB against a limit on the size of any file the process writes (ulimit -f, in 512-byte
    // blocks here): the store's first commits fit, this one does not.
    const steps = twoSteps('full', 'x'.repeat(1 << 20));
    t.after(steps.finish);
    const file = await writeWorkflow(dir, steps.text);
    const done = conductorAs(['run', file, '--store', store], { shell: 'ulimit -f 1000' });
    await inFlight('full');
    steps.release();
    const result = await done;

    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`\n {2}cannot write to the run store ${store}: the disk failed to read or write it \\(disk I/O error\\)\n {2}hint: the disk may be full`));
    assert.doesNotMatch(result.stderr, /cannot rollback/);
    assert.doesNotMatch(result.stderr, NO_STACK);
    assert.ok(slowAborted('full'), 'the step still in flight was aborted');
    // What could be written before the disk filled up is there, and readable.
    const listed = await run(['runs', '--json', '--store', store]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(JSON.parse(listed.stdout).length, 1);
  });
});

describe('a store that cannot be written or read', { timeout: 180_000 }, () => {
  for (const what of ['file', 'folder'] as const) {
    it(`read-only (${what}): \`runs\` and \`runs show\` still work; \`run\` says it cannot record, exit 2`, async (t) => {
      const dir = await tempDir(t);
      const store = join(dir, 'runs.db');
      server.route('/ro', (_req, res) => reply(res, 200, 'answer'));
      const file = await writeWorkflow(dir, `steps:\n  - id: a\n    http: { url: "${server.url}/ro" }\n`);
      const first = JSON.parse((await run(['run', file, '--json', '--store', store])).stdout);
      if (what === 'file') {
        await chmod(dir, 0o755);
        await chmod(store, 0o444);
      } else await chmod(dir, 0o555);
      const as = { fileModes: true };
      try {
        const listed = await conductorAs(['runs', '--json', '--store', store], as);
        assert.equal(listed.code, 0, listed.stderr);
        assert.equal(JSON.parse(listed.stdout)[0].id, first.runId);
        const shown = await conductorAs(['runs', 'show', first.runId.slice(0, 8), '--store', store], as);
        assert.equal(shown.code, 0, shown.stderr);
        assert.match(shown.stdout, /^ {2}a +succeeded .*answer$/m);

        const before = server.byPath('/ro').length;
        const refused = await conductorAs(['run', file, '--store', store], as);
        assert.equal(refused.code, 2);
        assert.match(refused.stderr, new RegExp(`^error: cannot open the run store ${store}: .*\n {2}hint: .*--no-store\n {2}docs: docs/plan-and-history\\.md#run-history\n$`));
        assert.equal(server.byPath('/ro').length, before, 'nothing ran');
      } finally {
        await chmod(dir, 0o755); // so the folder can be removed
      }
    });
  }

  it('damaged in the middle: one message naming the file, exit 2, for `runs` and for `run` (nothing runs)', async (t) => {
    const dir = await tempDir(t);
    const store = join(dir, 'runs.db');
    server.route('/damaged', (_req, res) => reply(res, 200, 'answer'));
    const file = await writeWorkflow(dir, `steps:\n  - id: a\n    http: { url: "${server.url}/damaged" }\n`);
    await run(['run', file, '--store', store]);
    // The header is intact (the file opens); the table of runs, on the second page, is not.
    const handle = await open(store, 'r+');
    await handle.write(Buffer.alloc(4096, 0xa5), 0, 4096, 4096);
    await handle.close();
    assert.equal((await readFile(store)).subarray(0, 15).toString(), 'SQLite format 3');

    const listed = await run(['runs', '--store', store]);
    assert.equal(listed.code, 2);
    assert.match(listed.stderr, new RegExp(`^error: cannot read the run store ${store}: the file is damaged \\(database disk image is malformed\\)\n {2}hint: move it aside .*--no-store\n {2}docs: docs/plan-and-history\\.md#run-history\n$`));
    const ran = await run(['run', file, '--store', store]);
    assert.equal(ran.code, 2);
    assert.match(ran.stderr, /^error: cannot read the run store .*: the file is damaged/);
    assert.equal(server.byPath('/damaged').length, 1, 'nothing ran the second time');

    await writeFile(store, 'not a database at all, just text '.repeat(200));
    const garbage = await run(['runs', '--store', store]);
    assert.equal(garbage.code, 2);
    assert.match(garbage.stderr, new RegExp(`^error: cannot open the run store ${store}: the file is damaged \\(file is not a database\\)\n`));
  });
});

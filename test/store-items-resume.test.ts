/**
 * Foreach items through the CLI, recorded and resumed: a stand-in server counts the requests each item makes,
 * so "re-ran exactly those items" is what the server saw, not what the report claims. Also what the store
 * shows of a run with conditions, skips and continued failures.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { conductor, run, type CliResult } from './support/cli.ts';
import { Gate, reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

const storeArgs = (dir: string) => ['--store', join(dir, 'runs.db')];
const LETTERS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
/** Requests made for each item, by item value. */
const perItem = (prefix: string) => LETTERS.map((l) => server.byPath(`/${prefix}/${l}`).length);

/** list (a YAML list) → each (one GET per item) → combine (uses every output). */
function fanOut(prefix: string, options: { continueOnError?: boolean; maxConcurrency?: number; items?: string[] } = {}): string {
  return `steps:
  - id: each
    foreach: ${JSON.stringify(options.items ?? LETTERS)}
${options.maxConcurrency ? `    maxConcurrency: ${options.maxConcurrency}\n` : ''}${options.continueOnError ? '    continueOnError: true\n' : ''}    retry: { attempts: 1 }
    http: { url: "${server.url}/${prefix}/\${item}" }
  - id: combine
    http: { url: "${server.url}/${prefix}-combine", method: POST, body: "\${steps.each.output}" }
`;
}

/** Fails the chosen items' requests until `fixed` is set; answers the rest with `{ value: <item> }`. */
function failing(prefix: string, bad: string[]): { fix(): void } {
  let fixed = false;
  server.fallback((req, res) => {
    const letter = req.path.split('/').pop()!;
    if (req.path.startsWith(`/${prefix}/`) && bad.includes(letter) && !fixed) return reply(res, 503, `item ${letter} is down`);
    reply(res, 200, { value: letter });
  });
  return { fix: () => (fixed = true) };
}

/** Rejects when the command ends first: a waiter never hangs on a run that failed to start. */
async function whileRunning(done: Promise<CliResult>, until: Promise<void>): Promise<void> {
  await Promise.race([until, done.then((r) => Promise.reject(new Error(`the command ended first (${r.code}): ${r.stderr}`)))]);
}

describe('resume of foreach steps', { timeout: 180_000 }, () => {
  it('after a foreach with 3 failed items (continueOnError), re-runs exactly those 3 and reuses the other 7', async (t) => {
    const dir = await tempDir(t);
    const stand = failing('three', ['c', 'f', 'h']);
    const file = await writeWorkflow(dir, fanOut('three', { continueOnError: true }));
    const first = await run(['run', file, '--json', ...storeArgs(dir)]);
    assert.equal(first.code, 0, first.stderr);
    const report = JSON.parse(first.stdout);
    assert.deepEqual([report.status, report.continued], ['succeeded', ['each']]);
    assert.deepEqual(report.steps.each.output, ['a', 'b', null, 'd', 'e', null, 'g', null, 'i', 'j'].map((v) => (v === null ? null : { value: v })));
    assert.equal(report.steps.combine.status, 'skipped');
    assert.deepEqual(perItem('three'), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);

    const shown = await run(['runs', 'show', report.runId, ...storeArgs(dir)]);
    assert.match(shown.stdout, /^ {2}each +failed .*continued · /m);
    assert.match(shown.stdout, /items: 7 succeeded · 3 failed · 10 total\n +item 2 +.*item c is down/);
    assert.match(shown.stdout, /^ {2}combine +skipped +\(upstream_failed: each\)$/m);

    stand.fix();
    const resumed = await run(['resume', report.runId.slice(0, 8), '--json', ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(perItem('three'), [1, 1, 2, 1, 1, 2, 1, 2, 1, 1], 'only c, f and h ran again');
    const after = JSON.parse(resumed.stdout);
    assert.deepEqual(after.steps.each.output, LETTERS.map((value) => ({ value })));
    assert.equal(after.steps.combine.status, 'succeeded');
    assert.deepEqual(after.steps.each.items.filter((i: { reused?: true }) => i.reused).map((i: { index: number }) => i.index), [0, 1, 3, 4, 6, 8, 9]);

    const human = await run(['resume', report.runId, ...storeArgs(dir)]);
    assert.match(human.stderr, /\n {2}to run: each, combine\n {2}items of each: 7 of 10 reused where unchanged, 3 to run\n/);
  });

  it('after an item failed and stopped the run, re-runs the failed item and those that never ran, not those that succeeded', async (t) => {
    const dir = await tempDir(t);
    const stand = failing('stop', ['d']);
    // One item at a time, in order: a, b, c succeed, d fails and stops the run before e…j start.
    const file = await writeWorkflow(dir, fanOut('stop', { maxConcurrency: 1 }));
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
    assert.equal(first.status, 'failed');
    assert.deepEqual(perItem('stop'), [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    stand.fix();
    const resumed = await run(['resume', first.runId, '--json', ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(perItem('stop'), [1, 1, 1, 2, 1, 1, 1, 1, 1, 1]);
  });

  it('after the list was edited, re-runs only the items whose value changed', async (t) => {
    const dir = await tempDir(t);
    failing('edit', []);
    const file = await writeWorkflow(dir, fanOut('edit'));
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
    assert.equal(first.status, 'succeeded');
    // b becomes z: one changed item; the rest keep their index and value.
    await writeFile(file, (await readFile(file, 'utf8')).replace('"b"', '"z"'));
    const resumed = await run(['resume', first.runId, '--json', ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(perItem('edit'), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 'no item of the old list ran again');
    assert.equal(server.byPath('/edit/z').length, 1);
    assert.deepEqual(JSON.parse(resumed.stdout).steps.each.output.map((o: { value: string }) => o.value), ['a', 'z', ...LETTERS.slice(2)]);
  });

  it('after the step itself was edited (what each item does), re-runs every item, whatever their keys', async (t) => {
    const dir = await tempDir(t);
    failing('block', []);
    failing('block2', []);
    const file = await writeWorkflow(dir, fanOut('block', { items: ['a', 'b', 'c'] }));
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
    assert.equal(first.status, 'succeeded');
    // Another URL for the same values: the items' keys (values only) are the same, their work is not.
    await writeFile(file, (await readFile(file, 'utf8')).replace(`/block/\${item}`, `/block2/\${item}`));
    const resumed = await run(['resume', first.runId, ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /\n {2}re-run: each \(changed: .*\)\n(.*\n)* {2}items of each: all 3 to run\n/);
    assert.deepEqual(['a', 'b', 'c'].map((l) => server.byPath(`/block2/${l}`).length), [1, 1, 1]);
  });

  it('a foreach step reused whole keeps its items in the new run: a later resume that re-runs it still reuses them', async (t) => {
    const dir = await tempDir(t);
    failing('whole', []);
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: gate
    http: { url: "${server.url}/whole/gate" }
  - id: each
    depends_on: [gate]
    foreach: ["a", "b", "c"]
    http: { url: "${server.url}/whole/\${item}" }
  - id: check
    depends_on: [each]
    file: { action: read, path: ready.txt }
`,
    );
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
    assert.equal(first.status, 'failed');
    // Resumed once: gate and each reused whole, check fails again.
    const second = JSON.parse((await run(['resume', first.runId, '--json', ...storeArgs(dir)])).stdout);
    assert.deepEqual([second.status, second.steps.each.reused], ['failed', true]);
    await writeFile(join(dir, 'ready.txt'), 'yes');
    // From the second run, --from gate: each runs again, and finds its items in the second run's record.
    const third = await run(['resume', second.runId, '--from', 'gate', '--json', ...storeArgs(dir)]);
    assert.equal(third.code, 0, third.stderr);
    assert.deepEqual(['a', 'b', 'c'].map((l) => server.byPath(`/whole/${l}`).length), [1, 1, 1]);
    assert.equal(server.byPath('/whole/gate').length, 2);
  });

  it('--from a foreach step re-runs all its items; a foreach step below it reuses what is unchanged', async (t) => {
    const dir = await tempDir(t);
    failing('from', []);
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: each
    foreach: ["a", "b", "c"]
    http: { url: "${server.url}/from/\${item}" }
  - id: again
    foreach: \${steps.each.output}
    as: got
    http: { url: "${server.url}/from-again/\${got.value}" }
`,
    );
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
    assert.equal(first.status, 'succeeded');
    const resumed = await run(['resume', first.runId, '--from', 'each', ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /\n {2}re-run: each \(--from\)\n {2}re-run: again \(a step it depends on re-runs\)\n {2}items of each: all 3 to run\n {2}items of again: 3 of 3 reused where unchanged, 0 to run\n/);
    const count = (path: string) => ['a', 'b', 'c'].map((l) => server.byPath(`/${path}/${l}`).length);
    assert.deepEqual(count('from'), [2, 2, 2]);
    assert.deepEqual(count('from-again'), [1, 1, 1], 'the same values at the same indexes: reused');
  });

  it('after kill -9 mid-list, resumes without re-running the items that had finished', async (t) => {
    const dir = await tempDir(t);
    const hold = new Gate();
    server.fallback(async (req, res) => {
      if (req.path === '/kill/f') await hold.wait();
      reply(res, 200, { value: req.path });
    });
    const file = await writeWorkflow(dir, fanOut('kill', { maxConcurrency: 1 }));
    const { child, done } = conductor(['run', file, ...storeArgs(dir)]);
    await whileRunning(done, server.until(() => server.byPath('/kill/f').length === 1));
    // a…e have ended; their records are committed a moment after: wait for the store, by polling it.
    const deadline = Date.now() + 10_000;
    let recorded = 0;
    while (recorded < 5 && Date.now() < deadline) {
      const shown = await run(['runs', 'show', JSON.parse((await run(['runs', '--json', ...storeArgs(dir)])).stdout)[0].id, '--json', ...storeArgs(dir)]);
      recorded = JSON.parse(shown.stdout).steps[0].items?.filter((i: { status: string }) => i.status === 'succeeded').length ?? 0;
    }
    child.kill('SIGKILL');
    await done;
    hold.open();
    const listed = JSON.parse((await run(['runs', '--json', ...storeArgs(dir)])).stdout);
    assert.equal(listed[0].status, 'interrupted');
    const resumed = await run(['resume', listed[0].id, '--json', ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(perItem('kill'), [1, 1, 1, 1, 1, 2, 1, 1, 1, 1], 'a…e ran once; f was in flight');
  });

  it('a resume killed before it reaches the foreach step keeps the items it carried: the next resume still reuses them', async (t) => {
    const dir = await tempDir(t);
    const hold = new Gate();
    let cDown = true;
    server.fallback(async (req, res) => {
      if (req.path === '/carry/gate' && req.url.includes('v=2')) await hold.wait();
      if (req.path === '/carry/c' && cDown) return reply(res, 503, 'c is down');
      reply(res, 200, { value: req.path.split('/').pop() });
    });
    // `each` waits for `gate` (order, no data: its items' keys do not depend on it).
    const text = (version: number) => `steps:
  - id: gate
    http: { url: "${server.url}/carry/gate?v=${version}" }
  - id: each
    depends_on: [gate]
    foreach: ["a", "b", "c"]
    continueOnError: true
    retry: { attempts: 1 }
    http: { url: "${server.url}/carry/\${item}" }
`;
    const file = await writeWorkflow(dir, text(1));
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
    assert.deepEqual(first.continued, ['each']);
    cDown = false;
    // gate changed: the resume re-runs it (held there), and `each` carries a and b; killed before `each` starts.
    await writeFile(file, text(2));
    const { child, done } = conductor(['resume', first.runId, ...storeArgs(dir)]);
    await whileRunning(done, server.until(() => server.requests.some((r) => r.url.includes('/carry/gate?v=2'))));
    child.kill('SIGKILL');
    await done;
    hold.open();
    const killed = JSON.parse((await run(['runs', '--json', ...storeArgs(dir)])).stdout)[0];
    assert.equal(killed.status, 'interrupted');
    const resumed = await run(['resume', killed.id, '--json', ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(['a', 'b', 'c'].map((l) => server.byPath(`/carry/${l}`).length), [1, 1, 2], 'a and b ran once, in the first run');
  });
});

describe('the store, for conditions and skips', { timeout: 180_000 }, () => {
  it('records a false condition and the skips it cascades, each with its reason, and runs them again on resume', async (t) => {
    const dir = await tempDir(t);
    server.fallback((req, res) => reply(res, 200, { urgency: 1, path: req.path }));
    const file = await writeWorkflow(
      dir,
      `steps:
  - id: classify
    http: { url: "${server.url}/cond/classify" }
  - id: urgent
    if: steps.classify.output.urgency >= 4
    http: { url: "${server.url}/cond/urgent" }
  - id: notify
    http: { url: "${server.url}/cond/notify?after=\${steps.urgent.output.path}" }
`,
    );
    const first = JSON.parse((await run(['run', file, '--json', ...storeArgs(dir)])).stdout);
    assert.equal(first.status, 'succeeded');
    const shown = JSON.parse((await run(['runs', 'show', first.runId, '--json', ...storeArgs(dir)])).stdout);
    assert.deepEqual(shown.steps.map((s: { stepId: string; status: string; skipReason?: string }) => [s.stepId, s.status, s.skipReason]), [
      ['classify', 'succeeded', undefined],
      ['urgent', 'skipped', 'condition'],
      ['notify', 'skipped', 'upstream_skipped'],
    ]);
    const human = (await run(['runs', 'show', first.runId, ...storeArgs(dir)])).stdout;
    assert.match(human, /^ {2}urgent +skipped +\(condition\)$/m);
    assert.match(human, /^ {2}notify +skipped +\(upstream_skipped: urgent\)$/m);
    const resumed = await run(['resume', first.runId, ...storeArgs(dir)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /\n {2}reused: classify\n {2}to run: urgent, notify\n/);
  });
});

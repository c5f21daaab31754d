/**
 * The live view on a real pseudo-terminal: `script` (util-linux) gives the CLI a TTY, so what runs is the same
 * code a user sees, redrawing in place. Skipped where `script` is not installed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { ROOT, TEST_HOME } from './support/cli.ts';
import { Gate, reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

const hasScript = spawnSync('script', ['--version']).status === 0;
let server: StandIn;
before(async () => (server = await StandIn.start()));
after(() => server.close());

it('draws one line per step on a terminal, redrawn in place, then the summary', { skip: !hasScript && 'needs `script` (util-linux)', timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t);
  const gate = new Gate();
  server.route('/live/slow', async (_req, res) => (await gate.wait(), reply(res, 200, 'done')));
  server.route('/live/quick', (_req, res) => reply(res, 200, 'ok'));
  const file = await writeWorkflow(dir, `steps:\n  - id: slow_step\n    http: { url: "${server.url}/live/slow" }\n  - id: quick_step\n    http: { url: "${server.url}/live/quick" }\n  - id: after_both\n    depends_on: [slow_step, quick_step]\n    http: { url: "${server.url}/live/quick" }\n`);
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(join(ROOT, 'bin/conductor.js'))} run ${JSON.stringify(file)}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', CONDUCTOR_HOME: TEST_HOME, TERM: 'xterm-256color', COLUMNS: '80', LINES: '24' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let screen = '';
  child.stdout!.on('data', (d: Buffer) => (screen += d));
  const done = new Promise<number | null>((resolve) => child.on('close', resolve));
  // While the slow step is held, the view has drawn it running and the quick step done.
  await server.until(() => server.byPath('/live/slow').length === 1 && server.byPath('/live/quick').length === 1);
  const deadline = Date.now() + 10_000;
  while (!/✓ quick_step/.test(screen.replace(/\u001b\[[0-9;]*m/g, '')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  gate.open();
  assert.equal(await done, 0);
  const plain = screen.replace(/\u001b\[[0-9;]*m/g, '');
  assert.match(plain, /\u001b\[\d+F\u001b\[J/, 'redraws in place: cursor up, clear to the end');
  assert.match(plain, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] slow_step +\d+/, 'a running step shows its elapsed time');
  assert.match(plain, /◌ after_both +waiting/);
  assert.match(plain, /✓ quick_step +\d+ ms\r\n[^\n]*◌ after_both/, 'the quick step is drawn done while the slow one still runs');
  assert.match(plain, /✓ after_both/);
  assert.match(plain, /✓ succeeded in .* \(3 succeeded\)/);
  assert.match(screen, /\u001b\[3\dm/, 'colour on a terminal');
});

it('draws a foreach step as one line of item counts, and a continued failure apart', { skip: !hasScript && 'needs `script` (util-linux)', timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t);
  const gate = new Gate();
  server.route('/live/item', async (req, res) => {
    await gate.wait();
    if (/n=(3|7)$/.test(req.url)) reply(res, 500, 'boom');
    else reply(res, 200, 'ok');
  });
  const file = await writeWorkflow(dir, `steps:\n  - id: each\n    foreach: [1, 2, 3, 4, 5, 6, 7, 8]\n    maxConcurrency: 2\n    continueOnError: true\n    retry: { attempts: 1 }\n    http: { url: "${server.url}/live/item?n=\${item}" }\n  - id: after\n    http: { url: "${server.url}/live/quick?\${steps.each.output}" }\n`);
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(join(ROOT, 'bin/conductor.js'))} run ${JSON.stringify(file)}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', CONDUCTOR_HOME: TEST_HOME, TERM: 'xterm-256color', COLUMNS: '80', LINES: '24' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let screen = '';
  child.stdout!.on('data', (d: Buffer) => (screen += d));
  const done = new Promise<number | null>((resolve) => child.on('close', resolve));
  const plain = () => screen.replace(/\u001b\[[0-9;]*m/g, '');
  // Two items held at the stand-in: the view has drawn them running.
  await server.until(() => server.byPath('/live/item').length === 2);
  const deadline = Date.now() + 10_000;
  while (!/▸ 0\/8 items · 2 running/.test(plain()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  gate.open();
  assert.equal(await done, 0, plain());
  assert.match(plain(), /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] each +▸ 0\/8 items · 2 running · [\d.]+ m?s/, 'one line: items done of all, running');
  assert.match(plain(), /! each +continued · 2 of 8 items failed/);
  assert.match(plain(), /− after +skipped · a dependency failed/);
  assert.doesNotMatch(plain(), /each\[\d\]/, 'no line per item');
  assert.match(plain(), /✓ succeeded in .* \(1 failed and continued, 1 skipped\)/);
  assert.match(screen, /\u001b\[33m!/, 'the continued failure in yellow, not red');
});

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { tempDir } from '../../../test/support/workflow.ts';
import { groupAlive, runProcess, type ProcessSpec } from './process.ts';
import { gone } from '../../../test/support/processes.ts';

const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
const never = new AbortController().signal;

function spec(dir: string, script: string, more: Partial<ProcessSpec> = {}): ProcessSpec {
  return { argv: ['sh', '-c', script], cwd: dir, env, maxBytes: 1024 * 1024, signal: never, ...more };
}

/** Waits for a file a command writes (an event, not a time): the command is running by then. */
async function written(path: string): Promise<number> {
  while (!existsSync(path) || readFileSync(path, 'utf8').trim() === '') await delay(10);
  return Number(readFileSync(path, 'utf8'));
}

describe('running a program in its own process group', () => {
  it('gives its exit code, stdout and stderr; stdin is what it is given, else empty', async (t) => {
    const dir = await tempDir(t);
    const end = await runProcess(spec(dir, 'cat; echo err >&2; exit 7', { stdin: 'in\n' }));
    assert.equal(end.kind, 'exited');
    assert.ok(end.kind === 'exited');
    assert.equal(end.code, 7);
    assert.equal(end.stdout.toString(), 'in\n');
    assert.equal(end.stderr.toString(), 'err\n');
    const empty = await runProcess(spec(dir, 'cat'));
    assert.ok(empty.kind === 'exited' && empty.stdout.length === 0, 'stdin is closed, not inherited');
  });

  it('says when it cannot start', async (t) => {
    const dir = await tempDir(t);
    const missing = await runProcess({ ...spec(dir, ''), argv: ['no-such-program-xyz'] });
    assert.ok(missing.kind === 'spawn_failed' && missing.error.code === 'ENOENT');
    const nul = await runProcess({ ...spec(dir, ''), argv: ['echo', 'a\0b'] });
    assert.equal(nul.kind, 'spawn_failed');
  });

  it('stops the whole group on abort, and settles only once it is gone', async (t) => {
    const dir = await tempDir(t);
    const controller = new AbortController();
    const running = runProcess(spec(dir, 'echo $$ > group; sleep 600 & echo $! > pid; wait', { signal: controller.signal }));
    const group = await written(join(dir, 'group'));
    const pid = await written(join(dir, 'pid'));
    controller.abort();
    assert.deepEqual(await running, { kind: 'aborted' });
    assert.equal(groupAlive(group), false);
    assert.ok(gone(pid));
  });

  it('stops what a finished command left running in the background', async (t) => {
    const dir = await tempDir(t);
    const end = await runProcess(spec(dir, 'echo $$ > group; sleep 600 > /dev/null 2>&1 & echo $! > pid; echo done'));
    assert.ok(end.kind === 'exited' && end.code === 0 && end.stdout.toString() === 'done\n');
    assert.equal(groupAlive(Number(await readFile(join(dir, 'group'), 'utf8'))), false);
    assert.ok(gone(Number(await readFile(join(dir, 'pid'), 'utf8'))));
  });

  it('stops a background process that still holds the output when the command exits, and keeps what was written', async (t) => {
    const dir = await tempDir(t);
    const end = await runProcess(spec(dir, 'echo $$ > group; sleep 600 & echo $! > pid; echo done'));
    assert.ok(end.kind === 'exited' && end.code === 0, JSON.stringify(end));
    assert.equal(end.stdout.toString(), 'done\n');
    assert.equal(groupAlive(Number(await readFile(join(dir, 'group'), 'utf8'))), false);
    assert.ok(gone(Number(await readFile(join(dir, 'pid'), 'utf8'))));
  });

  it('stops a command whose output passes the cap', async (t) => {
    const dir = await tempDir(t);
    const out = await runProcess(spec(dir, 'echo $$ > group; yes', { maxBytes: 4096 }));
    assert.deepEqual(out, { kind: 'too_large', stream: 'stdout' });
    assert.equal(groupAlive(Number(await readFile(join(dir, 'group'), 'utf8'))), false);
    const err = await runProcess(spec(dir, 'yes >&2', { maxBytes: 4096 }));
    assert.deepEqual(err, { kind: 'too_large', stream: 'stderr' });
  });
});


import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../../test/support/workflow.ts';
import { globFiles } from './glob.ts';

/** `root/wf` (the workflow's folder) with `files` in it, and `root/outside` beside it holding `secret.txt`. */
async function folder(t: { after(fn: () => unknown): void }, files: string[]): Promise<{ wf: string; outside: string }> {
  const root = await tempDir(t);
  const wf = join(root, 'wf');
  const outside = join(root, 'outside');
  await mkdir(join(outside, 'deep'), { recursive: true });
  await writeFile(join(outside, 'secret.txt'), 'secret');
  await writeFile(join(outside, 'deep', 'secret.txt'), 'secret');
  await writeFile(join(root, 'beside.txt'), 'beside');
  for (const file of files) {
    if (file.endsWith('/')) await mkdir(join(wf, file), { recursive: true });
    else {
      await mkdir(dirname(join(wf, file)), { recursive: true });
      await writeFile(join(wf, file), file);
    }
  }
  return { wf, outside };
}

const live = () => new AbortController().signal;

describe('glob', () => {
  it('lists matching files, sorted by code unit, as POSIX paths relative to the workflow’s folder', async (t) => {
    const { wf } = await folder(t, ['notes/b.txt', 'notes/a.txt', 'notes/B.txt', 'notes/10.txt', 'notes/9.txt', 'notes/é.txt', 'notes/a.md', 'notes/sub/c.txt', 'a.txt']);
    assert.deepEqual(await globFiles(wf, 'notes/*.txt', live()), ['notes/10.txt', 'notes/9.txt', 'notes/B.txt', 'notes/a.txt', 'notes/b.txt', 'notes/é.txt']);
    assert.deepEqual(await globFiles(wf, '**/*.txt', live()), ['a.txt', 'notes/10.txt', 'notes/9.txt', 'notes/B.txt', 'notes/a.txt', 'notes/b.txt', 'notes/sub/c.txt', 'notes/é.txt']);
    assert.deepEqual(await globFiles(wf, './notes\\*.{md,txt}', live()), await globFiles(wf, 'notes/*.{md,txt}', live()), '`./` and `\\` as fs.glob reads them');
    assert.deepEqual(await globFiles(wf, 'notes/a.txt', live()), ['notes/a.txt'], 'a plain path is a pattern too');
  });

  it('lists files only: a folder, even one whose name matches, is never listed', async (t) => {
    const { wf } = await folder(t, ['notes/a.txt', 'notes/folder.txt/', 'notes/sub/c.txt', 'notes/empty/']);
    assert.deepEqual(await globFiles(wf, 'notes/*', live()), ['notes/a.txt']);
    assert.deepEqual(await globFiles(wf, 'notes/**', live()), ['notes/a.txt', 'notes/sub/c.txt']);
    assert.deepEqual(await globFiles(wf, 'notes/*.txt', live()), ['notes/a.txt']);
  });

  it('is an empty list when nothing matches, or the folder is not there', async (t) => {
    const { wf } = await folder(t, ['notes/a.md']);
    assert.deepEqual(await globFiles(wf, 'notes/*.txt', live()), []);
    assert.deepEqual(await globFiles(wf, 'nothere/**/*.txt', live()), []);
  });

  it('leaves dot files out unless the pattern spells the dot, and `.git` out always', async (t) => {
    const { wf } = await folder(t, ['.env', 'a.txt', '.hidden/b.txt', '.git/config', '.git/x.txt', 'sub/.git/HEAD', 'sub/.GIT/y.txt', 'sub/d.txt']);
    assert.deepEqual(await globFiles(wf, '**/*', live()), ['a.txt', 'sub/d.txt']);
    assert.deepEqual(await globFiles(wf, '.*', live()), ['.env']);
    assert.deepEqual(await globFiles(wf, '.hidden/*', live()), ['.hidden/b.txt']);
    assert.deepEqual(await globFiles(wf, '.git/*', live()), []);
    assert.deepEqual(await globFiles(wf, '**/.git/**', live()), []);
    assert.deepEqual(await globFiles(wf, 'sub/.*/*', live()), []);
  });

  it('lists a symlink to a file inside by its own path; one that leads outside, or nowhere, is left out', async (t) => {
    const { wf, outside } = await folder(t, ['notes/a.txt', 'real/r.txt']);
    await symlink('a.txt', join(wf, 'notes/in.txt'));
    await symlink(join(outside, 'secret.txt'), join(wf, 'notes/out.txt'));
    await symlink('../../outside/secret.txt', join(wf, 'notes/out-relative.txt'));
    await symlink('nothere.txt', join(wf, 'notes/dangling.txt'));
    await symlink(join(outside, 'deep'), join(wf, 'notes/outdir'));
    await symlink('../real', join(wf, 'notes/indir'));
    assert.deepEqual(await globFiles(wf, 'notes/*.txt', live()), ['notes/a.txt', 'notes/in.txt']);
    assert.deepEqual(await globFiles(wf, 'notes/outdir/*', live()), [], 'a file through a symlinked folder that leads outside');
    assert.deepEqual(await globFiles(wf, 'notes/indir/*.txt', live()), ['notes/indir/r.txt'], 'through one that stays inside');
    // As fs.glob walks: a wildcard does not enter a symlinked folder; a folder named in the pattern is entered.
    assert.deepEqual(await globFiles(wf, 'notes/*/*.txt', live()), []);
    assert.deepEqual(await globFiles(wf, 'notes/**/*.txt', live()), ['notes/a.txt', 'notes/in.txt']);
  });

  it('never lists a path outside the workflow’s folder, whatever the pattern spells', async (t) => {
    const { wf } = await folder(t, ['notes/a.txt']);
    // The schema refuses `..` and absolute patterns; these spell `..` without writing it.
    for (const pattern of ['{..,notes}/*', '.{.,}/*', '[.][.]/*', 'notes/[.][.]/../*', '{..,.}/outside/*', '.[.]/beside.txt', '{../..,x}/**/secret.txt']) {
      const found = await globFiles(wf, pattern, live());
      assert.ok(
        found.every((p) => !p.startsWith('..') && !p.startsWith('/')),
        `${pattern}: ${JSON.stringify(found)}`,
      );
      assert.ok(!found.some((p) => p.includes('secret') || p.includes('beside')), `${pattern}: ${JSON.stringify(found)}`);
    }
  });

  it('stops when the step is cancelled', async (t) => {
    const { wf } = await folder(t, Array.from({ length: 50 }, (_, i) => `notes/${i}.txt`));
    const aborted = AbortSignal.abort(new Error('cancelled'));
    await assert.rejects(globFiles(wf, 'notes/*.txt', aborted), /cancelled/);
    const controller = new AbortController();
    const pending = globFiles(wf, '**/*.txt', controller.signal);
    controller.abort(new Error('stopped mid-walk'));
    await assert.rejects(pending, /stopped mid-walk/);
  });
});

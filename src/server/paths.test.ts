import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpError } from './errors.ts';
import { confine, workflowFiles } from './paths.ts';

describe('server paths', () => {
  let root: string;
  let outside: string;
  before(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), 'conductor-paths-')));
    outside = await realpath(await mkdtemp(join(tmpdir(), 'conductor-paths-out-')));
    await mkdir(join(root, 'a/b'), { recursive: true });
    await writeFile(join(root, 'a/b/w.yml'), 'x');
    await writeFile(join(root, 'top.yaml'), 'x');
    await writeFile(join(outside, 'o.yaml'), 'x');
    await symlink(join(outside, 'o.yaml'), join(root, 'leak.yaml'));
    await symlink(outside, join(root, 'linked'));
    await mkdir(join(root, '.git'));
    await writeFile(join(root, '.git/x.yaml'), 'x');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  const status = async (path: string) => {
    try {
      await confine(root, path);
      return 200;
    } catch (error) {
      assert.ok(error instanceof HttpError, String(error));
      return error.status;
    }
  };

  it('resolves a path under the root to its real file', async () => {
    assert.equal(await confine(root, 'a/b/w.yml'), join(root, 'a/b/w.yml'));
  });

  it('refuses absolute paths, `..`, NUL bytes, links out and other file kinds with 403', async () => {
    for (const path of ['/etc/passwd', '\\\\server\\share\\x.yaml', 'C:\\x.yaml', '../x.yaml', 'a/../../x.yaml', 'a\\..\\..\\x.yaml', 'a/b/..', 'x\0.yaml', 'leak.yaml', 'linked/o.yaml', 'a/b/w.txt']) {
      assert.equal(await status(path), 403, path);
    }
  });

  it('answers 404 for a workflow path that names nothing, or a folder', async () => {
    assert.equal(await status('missing.yaml'), 404);
    await mkdir(join(root, 'dir.yaml'));
    assert.equal(await status('dir.yaml'), 404);
    await rm(join(root, 'dir.yaml'), { recursive: true });
  });

  it('lists workflow files without dot-folders, links out or followed folder links, and stops at the cap', async () => {
    assert.deepEqual(await workflowFiles(root), { files: ['a/b/w.yml', 'top.yaml'], truncated: false });
    const capped = await workflowFiles(root, 2);
    assert.equal(capped.truncated, true);
  });
});

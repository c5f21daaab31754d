/**
 * Confinement of destinations chosen by data, on its own: real folders and symlinks for paths, template text
 * for URLs. The CLI tests (test/confine.test.ts) show the same rule from a user's side.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConductorError } from '../core/errors.ts';
import { compileValue } from '../template/value.ts';
import type { Reference } from '../template/parse.ts';
import { tempDir } from '../../test/support/workflow.ts';
import { dataChosen, hostAllowed, resolveInput, type Confinement } from './confine.ts';

const values: Record<string, unknown> = { 'inputs.dir': 'reports', 'inputs.api': 'https://api.example.com', 'env.HOST': 'h.example.com' };
const lookup = (ref: Reference) => values[ref.root === 'steps' ? `steps.${ref.step}.${ref.property}` : `${ref.root}.${ref.name}`];
const destinations = { path: 'path', url: 'url' } as const;

/** Resolve a block in which `${steps.x.output}` answers `answer`. */
function resolve(block: Record<string, unknown>, answer: unknown, where: Confinement): Promise<Record<string, unknown>> {
  values['steps.x.output'] = answer;
  return resolveInput(compileValue(block).value, destinations, lookup, where) as Promise<Record<string, unknown>>;
}

async function refused(work: Promise<unknown>, message: RegExp): Promise<ConductorError> {
  try {
    await work;
  } catch (error) {
    assert.ok(error instanceof ConductorError, String(error));
    assert.equal(error.code, 'not_allowed');
    assert.match(error.message, message);
    return error;
  }
  assert.fail('expected `not_allowed`');
}

describe('confining a data-chosen path', () => {
  it('lets a path inside the workflow folder through, folders that do not exist yet included', async (t) => {
    const dir = await tempDir(t);
    const out = await resolve({ path: 'out/${steps.x.output}.md', content: 'c' }, 'a/b/report', { baseDir: dir });
    assert.deepEqual(out, { path: 'out/a/b/report.md', content: 'c' });
  });

  it('refuses `..` out of the folder, naming the path and the key that would allow it', async (t) => {
    const dir = await tempDir(t);
    const error = await refused(resolve({ path: '${steps.x.output}' }, '../../../../tmp/pwned', { baseDir: dir }), /the path `\/tmp\/pwned`, chosen by \$\{steps\.x\.output\}, is outside the workflow's folder/);
    assert.match(error.message, /`config\.files\.allow`/);
    assert.match(error.hint!, /config\.files\.allow/);
    await refused(resolve({ path: '${steps.x.output}' }, '/etc/passwd', { baseDir: dir }), /`\/etc\/passwd`/);
  });

  it('follows symlinks, dangling ones too, and folders in allowedDirs', async (t) => {
    const dir = await tempDir(t);
    const outside = await tempDir(t);
    await symlink(outside, join(dir, 'link'));
    await symlink(join(outside, 'not-yet'), join(dir, 'dangling'));
    await refused(resolve({ path: 'link/${steps.x.output}' }, 'f.txt', { baseDir: dir }), /through a symlink/);
    await refused(resolve({ path: '${steps.x.output}' }, 'dangling/f.txt', { baseDir: dir }), /through a symlink/);
    await refused(resolve({ path: '${steps.x.output}' }, 'dangling', { baseDir: dir }), /through a symlink/);
    const allowed = { baseDir: dir, allowedDirs: [outside] };
    assert.deepEqual(await resolve({ path: 'link/${steps.x.output}' }, 'f.txt', allowed), { path: 'link/f.txt' });
    assert.deepEqual(await resolve({ path: '${steps.x.output}' }, join(outside, 'deep/f.txt'), allowed), { path: join(outside, 'deep/f.txt') });
    await refused(resolve({ path: '${steps.x.output}' }, `${outside}-sibling/f.txt`, allowed), /folders in `config\.files\.allow`/);
  });

  it('a symlink loop is refused, not followed forever', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'sub'));
    await symlink(join(dir, 'b'), join(dir, 'a'));
    await symlink(join(dir, 'a'), join(dir, 'b'));
    await refused(resolve({ path: '${steps.x.output}' }, 'a/f.txt', { baseDir: dir }), /cannot be checked \(ELOOP\)/);
  });

  it('leaves the author’s paths alone: literal, or from inputs and the environment', async () => {
    const where = { baseDir: '/nowhere' };
    assert.deepEqual(await resolve({ path: '../../etc/x' }, '', where), { path: '../../etc/x' });
    assert.deepEqual(await resolve({ path: '/abs/${inputs.dir}/${env.HOST}' }, '', where), { path: '/abs/reports/h.example.com' });
  });
});

describe('confining a data-chosen URL', () => {
  const where = { baseDir: '/nowhere' };

  it('with a literal scheme and host, URL-encodes each step value into its place', async () => {
    const out = await resolve({ url: 'https://api.example.com/items/${steps.x.output}?q=${steps.x.output}', body: '${steps.x.output}' }, '../../admin?x=1#f', where);
    assert.equal(out['url'], 'https://api.example.com/items/..%2F..%2Fadmin%3Fx%3D1%23f?q=..%2F..%2Fadmin%3Fx%3D1%23f');
    assert.equal(out['body'], '../../admin?x=1#f', 'only destinations are encoded');
  });

  it('counts the author’s inputs as part of the literal origin, never a step value', async () => {
    const out = await resolve({ url: '${inputs.api}/items/${steps.x.output}' }, 'a/b', where);
    assert.equal(out['url'], 'https://api.example.com/items/a%2Fb');
  });

  it('a host not followed by `/`, `?` or `#` is not fixed: the value could go on writing it', async () => {
    await refused(resolve({ url: 'https://api.example.com${steps.x.output}' }, '.evil.example/x', where), /host `api\.example\.com\.evil\.example`.*`config\.http\.allowHosts`/);
    await refused(resolve({ url: 'https://${steps.x.output}/v1' }, 'evil.example', where), /host `evil\.example`/);
  });

  it('a whole URL from a step must be to a host in allowHosts; nothing is encoded then', async () => {
    const error = await refused(resolve({ url: '${steps.x.output}' }, 'http://127.0.0.1:9/collect?a=b', where), /the url `http:\/\/127\.0\.0\.1:9\/collect\?a=b`, chosen by \$\{steps\.x\.output\}, calls host `127\.0\.0\.1`/);
    assert.match(error.hint!, /add `127\.0\.0\.1` to `config\.http\.allowHosts`/);
    const allowed = { ...where, allowedHosts: ['127.0.0.1'] };
    assert.deepEqual(await resolve({ url: '${steps.x.output}' }, 'http://127.0.0.1:9/collect?a=b', allowed), { url: 'http://127.0.0.1:9/collect?a=b' });
    await refused(resolve({ url: '${steps.x.output}' }, 'http://127.0.0.1@evil.example/', allowed), /host `evil\.example`/);
    await refused(resolve({ url: '${steps.x.output}' }, 'not a url', allowed), /not a URL whose host can be checked/);
  });

  it('leaves literal URLs and URLs from inputs alone', async () => {
    assert.deepEqual(await resolve({ url: 'http://anywhere.example/' }, '', where), { url: 'http://anywhere.example/' });
    assert.deepEqual(await resolve({ url: '${inputs.api}${env.HOST}' }, '', where), { url: 'https://api.example.comh.example.com' });
  });
});

describe('allowHosts', () => {
  const allowed = (url: string, list: string[]) => hostAllowed(new URL(url), list);

  it('matches exact names, `*.` subdomains (not the apex), ports when given, case and a root dot aside', () => {
    assert.ok(allowed('https://API.example.com./x', ['api.example.com']));
    assert.ok(allowed('https://a.b.example.org/', ['*.example.org']));
    assert.ok(!allowed('https://example.org/', ['*.example.org']));
    assert.ok(!allowed('https://evilexample.org/', ['*.example.org']));
    assert.ok(!allowed('https://api.example.com.evil.example/', ['api.example.com']));
    assert.ok(allowed('http://127.0.0.1:8080/', ['127.0.0.1:8080']));
    assert.ok(!allowed('http://127.0.0.1:8081/', ['127.0.0.1:8080']));
    assert.ok(allowed('http://[::1]:3000/', ['::1']));
  });
});

describe('dataChosen (for plan)', () => {
  it('names the destinations a step output fills, and a URL host the template fixes', () => {
    const block = compileValue({ path: 'out/${steps.a.output}', url: 'https://h.example/${steps.b.output.id}', body: '${steps.c.output}' }).value;
    assert.deepEqual(dataChosen(block, destinations), [
      { key: 'path', kind: 'path', refs: ['${steps.a.output}'] },
      { key: 'url', kind: 'url', refs: ['${steps.b.output.id}'], fixedHost: 'h.example' },
    ]);
    assert.deepEqual(dataChosen(compileValue({ path: '${inputs.p}', url: 'http://x/' }).value, destinations), []);
  });
});

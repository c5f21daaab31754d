/**
 * Confinement of destinations chosen by data, on its own: real folders and symlinks for paths, template text
 * for URLs. The CLI tests (test/confine.test.ts) show the same rule from a user's side.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConductorError } from '../core/errors.ts';
import { compileValue } from '../template/value.ts';
import type { Reference } from '../template/parse.ts';
import { tempDir } from '../../test/support/workflow.ts';
import { dataChosen, hostAllowed, resolveInput, type Confinement, type ResolvedInput } from './confine.ts';

const values: Record<string, unknown> = { 'inputs.dir': 'reports', 'inputs.api': 'https://api.example.com', 'env.HOST': 'h.example.com' };
const lookup = (ref: Reference) => values[ref.root === 'steps' ? `steps.${ref.step}.${ref.property}` : `${ref.root}.${ref.name}`];
const destinations = { path: 'path', url: 'url', headers: 'headers', model: 'model' } as const;
/** As `file` says: only these operations leave what is at the path as it was. */
const changes = (input: Readonly<Record<string, unknown>>) => !['read', 'exists', 'list'].includes(input['action'] as string);

/** Resolve a block in which `${steps.x.output}` answers `answer`. */
async function resolve(block: Record<string, unknown>, answer: unknown, where: Confinement): Promise<Record<string, unknown>> {
  return (await resolved(block, answer, where)).value as Record<string, unknown>;
}

function resolved(block: Record<string, unknown>, answer: unknown, where: Confinement): Promise<ResolvedInput> {
  values['steps.x.output'] = answer;
  return resolveInput(compileValue(block).value, { destinations, changes }, lookup, where);
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

describe('a data-chosen path the step would change', () => {
  it('may not be the workflow file, a folder holding it, an allowed folder itself, or in `.git`', async (t) => {
    const root = await tempDir(t);
    const dir = join(root, 'wf');
    const shared = join(root, 'shared');
    await mkdir(join(dir, '.git'), { recursive: true });
    await mkdir(shared);
    const workflowFile = join(dir, 'flow.yaml');
    await writeFile(workflowFile, 'steps: []');
    const where = { baseDir: dir, allowedDirs: [shared, root], workflowFile };
    const cases: [string, string, RegExp][] = [
      ['.', 'delete', /the path `[^`]*\/wf`, chosen by \$\{steps\.x\.output\}, is the workflow's folder: a step's output may not write, append to or delete it/],
      ['flow.yaml', 'write', /is the workflow file/],
      ['./sub/../flow.yaml', 'append', /is the workflow file/],
      ['../shared', 'delete', /is `[^`]*shared`, a folder `config\.files\.allow` lists/],
      ['..', 'delete', /is `[^`]*`, a folder `config\.files\.allow` lists/],
      ['.git', 'delete', /is a `\.git` folder or inside one/],
      ['.GIT/config', 'write', /is a `\.git` folder or inside one/],
    ];
    for (const [answer, action, message] of cases) {
      const error = await refused(resolve({ action, path: '${steps.x.output}' }, answer, where), message);
      assert.match(error.hint!, /write the path into the workflow/);
    }
    // A symlink to the workflow file is the workflow file.
    await symlink(workflowFile, join(dir, 'alias.yaml'));
    await refused(resolve({ action: 'write', path: '${steps.x.output}' }, 'alias.yaml', where), /is the workflow file/);
    // Holding the workflow: a folder inside an allowed one that the workflow's folder is in.
    const deep = { baseDir: join(dir, 'a'), allowedDirs: [root], workflowFile: join(dir, 'a', 'flow.yaml') };
    await mkdir(deep.baseDir);
    await refused(resolve({ action: 'delete', path: '${steps.x.output}' }, '..', deep), /holds the workflow file/);
  });

  it('reads, lists and checks them freely, and changes what is below', async (t) => {
    const dir = await tempDir(t);
    const where = { baseDir: dir, workflowFile: join(dir, 'flow.yaml') };
    for (const action of ['read', 'list', 'exists']) {
      for (const answer of ['.', 'flow.yaml', '.git/config']) assert.deepEqual(await resolve({ action, path: '${steps.x.output}' }, answer, where), { action, path: answer });
    }
    assert.deepEqual(await resolve({ action: 'delete', path: 'out/${steps.x.output}' }, 'old', where), { action: 'delete', path: 'out/old' });
    assert.deepEqual(await resolve({ action: 'write', path: '${steps.x.output}' }, 'flow.yaml.bak', where), { action: 'write', path: 'flow.yaml.bak' });
  });

  it('counts as a change when the action does not say (no `changes` hook)', async (t) => {
    const dir = await tempDir(t);
    values['steps.x.output'] = '.';
    const input = compileValue({ path: '${steps.x.output}' }).value;
    await refused(resolveInput(input, { destinations }, lookup, { baseDir: dir }), /is the workflow's folder/);
  });
});

describe('confining a data-chosen URL', () => {
  const where = { baseDir: '/nowhere' };

  it('with a literal scheme and host, URL-encodes each step value into its place', async () => {
    const out = await resolve({ url: 'https://api.example.com/items/${steps.x.output}?q=${steps.x.output}', body: '${steps.x.output}' }, '../../admin?x=1#f', where);
    assert.equal(out['url'], 'https://api.example.com/items/..%2F..%2Fadmin%3Fx%3D1%23f?q=..%2F..%2Fadmin%3Fx%3D1%23f');
    assert.equal(out['body'], '../../admin?x=1#f', 'only destinations are encoded');
  });

  it('refuses a step value that makes a `.` or `..` path segment: encoded, it would still climb', async () => {
    for (const answer of ['..', '.']) {
      await refused(resolve({ url: 'https://api.example.com/v1/${steps.x.output}/x' }, answer, where), new RegExp(`makes the path segment \`${answer.replace(/\./g, '\\.')}\``));
      await refused(resolve({ url: 'https://api.example.com/v1/${steps.x.output}' }, answer, where), /path segment/);
    }
    await refused(resolve({ url: 'https://api.example.com/v1/${steps.x.output}${steps.x.output}/x' }, '.', where), /path segment `\.\.`/);
    await refused(resolve({ url: 'https://api.example.com/v1/%2E${steps.x.output}/x' }, '.', where), /path segment `%2E\.`/);
    // Not a whole segment, or not in the path: nothing climbs.
    const fine: [string, string, string][] = [
      ['https://api.example.com/v1/${steps.x.output}.json', '.', 'https://api.example.com/v1/..json'],
      ['https://api.example.com/v1/x${steps.x.output}/y', '..', 'https://api.example.com/v1/x../y'],
      ['https://api.example.com/v1?q=${steps.x.output}', '..', 'https://api.example.com/v1?q=..'],
      ['https://api.example.com/v1/${steps.x.output}', '...', 'https://api.example.com/v1/...'],
      ['https://api.example.com/v1/${steps.x.output}', '%2E%2E', 'https://api.example.com/v1/%252E%252E'],
    ];
    for (const [url, answer, sent] of fine) assert.equal((await resolve({ url }, answer, where))['url'], sent, url);
  });

  it('holds every redirect to the first URL’s rule: the fixed origin, or allowHosts', async () => {
    const fixed = await resolved({ url: 'https://api.example.com/v1/${steps.x.output}' }, 'a', { ...where, allowedHosts: ['cdn.example.net'] });
    fixed.confine('url', 'https://api.example.com/elsewhere');
    fixed.confine('url', 'https://cdn.example.net/file');
    const off = /was redirected to `http:\/\/api\.example\.com\/v1`, off https:\/\/api\.example\.com, the origin its template fixes, and to host `api\.example\.com`/;
    assert.throws(() => fixed.confine('url', 'http://api.example.com/v1'), off, 'another scheme is another origin');
    assert.throws(() => fixed.confine('url', 'https://evil.example/'), (e) => e instanceof ConductorError && e.code === 'not_allowed' && /add `evil\.example` to `config\.http\.allowHosts`/.test(e.hint!));
    const listed = await resolved({ url: '${steps.x.output}' }, 'http://127.0.0.1:8080/a', { ...where, allowedHosts: ['127.0.0.1:8080'] });
    listed.confine('url', 'http://127.0.0.1:8080/b');
    assert.throws(() => listed.confine('url', 'http://127.0.0.1:9090/steal'), /was redirected to `http:\/\/127\.0\.0\.1:9090\/steal`, to host `127\.0\.0\.1:9090`/);
    assert.throws(() => listed.confine('url', 'not a url'), /not a URL whose host can be checked/);
    // A URL the author wrote is not data-chosen: its redirects are the server's business.
    const literal = await resolved({ url: 'https://api.example.com/' }, 'a', where);
    literal.confine('url', 'https://evil.example/');
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
    assert.match(error.hint!, /^write the scheme and host into the template \(`http:\/\/127\.0\.0\.1:9\/…\/\$\{steps\.x\.output\}`/, 'scheme and port as written');
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

describe('a data-chosen header that names a host', () => {
  const where = { baseDir: '/nowhere', allowedHosts: ['api.example.com', '*.example.org'] };

  it('must name a host in allowHosts: Host, X-Forwarded-Host (each of a list), Forwarded (its host=)', async () => {
    await refused(resolve({ headers: { Host: '${steps.x.output}' } }, 'evil.example.net', where), /the Host header `evil\.example\.net`, chosen by \$\{steps\.x\.output\}, names host `evil\.example\.net`/);
    await refused(resolve({ headers: { 'x-forwarded-host': '${steps.x.output}' } }, 'api.example.com, evil.example.net', where), /names host `evil\.example\.net`/);
    await refused(resolve({ headers: { Forwarded: 'for=1.2.3.4;host=${steps.x.output}' } }, '"evil.example.net"', where), /names host `evil\.example\.net`/);
    await refused(resolve({ headers: { HOST: '${steps.x.output}' } }, 'api.example.com@evil.example.net', where), /names host `api\.example\.com@evil\.example\.net`/);
    await refused(resolve({ headers: '${steps.x.output}' }, { Host: 'evil.example.net' }, where), /the Host header/);
    const ok = await resolve({ headers: { Host: '${steps.x.output}', 'X-Forwarded-Host': 'b.example.org, ${steps.x.output}', Forwarded: 'for=x;host=${steps.x.output}' } }, 'api.example.com:8443', where);
    assert.deepEqual(ok['headers'], { Host: 'api.example.com:8443', 'X-Forwarded-Host': 'b.example.org, api.example.com:8443', Forwarded: 'for=x;host=api.example.com:8443' });
  });

  it('leaves other headers, and host headers the author wrote, alone', async () => {
    const out = await resolve({ headers: { Host: 'anything.example', 'X-Id': '${steps.x.output}' } }, 'evil.example.net', where);
    assert.deepEqual(out['headers'], { Host: 'anything.example', 'X-Id': 'evil.example.net' });
  });
});

describe('a data-chosen model', () => {
  const where = { baseDir: '/nowhere' };

  it('must keep its provider in the template (the author’s inputs count), or is refused', async () => {
    const error = await refused(resolve({ model: '${steps.x.output}' }, 'openai:gpt-4o', where), /the model `openai:gpt-4o`, chosen by \$\{steps\.x\.output\}, does not keep its provider in the template: a step's output may not choose where a prompt goes/);
    assert.match(error.hint!, /`openai:\$\{steps\.x\.output\}`/);
    await refused(resolve({ model: 'echo${steps.x.output}' }, ':x', where), /does not keep its provider/);
    assert.deepEqual(await resolve({ model: 'ollama:${steps.x.output}' }, 'openai:gpt-4o', where), { model: 'ollama:openai:gpt-4o' });
    values['inputs.provider'] = 'anthropic:';
    assert.deepEqual(await resolve({ model: '${inputs.provider}${steps.x.output}' }, 'claude', where), { model: 'anthropic:claude' });
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

  it('names host headers and models, and the author’s values a host or provider may come from', () => {
    const block = compileValue({ url: '${inputs.base}${steps.a.output}', headers: { Host: '${steps.b.output}', 'X-Id': '${steps.c.output}' }, model: 'openai:${steps.d.output}' }).value;
    assert.deepEqual(dataChosen(block, destinations), [
      { key: 'url', kind: 'url', refs: ['${steps.a.output}'], authorPrefix: '${inputs.base}' },
      { key: 'headers.Host', kind: 'headers', refs: ['${steps.b.output}'] },
      { key: 'model', kind: 'model', refs: ['${steps.d.output}'], fixedProvider: 'openai' },
    ]);
    assert.deepEqual(dataChosen(compileValue({ model: '${env.P}:${steps.d.output}', url: 'https://h.example${inputs.p}/${steps.a.output}' }).value, destinations), [
      { key: 'model', kind: 'model', refs: ['${steps.d.output}'], authorPrefix: '${env.P}:' },
      { key: 'url', kind: 'url', refs: ['${steps.a.output}'], authorPrefix: 'https://h.example${inputs.p}/' },
    ]);
  });
});

/**
 * Redirects of any `http` step, through the real CLI: credentials stay with the origin they were written for,
 * whoever chose the URL, and methods and bodies change as the fetch standard says.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { run } from './support/cli.ts';
import { addRedirects, reply, StandIn } from './support/stand-in.ts';
import { tempDir, writeWorkflow } from './support/workflow.ts';

/** Two origins on 127.0.0.1: the one a workflow calls, and another it gets sent to. */
let home: StandIn;
let other: StandIn;
before(async () => {
  [home, other] = await Promise.all([StandIn.start(), StandIn.start()]);
  addRedirects(home);
  other.fallback((req, res) => reply(res, 200, { method: req.method }));
  home.route('/landed', (req, res) => reply(res, 200, { method: req.method }));
});
after(() => Promise.all([home.close(), other.close()]));

const env = { CONDUCTOR_MODEL: 'echo', SVC_TOKEN: 'tok-abcdefghijklmnop' };

/** One POST written by the author (no data chooses anything), with credentials of every kind and harmless headers. */
async function post(t: { after(fn: () => unknown): void }, to: string, code: number, method = 'POST'): Promise<number | null> {
  const file = await writeWorkflow(
    await tempDir(t),
    `steps:\n  - id: send\n    http:\n      method: ${method}\n      url: "${home.url}/hop?code=${code}&to=${encodeURIComponent(to)}"\n      headers:\n        authorization: "Bearer \${env.SVC_TOKEN}"\n        x-custom-auth: "\${env.SVC_TOKEN}"\n        x-literal-key: written-in-the-workflow\n        cookie: "sid=\${env.SVC_TOKEN}"\n        accept: application/json\n        user-agent: conductor-test\n      body: { data: private }\n`,
  );
  return (await run(['run', file], { env })).code;
}

const CREDENTIALS = ['authorization', 'x-custom-auth', 'x-literal-key', 'cookie'];

describe('a redirect to another origin', () => {
  it('drops every header the workflow set but accept, user-agent and content-type; a 307 keeps method and body', async (t) => {
    assert.equal(await post(t, `${other.url}/kept`, 307), 0);
    const [got] = other.byPath('/kept');
    assert.ok(got, 'the redirect was followed');
    for (const name of CREDENTIALS) assert.equal(got.headers[name], undefined, `${name} followed the redirect`);
    assert.equal(got.headers['accept'], 'application/json');
    assert.equal(got.headers['user-agent'], 'conductor-test');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.method, 'POST');
    assert.deepEqual(JSON.parse(got.body), { data: 'private' });
  });

  it('a 302 after a POST, and a 303 after a PUT, continue as a GET without the body or its content type', async (t) => {
    assert.equal(await post(t, `${other.url}/after-302`, 302), 0);
    assert.equal(await post(t, `${other.url}/after-303`, 303, 'PUT'), 0);
    for (const path of ['/after-302', '/after-303']) {
      const [got] = other.byPath(path);
      assert.equal(got?.method, 'GET', path);
      assert.equal(got.body, '');
      assert.equal(got.headers['content-type'], undefined);
      for (const name of CREDENTIALS) assert.equal(got.headers[name], undefined, `${name} followed the redirect`);
    }
  });
});

describe('a redirect on the same origin', () => {
  it('keeps the headers: they were written for this origin', async (t) => {
    assert.equal(await post(t, '/landed', 308), 0);
    const [got] = home.byPath('/landed');
    assert.equal(got?.method, 'POST');
    assert.equal(got.headers['x-custom-auth'], env.SVC_TOKEN);
    assert.equal(got.headers['x-literal-key'], 'written-in-the-workflow');
    assert.deepEqual(JSON.parse(got.body), { data: 'private' });
  });
});

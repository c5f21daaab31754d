/**
 * The one factory: a store chosen by its location, and the location chosen from the flag, the environment and
 * the default.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../test/support/workflow.ts';
import { storeLocation } from './home.ts';
import { openRunStore } from './open.ts';
import { SqliteRunStore } from './sqlite.ts';

describe('openRunStore', () => {
  it('opens a SQLite file for a path, named by its path', async (t) => {
    const path = join(await tempDir(t), 'runs.db');
    const store = await openRunStore(path, {});
    t.after(() => store.close());
    assert.ok(store instanceof SqliteRunStore);
    assert.equal(store.location, path);
  });

  for (const url of ['postgres://app:hunter2@127.0.0.1:1/conductor', 'postgresql://app:hunter2@127.0.0.1:1/conductor?sslmode=disable', 'POSTGRES://app:hunter2@127.0.0.1:1/conductor']) {
    it(`takes ${url.slice(0, url.indexOf(':'))}:// for a PostgreSQL server: unreachable, store_unavailable naming it without its password`, async () => {
      await assert.rejects(openRunStore(url, {}), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'store_unavailable');
        assert.match(error.message, /127\.0\.0\.1:1/);
        assert.doesNotMatch(error.message, /hunter2/);
        return true;
      });
    });
  }
});

describe('openRunStore refuses another kind of URL', () => {
  it('mysql:// is no file to make (its password would become a folder): store_unavailable, nothing created', async (t) => {
    const dir = await tempDir(t);
    const previous = process.cwd();
    process.chdir(dir);
    t.after(() => process.chdir(previous));
    await assert.rejects(openRunStore('mysql://app:hunter2@db/conductor', {}), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'store_unavailable');
      assert.match(error.message, /a SQLite file's path or a postgres:\/\/ URL/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe('storeLocation', () => {
  const env = { HOME: '/home/u' };
  it('is --store, else CONDUCTOR_STORE, else the file in CONDUCTOR_HOME, else ~/.conductor', () => {
    assert.equal(storeLocation(env, '/work'), '/home/u/.conductor/runs.db');
    assert.equal(storeLocation({ ...env, CONDUCTOR_HOME: 'h' }, '/work'), '/work/h/runs.db');
    assert.equal(storeLocation({ ...env, CONDUCTOR_HOME: 'h', CONDUCTOR_STORE: 'elsewhere.db' }, '/work'), '/work/elsewhere.db');
    assert.equal(storeLocation({ ...env, CONDUCTOR_STORE: 'elsewhere.db' }, '/work', '/abs/given.db'), '/abs/given.db');
  });

  it('keeps a postgres:// URL as it is, from the flag or the environment', () => {
    const url = 'postgres://app:pw@db:5432/conductor';
    assert.equal(storeLocation({ ...env, CONDUCTOR_STORE: url }, '/work'), url);
    assert.equal(storeLocation(env, '/work', 'postgresql://db/x'), 'postgresql://db/x');
    assert.equal(storeLocation({ ...env, CONDUCTOR_STORE: url }, '/work', 'local.db'), '/work/local.db');
  });
});

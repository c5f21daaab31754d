import { strict as assert } from 'node:assert';
import { createServer, type Socket, type AddressInfo, type Server } from 'node:net';
import { after, test } from 'node:test';
import { deleteKeys, postgresService, probeRedis, redisService, testPrefix, testRedis } from './services.ts';
import { CLOSED_PORT } from './stand-in.ts';

const redis = await redisService();
const postgres = await postgresService();

// These two make a run that requires the services (`.ci/run`) fail where one is missing, and name it.
test('Redis answers for the tests', redis.options, () => redis.assertReachable());
test('PostgreSQL answers for the tests', postgres.options, () => postgres.assertReachable());


test('an absent service is skipped with the reason, its password never shown; required, it fails instead', async () => {
  const url = `redis://admin:hunter2@127.0.0.1:${CLOSED_PORT}`;
  const skipped = await probeRedis(url, false);
  assert.equal(skipped.reachable, false);
  assert.match(String(skipped.options.skip), /^Redis not reachable at redis:\/\/\*\*\*@127\.0\.0\.1:\d+ \(ECONNREFUSED\) — skipped$/);
  const required = await probeRedis(url, true);
  assert.equal(required.options.skip, false, 'required: the tests run');
  assert.throws(() => required.assertReachable(), (error: Error) => /not reachable at redis:\/\/\*\*\*@/.test(error.message) && /CONDUCTOR_REQUIRE_SERVICES=1/.test(error.message));
  for (const text of [String(skipped.options.skip), skipped.reason, required.reason]) assert.doesNotMatch(String(text), /hunter2/);
});

const servers: Server[] = [];
after(() => servers.forEach((server) => server.close()));

test('something that accepts connections but is not Redis counts as absent', async () => {
  const server = createServer((socket) => socket.destroy());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const probed = await probeRedis(`redis://127.0.0.1:${(server.address() as AddressInfo).port}`, false);
  assert.equal(probed.reachable, false);
  assert.match(String(probed.options.skip), /^Redis not reachable at redis:\/\/127\.0\.0\.1:\d+ \(.+\) — skipped$/);
});

test('a server that accepts and then says nothing counts as absent: the probe does not wait for ever', async () => {
  const held: Socket[] = [];
  const server = createServer((socket) => void held.push(socket));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const probed = await probeRedis(`redis://127.0.0.1:${(server.address() as AddressInfo).port}`, false);
    assert.equal(probed.reachable, false);
    assert.match(String(probed.reason), /no answer to PING/);
  } finally {
    for (const socket of held) socket.destroy();
  }
});

test('deleteKeys removes a test\'s keys and no others, and refuses a prefix that is not a test\'s', redis.options, async () => {
  redis.assertReachable();
  const client = testRedis(redis.url);
  try {
    const mine = testPrefix();
    const other = testPrefix();
    assert.notEqual(mine, other);
    await client.set(`${mine}a`, '1');
    await client.set(`${mine}b`, '1');
    await client.set(`${other}a`, '1', 'PX', 60_000);
    await deleteKeys(client, mine);
    assert.deepEqual(await client.keys(`${mine}*`), []);
    assert.deepEqual(await client.keys(`${other}*`), [`${other}a`]);
    await deleteKeys(client, other);
    await assert.rejects(deleteKeys(client, 'bull:'), /refusing/);
  } finally {
    client.disconnect();
  }
});

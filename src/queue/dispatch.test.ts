import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { deleteKeys, redisService, REDIS_URL, testPrefix, testRedis } from '../../test/support/services.ts';

const redis = await redisService();

it('lets every connection go when disposed: a process that used it ends on its own', { ...redis.options, timeout: 180_000 }, async (t) => {
  redis.assertReachable();
  const prefix = testPrefix();
  t.after(async () => {
    const client = testRedis();
    await deleteKeys(client, prefix);
    client.disconnect();
  });
  // In a process of its own: a socket left open keeps it alive, which is what `bench -- 12` did (QueueEvents'
  // connection, which BullMQ does not close when it was handed one).
  const script = `const { QueueDispatcher } = await import(${JSON.stringify(join(import.meta.dirname, 'dispatch.ts'))});
    const { parseQueueUrl } = await import(${JSON.stringify(join(import.meta.dirname, 'connection.ts'))});
    const dispatcher = await QueueDispatcher.connect(parseQueueUrl(${JSON.stringify(`${REDIS_URL}?prefix=${prefix.slice(0, -1)}`)}));
    await dispatcher.dispose();
    setTimeout(() => { console.log(JSON.stringify(process.getActiveResourcesInfo())); process.exit(3); }, 5000).unref();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  assert.equal(code, 0, `still open after dispose: ${out}`);
});

import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { RunEvent } from '../core/events.ts';
import { RunLog } from './run-log.ts';

const start = (stepId: string): RunEvent => ({ type: 'step:start', runId: 'r', stepId, at: 1 });

it('hands a follower every event after its cursor, then the live ones, each once and in order, until the end', async () => {
  const log = new RunLog();
  log.append(start('a'));
  log.append(start('b'));
  const seen: number[] = [];
  let release!: () => void;
  const slow = new Promise<void>((done) => (release = done));
  // A follower that is slow to take its first event: what comes meanwhile waits in the log, not in a queue.
  const following = log.follow(1, new AbortController().signal, async (event) => {
    seen.push(event.id);
    if (seen.length === 1) await slow;
  });
  log.append(start('c'));
  release();
  log.append(start('d'));
  log.append({ type: 'run:end', runId: 'r', at: 2, report: {} as never });
  log.append(start('late'));
  await following;
  assert.deepEqual(seen, [2, 3, 4, 5]);
  assert.equal(log.size, 5);
  assert.match(log.entry(1)!.frame, /^id: 2\nevent: step:start\ndata: \{.*"stepId":"b".*\}\n\n$/);
});

it('stops a follower whose signal aborts while it waits for more', async () => {
  const log = new RunLog();
  const gone = new AbortController();
  const following = log.follow(0, gone.signal, async () => {});
  log.append(start('a'));
  gone.abort();
  await following;
  assert.equal(log.ended, false);
});

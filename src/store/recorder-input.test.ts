/**
 * The recorder keeps what each step and item ran with (its resolved input): redacted like its result, written
 * again at the end when a secret in it was learned later, and never making the result `redacted` (which would
 * stop a resume from reusing it).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RunReport } from '../core/report.ts';
import { createRedactor, Secrets } from '../core/redact.ts';
import { tempDir, workflow } from '../../test/support/workflow.ts';
import { recorder } from './recorder.ts';
import { SqliteRunStore } from './sqlite.ts';

const spec = workflow(`steps:
  - id: a
    llm: { model: echo, prompt: "a" }
  - id: each
    foreach: [x, y]
    llm: { model: echo, prompt: "\${item}" }
`);
const start = { type: 'run:start', runId: 'r', workflow: spec.file, stepIds: ['a', 'each'], maxConcurrency: 10, inputs: {}, at: 1 } as const;
const SECRET = 'sk-live-recorder-input-0123456789';

async function open(t: { after(fn: () => unknown): void }) {
  const store = new SqliteRunStore(join(await tempDir(t), 'runs.db'));
  t.after(() => store.close());
  return store;
}

function end(report: Partial<RunReport> = {}) {
  return { type: 'run:end', runId: 'r', at: 9, report: { runId: 'r', workflow: spec.file, status: 'succeeded', startedAt: '', finishedAt: '', durationMs: 0, steps: {}, outputs: {}, usage: {}, cost: { usd: 0, byModel: {} }, ...report } } as const;
}

describe("the recorder and a step's resolved input", () => {
  it('records the input of a step and of each item, failed ones too, and reads it back with the run', async (t) => {
    const store = await open(t);
    const listener = recorder(store, spec, { fingerprints: ['fa', 'fe'] });
    listener(start);
    listener({ type: 'step:end', runId: 'r', stepId: 'a', status: 'succeeded', at: 2, output: 'A', input: { model: 'echo', prompt: 'a' } });
    listener({ type: 'item:end', runId: 'r', stepId: 'each', index: 0, key: 'k0', status: 'succeeded', at: 3, output: 'x', input: { model: 'echo', prompt: 'x' } });
    listener({ type: 'item:end', runId: 'r', stepId: 'each', index: 1, key: 'k1', status: 'failed', at: 3, error: 'no', errorCode: 'invalid_input', input: { model: 'echo', prompt: { n: 1 } } });
    listener({ type: 'step:end', runId: 'r', stepId: 'each', status: 'failed', at: 4, error: 'item 1: no', output: ['x', null] });
    listener(end({ status: 'failed' }));
    await listener.flush();
    const got = await store.getRun('r');
    const [a, each] = got!.steps;
    assert.deepEqual(a!.input, { model: 'echo', prompt: 'a' });
    assert.equal(a!.redacted, false);
    assert.equal(each!.input, undefined);
    assert.deepEqual(each!.items!.map((item) => item.input), [{ model: 'echo', prompt: 'x' }, { model: 'echo', prompt: { n: 1 } }]);
  });

  it('takes a secret out of an input as out of a result, without marking the result redacted', async (t) => {
    const store = await open(t);
    const listener = recorder(store, spec, { redact: createRedactor([SECRET]), fingerprints: ['fa', 'fe'] });
    listener(start);
    listener({ type: 'step:end', runId: 'r', stepId: 'a', status: 'succeeded', at: 2, output: 'A', input: { prompt: `use ${SECRET}` } });
    listener(end());
    await listener.flush();
    const [a] = (await store.getRun('r'))!.steps;
    assert.deepEqual(a!.input, { prompt: 'use ***' });
    assert.equal(a!.redacted, false, 'its result holds no secret: a resume may reuse it');
  });

  it('writes an input again at the end when a secret in it was learned after it was recorded', async (t) => {
    const store = await open(t);
    const secrets = new Secrets();
    const listener = recorder(store, spec, { fingerprints: ['fa', 'fe'], lateRedact: secrets.redact });
    listener(start);
    listener({ type: 'step:end', runId: 'r', stepId: 'a', status: 'succeeded', at: 2, output: 'A', input: { prompt: `send ${SECRET}` } });
    listener({ type: 'item:end', runId: 'r', stepId: 'each', index: 0, key: 'k0', status: 'failed', at: 3, error: 'no', input: { prompt: SECRET } });
    await listener.flush();
    assert.deepEqual((await store.getRun('r'))!.steps[0]!.input, { prompt: `send ${SECRET}` });
    secrets.add(SECRET);
    listener(end());
    await listener.flush();
    const [a, each] = (await store.getRun('r'))!.steps;
    assert.deepEqual(a!.input, { prompt: 'send ***' });
    assert.equal(a!.output, 'A');
    assert.equal(a!.redacted, false);
    assert.deepEqual(each!.items![0]!.input, { prompt: '***' });
    assert.equal(each!.items![0]!.status, 'failed');
  });
});

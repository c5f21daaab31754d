import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseResult } from './dispatch.ts';
import { jobId, jobPriority, referenceKey, signedWith, signJob, type StepJob } from './protocol.ts';
import { jobProblem } from './worker.ts';

test("a job's id is the run's, the step's and the item's, with no `:` and never all digits", () => {
  assert.equal(jobId('r1', 'summarize', undefined, 1), 'r1.summarize.d1');
  assert.equal(jobId('r1', 'summarize', 7, 2), 'r1.summarize.i7.d2');
  assert.ok(!jobId('123', '4', 5, 6).includes(':'));
  assert.ok(!/^\d+$/.test(jobId('123', '4', undefined, 6)));
});

test('the longest remaining path goes first: every job has a priority, within BullMQ\'s range', () => {
  assert.ok(jobPriority(60_000) < jobPriority(1_000), 'a minute of path left runs before a second');
  for (const ms of [0, -5, 1e15, Infinity, NaN]) {
    const p = jobPriority(ms);
    assert.ok(Number.isInteger(p) && p >= 1 && p <= 2_097_151, `${ms} → ${p}`);
  }
});

test('one key per reference, the same for the same reference however it was parsed', () => {
  assert.equal(referenceKey({ root: 'steps', step: 'a', property: 'output', path: ['x', 0] }), referenceKey({ path: ['x', 0], property: 'output', step: 'a', root: 'steps' }));
  assert.notEqual(referenceKey({ root: 'inputs', name: 'a', path: [] }), referenceKey({ root: 'item', name: 'a', path: [] }));
  assert.notEqual(referenceKey({ root: 'steps', step: 'a', property: 'output', path: ['0'] }), referenceKey({ root: 'steps', step: 'a', property: 'output', path: [0] }));
});

test("a worker's answer as the run's outcome: a success as it was, a failure never retried by the run, nonsense refused", () => {
  assert.deepEqual(parseResult(JSON.stringify({ status: 'succeeded', output: { a: 1 }, usage: { model: 'm', inputTokens: 1, outputTokens: 2 }, attempts: 2, worker: 'h:1', cacheKey: 'k' })), { status: 'succeeded', output: { a: 1 }, usage: { model: 'm', inputTokens: 1, outputTokens: 2 }, cacheKey: 'k', attempts: 2, worker: 'h:1' });
  const failed = parseResult({ status: 'failed', error: { code: 'http_status', message: 'HTTP 500', retryable: true }, worker: 'h:1' });
  assert.equal(failed.status, 'failed');
  assert.equal(failed.status === 'failed' && failed.error.retryable, false, 'the worker retried already');
  assert.deepEqual(parseResult({ status: 'cancelled', worker: 'h:1' }), { status: 'cancelled', worker: 'h:1' });
  for (const nonsense of ['{', null, 42, { output: 1 }]) assert.equal(parseResult(nonsense).status, 'failed');
});

test('a job written by something else is refused with a reason, not an internal error', () => {
  const good = { protocol: 1, runId: 'r', stepId: 's', workflow: { hash: 'a'.repeat(64), file: '/w.yaml' }, defaults: { maxConcurrency: 1, rateLimits: {} }, values: [] };
  assert.equal(jobProblem(good), undefined);
  assert.match(jobProblem({ ...good, protocol: 2 })!, /protocol 2/);
  assert.match(jobProblem({ ...good, runId: { x: 1 } })!, /without a run/);
  assert.match(jobProblem({ ...good, values: 'x' })!, /values are not pairs/);
  assert.match(jobProblem({ ...good, defaults: null })!, /settings/);
  assert.match(jobProblem({ ...good, workflow: { hash: '../x', file: '/w' } })!, /workflow/);
  assert.match(jobProblem({ ...good, item: { index: 'x', key: 'k' } })!, /item/);
  assert.match(jobProblem(null)!, /no data/);
});

test("a job signed with the deployment's key is told from one that is not, or was changed", () => {
  const job: StepJob = { protocol: 1, runId: 'r', stepId: 's', workflow: { hash: 'a'.repeat(64), file: '/w.yaml' }, defaults: { maxConcurrency: 1, rateLimits: {} }, values: [['["inputs","x",[]]', 'v']] };
  const key = 'k'.repeat(32);
  const signed = signJob(job, key);
  // As a worker receives it: parsed back from the JSON BullMQ stores.
  const received = JSON.parse(JSON.stringify(signed)) as StepJob;
  assert.equal(signedWith(received, key), true);
  assert.equal(signedWith(received, 'another key, as long'), false);
  assert.equal(signedWith(job, key), false, 'unsigned');
  assert.equal(signedWith({ ...received, values: [['["inputs","x",[]]', 'changed']] }, key), false, 'changed values');
  assert.equal(signedWith({ ...received, workflow: { ...received.workflow, hash: 'b'.repeat(64) } }, key), false, 'another workflow');
  assert.equal(signedWith({ ...received, sig: 'zz' }, key), false);
  assert.equal(signJob(signed, key).sig, signed.sig, 'signing again gives the same');
});

test("a worker's answer brings what the step ran with, succeeded or failed; an answer without it (an older worker) has none", () => {
  const input = { model: 'openai:m', prompt: 'Summarize: a document' };
  assert.deepEqual(parseResult(JSON.stringify({ status: 'succeeded', output: 'x', worker: 'h:1', input })), { status: 'succeeded', output: 'x', worker: 'h:1', input });
  const failed = parseResult({ status: 'failed', error: { code: 'invalid_input', message: 'no', retryable: false }, worker: 'h:1', input: { prompt: { n: 1 } } });
  assert.deepEqual(failed.input, { prompt: { n: 1 } });
  assert.ok(!('input' in parseResult({ status: 'succeeded', output: 'x', worker: 'h:1' })));
});

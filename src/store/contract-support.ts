/**
 * What the store contract's tests share (contract.ts and its parts): the workflow they record, the results
 * they record for it, and the test and store each one gets.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConductorError } from '../core/errors.ts';
import type { ItemResult, NewRun, RunStore, StepRecord } from './types.ts';

/** What a test may ask of the store it opens. */
export interface ContractOptions {
  heartbeatMs?: number;
  onError?: (error: ConductorError) => void;
}

/** A store a test opened, on data of its own (closed and removed after the test). */
export interface Session {
  store: RunStore;
  /** Another store object on the same data: a second process while `store` is open, or the next one after it closed. */
  reopen: () => Promise<RunStore>;
  setHeartbeat: ((runId: string, agoMs: number) => Promise<void>) | undefined;
}

/** How a part of the contract registers its tests: `it` skips where the store is absent; `session` opens one. */
export interface ContractSuite {
  it: (title: string, fn: (t: TestContext) => Promise<void>) => void;
  session: (t: TestContext, options?: ContractOptions) => Promise<Session>;
}

export const WORKFLOW = '/w/workflow.yaml';
export const steps = [
  { stepId: 'list', fingerprint: 'fl', dependsOn: [] },
  { stepId: 'each', fingerprint: 'fe.l1', dependsOn: ['list'] },
  { stepId: 'urgent', fingerprint: 'fu', dependsOn: ['list'] },
  { stepId: 'combine', fingerprint: 'fc', dependsOn: ['each'] },
];
export const newRun = (id: string, extra: Partial<NewRun> = {}): NewRun => ({ id, workflow: WORKFLOW, workflowHash: 'h', inputs: {}, startedAt: Date.now(), steps, ...extra });
export const item = (index: number, extra: Partial<ItemResult> = {}): ItemResult => ({ index, key: `k${index}`, status: 'succeeded', output: `out ${index}`, attempts: 1, startedAt: 1000 + index, finishedAt: 1010 + index, ...extra });
export const finished = { status: 'succeeded', finishedAt: 5_000, outputs: {} } as const;
export const noop = () => {};

/** A step's record as getRun gives it. */
export async function stepOf(store: RunStore, runId: string, stepId: string): Promise<StepRecord> {
  const got = await store.getRun(runId);
  assert.ok(got, `run ${runId} is recorded`);
  const step = got.steps.find((s) => s.stepId === stepId);
  assert.ok(step, `step ${stepId} is planned`);
  return step;
}

/** Waits for `check` to hold, a turn at a time; the deadline is only for a failing test's message. */
export async function until(what: string, check: () => Promise<boolean>, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${deadlineMs / 1000} s`);
    await sleep(5);
  }
}

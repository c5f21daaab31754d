/**
 * Runs written straight into a store, with the step times a test chooses: what `plan` expects and what a
 * timeline marks as critical then follow from the record alone, not from how fast this machine ran the steps.
 */
import { randomUUID } from 'node:crypto';
import { SqliteRunStore } from '../../src/store/sqlite.ts';

export interface SeededStep {
  stepId: string;
  fingerprint: string;
  dependsOn?: string[];
  /** Milliseconds from the run's start. */
  start: number;
  end: number;
}

/** Records one finished, succeeded run of `workflow` that started at `startedAt`; returns its id. */
export async function seedRun(storePath: string, workflow: string, startedAt: number, steps: SeededStep[]): Promise<string> {
  const store = new SqliteRunStore(storePath);
  try {
    const id = randomUUID();
    await store.startRun({ id, workflow, workflowHash: 'seeded', inputs: {}, startedAt, steps: steps.map((s) => ({ stepId: s.stepId, fingerprint: s.fingerprint, dependsOn: s.dependsOn ?? [] })) });
    for (const s of steps) await store.recordStep(id, s.stepId, { status: 'succeeded', output: s.stepId, attempts: 1, startedAt: startedAt + s.start, finishedAt: startedAt + s.end });
    await store.finishRun(id, { status: 'succeeded', finishedAt: startedAt + Math.max(...steps.map((s) => s.end)), outputs: {} });
    return id;
  } finally {
    await store.close();
  }
}

/** The fingerprint each step had in a recorded run (so seeded runs match the real steps, however fingerprints are made). */
export async function fingerprints(storePath: string, runId: string): Promise<Record<string, string>> {
  const store = new SqliteRunStore(storePath);
  try {
    return Object.fromEntries(((await store.getRun(runId))?.steps ?? []).map((s) => [s.stepId, s.fingerprint]));
  } finally {
    await store.close();
  }
}

/**
 * Which steps a resumed run can take from the record and which must run: a step is reused only if it
 * succeeded, does exactly what it did then (same fingerprint), its record is its real result (nothing was
 * redacted from it: `***` in place of a secret would flow on as data), everything it depends on is reused
 * too, and `--from` does not name it or anything upstream of it.
 */
import { SetupError, UsageError } from '../core/errors.ts';
import { didYouMean } from '../core/suggest.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import type { RunRecord, StepRecord } from './types.ts';

export interface ResumePlan {
  reuse: Record<string, { output: unknown; properties?: Record<string, unknown> }>;
  /** Steps that succeeded before but run again, and why. */
  changed: { stepId: string; reason: 'changed' | 'new' | 'secret' | 'upstream' | 'from' }[];
  /** Steps that run because they had not succeeded. */
  remaining: string[];
}

/** `fingerprints`: this run's, in file order (see `prepareFingerprints`). */
export function planResume(spec: WorkflowSpec, record: { run: RunRecord; steps: StepRecord[] }, fingerprints: readonly string[], from?: string): ResumePlan {
  if (record.run.status === 'running') {
    throw new SetupError('run_active', `run ${record.run.id} is still running (process ${record.run.pid} on ${record.run.host})`, { hint: 'wait for it to end, or stop it first (a run whose process is gone shows as interrupted within 30 s)' });
  }
  const fromIndex = from === undefined ? undefined : spec.plan.byId.get(from);
  if (from !== undefined && fromIndex === undefined) {
    throw new UsageError(`\`--from ${from}\`: the workflow has no step \`${from}\``, { hint: didYouMean(from, spec.plan.byId.keys()) ?? 'run `conductor plan` on the workflow to list its steps' });
  }
  const recorded = new Map(record.steps.map((s) => [s.stepId, s]));
  const rerun = new Uint8Array(spec.steps.length);
  const plan: ResumePlan = { reuse: {}, changed: [], remaining: [] };
  for (const i of spec.plan.order) {
    const step = spec.steps[i]!;
    const before = recorded.get(step.id);
    const upstream = spec.plan.steps[i]!.dependsOn.some((d) => rerun[d]);
    let reason: ResumePlan['changed'][number]['reason'] | 'remaining' | undefined;
    if (!before) reason = 'new';
    else if (before.status !== 'succeeded') reason = 'remaining';
    else if (i === fromIndex) reason = 'from';
    else if (before.fingerprint !== fingerprints[i]) reason = 'changed';
    else if (before.redacted) reason = 'secret';
    else if (upstream) reason = 'upstream';
    if (reason === undefined) {
      plan.reuse[step.id] = { output: before!.output, ...(before!.properties ? { properties: before!.properties } : {}) };
      continue;
    }
    rerun[i] = 1;
    if (reason === 'remaining') plan.remaining.push(step.id);
    else plan.changed.push({ stepId: step.id, reason });
  }
  return plan;
}

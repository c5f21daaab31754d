/**
 * Which steps a resumed run can take from the record and which must run: a step is reused only if it
 * succeeded, does exactly what it did then (same fingerprint), its record is its real result (nothing was
 * redacted from it: `***` in place of a secret would flow on as data), everything it depends on is reused
 * too, and `--from` does not name it or anything upstream of it.
 *
 * A foreach step that runs again takes with it the items that succeeded then (not redacted), by index: the
 * run reuses one only where the item's key is what it computes now (the same value at the same index, the
 * same other values), so an edited list re-runs only the changed items. Not when the step does something
 * else per item (another item fingerprint: a changed prompt, model, …), and not for the step `--from` names:
 * re-running it whole is what `--from` asks. Steps downstream of it keep theirs.
 */
import { SetupError, UsageError } from '../core/errors.ts';
import { didYouMean } from '../core/suggest.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import type { ReusableItem } from '../scheduler/run.ts';
import { itemFingerprint } from './fingerprint.ts';
import type { ReusedItem } from './recorder.ts';
import type { RunRecord, StepRecord } from './types.ts';

/** The prefix of an item key that matches nothing (see run.ts `itemKey`). */
export const UNREUSABLE = 'unreusable:';

export interface ResumePlan {
  /**
   * Steps taken from the record (`RunOptions.reuse`). A foreach step's entry also lists its items, for the
   * record of the new run (see RecorderOptions.reuse); the run itself reads only `output` and `properties`.
   */
  reuse: Record<string, { output: unknown; properties?: Record<string, unknown>; items?: ReusedItem[] }>;
  /** Items of foreach steps that run again, by step and index (`RunOptions.reuseItems`). */
  reuseItems: Record<string, Map<number, ReusableItem>>;
  /** Steps that succeeded before but run again, and why. */
  changed: { stepId: string; reason: 'changed' | 'new' | 'secret' | 'upstream' | 'from' }[];
  /**
   * Steps that run because they had not succeeded: failed (continued or not), skipped (with any reason),
   * cancelled, not run, or never finished.
   */
  remaining: string[];
  /**
   * Foreach steps that run again, in file order: how many items the earlier run had (`total`, when known),
   * and how many of them are offered for reuse (`reusable`; 0 for the `--from` step or a changed item).
   */
  items: { stepId: string; reusable: number; total?: number }[];
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
  const plan: ResumePlan = { reuse: {}, reuseItems: {}, changed: [], remaining: [], items: [] };
  for (const i of spec.plan.order) {
    const step = spec.steps[i]!;
    const before = recorded.get(step.id);
    const upstream = spec.plan.steps[i]!.dependsOn.some((d) => rerun[d]);
    let reason: ResumePlan['changed'][number]['reason'] | 'remaining' | undefined;
    if (!before) reason = 'new';
    else if (before.status !== 'succeeded') reason = 'remaining';
    else if (i === fromIndex) reason = 'from';
    else if (before.fingerprint !== fingerprints[i]) reason = 'changed';
    // An item keyed `unreusable:` held a secret (a token the step ran over): the fingerprint, with the secret
    // replaced, cannot tell another token from it, so the step is not taken whole either.
    else if (before.redacted || before.items?.some((item) => item.key.startsWith(UNREUSABLE))) reason = 'secret';
    else if (upstream) reason = 'upstream';
    if (reason === undefined) {
      const items = step.foreach ? before!.items?.filter((item) => item.status === 'succeeded').map(({ index, key, output, properties }) => ({ index, key, output, ...(properties ? { properties } : {}) })) : undefined;
      plan.reuse[step.id] = { output: before!.output, ...(before!.properties ? { properties: before!.properties } : {}), ...(items?.length ? { items } : {}) };
      continue;
    }
    rerun[i] = 1;
    if (reason === 'remaining') plan.remaining.push(step.id);
    else plan.changed.push({ stepId: step.id, reason });
    if (!step.foreach || !before) continue;
    // Items done by other work (a changed prompt) are no use, whatever their keys say.
    const sameWork = i !== fromIndex && itemFingerprint(before.fingerprint) === itemFingerprint(fingerprints[i]!);
    const reusable = new Map<number, ReusableItem>();
    if (sameWork) {
      for (const item of before.items ?? []) {
        if (item.status !== 'succeeded' || item.redacted) continue;
        reusable.set(item.index, { key: item.key, output: item.output, ...(item.properties ? { properties: item.properties } : {}) });
      }
    }
    if (reusable.size > 0) plan.reuseItems[step.id] = reusable;
    // A step that never got to its list (skipped, not run) has nothing to say about items.
    if (before.itemCount === undefined && !before.items?.length) continue;
    plan.items.push({ stepId: step.id, reusable: reusable.size, ...(before.itemCount === undefined ? {} : { total: before.itemCount }) });
  }
  return plan;
}

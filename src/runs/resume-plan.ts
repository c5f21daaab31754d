/**
 * What `conductor resume` and the server's `POST /api/runs/{id}/resume` both decide before a resume runs: the
 * earlier run's inputs (a secret one must be given again: the record keeps `***`), its workflow as the file is
 * now, and which steps and items are reused (store/resume.ts).
 */
import { UsageError } from '../core/errors.ts';
import { leaves } from '../core/redact.ts';
import { loadWorkflow, type LoadOptions } from '../definition/load.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import type { PreparedRun } from '../scheduler/prepare.ts';
import { secretInputName } from '../scheduler/secrets.ts';
import { contentHash } from '../store/fingerprint.ts';
import { planResume, type ResumePlan } from '../store/resume.ts';
import type { RunRecord, RunSettings, StepRecord } from '../store/types.ts';

export interface ResumeRequest {
  record: { run: RunRecord; steps: StepRecord[] };
  /** Inputs given now: on top of the recorded ones. */
  given: Readonly<Record<string, unknown>>;
  /** Re-run this step and everything downstream of it, even if it succeeded. */
  from?: string | undefined;
  /** Prepares the run from its workflow and inputs, with the caller's settings (see recordedSettings). */
  prepare: (spec: WorkflowSpec, inputs: Readonly<Record<string, unknown>>) => PreparedRun;
  load?: LoadOptions;
  /** How the caller gives inputs, for the hint (default: the command line's `-i name=…`). */
  giveAgain?: (names: readonly string[]) => string;
}

export interface PlannedResume {
  spec: WorkflowSpec;
  prepared: PreparedRun;
  plan: ResumePlan;
  /** The workflow file changed since the run (its text, not only what the steps do). */
  fileChanged: boolean;
  /** Steps reused as they are, in file order. */
  reused: string[];
}

/** The run's own `--model`, `--max-concurrency` and `--max-cost`: a resume does what the run did unless told otherwise. */
export function recordedSettings(run: RunRecord): RunSettings {
  const recorded = run.options ?? {};
  return { ...(recorded.model ? { model: recorded.model } : {}), ...(recorded.maxConcurrency ? { maxConcurrency: recorded.maxConcurrency } : {}), ...(recorded.maxCost ? { maxCost: recorded.maxCost } : {}) };
}

/** Throws `UsageError` when a secret input must be given again, and what loading the workflow throws. */
export async function planResumeOf({ record, given, from, prepare, load, giveAgain = (names) => names.map((name) => `-i ${name}=…`).join(' ') }: ResumeRequest): Promise<PlannedResume> {
  const spec = await loadWorkflow(record.run.workflow, load);
  // The record keeps a secret input as `***`: sending that in its place would be a wrong value, silently. One
  // with a default takes the default again; one without must be given again. (Runs recorded before the record
  // named them: a secret-named input that shows `***`.)
  const secret = new Set(record.run.secretInputs ?? Object.entries(record.run.inputs).filter(([name, value]) => secretInputName(name) && leaves(value).some((leaf) => leaf.includes('***'))).map(([name]) => name));
  const kept = Object.fromEntries(Object.entries(record.run.inputs).filter(([name]) => !secret.has(name)));
  const lost = [...secret].filter((name) => !(name in given) && spec.inputs[name]?.default === undefined && spec.inputs[name]?.required !== false);
  if (lost.length > 0) {
    const names = lost.map((name) => `\`${name}\``).join(', ');
    throw new UsageError(`the run's input${lost.length > 1 ? 's' : ''} ${names} held a secret, which the record does not keep`, {
      hint: `give ${lost.length > 1 ? 'them' : 'it'} again: ${giveAgain(lost)}`,
    });
  }
  // Prepared once: the resume plan, the record of the new run and its duration estimates match by its fingerprints.
  const prepared = prepare(spec, { ...kept, ...given });
  const plan = planResume(spec, record, prepared.fingerprints, from);
  return { spec, prepared, plan, fileChanged: contentHash(spec.source) !== record.run.workflowHash, reused: spec.steps.filter((s) => s.id in plan.reuse).map((s) => s.id) };
}

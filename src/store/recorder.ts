/**
 * Records a run into a store by following its events: the run when it starts (with the steps a resume reused,
 * in the same transaction), each step's result the moment the step finishes, the outcome at the end. A result
 * that lost a secret to redaction is marked so: it is not the step's real result, and is never reused.
 *
 * `runWorkflow`'s events carry no secret already (the run redacts each result once, and says so in `redacted`):
 * recording them needs no `redact`. Give one for events from elsewhere, and everything is redacted again here.
 *
 * A store failure is thrown from the listener (a `store_failed` ConductorError), synchronously where the store
 * met it; see SqliteStoreOptions.onError for failures of writes made in the background.
 */
import type { RunEventListener } from '../core/events.ts';
import { redactDeep, type Redactor } from '../core/redact.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import { contentHash } from './fingerprint.ts';
import type { RunSettings, RunStore, StepResult } from './types.ts';

export interface RecorderOptions {
  resumedFrom?: string;
  /** Applied to everything before it is written: for events that do not come from `runWorkflow` redacted. */
  redact?: Redactor;
  /** Each step's fingerprint, in file order (see `prepareFingerprints`). */
  fingerprints: readonly string[];
  /** What the command line set (`--model`, `--max-concurrency`): `resume` runs with the same by default. */
  settings?: RunSettings;
  /** The results this run takes from an earlier one (`RunOptions.reuse`): recorded with the run itself. */
  reuse?: Readonly<Record<string, { output: unknown; properties?: Record<string, unknown> }>>;
}

export function recorder(store: RunStore, spec: WorkflowSpec, options: RecorderOptions): RunEventListener {
  // Redacted value by value, then written as JSON: redacting JSON text would miss escaped spellings and could
  // break it (a secret of digits inside a number). Values come back unchanged, uncopied, when nothing matched.
  const redact = options.redact;
  const clean = <T>(value: T): T => (redact ? (redactDeep(value, redact) as T) : value);
  const text = (value: string): string => (redact ? redact(value) : value);
  /** A step's result as stored, and whether anything had to be taken out of it. */
  const result = (output: unknown, properties: Record<string, unknown> | undefined): Pick<StepResult, 'outputJson' | 'propertiesJson' | 'redacted'> => {
    const cleanOutput = clean(output);
    const cleanProperties = clean(properties);
    const redacted = cleanOutput !== output || cleanProperties !== properties;
    return {
      ...(cleanOutput === undefined ? {} : { outputJson: JSON.stringify(cleanOutput) }),
      ...(cleanProperties === undefined ? {} : { propertiesJson: JSON.stringify(cleanProperties) }),
      ...(redacted ? { redacted } : {}),
    };
  };
  const started = new Map<string, number>();
  const recordedWithRun = new Set<string>();
  return (event) => {
    switch (event.type) {
      case 'run:start': {
        const reused = Object.entries(options.reuse ?? {}).map(([stepId, r]) => ({ stepId, status: 'succeeded' as const, ...result(r.output, r.properties), reused: true }));
        store.startRun({
          id: event.runId,
          workflow: spec.file,
          workflowHash: contentHash(spec.source),
          inputs: clean(event.inputs),
          startedAt: event.at,
          ...(options.resumedFrom ? { resumedFrom: options.resumedFrom } : {}),
          ...(options.settings && Object.keys(options.settings).length ? { options: options.settings } : {}),
          ...(event.secretInputs?.length ? { secretInputs: event.secretInputs } : {}),
          steps: spec.steps.map((s, i) => ({
            stepId: s.id,
            fingerprint: options.fingerprints[i]!,
            dependsOn: spec.plan.steps[s.index]!.dependsOn.map((d) => spec.steps[d]!.id),
          })),
          reused,
        });
        for (const r of reused) recordedWithRun.add(r.stepId);
        break;
      }
      case 'step:start':
        started.set(event.stepId, event.at);
        break;
      case 'step:end':
        if (event.reused && recordedWithRun.has(event.stepId)) break;
        store.recordStep(event.runId, event.stepId, {
          status: event.status,
          ...result(event.output, event.properties),
          // The run redacts results before its events carry them; it says when it had to.
          ...(event.redacted ? { redacted: true } : {}),
          ...(event.error === undefined ? {} : { error: text(event.error) }),
          ...(event.errorCode === undefined ? {} : { errorCode: event.errorCode }),
          ...(event.hint === undefined ? {} : { hint: text(event.hint) }),
          ...(event.errorDetail === undefined ? {} : { errorDetail: text(event.errorDetail) }),
          ...(event.attempts === undefined ? {} : { attempts: event.attempts }),
          ...(started.has(event.stepId) ? { startedAt: started.get(event.stepId)!, finishedAt: event.at } : {}),
          ...(event.reused ? { reused: true } : {}),
        });
        break;
      case 'run:end': {
        // Steps that never started get no step:end; their final status (skipped, not run) is in the report.
        // The outcome is written even when a step's record fails: whatever can still be written is.
        let failure: unknown;
        for (const [stepId, step] of Object.entries(event.report.steps)) {
          if (step.status !== 'skipped' && step.status !== 'not_run') continue;
          try {
            store.recordStep(event.runId, stepId, { status: step.status });
          } catch (error) {
            failure ??= error;
          }
        }
        try {
          store.finishRun(event.runId, {
            status: event.report.status,
            ...(event.report.error ? { error: text(event.report.error) } : {}),
            finishedAt: event.at,
            outputs: clean(event.report.outputs),
          });
        } catch (error) {
          failure ??= error;
        }
        if (failure !== undefined) throw failure;
        break;
      }
      case 'step:notice':
        break;
    }
  };
}

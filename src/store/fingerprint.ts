/**
 * A step's fingerprint: what it runs with, as a hash. Equal fingerprints mean a recorded result can stand in for
 * running the step again (resume), and that the step's recorded durations and tokens predict this one (plan,
 * scheduling). Computed once per run, here, for all three.
 */
import { hash } from 'node:crypto';
import type { ActionRegistry } from '../actions/registry.ts';
import type { PreflightContext } from '../actions/types.ts';
export { preflightContext } from '../scheduler/preflight.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import { runSecrets } from '../scheduler/secrets.ts';
import type { Secrets } from '../core/redact.ts';
import { literalFields, referencesOf } from '../template/value.ts';

/** Bumped when what goes into a fingerprint changes: no result recorded under the old rule is then reused. */
const FORMAT = 3;

/**
 * Each step's fingerprint, in file order: its resolved, defaulted input as far as it is known before the run —
 * the action and its `version`, the block (every parameter and the schema, templates as written), the values of
 * the inputs it uses, its `depends_on`, and the action's `identity` (what defaults fill in: an `llm` step's
 * effective model and endpoint). Change the default model, and the steps that use it get new fingerprints.
 *
 * The values of the environment variables it uses count too (`model: ${env.MODEL}`, `url: ${env.API}/…`),
 * except secrets: a key rotation should not re-run work, and a secret's hash is not kept. A `foreach` list (as
 * written), an `if` (and the values it reads) and `continueOnError` count. Left out on purpose: `retry`,
 * `timeout` and a foreach step's `maxConcurrency`, which change how long a step may take, not its result.
 */
export function prepareFingerprints(spec: WorkflowSpec, inputs: Readonly<Record<string, unknown>>, ctx: PreflightContext, actions: ActionRegistry, secrets: Secrets = runSecrets(spec, ctx.env, inputs, spec.steps.map((s) => actions.get(s.action)))): string[] {
  return spec.steps.map((step) => {
    const action = actions.get(step.action);
    const used: Record<string, unknown> = {};
    const condition = step.condition;
    const refs = [
      ...referencesOf(step.input),
      ...(step.foreach ? referencesOf(step.foreach.items) : []),
      ...(condition ? [...condition.inputs.map((name) => ({ root: 'inputs' as const, name, path: [] })), ...condition.env.map((name) => ({ root: 'env' as const, name }))] : []),
    ];
    for (const ref of refs) {
      // A secret's place is kept (`la***`), not its value: a changed value around it still changes the step.
      if (ref.root === 'inputs') used[ref.name] = secrets.redactValue(inputs[ref.name] ?? null).value;
      else if (ref.root === 'env') {
        const value = ctx.env[ref.name];
        used[`env.${ref.name}`] = value === undefined ? null : secrets.redact(value);
      }
    }
    let identity: unknown = null;
    try {
      identity = action?.identity?.(literalFields(step.input), ctx) ?? null;
    } catch {
      // A default the action cannot make sense of (a malformed model name): the run's preflight reports it.
    }
    const text = JSON.stringify([
      FORMAT,
      step.action,
      action?.version ?? 1,
      step.input,
      Object.entries(used).sort(([a], [b]) => a.localeCompare(b)),
      [...step.dependsOn].sort(),
      identity,
      // Only when present, so the fingerprints of steps without them are what they were.
      ...(step.foreach || condition || step.continueOnError ? [step.foreach ? { items: step.foreach.items, as: step.foreach.as } : null, condition?.expression ?? null, step.continueOnError] : []),
    ]);
    return hash('sha256', text).slice(0, 32);
  });
}

export function contentHash(text: string): string {
  return hash('sha256', text).slice(0, 32);
}

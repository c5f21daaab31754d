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
import { literalFields, referencesOf, type TemplateValue } from '../template/value.ts';

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
 * written), an `if` (its expression and the values it reads) and `continueOnError` count. Left out on purpose:
 * `retry`, `timeout` and a foreach step's `maxConcurrency`, which change how long a step may take, not its result.
 *
 * A foreach step's fingerprint has two parts, `<item>.<list>`: what each item does (everything above, and the
 * item variable's name), then its list, condition and `continueOnError`. A step whose list alone changed (a
 * literal list edited) re-runs, but what its items did may still be reused item by item (by their keys, which
 * cover values, not the block as written); with another `<item>` part, nothing of it is. See `itemFingerprint`.
 */
export function prepareFingerprints(spec: WorkflowSpec, inputs: Readonly<Record<string, unknown>>, ctx: PreflightContext, actions: ActionRegistry, secrets: Secrets = runSecrets(spec, ctx.env, inputs, spec.steps.map((s) => actions.get(s.action)))): string[] {
  // A secret's place is kept (`la***`), not its value: a changed value around it still changes the step.
  const input = (name: string) => secrets.redactValue(inputs[name] ?? null).value;
  const env = (name: string) => {
    const value = ctx.env[name];
    return value === undefined ? null : secrets.redact(value);
  };
  const valuesUsed = (value: TemplateValue): [string, unknown][] => {
    const used: Record<string, unknown> = {};
    for (const ref of referencesOf(value)) {
      if (ref.root === 'inputs') used[ref.name] = input(ref.name);
      else if (ref.root === 'env') used[`env.${ref.name}`] = env(ref.name);
    }
    return sorted(used);
  };
  return spec.steps.map((step) => {
    const action = actions.get(step.action);
    let identity: unknown = null;
    try {
      identity = action?.identity?.(literalFields(step.input), ctx) ?? null;
    } catch {
      // A default the action cannot make sense of (a malformed model name): the run's preflight reports it.
    }
    const what: unknown[] = [FORMAT, step.action, action?.version ?? 1, step.input, valuesUsed(step.input), [...step.dependsOn].sort(), identity];
    // Added only when there are some: the fingerprints of steps without them stay what they were before these
    // keys existed (no need to bump FORMAT and re-run every recorded step once).
    const condition = step.condition
      ? { if: step.condition.expression, values: sorted({ ...Object.fromEntries(step.condition.inputs.map((name) => [name, input(name)])), ...Object.fromEntries(step.condition.env.map((name) => [`env.${name}`, env(name)])) }) }
      : null;
    const flow = condition || step.continueOnError ? [condition, step.continueOnError] : [];
    if (!step.foreach) return hash('sha256', JSON.stringify([...what, ...flow])).slice(0, 32);
    const item = hash('sha256', JSON.stringify([...what, { as: step.foreach.as }])).slice(0, 32);
    const list = hash('sha256', JSON.stringify([FORMAT, step.foreach.items, valuesUsed(step.foreach.items), ...flow])).slice(0, 16);
    return `${item}.${list}`;
  });
}

/**
 * What each item of a foreach step does, whatever its list (the first part of its fingerprint); a step that
 * is not a foreach step, its whole fingerprint. Item durations are matched by it.
 */
export function itemFingerprint(fingerprint: string): string {
  const dot = fingerprint.indexOf('.');
  return dot === -1 ? fingerprint : fingerprint.slice(0, dot);
}

function sorted(values: Record<string, unknown>): [string, unknown][] {
  return Object.entries(values).sort(([a], [b]) => a.localeCompare(b));
}

export function contentHash(text: string): string {
  return hash('sha256', text).slice(0, 32);
}

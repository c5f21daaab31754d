import { hash } from 'node:crypto';
import type { StepSpec } from '../definition/types.ts';
import { referencesOf } from '../template/value.ts';

/**
 * What a step does, as a hash: its action, its block (templates as written), its `depends_on`, and the values
 * of the inputs it uses. Equal fingerprints mean a recorded result can stand in for running the step again.
 * Environment values are left out on purpose: they may be secrets, and a key rotation should not re-run work.
 */
export function stepFingerprint(step: StepSpec, inputs: Readonly<Record<string, unknown>>): string {
  const used: Record<string, unknown> = {};
  for (const ref of referencesOf(step.input)) if (ref.root === 'inputs') used[ref.name] = inputs[ref.name] ?? null;
  const text = JSON.stringify([step.action, step.input, [...step.dependsOn].sort(), Object.entries(used).sort(([a], [b]) => a.localeCompare(b))]);
  return hash('sha256', text).slice(0, 32);
}

export function contentHash(text: string): string {
  return hash('sha256', text).slice(0, 32);
}

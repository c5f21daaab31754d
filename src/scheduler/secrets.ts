/** What a run must never show or store: credentials from the environment, and secret-looking values it uses. */
import { createRedactor, SECRET_ENV, type Redactor } from '../core/redact.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import { referencesOf } from '../template/value.ts';

const TOKEN_LIKE = /^[A-Za-z0-9_\-.~+/=:]{20,}$/;

/**
 * Credentials in the environment (by name: `*_API_KEY`, `*_TOKEN`, …), whatever `${env.*}` the workflow uses
 * that looks like a key (a long token with no spaces), and inputs whose names say they are secret.
 */
export function runRedactor(spec: WorkflowSpec, env: Readonly<Record<string, string | undefined>>, inputs: Readonly<Record<string, unknown>> = {}): Redactor {
  const values: string[] = [];
  for (const [name, value] of Object.entries(env)) if (value && SECRET_ENV.test(name)) values.push(value);
  for (const step of spec.steps) {
    for (const ref of referencesOf(step.input)) {
      const value = ref.root === 'env' ? env[ref.name] : undefined;
      if (value && ref.root === 'env' && (SECRET_ENV.test(ref.name) || TOKEN_LIKE.test(value))) values.push(value);
    }
  }
  for (const [name, value] of Object.entries(inputs)) if (typeof value === 'string' && /(key|token|secret|password)/i.test(name)) values.push(value);
  return createRedactor(values);
}

/** What a run must never show or store: credentials from the environment, and secret values the workflow uses. */
import type { AnyAction } from '../actions/types.ts';
import { SECRET_ENV, Secrets } from '../core/redact.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import { referencesOf, type TemplateValue } from '../template/value.ts';

const TOKEN_LIKE = /^[A-Za-z0-9_\-.~+/=:]{20,}$/;
const SECRET_INPUT = /(key|token|secret|password|credential)/i;

/**
 * The run's secrets before it starts: credentials in the environment (by name: `*_API_KEY`, `*_TOKEN`, …),
 * every variable `config.secrets` names, any `${env.*}` a step uses that looks like a key (a long token with no
 * spaces) or that fills a field its action says holds credentials (http headers), and inputs whose names say
 * they are secret. The run adds what it learns as it goes (credential headers sent and received).
 */
export function runSecrets(
  spec: WorkflowSpec,
  env: Readonly<Record<string, string | undefined>>,
  inputs: Readonly<Record<string, unknown>> = {},
  actions?: readonly (AnyAction | undefined)[],
  secrets = new Secrets(),
): Secrets {
  for (const [name, value] of Object.entries(env)) if (value && SECRET_ENV.test(name)) secrets.add(value);
  for (const name of spec.config.secrets) secrets.add(env[name], true);
  spec.steps.forEach((step, i) => {
    for (const ref of referencesOf(step.input)) {
      const value = ref.root === 'env' ? env[ref.name] : undefined;
      if (value && ref.root === 'env' && (SECRET_ENV.test(ref.name) || TOKEN_LIKE.test(value))) secrets.add(value);
    }
    for (const key of actions?.[i]?.secretKeys ?? []) {
      const field = fieldOf(step.input, key);
      if (!field) continue;
      for (const ref of referencesOf(field)) if (ref.root === 'env') secrets.add(env[ref.name], true);
    }
  });
  for (const [name, value] of Object.entries(inputs)) if (typeof value === 'string' && SECRET_INPUT.test(name)) secrets.add(value);
  return secrets;
}

function fieldOf(block: TemplateValue, key: string): TemplateValue | undefined {
  return block.kind === 'object' ? block.entries.find(([k]) => k === key)?.[1] : undefined;
}

/** The run's secrets as a plain redactor (kept for the library API; `runSecrets` is the full form). */
export function runRedactor(spec: WorkflowSpec, env: Readonly<Record<string, string | undefined>>, inputs: Readonly<Record<string, unknown>> = {}): (text: string) => string {
  return runSecrets(spec, env, inputs).redact;
}

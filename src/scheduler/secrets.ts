/** What a run must never show or store: credentials from the environment, and secret values the workflow uses. */
import type { AnyAction } from '../actions/types.ts';
import { leaves, MIN_BY_NAME, MIN_NAMED, SECRET_ENV, Secrets, urlPasswords } from '../core/redact.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import type { Reference } from '../template/parse.ts';
import { referencesOf, type TemplateValue } from '../template/value.ts';

/**
 * A value that looks like a key although its variable's name does not say so: 20 or more characters of a token's
 * alphabet, letters with several digits or mixed case with a digit (`sk-proj-4fT…`, `ghp_…`), or 32 or more hex
 * digits. A
 * project name (`acme-analytics-prod-eu1`) or a URL is not one: masking it would hide ordinary text and stop
 * every step that shows it from being reused.
 */
export function tokenLike(value: string): boolean {
  if (/^[0-9a-f]{32,}$/i.test(value)) return true;
  if (!/^[A-Za-z0-9_\-.~+/=]{20,}$/.test(value) || !/[A-Za-z]/.test(value)) return false;
  const digits = value.replace(/[^0-9]/g, '').length;
  return digits >= 4 || (/[a-z]/.test(value) && /[A-Z]/.test(value) && digits >= 1);
}

/** Input names that say their value is secret: `api_key`, `apiKey`, `token`, `db-password`, `api_keys`, not `keywords`, `monkey` or `max_tokens`. */
export function secretInputName(name: string): boolean {
  // Plurals of credential words too (`api_keys`, `access_tokens`, `passwords`: the natural name of a list a
  // foreach step runs over), but not of words that count or name things: `max_tokens`, `keys`, `sort_keys`.
  return (
    /(?:^|[_\-.])(?:api_?key|apikey|key|token|secret|password|passwd|credentials?)$/i.test(name) ||
    /^apikeys?$|[a-z](?:Key|Token|Secret|Password|Passwd|Credentials?)$/.test(name) ||
    /^tokens$|(?:^|[_\-.])(?:api_?keys|apikeys|secrets|passwords|passwds|(?:access|auth|api|bearer|refresh|session|github|gh)_?tokens)$/i.test(name) ||
    /[a-z](?:ApiKeys|Secrets|Passwords|(?:Access|Auth|Api|Bearer|Refresh|Session)Tokens)$/.test(name)
  );
}

/**
 * The run's secrets before it starts: credentials in the environment (by name: `*_API_KEY`, `*_TOKEN`, …, and
 * the password of any URL's userinfo), every variable `config.secrets` names, any `${env.*}` a step uses that
 * looks like a key (a long token with no spaces) or that fills a field its action says holds credentials (http
 * headers), and inputs whose names say they are secret, every string in them. The run adds what it learns as it
 * goes (credential headers sent and received, and step outputs that feed one: see `credentialSources`).
 */
export function runSecrets(
  spec: WorkflowSpec,
  env: Readonly<Record<string, string | undefined>>,
  inputs: Readonly<Record<string, unknown>> = {},
  actions?: readonly (AnyAction | undefined)[],
  secrets = new Secrets(),
): Secrets {
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (SECRET_ENV.test(name)) secrets.add(value, MIN_BY_NAME);
    for (const password of urlPasswords(value)) secrets.add(password, MIN_NAMED);
  }
  for (const name of spec.config.secrets) secrets.add(env[name], MIN_NAMED);
  spec.steps.forEach((step, i) => {
    for (const ref of referencesOf(step.input)) {
      const value = ref.root === 'env' ? env[ref.name] : undefined;
      if (value && ref.root === 'env' && tokenLike(value)) secrets.add(value);
    }
    for (const key of actions?.[i]?.secretKeys ?? []) {
      const field = fieldOf(step.input, key);
      if (!field) continue;
      for (const ref of referencesOf(field)) if (ref.root === 'env') secrets.add(env[ref.name], MIN_NAMED);
    }
  });
  for (const [name, value] of Object.entries(inputs)) if (secretInputName(name)) for (const leaf of leaves(value)) secrets.add(leaf, MIN_NAMED);
  return secrets;
}

/** A reference to another step's result that ends up in a credential (`authorization: Bearer ${steps.login.output.token}`). */
export interface CredentialSource {
  ref: Reference;
  raw: string;
}

const SENTINEL = /\u0001(\d+)\u0001/g;

/**
 * For each step, the references into its result that other steps send as credentials. The step that logs in
 * must have its token masked in its own result, which is shown and stored before the step that sends it runs.
 * Found by asking each action which values of a probe input are credentials (its `secrets` hook), with every
 * step reference replaced by a marker: no action needs to say more than it already does.
 */
export function credentialSources(spec: WorkflowSpec, actions: readonly (AnyAction | undefined)[]): Map<number, CredentialSource[]> {
  const sources = new Map<number, CredentialSource[]>();
  spec.steps.forEach((step, i) => {
    const secretsOf = actions[i]?.secrets;
    if (!secretsOf) return;
    const refs: CredentialSource[] = [];
    // In a foreach step, `${item}` is a part of its list: a credential field holding the item holds that list's
    // values (a list of tokens sent one by one), so the step that made the list has them masked in its result.
    const probe = probeValue(step.input, refs, step.foreach ? stepReferences(step.foreach.items) : []);
    if (refs.length === 0) return;
    let found: Iterable<string>;
    try {
      found = secretsOf(probe);
    } catch {
      return; // a probe the action cannot read has nothing to say
    }
    for (const value of found) {
      for (const [, k] of String(value).matchAll(SENTINEL)) {
        const source = refs[Number(k)]!;
        if (source.ref.root !== 'steps') continue;
        const producer = spec.plan.byId.get(source.ref.step);
        if (producer === undefined) continue;
        const list = sources.get(producer) ?? [];
        if (!list.some((s) => s.raw === source.raw)) list.push(source);
        sources.set(producer, list);
      }
    }
  });
  return sources;
}

/**
 * A block with each step reference replaced by a marker naming it (and other references by nothing); a foreach
 * step's item by markers for the step references of its list (`itemSources`).
 */
function probeValue(value: TemplateValue, refs: CredentialSource[], itemSources: readonly CredentialSource[]): unknown {
  const mark = (ref: Reference, raw: string): string => {
    if (ref.root === 'item') return itemSources.map((source) => mark(source.ref, source.raw)).join('');
    if (ref.root !== 'steps') return '';
    refs.push({ ref, raw });
    return `\u0001${refs.length - 1}\u0001`;
  };
  switch (value.kind) {
    case 'literal':
      return value.value;
    case 'single':
      return mark(value.ref, value.raw);
    case 'concat':
      return value.parts.map((p) => ('text' in p ? p.text : mark(p.ref, p.raw))).join('');
    case 'array':
      return value.items.map((item) => probeValue(item, refs, itemSources));
    case 'object':
      return Object.fromEntries(value.entries.map(([k, v]) => [k, probeValue(v, refs, itemSources)]));
  }
}

/** The `${steps.…}` references in a value, with their text. */
function stepReferences(value: TemplateValue): CredentialSource[] {
  switch (value.kind) {
    case 'literal':
      return [];
    case 'single':
      return value.ref.root === 'steps' ? [{ ref: value.ref, raw: value.raw }] : [];
    case 'concat':
      return value.parts.flatMap((p) => ('ref' in p && p.ref.root === 'steps' ? [{ ref: p.ref, raw: p.raw }] : []));
    case 'array':
      return value.items.flatMap(stepReferences);
    case 'object':
      return value.entries.flatMap(([, v]) => stepReferences(v));
  }
}

function fieldOf(block: TemplateValue, key: string): TemplateValue | undefined {
  return block.kind === 'object' ? block.entries.find(([k]) => k === key)?.[1] : undefined;
}

/**
 * The run's secrets as known before it starts, as a plain redactor (kept for the library API). Pass the actions
 * the steps use (`spec.steps.map((s) => registry.get(s.action))`) so the fields they mark count too; a run's
 * own set (`RunOptions.secrets`) also holds what it learns as it goes.
 */
export function runRedactor(spec: WorkflowSpec, env: Readonly<Record<string, string | undefined>>, inputs: Readonly<Record<string, unknown>> = {}, actions?: readonly (AnyAction | undefined)[]): (text: string) => string {
  return runSecrets(spec, env, inputs, actions).redact;
}

/**
 * Where the docs explain a thing, as a path a user can open: `--help` and error messages point at the page (and
 * heading) that says more. The pages ship in the package (`docs/`, README.md).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { displayPath } from './display-path.ts';

/** The package's folder (this file is in src/report/ or dist/report/). */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `page` is a path in the package with an optional anchor (`docs/cli.md#conductor-run`): relative to `cwd` when inside it. */
export function docsLink(page: string, cwd = process.cwd()): string {
  const hash = page.indexOf('#');
  return displayPath(join(PACKAGE_ROOT, hash < 0 ? page : page.slice(0, hash)), cwd) + (hash < 0 ? '' : page.slice(hash));
}

/**
 * The page for an error or problem code, by its prefix or whole code (the longest match wins). Checked by
 * test/docs.test.ts: each page and heading here exists.
 */
export const DOCS_BY_CODE: Readonly<Record<string, string>> = {
  yaml_: 'docs/language.md#a-whole-workflow',
  too_deep: 'docs/language.md#a-whole-workflow',
  empty: 'docs/language.md#a-whole-workflow',
  unknown_key: 'docs/language.md#key-reference',
  invalid_type: 'docs/language.md#key-reference',
  invalid_value: 'docs/language.md#key-reference',
  template: 'docs/language.md#templates',
  bad_template: 'docs/language.md#templates',
  unknown_step: 'docs/language.md#templates',
  unknown_property: 'docs/language.md#templates',
  self_reference: 'docs/language.md#dependencies',
  cycle: 'docs/language.md#dependencies',
  depends_on: 'docs/language.md#dependencies',
  duplicate_id: 'docs/language.md#steps',
  no_action: 'docs/language.md#steps',
  multiple_actions: 'docs/language.md#steps',
  needs_foreach: 'docs/language.md#foreach',
  as_shadows_root: 'docs/language.md#foreach',
  duplicate_key: 'docs/language.md#a-whole-workflow',
  invalid_key: 'docs/language.md#key-reference',
  invalid_union: 'docs/language.md#key-reference',
  unrecognized_keys: 'docs/language.md#key-reference',
  foreign_template: 'docs/language.md#templates',
  unknown_name: 'docs/language.md#templates',
  missing_env: 'docs/language.md#templates',
  missing_input: 'docs/language.md#inputs',
  unknown_input: 'docs/language.md#inputs',
  invalid_input: 'docs/language.md#inputs',
  foreach_: 'docs/language.md#foreach',
  too_many_items: 'docs/language.md#foreach',
  condition_: 'docs/language.md#if',
  invalid_schema: 'docs/language.md#llm',
  schema_mismatch: 'docs/providers.md#what-an-llm-step-records',
  invalid_model: 'docs/providers.md#model-names',
  model_invalid: 'docs/providers.md#model-names',
  missing_key: 'docs/language.md#key-reference',
  missing_api_key: 'docs/providers.md#keys-and-endpoints',
  llm_: 'docs/providers.md#transient-failures',
  too_many_tokens: 'docs/providers.md#rate-limits',
  rate_limited: 'docs/providers.md#rate-limits',
  http_: 'docs/language.md#http',
  file_: 'docs/language.md#file',
  file_unreadable: 'docs/cli.md#conductor-validate',
  output_too_large: 'docs/shell.md#output-and-exit-codes',
  schema_invalid: 'docs/language.md#llm',
  response_too_large: 'docs/language.md#http',
  timeout: 'docs/failures.md#timeouts',
  not_allowed: 'docs/security.md#what-data-may-choose',
  shell_: 'docs/shell.md',
  command_: 'docs/shell.md#output-and-exit-codes',
  prices_: 'docs/cost-and-cache.md#prices',
  no_price: 'docs/cost-and-cache.md#prices-a-budget-needs',
  budget_exceeded: 'docs/cost-and-cache.md#when-the-budget-stops-a-run',
  store_: 'docs/plan-and-history.md#run-history',
  queue_: 'docs/scale-out.md#failure-modes',
  worker_: 'docs/scale-out.md#failure-modes',
  posted_: 'docs/server.md',
};

/** The docs page for `code`, if one says more about it. */
export function docsFor(code: string | undefined): string | undefined {
  if (!code) return undefined;
  let best: string | undefined;
  for (const key of Object.keys(DOCS_BY_CODE)) {
    const matches = key.endsWith('_') ? code.startsWith(key) : code === key;
    if (matches && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined ? undefined : DOCS_BY_CODE[best];
}

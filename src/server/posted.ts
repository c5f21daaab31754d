/**
 * A workflow a client posts as text (`POST /api/runs` with `yaml`). It is checked as a file is; then kept under
 * `$CONDUCTOR_HOME/posted/<sha256>/workflow.yaml` (content-addressed: the same text is one file), so the run's
 * record names a real file that `resume` can read again.
 *
 * Its author is the client, not the machine's owner: it may use only actions whose steps need nothing of the
 * machine the run is on (`runsOnWorkers`: llm, http). A posted `shell` step would be a command the client runs
 * on the server, and a posted `file` step could read any file the server can (`/etc/…`, a key) into its output
 * or overwrite one of the owner's workflows; workflows that need those are files under the root, put there by
 * the owner, and started by their path. Nor may it read the server's environment (`${env.*}`, `env` in an `if`):
 * that is where the provider keys are, and an `http` step could send one to any host.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { ActionRegistry } from '../actions/registry.ts';
import type { Diagnostic } from '../core/errors.ts';
import { checkWorkflow, DEFAULT_MAX_ITEMS } from '../definition/load.ts';
import { referencesOf } from '../template/value.ts';
import type { WorkflowSpec } from '../definition/types.ts';

export const POSTED_NAME = 'posted.yaml';

export type PostedCheck = { spec: WorkflowSpec; warnings: Diagnostic[] } | { problems: Diagnostic[]; warnings: Diagnostic[] };

export async function postedWorkflow(text: string, postedRoot: string, actions: ActionRegistry): Promise<PostedCheck> {
  const hash = createHash('sha256').update(text).digest('hex');
  const file = join(postedRoot, hash, 'workflow.yaml');
  const result = checkWorkflow(text, file, { actions });
  if (!result.ok) return { problems: result.diagnostics, warnings: result.warnings };
  const local = postedProblems(result.spec, actions);
  if (local.length) return { problems: local, warnings: result.warnings };
  // Written only once it is valid: an invalid post leaves nothing behind.
  await mkdir(join(postedRoot, hash), { recursive: true });
  await writeFile(file, text, { flag: 'w' });
  return { spec: result.spec, warnings: result.warnings };
}

/** What a posted workflow may not do, as located problems (checked again when a posted run is resumed). */
export function postedProblems(spec: WorkflowSpec, actions: ActionRegistry): Diagnostic[] {
  return [...forbiddenSteps(spec, actions), ...envReads(spec), ...tooMany(spec)];
}

/** Steps that would use the server's machine, as located problems. */
export function forbiddenSteps(spec: WorkflowSpec, actions: ActionRegistry): Diagnostic[] {
  const allowed = actions.all().filter((action) => action.runsOnWorkers).map((action) => `\`${action.name}\``);
  return spec.steps
    .filter((step) => !actions.get(step.action)?.runsOnWorkers)
    .map((step) => ({
      ...step.location,
      code: 'posted_uses_machine',
      message: `step \`${step.id}\` is a \`${step.action}\` step: a workflow posted to the server may use only steps that need nothing of its machine (${allowed.join(', ')})`,
      hint: `put the workflow in a file under the server's root and start it by its path (\`{"workflow": "…"}\`)`,
    }));
}

/** Whether `file` is a posted workflow (under `postedRoot`). */
export function isPosted(file: string, postedRoot: string): boolean {
  const rel = relative(postedRoot, file);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep) && rel.split(sep).length === 2;
}

/** Where a posted workflow reads the server's environment, as located problems. */
export function envReads(spec: WorkflowSpec): Diagnostic[] {
  const problems: Diagnostic[] = [];
  for (const step of spec.steps) {
    const refs = [...referencesOf(step.input), ...(step.foreach ? referencesOf(step.foreach.items) : [])];
    const names = [...new Set([...refs.filter((ref) => ref.root === 'env').map((ref) => (ref as { name: string }).name), ...(step.condition?.env ?? [])])];
    if (names.length === 0) continue;
    problems.push({
      ...step.location,
      code: 'posted_reads_env',
      message: `step \`${step.id}\` reads the server's environment (${names.map((name) => `\`env.${name}\``).join(', ')}): a workflow posted to the server may not`,
      hint: 'pass the value as an input instead (`inputs` in the request), or put the workflow in a file under the server\'s root',
    });
  }
  const outputs = Object.values(spec.outputs).flatMap((value) => referencesOf(value)).filter((ref) => ref.root === 'env');
  if (outputs.length) problems.push({ file: spec.file, line: 1, column: 1, code: 'posted_reads_env', message: "the workflow's outputs read the server's environment: a workflow posted to the server may not", hint: 'pass the value as an input instead' });
  return problems;
}

/**
 * A posted workflow keeps the default limit on a foreach list, and on all its foreach steps together: one
 * request must not be able to make the server hold millions of items (a YAML alias repeats a list for free).
 */
export function tooMany(spec: WorkflowSpec): Diagnostic[] {
  const problems: Diagnostic[] = [];
  if (spec.config.maxItems > DEFAULT_MAX_ITEMS) {
    problems.push({ file: spec.file, line: 1, column: 1, code: 'posted_too_many', message: `\`config.maxItems\` is ${spec.config.maxItems}: a workflow posted to the server may not raise it above ${DEFAULT_MAX_ITEMS}`, hint: "put the workflow in a file under the server's root" });
  }
  const fanouts = spec.steps.filter((step) => step.foreach);
  if (fanouts.length * spec.config.maxItems > POSTED_MAX_ITEMS) {
    problems.push({ ...fanouts[0]!.location, code: 'posted_too_many', message: `${fanouts.length} foreach steps of up to ${spec.config.maxItems} items each: a workflow posted to the server may run at most ${POSTED_MAX_ITEMS} items in all`, hint: 'lower `config.maxItems`, or put the workflow in a file under the server\'s root' });
  }
  return problems;
}

/** The most items a posted workflow's foreach steps may run together (their count × `config.maxItems`). */
export const POSTED_MAX_ITEMS = 100_000;

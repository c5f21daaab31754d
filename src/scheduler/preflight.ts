/**
 * Checks made after validation and before anything runs, against this run's environment: every `${env.*}`
 * is set, and each action's own preflight (API keys, …). All problems at once; nothing is sent if any.
 */
import type { AnyAction, PreflightContext } from '../actions/types.ts';
import { WorkflowInvalidError, type Diagnostic } from '../core/errors.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import { valueAt, writtenOf } from '../template/known.ts';
import type { PathKey } from '../template/parse.ts';
import { literalFields, referencesOf } from '../template/value.ts';

export function checkBeforeRun(spec: WorkflowSpec, actions: readonly AnyAction[], ctx: PreflightContext): void {
  const problems: Diagnostic[] = [];
  const seen = new Set<string>();
  spec.steps.forEach((step, i) => {
    // A step that runs on a worker reads `${env.*}` there, from the worker's environment.
    const elsewhere = ctx.onWorkers === true && actions[i]!.runsOnWorkers === true;
    for (const ref of referencesOf(step.input)) {
      if (elsewhere || ref.root !== 'env' || seen.has(`env ${ref.name}`)) continue;
      seen.add(`env ${ref.name}`);
      if (ctx.env[ref.name] === undefined) {
        problems.push({ ...step.location, code: 'missing_env', message: `step \`${step.id}\` uses \`\${env.${ref.name}}\`, but ${ref.name} is not set`, hint: `export ${ref.name}=… before running` });
      }
    }
    const scope = { item: step.foreach?.as, itemFromSteps: step.foreach !== undefined && referencesOf(step.foreach.items).some((r) => r.root === 'steps') };
    const at = (path: string | readonly PathKey[]) => valueAt(step.input, typeof path === 'string' ? [path] : path);
    const written = (path: string | readonly PathKey[]) => writtenOf(at(path), scope);
    const literal = (path: readonly PathKey[]) => {
      const value = at(path);
      return value?.kind === 'literal' ? value.value : undefined;
    };
    const problem = actions[i]!.preflight?.(literalFields(step.input), { ...ctx, baseDir: spec.baseDir, written, literal });
    // The same missing key would otherwise be reported once per step.
    if (!problem || seen.has(problem.message)) return;
    seen.add(problem.message);
    problems.push({ ...step.location, code: problem.code ?? 'preflight', message: `step \`${step.id}\`: ${problem.message}`, ...(problem.hint ? { hint: problem.hint } : {}) });
  });
  for (const [name, value] of Object.entries(spec.outputs)) {
    for (const ref of referencesOf(value)) {
      if (ref.root !== 'env' || seen.has(`env ${ref.name}`) || ctx.env[ref.name] !== undefined) continue;
      seen.add(`env ${ref.name}`);
      problems.push({ file: spec.file, line: 0, column: 0, code: 'missing_env', message: `output \`${name}\` uses \`\${env.${ref.name}}\`, but ${ref.name} is not set`, hint: `export ${ref.name}=… before running` });
    }
  }
  if (problems.length) throw new WorkflowInvalidError(problems);
}

/**
 * The run's settings as actions see them before it starts, one definition for the run, its fingerprints and its plan:
 * the default model is the caller's (`--model`: what the command line says beats the file, as `--max-concurrency`
 * and `--max-cost` do), else `config.model`, else `CONDUCTOR_MODEL`.
 */
export function preflightContext(spec: WorkflowSpec, env: Readonly<Record<string, string | undefined>>, options: { model?: string; maxConcurrency?: number; onWorkers?: boolean } = {}): PreflightContext {
  const model = options.model ?? spec.config.model ?? env['CONDUCTOR_MODEL'];
  return { env, defaults: { ...(model ? { model } : {}), maxConcurrency: options.maxConcurrency ?? spec.config.maxConcurrency, rateLimits: spec.config.rateLimits }, ...(options.onWorkers ? { onWorkers: true } : {}) };
}

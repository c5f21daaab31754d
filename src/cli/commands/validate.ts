import { resolve } from 'node:path';
import { UsageError, WorkflowInvalidError } from '../../core/errors.ts';
import { checkFile, diagnosticsJson, shownDiagnostics } from '../../views/validation.ts';
import { displayPath, printWarnings } from '../diagnostics.ts';
import { EXIT } from '../io.ts';
import type { Command } from '../main.ts';
import { createStyle } from '../../report/style.ts';

export const validateCommand: Command = {
  usage: 'conductor validate <workflow.yaml> [--json]',
  jsonShape: ['src/views/validation.ts#DiagnosticJson'],
  options: {
    json: { type: 'boolean', description: 'Print the problems and warnings as a JSON array of {file, line, column, code, message, hint, severity, docs?}' },
  },
  async run({ values, positionals }, io) {
    const path = singleFile(positionals, this.usage);
    const file = resolve(io.cwd, path);
    const json = values['json'] === true;
    const check = await checkFile(file);
    const { problems, warnings, text, spec } = check;
    const summary = spec
      ? `${spec.steps.length} step${spec.steps.length === 1 ? '' : 's'} in ${spec.plan.stages.length} stage${spec.plan.stages.length === 1 ? '' : 's'}, critical path ${spec.plan.criticalPath.length}`
      : '';
    const exit = problems.length ? EXIT.invalid : EXIT.ok;
    const shown = shownDiagnostics(check, (f) => displayPath(f, io.cwd));
    if (json) {
      // The exit code says whether the file is valid; `severity` tells a warning from a problem.
      io.stdout.write(JSON.stringify(diagnosticsJson(shown), null, 2) + '\n');
      return exit;
    }
    // Printed as every command prints an invalid workflow (warnings among the problems, in file order).
    if (problems.length) throw new WorkflowInvalidError(shown.map((d) => ({ ...d, file: resolve(io.cwd, d.file) })));
    printWarnings({ warnings, source: text ?? '' }, io);
    const style = createStyle(io.stdout, io.env);
    const note = warnings.length ? ` (${warnings.length} warning${warnings.length === 1 ? '' : 's'})` : '';
    io.stdout.write(`${style.green('✓')} ${path} is valid: ${summary}${note}\n`);
    return exit;
  },
};

export function singleFile(positionals: string[], usage: string): string {
  if (positionals.length === 0) throw new UsageError('missing the workflow file', { hint: `usage: ${usage}` });
  if (positionals.length > 1) throw new UsageError(`expected one workflow file, got ${positionals.length}: ${positionals.join(' ')}`, { hint: `usage: ${usage}` });
  return positionals[0]!;
}

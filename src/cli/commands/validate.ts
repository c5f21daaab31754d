import { resolve } from 'node:path';
import { UsageError, WorkflowInvalidError, type Diagnostic } from '../../core/errors.ts';
import { checkWorkflow, readWorkflowFile } from '../../definition/load.ts';
import { displayPath, printWarnings } from '../diagnostics.ts';
import { EXIT } from '../io.ts';
import type { Command } from '../main.ts';
import { createStyle } from '../../report/style.ts';

export const validateCommand: Command = {
  usage: 'conductor validate <workflow.yaml> [--json]',
  options: {
    json: { type: 'boolean', description: 'Print the problems and warnings as a JSON array of {file, line, column, code, message, hint, severity}' },
  },
  async run({ values, positionals }, io) {
    const path = singleFile(positionals, this.usage);
    const file = resolve(io.cwd, path);
    const json = values['json'] === true;
    let problems: Diagnostic[];
    let warnings: Diagnostic[] = [];
    let text: string | undefined;
    let summary = '';
    try {
      text = await readWorkflowFile(file);
      const result = checkWorkflow(text, file);
      problems = result.diagnostics;
      warnings = result.warnings;
      if (result.ok) {
        const { steps, plan } = result.spec;
        summary = `${steps.length} step${steps.length === 1 ? '' : 's'} in ${plan.stages.length} stage${plan.stages.length === 1 ? '' : 's'}, critical path ${plan.criticalPath.length}`;
      }
    } catch (error) {
      if (!(error instanceof WorkflowInvalidError)) throw error;
      problems = [...error.diagnostics];
    }
    const exit = problems.length ? EXIT.invalid : EXIT.ok;
    // In file order, problems and warnings together: a warning often explains the problem beside it.
    const shown = [...problems.map((d) => ({ ...d, severity: 'error' as const })), ...warnings]
      .sort((a, b) => a.line - b.line || a.column - b.column)
      .map((d) => ({ ...d, file: displayPath(d.file, io.cwd) }));
    if (json) {
      // The exit code says whether the file is valid; `severity` tells a warning from a problem.
      const entries = shown.map((d) => ({ file: d.file, line: d.line, column: d.column, code: d.code, message: d.message, hint: d.hint ?? null, severity: d.severity ?? 'error' }));
      io.stdout.write(JSON.stringify(entries, null, 2) + '\n');
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

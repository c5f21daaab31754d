import { resolve } from 'node:path';
import { UsageError, WorkflowInvalidError, type Diagnostic } from '../../core/errors.ts';
import { checkWorkflow, readWorkflowFile } from '../../definition/load.ts';
import { displayPath } from '../diagnostics.ts';
import { EXIT } from '../io.ts';
import type { Command } from '../main.ts';
import { createStyle } from '../../report/style.ts';

export const validateCommand: Command = {
  usage: 'conductor validate <workflow.yaml> [--json]',
  options: {
    json: { type: 'boolean', description: 'Print the problems as a JSON array of {file, line, column, code, message, hint}' },
  },
  async run({ values, positionals }, io) {
    const path = singleFile(positionals, this.usage);
    const json = values['json'] === true;
    let diagnostics: Diagnostic[];
    let summary = '';
    try {
      const text = await readWorkflowFile(resolve(io.cwd, path));
      const result = checkWorkflow(text, resolve(io.cwd, path));
      diagnostics = result.diagnostics;
      if (result.ok) {
        const { steps, plan } = result.spec;
        summary = `${steps.length} step${steps.length === 1 ? '' : 's'} in ${plan.stages.length} stage${plan.stages.length === 1 ? '' : 's'}, critical path ${plan.criticalPath.length}`;
      }
    } catch (error) {
      if (!(error instanceof WorkflowInvalidError)) throw error;
      diagnostics = [...error.diagnostics];
    }
    const shown = diagnostics.map((d) => ({ ...d, file: displayPath(d.file, io.cwd) }));
    if (json) {
      io.stdout.write(JSON.stringify(shown.map((d) => ({ file: d.file, line: d.line, column: d.column, code: d.code, message: d.message, hint: d.hint ?? null })), null, 2) + '\n');
      return shown.length ? EXIT.invalid : EXIT.ok;
    }
    if (shown.length) throw new WorkflowInvalidError(diagnostics.map((d) => ({ ...d, file: resolve(io.cwd, d.file) })));
    const style = createStyle(io.stdout, io.env);
    io.stdout.write(`${style.green('✓')} ${path} is valid: ${summary}\n`);
    return EXIT.ok;
  },
};

export function singleFile(positionals: string[], usage: string): string {
  if (positionals.length === 0) throw new UsageError('missing the workflow file', { hint: `usage: ${usage}` });
  if (positionals.length > 1) throw new UsageError(`expected one workflow file, got ${positionals.length}: ${positionals.join(' ')}`, { hint: `usage: ${usage}` });
  return positionals[0]!;
}

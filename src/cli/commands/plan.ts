import { resolve } from 'node:path';
import { UsageError } from '../../core/errors.ts';
import { loadWorkflow } from '../../definition/load.ts';
import { describePlan, planDot, planJson, planMermaid, planText } from '../../views/plan.ts';
import { displayPath } from '../diagnostics.ts';
import { parseLimit } from '../options.ts';
import { EXIT } from '../io.ts';
import type { Command } from '../main.ts';
import { singleFile } from './validate.ts';

const FORMATS = ['text', 'json', 'mermaid', 'dot'] as const;

export const planCommand: Command = {
  summary: 'Show what a workflow will do, without running anything',
  usage: 'conductor plan <workflow.yaml> [--format text|json|mermaid|dot] [--max-concurrency N]',
  options: {
    format: { type: 'string', value: 'format', description: 'text (default), json, mermaid or dot' },
    'max-concurrency': { type: 'string', value: 'N', description: 'The limit to plan with (overrides config.maxConcurrency)' },
  },
  async run({ values, positionals }, io) {
    const path = singleFile(positionals, this.usage);
    const format = (values['format'] as string | undefined) ?? 'text';
    if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`\`--format ${format}\`: expected one of ${FORMATS.join(', ')}`);
    const limit = parseLimit(values['max-concurrency'] as string | undefined);
    const spec = await loadWorkflow(resolve(io.cwd, path));
    const view = describePlan(spec, limit);
    view.workflow = displayPath(view.workflow, io.cwd);
    const render = { text: () => planText(view, path), json: () => planJson(view), mermaid: () => planMermaid(view), dot: () => planDot(view) }[format as (typeof FORMATS)[number]];
    io.stdout.write(render());
    return EXIT.ok;
  },
};

import { resolve } from 'node:path';
import { loadWorkflow } from '../../definition/load.ts';
import { printWarnings } from '../diagnostics.ts';
import { execute, prepareFromFlags, RUN_JSON_SHAPE, RUN_OPTIONS } from '../execute.ts';
import { parseInputs } from '../options.ts';
import type { Command } from '../main.ts';
import { singleFile } from './validate.ts';

export const runCommand: Command = {
  usage: 'conductor run <workflow.yaml> [-i name=value]… [--json | --quiet] [--max-concurrency N] [--model provider:model] [--max-cost USD] [--cache | --no-cache] [--store PATH|URL | --no-store] [--queue URL]',
  options: RUN_OPTIONS,
  jsonShape: RUN_JSON_SHAPE,
  async run({ values, positionals }, io) {
    const path = singleFile(positionals, this.usage);
    const inputs = await parseInputs((values['input'] as string[] | undefined) ?? [], io.cwd);
    const spec = await loadWorkflow(resolve(io.cwd, path));
    printWarnings(spec, io);
    return execute({ prepared: prepareFromFlags(spec, inputs, values, io), values, io });
  },
};

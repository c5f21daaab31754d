import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { UsageError } from '../../core/errors.ts';
import { loadWorkflow } from '../../definition/load.ts';
import { liveReporter } from '../../report/live.ts';
import { plainReporter } from '../../report/plain.ts';
import { formatSummary } from '../../report/summary.ts';
import { runWorkflow } from '../../scheduler/run.ts';
import { EXIT, type CliIO } from '../io.ts';
import type { Command } from '../main.ts';
import { createStyle } from '../style.ts';
import { singleFile } from './validate.ts';

export const runCommand: Command = {
  summary: 'Run a workflow',
  usage: 'conductor run <workflow.yaml> [-i name=value]… [--json | --quiet] [--max-concurrency N] [--model provider:model]',
  options: {
    input: { type: 'string', short: 'i', multiple: true, description: 'An input value, name=value (name=@file reads it from a file); repeatable' },
    json: { type: 'boolean', description: 'Print one JSON report on stdout when the run ends, and nothing else' },
    quiet: { type: 'boolean', short: 'q', description: 'Print only the workflow outputs' },
    'max-concurrency': { type: 'string', description: 'How many steps may run at once (overrides config.maxConcurrency)' },
    model: { type: 'string', description: 'Default model for llm steps that name none (provider:model)' },
  },
  async run({ values, positionals }, io) {
    const path = singleFile(positionals, this.usage);
    const inputs = await parseInputs((values['input'] as string[] | undefined) ?? [], io.cwd);
    const maxConcurrency = parseLimit(values['max-concurrency'] as string | undefined);
    const spec = await loadWorkflow(resolve(io.cwd, path));
    const json = values['json'] === true;
    const quiet = values['quiet'] === true;
    const style = createStyle(io.stderr, io.env);
    const live = !json && !quiet && io.stderr.isTTY === true && !io.env['CI'] ? liveReporter(io.stderr, style) : undefined;
    const plain = !json && !quiet && !live ? plainReporter((text) => io.stderr.write(text), style) : undefined;
    const report = await runWorkflow(spec, {
      inputs,
      signal: io.signal,
      env: io.env,
      ...(maxConcurrency === undefined ? {} : { maxConcurrency }),
      ...(typeof values['model'] === 'string' ? { model: values['model'] } : {}),
      onEvent: live?.onEvent ?? plain,
    }).finally(() => live?.stop());

    if (json) io.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else {
      if (!quiet) io.stderr.write(formatSummary(report, style));
      if (Object.keys(report.outputs).length > 0) io.stdout.write(toYaml(report.outputs, { lineWidth: 0 }));
    }
    return report.status === 'succeeded' ? EXIT.ok : report.status === 'cancelled' ? EXIT.interrupted : EXIT.failed;
  },
};

async function parseInputs(pairs: string[], cwd: string): Promise<Record<string, unknown>> {
  const inputs: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`\`-i ${pair}\`: expected name=value`, { hint: 'e.g. -i topic=whales, or -i text=@notes.txt to read a file' });
    const name = pair.slice(0, eq);
    let value = pair.slice(eq + 1);
    if (value.startsWith('@')) {
      const file = resolve(cwd, value.slice(1));
      try {
        value = await readFile(file, 'utf8');
      } catch (error) {
        throw new UsageError(`\`-i ${name}=${value}\`: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
    }
    inputs[name] = value;
  }
  return inputs;
}

function parseLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError(`\`--max-concurrency\` expects an integer from 1 to 1000, got \`${text}\``);
  return n;
}

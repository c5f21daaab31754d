import { UsageError } from '../../core/errors.ts';
import { planResumeOf, recordedSettings } from '../../runs/resume-plan.ts';
import { displayPath, printWarnings } from '../diagnostics.ts';
import { execute, openStore, prepareFromFlags, RUN_JSON_SHAPE, RUN_OPTIONS } from '../execute.ts';
import { parseInputs } from '../options.ts';
import type { Command } from '../main.ts';
import { createStyle } from '../../report/style.ts';

export const resumeCommand: Command = {
  usage: 'conductor resume <run-id> [--from <step>] [-i name=value]… [--json | --quiet] [--max-concurrency N] [--model provider:model] [--max-cost USD] [--cache | --no-cache] [--store PATH|URL] [--queue URL]',
  // Everything `run` takes except --no-store: resume reads the store and records the new run in it.
  jsonShape: RUN_JSON_SHAPE,
  options: {
    ...Object.fromEntries(Object.entries(RUN_OPTIONS).filter(([name]) => name !== 'no-store')),
    from: { type: 'string', value: 'step', description: 'Re-run this step and everything downstream of it, even if it succeeded' },
  },
  async run({ values: given, positionals }, io) {
    if (positionals.length !== 1) throw new UsageError(positionals.length ? 'expected one run id' : 'missing the run id', { hint: 'run `conductor runs` to list recent runs' });
    const store = await openStore(given, io);
    let record;
    try {
      record = await store.getRun(positionals[0]!);
    } finally {
      await store.close();
    }
    if (!record) throw new UsageError(`no run \`${positionals[0]}\` in the store ${store.location}`, { hint: 'run `conductor runs` to list recent runs' });
    // The run's own --model, --max-concurrency and --max-cost, unless given again: a resume does what the run did
    // (and spends no more than it was allowed to: a budget is per run, so a resume may spend it again).
    const recorded = recordedSettings(record.run);
    const values: Record<string, unknown> = {
      ...(recorded.model ? { model: recorded.model } : {}),
      ...(recorded.maxConcurrency ? { 'max-concurrency': String(recorded.maxConcurrency) } : {}),
      ...(recorded.maxCost ? { 'max-cost': String(recorded.maxCost) } : {}),
      ...given,
    };
    const givenNow = await parseInputs((values['input'] as string[] | undefined) ?? [], io.cwd);
    const { spec, plan, prepared, fileChanged, reused } = await planResumeOf({ record, given: givenNow, from: values['from'] as string | undefined, prepare: (spec, inputs) => prepareFromFlags(spec, inputs, values, io) });
    printWarnings(spec, io);
    const style = createStyle(io.stderr, io.env);
    const lines = [`${style.bold('resuming')} run ${record.run.id} (${record.run.status}) of ${displayPath(record.run.workflow, io.cwd)}`];
    if (fileChanged) lines.push('  the workflow file changed since that run');
    lines.push(`  reused: ${reused.length ? reused.join(', ') : 'nothing'}`);
    const why = { changed: 'changed: its definition, the input values it uses, or its model', new: 'new step', secret: 'its recorded output held a secret', upstream: 'a step it depends on re-runs', from: '--from' } as const;
    for (const c of plan.changed) lines.push(`  re-run: ${c.stepId} (${why[c.reason]})`);
    if (plan.remaining.length) lines.push(`  to run: ${plan.remaining.join(', ')}`);
    // Offered, not promised: the run reuses an item only where its value (and the step's other values) is the same.
    for (const { stepId, reusable, total } of plan.items) {
      const of = total === undefined ? '' : ` of ${total}`;
      const rest = total === undefined ? 'the rest' : `${total - reusable}`;
      lines.push(`  items of ${stepId}: ${reusable ? `${reusable}${of} reused where unchanged, ${rest} to run` : `all${total === undefined ? '' : ` ${total}`} to run`}`);
    }
    return execute({ prepared, values, io, reuse: plan.reuse, reuseItems: plan.reuseItems, resumedFrom: record.run.id, preface: lines.join('\n') + '\n' });
  },
};

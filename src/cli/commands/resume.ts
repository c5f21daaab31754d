import { UsageError } from '../../core/errors.ts';
import { leaves } from '../../core/redact.ts';
import { secretInputName } from '../../scheduler/secrets.ts';
import { loadWorkflow } from '../../definition/load.ts';
import { contentHash } from '../../store/fingerprint.ts';
import { planResume } from '../../store/resume.ts';
import { displayPath, printWarnings } from '../diagnostics.ts';
import { execute, openStore, prepareFromFlags, RUN_OPTIONS } from '../execute.ts';
import { parseInputs } from '../options.ts';
import type { Command } from '../main.ts';
import { createStyle } from '../../report/style.ts';

export const resumeCommand: Command = {
  usage: 'conductor resume <run-id> [--from <step>] [-i name=value]… [--json | --quiet] [--max-concurrency N] [--model provider:model] [--max-cost USD] [--cache | --no-cache] [--store PATH|URL] [--queue URL]',
  // Everything `run` takes except --no-store: resume reads the store and records the new run in it.
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
    const recorded = record.run.options ?? {};
    const values: Record<string, unknown> = {
      ...(recorded.model ? { model: recorded.model } : {}),
      ...(recorded.maxConcurrency ? { 'max-concurrency': String(recorded.maxConcurrency) } : {}),
      ...(recorded.maxCost ? { 'max-cost': String(recorded.maxCost) } : {}),
      ...given,
    };
    const spec = await loadWorkflow(record.run.workflow);
    printWarnings(spec, io);
    // The original inputs, with any given now on top.
    const givenNow = await parseInputs((values['input'] as string[] | undefined) ?? [], io.cwd);
    // The record keeps a secret input as `***`: sending that in its place would be a wrong value, silently. One
    // with a default takes the default again; one without must be given again. (Runs recorded before the record
    // named them: a secret-named input that shows `***`.)
    const secret = new Set(record.run.secretInputs ?? Object.entries(record.run.inputs).filter(([name, value]) => secretInputName(name) && leaves(value).some((leaf) => leaf.includes('***'))).map(([name]) => name));
    const kept = Object.fromEntries(Object.entries(record.run.inputs).filter(([name]) => !secret.has(name)));
    const lost = [...secret].filter((name) => !(name in givenNow) && spec.inputs[name]?.default === undefined && spec.inputs[name]?.required !== false);
    if (lost.length > 0) {
      const names = lost.map((name) => `\`${name}\``).join(', ');
      throw new UsageError(`the run's input${lost.length > 1 ? 's' : ''} ${names} held a secret, which the record does not keep`, {
        hint: `give ${lost.length > 1 ? 'them' : 'it'} again: ${lost.map((name) => `-i ${name}=…`).join(' ')}`,
      });
    }
    // Prepared once: the resume plan, the record of the new run and its duration estimates match by its fingerprints.
    const prepared = prepareFromFlags(spec, { ...kept, ...givenNow }, values, io);
    const plan = planResume(spec, record, prepared.fingerprints, values['from'] as string | undefined);
    const style = createStyle(io.stderr, io.env);
    const lines = [`${style.bold('resuming')} run ${record.run.id} (${record.run.status}) of ${displayPath(record.run.workflow, io.cwd)}`];
    if (contentHash(spec.source) !== record.run.workflowHash) lines.push('  the workflow file changed since that run');
    const reused = spec.steps.filter((s) => s.id in plan.reuse).map((s) => s.id);
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

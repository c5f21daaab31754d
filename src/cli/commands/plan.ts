import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../../core/errors.ts';
import { loadWorkflow } from '../../definition/load.ts';
import type { WorkflowSpec } from '../../definition/types.ts';
import { resolveInputs } from '../../scheduler/inputs.ts';
import { defaultActions, runStore } from '../../compose.ts';
import { prepareFingerprints, preflightContext } from '../../store/fingerprint.ts';
import { stepHistory, type StepHistory } from '../../store/history.ts';
import { isPostgresLocation, storeLocation, storeOptions } from '../../store/home.ts';
import type { RunStore } from '../../store/types.ts';
import { describePlan, planDot, planJson, planMermaid, planText } from '../../views/plan.ts';
import { displayPath, printWarnings } from '../diagnostics.ts';
import { INPUT_OPTION, parseInputs, parseLimit } from '../options.ts';
import { EXIT, type CliIO } from '../io.ts';
import type { Command } from '../main.ts';
import { singleFile } from './validate.ts';
import { loadPricing } from '../../cost/controls.ts';
import { cacheUsed } from '../../cache/policy.ts';
import type { StepCachePreview } from '../../cache/preview.ts';
import { cacheFlags } from '../cache-options.ts';

const FORMATS = ['text', 'json', 'mermaid', 'dot'] as const;

export const planCommand: Command = {
  usage: 'conductor plan <workflow.yaml> [--format text|json|mermaid|dot] [--max-concurrency N] [--model provider:model] [-i name=value]… [--cache | --no-cache] [--store PATH|URL | --no-store]',
  jsonShape: ['src/views/plan.ts#PlanView', 'src/views/plan.ts#PlanStepView', 'src/views/plan.ts#PlanReason', 'src/graph/plan.ts#EdgeReason', 'src/views/plan-flow.ts#PlanForeach', 'src/views/plan-cost.ts#ExpectedCost', 'src/views/plan.ts#CallCounts'],
  options: {
    format: { type: 'string', value: 'format', description: 'text (default), json, mermaid or dot' },
    'max-concurrency': { type: 'string', value: 'N', description: 'The limit to plan with (overrides config.maxConcurrency)' },
    model: { type: 'string', value: 'provider:model', description: 'The model to plan with, as `run --model` (steps are matched to earlier runs that used the same one)' },
    input: { ...INPUT_OPTION, description: 'An input value, as for run: steps that use inputs are matched to earlier runs with the same values' },
    store: { type: 'string', value: 'PATH|URL', description: 'The run store whose earlier runs give expected times: a file, or a postgres:// URL (default: as for run)' },
    'no-store': { type: 'boolean', description: 'Ignore earlier runs' },
    cache: { type: 'boolean', description: 'Say which steps `run --cache` would answer from the step cache' },
    'no-cache': { type: 'boolean', description: 'Say nothing about the step cache (as `run --no-cache` uses none)' },
  },
  async run({ values, positionals }, io) {
    const path = singleFile(positionals, this.usage);
    const format = (values['format'] as string | undefined) ?? 'text';
    if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`\`--format ${format}\`: expected one of ${FORMATS.join(', ')}`);
    const limit = parseLimit(values['max-concurrency'] as string | undefined);
    const settings = { ...(limit === undefined ? {} : { maxConcurrency: limit }), ...(typeof values['model'] === 'string' ? { model: values['model'] } : {}) };
    const spec = await loadWorkflow(resolve(io.cwd, path));
    printWarnings(spec, io);
    // Checked even when nothing was recorded: a wrong -i is a mistake either way.
    const inputs = resolveInputs(spec, await parseInputs((values['input'] as string[] | undefined) ?? [], io.cwd), { partial: true });
    const history = values['no-store'] === true ? undefined : await recordedHistory(spec, inputs, settings, values, io);
    // Which steps the step cache would answer (not counted in what the plan expects), and the tokens earlier
    // runs used, at today's prices.
    const previews = await cachePreview(spec, inputs, settings, values, io);
    const answered: Record<string, number | 'all'> = {};
    for (const [id, p] of Object.entries(previews)) {
      if (p.cache === 'hit') answered[id] = 'all';
      else if (p.cacheHits) answered[id] = p.cacheHits;
    }
    const view = describePlan(spec, limit, history && { ...history, pricing: await loadPricing(spec, io), answered }, inputs);
    for (const [id, preview] of Object.entries(previews)) Object.assign(view.steps[id]!, preview);
    view.workflow = displayPath(view.workflow, io.cwd);
    const render = { text: () => planText(view, path), json: () => planJson(view), mermaid: () => planMermaid(view), dot: () => planDot(view) }[format as (typeof FORMATS)[number]];
    io.stdout.write(render());
    return EXIT.ok;
  },
};

/** What the steps took in earlier runs of this workflow; nothing (and no store opened) if none were recorded. */
async function recordedHistory(spec: WorkflowSpec, inputs: Record<string, unknown>, settings: { model?: string; maxConcurrency?: number }, values: Record<string, unknown>, io: CliIO): Promise<StepHistory | undefined> {
  const store = await openRecorded(values, io);
  if (!store) return undefined;
  try {
    // Matched as `run` records them: the model from --model, else config.model, else CONDUCTOR_MODEL.
    const ctx = preflightContext(spec, io.env, settings);
    return await stepHistory(store, spec, prepareFingerprints(spec, inputs, ctx, defaultActions()));
  } finally {
    await store.close();
  }
}

/** The store, read-only; undefined when it is a file that does not exist yet (nothing recorded, nothing created). */
async function openRecorded(values: Record<string, unknown>, io: CliIO): Promise<RunStore | undefined> {
  const location = storeLocation(io.env, io.cwd, values['store'] as string | undefined);
  if (!isPostgresLocation(location) && !existsSync(location)) return undefined;
  return runStore(location, { ...storeOptions(io.env), access: 'read' });
}

/** Which steps the step cache answers, for those whose input is known now (see src/cache/preview.ts). */
async function cachePreview(spec: WorkflowSpec, inputs: Record<string, unknown>, settings: { model?: string; maxConcurrency?: number }, values: Record<string, unknown>, io: CliIO): Promise<Record<string, StepCachePreview>> {
  const policy = cacheFlags(spec.config, values);
  // As `run --no-store`: no store, no cache.
  if (values['no-store'] === true || !cacheUsed(policy, spec.steps)) return {};
  const { previewCache } = await import('../../cache/preview.ts');
  const context = { ...preflightContext(spec, io.env, settings), baseDir: spec.baseDir };
  const store = await openRecorded(values, io);
  // No store yet: nothing was kept, every request it knows is a miss.
  if (!store) return previewCache(spec, { policy, inputs, context, actions: defaultActions() });
  try {
    const entries = store.cache;
    return await previewCache(spec, { policy, inputs, context, actions: defaultActions(), ...(entries ? { entries } : {}) });
  } finally {
    await store.close();
  }
}

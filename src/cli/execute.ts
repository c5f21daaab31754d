/**
 * What `run` and `resume` share: reporters on the terminal, the store and the executor for one run, the closing
 * summary, the outputs, and the exit code. The run itself is recordedRun's (shared with the server).
 */
import type { WorkflowSpec } from '../definition/types.ts';
import { liveReporter } from '../report/live.ts';
import { plainReporter } from '../report/plain.ts';
import { formatFailure, formatSummary } from '../report/summary.ts';
import { prepareRun, type PreparedRun } from '../scheduler/prepare.ts';
import type { RunOptions } from '../scheduler/run.ts';
import { storeLocation, storeOptions } from '../store/home.ts';
import type { RunStore, StoreOptions } from '../store/types.ts';
import { EXIT, type CliIO } from './io.ts';
import { INPUT_OPTION, parseLimit } from './options.ts';
import type { Command } from './main.ts';
import { createStyle } from '../report/style.ts';
import { costControls } from '../cost/controls.ts';
import { cacheFlags } from './cache-options.ts';
import { QUEUE_OPTION, queueFrom } from './queue-options.ts';
import { runStore, stepExecutor } from '../compose.ts';
import { recordedRun } from '../runs/recorded-run.ts';

/** What `--store` is, for every command that takes it. */
/** What `run --json` and `resume --json` print (docs/cli.md quotes these types). */
export const RUN_JSON_SHAPE: readonly string[] = ['src/core/report.ts#RunReport', 'src/core/report.ts#StepReport', 'src/core/report.ts#ItemReport', 'src/core/events.ts#ItemSummary', 'src/core/report.ts#RunCost', 'src/core/report.ts#BudgetReport', 'src/core/report.ts#ModelUsage', 'src/core/report.ts#TokenCount', 'src/core/status.ts#RunStatus', 'src/core/status.ts#FinalStepStatus', 'src/core/status.ts#SkipReason', 'src/core/status.ts#ItemStatus'];

export const STORE_DESCRIPTION = 'The run store: a file, or a postgres:// URL (default: $CONDUCTOR_STORE, else $CONDUCTOR_HOME/runs.db, ~/.conductor/runs.db)';

/** Options `run` and `resume` both take. */
export const RUN_OPTIONS = {
  input: INPUT_OPTION,
  json: { type: 'boolean', description: 'Print one JSON report on stdout when the run ends, and nothing else' },
  quiet: { type: 'boolean', short: 'q', description: 'Print only the workflow outputs' },
  'max-concurrency': { type: 'string', value: 'N', description: 'How many steps may run at once (overrides config.maxConcurrency)' },
  model: { type: 'string', value: 'provider:model', description: 'The model of llm steps that name none, over config.model (provider:model; `echo` tries a workflow offline)' },
  store: { type: 'string', value: 'PATH|URL', description: STORE_DESCRIPTION },
  'no-store': { type: 'boolean', description: 'Do not record this run' },
  cache: { type: 'boolean', description: 'Take results from the step cache, and keep new ones there, for every cacheable step (overrides config.cache)' },
  'no-cache': { type: 'boolean', description: 'Do not use the step cache for this run (overrides config.cache and steps\' cache)' },
  'max-cost': { type: 'string', value: 'USD', description: 'The most this run may spend on model calls, in US dollars (overrides config.budget.usd)' },
  queue: QUEUE_OPTION,
} satisfies Command['options'];

/** The store `--store` (else CONDUCTOR_STORE, else the default file) names: every command opens it here. */
export function openStore(values: Record<string, unknown>, io: CliIO, options: StoreOptions = {}): Promise<RunStore> {
  return runStore(storeLocation(io.env, io.cwd, values['store'] as string | undefined), { ...storeOptions(io.env), ...options });
}

/** The run as `run` and `resume` start it: inputs typed, settings from the flags, fingerprints, secrets (see prepare.ts). */
export function prepareFromFlags(spec: WorkflowSpec, inputs: Readonly<Record<string, unknown>>, values: Record<string, unknown>, io: CliIO): PreparedRun {
  const model = typeof values['model'] === 'string' ? values['model'] : undefined;
  const maxConcurrency = parseLimit(values['max-concurrency'] as string | undefined);
  // With a queue, llm and http steps run with a worker's environment: their keys are checked there.
  const onWorkers = queueFrom(values, io.env) !== undefined;
  return prepareRun(spec, { inputs, env: io.env, ...(model ? { model } : {}), ...(maxConcurrency === undefined ? {} : { maxConcurrency }), ...(onWorkers ? { onWorkers } : {}) });
}

export interface Execution {
  /** From `prepareFromFlags`: the run's inputs, settings, secrets and fingerprints, prepared once. */
  prepared: PreparedRun;
  values: Record<string, unknown>;
  io: CliIO;
  reuse?: RunOptions['reuse'];
  /** Items of foreach steps that run again, from an earlier run (`resume`). */
  reuseItems?: RunOptions['reuseItems'];
  resumedFrom?: string;
  /** Printed before the run starts (e.g. which steps a resume re-runs). */
  preface?: string;
}

export async function execute({ prepared, values, io, reuse, reuseItems, resumedFrom, preface }: Execution): Promise<number> {
  const spec = prepared.spec;
  const json = values['json'] === true;
  const quiet = values['quiet'] === true;
  const style = createStyle(io.stderr, io.env);
  // Prices and the budget: a wrong --max-cost, prices file or unpriced model stops here, before anything runs.
  const costs = await costControls(prepared, values['max-cost'], io);
  // Workers (`--queue`): a Redis that does not answer stops here, before anything runs or is recorded.
  const queue = queueFrom(values, io.env);
  // Without a display (--json, --quiet), a run waiting for a worker still says why on stderr.
  const steps = await stepExecutor(queue, json || quiet ? { warn: (line) => io.stderr.write(`${style.yellow('warning')}: ${line}\n`) } : {});
  // A store that fails mid-run (locked, disk full) stops the run: in-flight steps are aborted, and the recorder
  // throws the store's error from the next event.
  const storeFailed = new AbortController();
  const cachePolicy = cacheFlags(spec.config, values);
  const store = values['no-store'] === true ? undefined : await openStore(values, io, { onError: (error) => storeFailed.abort(error) }).catch(async (error: unknown) => {
    await steps.dispose();
    throw error;
  });
  try {
    const live = !json && !quiet && io.stderr.isTTY === true && !io.env['CI'] ? liveReporter(io.stderr, style) : undefined;
    const plain = !json && !quiet && !live ? plainReporter((text) => io.stderr.write(text), style) : undefined;
    if (preface && !json && !quiet) io.stderr.write(preface);
    // The run's events and report carry no secret (it redacts them as it goes): the reporters and the summary
    // show them as they are.
    const report = await recordedRun({
      prepared,
      store,
      costs,
      cachePolicy,
      executor: steps.executor,
      signal: AbortSignal.any([io.signal, storeFailed.signal]),
      ...(live || plain ? { onEvent: live?.onEvent ?? plain } : {}),
      reuse,
      reuseItems,
      resumedFrom,
    }).finally(() => live?.stop());

    if (json) io.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else {
      // --quiet keeps a successful run silent, never a failure: what failed and what to do goes to stderr.
      // A run that succeeded past continued failures can be resumed too: only the failed steps and items re-run.
      const resumable = report.status !== 'succeeded' || (report.continued?.length ?? 0) > 0;
      const more = report.status === 'budget_exceeded' ? ' --max-cost N' : '';
      const runLine = store ? style.dim(`  run ${report.runId}${resumable ? ` · conductor resume ${report.runId.slice(0, 8)}${more}` : ''}\n`) : '';
      if (quiet && report.status !== 'succeeded') io.stderr.write(formatFailure(report, style) + runLine);
      if (!quiet) io.stderr.write(formatSummary(report, style) + runLine);
      // Loaded here, not at start-up: the YAML printer is 70 modules a `--json` run never needs.
      if (Object.keys(report.outputs).length > 0) io.stdout.write((await import('yaml')).stringify(report.outputs, { lineWidth: 0 }));
    }
    return report.status === 'succeeded' ? EXIT.ok : report.status === 'cancelled' ? EXIT.interrupted : EXIT.failed;
  } finally {
    await store?.close();
    await steps.dispose();
  }
}

/**
 * What a run (or a resume) is priced by and may spend: the prices (the genai-prices table, then
 * `$CONDUCTOR_HOME/prices.yaml`, then `config.prices`) and the budget (`config.budget`, `--max-cost` over its
 * `usd`). Everything is checked before the run starts: a wrong `--max-cost`, a malformed prices file, or a
 * model with no price under a budget in dollars stops it with exit 2, nothing sent.
 */
import { dirname, join } from 'node:path';
import { UsageError, WorkflowInvalidError, type Diagnostic } from '../core/errors.ts';
import { RunBudget, type BudgetLimits } from './budget.ts';
import { PRICES_FILE, readPricesFile } from './prices-file.ts';
import { ModelPrices } from './prices.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import type { PreparedRun } from '../scheduler/prepare.ts';
import { storePath } from '../store/home.ts';
import { literalFields } from '../template/value.ts';

/** Where prices are looked up: the environment (`$CONDUCTOR_HOME`) and the folder relative paths start from. */
export interface CostPlace {
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

export interface CostControls {
  pricing: ModelPrices;
  /** Absent when the run has no budget. */
  budget?: RunBudget;
  /** The run's `--max-cost`, for the record (a resume keeps it unless given again). */
  maxCost?: number;
}

/** `maxCost`: `--max-cost` as given (a string, or a number from the server's API), checked here. */
export async function costControls(prepared: PreparedRun, maxCostGiven: unknown, io: CostPlace): Promise<CostControls> {
  const maxCost = parseMaxCost(maxCostGiven);
  const { config } = prepared.spec;
  const pricing = await loadPricing(prepared.spec, io);
  const limits: BudgetLimits = { ...config.budget, ...(maxCost === undefined ? {} : { usd: maxCost }) };
  if (limits.usd === undefined && limits.tokens === undefined) return { pricing };
  if (limits.usd !== undefined) checkPriced(prepared, pricing, maxCost === undefined ? '`config.budget.usd`' : '`--max-cost`');
  return { pricing, budget: new RunBudget(limits, pricing), ...(maxCost === undefined ? {} : { maxCost }) };
}

/** The prices a run of `spec` is priced by: the table, then prices.yaml, then `config.prices`. */
export async function loadPricing(spec: WorkflowSpec, io: CostPlace): Promise<ModelPrices> {
  // $CONDUCTOR_HOME (else ~/.conductor): the folder of the default run store.
  const home = dirname(storePath(io.env, io.cwd));
  return new ModelPrices({ given: { ...(await readPricesFile(join(home, PRICES_FILE))), ...spec.config.prices } });
}

/** `--max-cost 5` (dollars; `$5` too). */
export function parseMaxCost(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const usd = /^\$?\d*\.?\d+(e[+-]?\d+)?$/i.test(text) ? Number(text.replace('$', '')) : Number.NaN;
  if (!(Number.isFinite(usd) && usd > 0)) {
    throw new UsageError(`\`--max-cost\` expects US dollars, a number more than 0, got \`${text}\``, { hint: 'e.g. `--max-cost 5` for at most $5 of model calls' });
  }
  return usd;
}

/**
 * Under a budget in dollars, every model the steps name must have a price: what its calls cost could not be
 * known, so the run refuses to start rather than spend blind. A model only a template names is checked when
 * its step runs (the step fails then, nothing sent).
 */
function checkPriced(prepared: PreparedRun, pricing: ModelPrices, limit: string): void {
  const problems: Diagnostic[] = [];
  const ctx = { env: prepared.env, defaults: prepared.defaults };
  const seen = new Set<string>();
  prepared.spec.steps.forEach((step, i) => {
    const action = prepared.stepActions[i]!;
    if (!action.usesTokens) return;
    let model: unknown;
    try {
      model = (action.identity?.(literalFields(step.input), ctx) as { model?: unknown } | undefined)?.model;
    } catch {
      return; // a model the action cannot make sense of: its own checks say so
    }
    if (typeof model !== 'string' || pricing.has(model) || seen.has(model)) return;
    seen.add(model);
    problems.push({
      ...step.location,
      code: 'no_price',
      message: `step \`${step.id}\` calls \`${model}\`, which has no price, and the run has a budget in dollars (${limit})`,
      hint: `give its price in config.prices or ${join('$CONDUCTOR_HOME', PRICES_FILE)}: \`${model}: { input: …, output: … }\` (US dollars per million tokens${model.startsWith('ollama:') ? '; 0 for a local model' : ''})`,
    });
  });
  if (problems.length) throw new WorkflowInvalidError(problems);
}

/**
 * What model calls cost, in US dollars (the run's `Pricing`, see scheduler/hooks.ts). Prices come from three
 * sources, each over the one before, a model at a time: the table of `@pydantic/genai-prices` (OpenAI and
 * Anthropic models), `$CONDUCTOR_HOME/prices.yaml`, then the workflow's `config.prices`. A model none of them
 * prices has no cost (null, shown as "—"), never $0: an Ollama model runs locally, and costs what its owner
 * says it does. `echo` is no model: it costs exactly 0.
 */
import { createRequire } from 'node:module';
import type * as GenaiPrices from '@pydantic/genai-prices';
import type { UnitUsage } from '../core/report.ts';
import type { ModelPrice } from '../definition/types.ts';
import type { Pricing } from '../scheduler/hooks.ts';

/** Our providers the table knows, by the id it knows them by. */
const TABLE_PROVIDERS: Readonly<Record<string, string>> = { openai: 'openai', anthropic: 'anthropic' };

/** What one call of a model costs, in dollars; null when it cannot be priced. */
type Rate = (usage: UnitUsage) => number | null;

export interface PricingOptions {
  /** Prices given by the user (prices.yaml, then config.prices, merged): each over the table's. */
  given?: Readonly<Record<string, ModelPrice>>;
  /** Look models up in the table too (default true; tests turn it off to price only what they give). */
  table?: boolean;
}

export class ModelPrices implements Pricing {
  readonly #given: ReadonlyMap<string, ModelPrice>;
  readonly #table: boolean;
  /** Each model's rate once found (null: it has no price): the table is searched once per model. */
  readonly #rates = new Map<string, Rate | null>();

  constructor(options: PricingOptions = {}) {
    this.#given = new Map(Object.entries(options.given ?? {}));
    this.#table = options.table ?? true;
  }

  costOf(usage: UnitUsage): number | null {
    const model = usage.model;
    if (model === undefined) return null;
    if (model === 'echo') return 0;
    let rate = this.#rates.get(model);
    if (rate === undefined) this.#rates.set(model, (rate = this.#rateOf(model)));
    return rate === null ? null : rate(usage);
  }

  /** Whether `model` (`provider:model`) has a price. */
  has(model: string): boolean {
    return this.costOf({ model, inputTokens: 0, outputTokens: 0 }) !== null;
  }

  #rateOf(model: string): Rate | null {
    const given = this.#given.get(model);
    if (given) return flatRate(given);
    if (!this.#table) return null;
    const colon = model.indexOf(':');
    const provider = TABLE_PROVIDERS[model.slice(0, colon)];
    return colon > 0 && provider ? tableRate(provider, model.slice(colon + 1)) : null;
  }
}

/**
 * Dollars for tokens at prices per million: one division of whole-token products, so a figure is tokens ×
 * price to the cent (and far below it); only its display is rounded. Cached input tokens are part of the
 * input tokens, priced at `cachedInput` where given, else as input.
 */
export function flatRate(price: ModelPrice): Rate {
  return (usage) => {
    const cached = Math.min(Math.max(usage.cachedInputTokens ?? 0, 0), usage.inputTokens);
    return ((usage.inputTokens - cached) * price.input + cached * (price.cachedInput ?? price.input) + usage.outputTokens * price.output) / 1e6;
  };
}

let table: typeof GenaiPrices | undefined;

/**
 * The table, loaded when a model first needs it (800 KB of JavaScript: a run of `echo` steps, or of models the
 * user priced, never loads it). Synchronous, as `costOf` is: its CommonJS build.
 */
function genaiPrices(): typeof GenaiPrices {
  return (table ??= createRequire(import.meta.url)('@pydantic/genai-prices') as typeof GenaiPrices);
}

/**
 * A model's rate from the table. Most models have flat prices per million tokens, read once; a model whose
 * price depends on the date or on the prompt's size (tiers) is priced by the table at each call.
 */
function tableRate(providerId: string, modelId: string): Rate | null {
  const { calcPrice } = genaiPrices();
  let found: GenaiPrices.PriceCalculationResult;
  try {
    found = calcPrice({ input_tokens: 0, output_tokens: 0 }, modelId, { providerId });
  } catch {
    return null;
  }
  if (!found) return null;
  const prices = found.model.prices;
  if (!Array.isArray(prices)) {
    // An entry that prices no tokens (a moderation endpoint, a per-image model) is no price for a model call.
    if (prices.input_mtok === undefined && prices.output_mtok === undefined) return null;
    const { input_mtok: input = 0, output_mtok: output = 0, cache_read_mtok: cachedInput } = prices;
    if (typeof input === 'number' && typeof output === 'number' && (cachedInput === undefined || typeof cachedInput === 'number')) {
      return flatRate({ input, output, ...(cachedInput === undefined ? {} : { cachedInput }) });
    }
  }
  return (usage) => {
    try {
      const usd = calcPrice({ input_tokens: usage.inputTokens, output_tokens: usage.outputTokens, ...(usage.cachedInputTokens ? { cache_read_tokens: Math.min(usage.cachedInputTokens, usage.inputTokens) } : {}) }, modelId, { providerId });
      return usd ? usd.total_price : null;
    } catch {
      return null;
    }
  };
}

/** Model strings (`provider:model`) and how a step's model is chosen. Pure: no provider code is loaded here. */
import { ConductorError } from '../core/errors.ts';
import { didYouMean } from '../core/suggest.ts';

export const KNOWN_PROVIDERS = ['openai', 'anthropic', 'ollama', 'echo'] as const;
export type ProviderName = (typeof KNOWN_PROVIDERS)[number];

export interface ModelRef {
  provider: ProviderName;
  model: string;
  /** `provider:model`, as reports show it. */
  id: string;
}

const DEFAULT_MODELS: Record<ProviderName, string> = {
  openai: 'gpt-4o-mini',
  anthropic: 'claude-sonnet-4-5',
  ollama: 'llama3.2',
  echo: 'echo',
};

/** Parse `provider:model` (or `echo`). Returns a problem description instead of throwing. */
export function parseModel(text: string): ModelRef | { problem: string; hint?: string } {
  const trimmed = text.trim();
  if (trimmed === 'echo' || trimmed === 'echo:') return { provider: 'echo', model: 'echo', id: 'echo' };
  const colon = trimmed.indexOf(':');
  if (colon <= 0) {
    return { problem: `\`${trimmed}\` is not a model string`, hint: 'write `provider:model`, e.g. `openai:gpt-4o-mini`' };
  }
  const provider = trimmed.slice(0, colon);
  const model = trimmed.slice(colon + 1) || DEFAULT_MODELS[provider as ProviderName];
  if (!(KNOWN_PROVIDERS as readonly string[]).includes(provider)) {
    const hint = didYouMean(provider, KNOWN_PROVIDERS) ?? `providers: ${KNOWN_PROVIDERS.join(', ')}`;
    return { problem: `unknown provider \`${provider}\``, hint };
  }
  if (!model) return { problem: `\`${trimmed}\` names no model` };
  return { provider: provider as ProviderName, model, id: `${provider}:${model}` };
}

/**
 * The model a step uses: its own `llm.model`, else the run's default (--model → config.model →
 * CONDUCTOR_MODEL, folded by the engine), else whichever provider the environment has a key for.
 */
export function resolveModel(stepModel: string | undefined, runDefault: string | undefined, env: Readonly<Record<string, string | undefined>>): ModelRef {
  const chosen = stepModel ?? runDefault;
  if (chosen !== undefined) {
    const parsed = parseModel(chosen);
    if ('problem' in parsed) throw new ConductorError('model_invalid', parsed.problem, parsed.hint ? { hint: parsed.hint } : {});
    return parsed;
  }
  const provider: ProviderName = env['OPENAI_API_KEY'] ? 'openai' : env['ANTHROPIC_API_KEY'] ? 'anthropic' : 'ollama';
  const model = DEFAULT_MODELS[provider];
  return { provider, model, id: `${provider}:${model}` };
}

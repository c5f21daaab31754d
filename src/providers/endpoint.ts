/**
 * Where each provider is reached, following each ecosystem's own environment variables, and which key it
 * needs. Pure: nothing here loads provider code.
 */
import { ConductorError } from '../core/errors.ts';
import type { ProviderName } from './model.ts';

export interface Endpoint {
  provider: Exclude<ProviderName, 'echo'>;
  baseURL: string;
  apiKey: string | undefined;
  /** The variable that holds the key, and the one that moves the endpoint, for error messages. */
  keyVar?: string;
  urlVar: string;
  /** Rate limits are tracked per endpoint: one key per provider and base URL. */
  key: string;
}

const OPENAI_URL = 'https://api.openai.com/v1';
const ANTHROPIC_URL = 'https://api.anthropic.com/v1';
const OLLAMA_HOST = 'http://127.0.0.1:11434';

export function endpointFor(provider: Exclude<ProviderName, 'echo'>, env: Readonly<Record<string, string | undefined>>): Endpoint {
  switch (provider) {
    case 'openai': {
      const baseURL = trimSlash(env['OPENAI_BASE_URL'] || OPENAI_URL);
      return { provider, baseURL, apiKey: env['OPENAI_API_KEY'] || undefined, keyVar: 'OPENAI_API_KEY', urlVar: 'OPENAI_BASE_URL', key: `openai ${baseURL}` };
    }
    case 'anthropic': {
      const baseURL = trimSlash(env['ANTHROPIC_BASE_URL'] || ANTHROPIC_URL);
      return { provider, baseURL, apiKey: env['ANTHROPIC_API_KEY'] || undefined, keyVar: 'ANTHROPIC_API_KEY', urlVar: 'ANTHROPIC_BASE_URL', key: `anthropic ${baseURL}` };
    }
    case 'ollama': {
      const host = env['OLLAMA_HOST'] || OLLAMA_HOST;
      const baseURL = trimSlash(/^https?:\/\//.test(host) ? host : `http://${host}`);
      return { provider, baseURL, apiKey: undefined, urlVar: 'OLLAMA_HOST', key: `ollama ${baseURL}` };
    }
  }
}

/**
 * A missing key is a problem only on the provider's own service: OpenAI-compatible servers (vLLM, LM Studio,
 * llama.cpp) reached through OPENAI_BASE_URL often need none.
 */
export function missingKey(endpoint: Endpoint): ConductorError | undefined {
  if (endpoint.apiKey || !endpoint.keyVar) return undefined;
  const official = endpoint.baseURL === OPENAI_URL || endpoint.baseURL === ANTHROPIC_URL;
  if (!official) return undefined;
  return new ConductorError('missing_api_key', `${endpoint.provider} needs an API key: set ${endpoint.keyVar}`, {
    hint: `or point ${endpoint.urlVar} at a compatible server; to try the workflow offline, run it with --model echo (steps that name their own model keep it)`,
  });
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * A base URL as messages and fingerprints may show it: no user, password or query (where credentials sometimes
 * ride: `https://user:pass@proxy/v1`, `?code=<function key>`).
 */
export function publicURL(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
  } catch {
    return url;
  }
}

/**
 * Which http headers carry credentials, and what of a step's request and answer is therefore secret: the engine
 * asks the action (`secrets`, `resultSecrets`, `withoutCredentials`) and knows nothing of headers itself.
 */
import { urlPasswords } from '../../core/redact.ts';
import type { HttpInput } from './index.ts';

/** Request and response headers that carry credentials or sessions, whatever their value looks like. */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['set-cookie', 'cookie', 'authorization', 'proxy-authorization', 'x-api-key', 'api-key']);

/** What a request sends as credentials: credential header values (with and without their scheme) and a URL's password. */
export function requestSecrets(input: HttpInput): string[] {
  const values = Object.entries(input.headers ?? {}).flatMap(([name, value]) =>
    CREDENTIAL_HEADERS.has(name.toLowerCase()) ? [String(value), String(value).replace(/^(Bearer|Basic|Token)\s+/i, '')] : [],
  );
  return [...values, ...urlPasswords(input.url)];
}

/**
 * The values of credential headers in an answer's `headers`, each with whether it is known to be secret (a whole
 * header value, a cookie's value) or only taken for one when it is as long as a guessed secret. A cookie's
 * attributes (`Path=/`, `Domain=docs.example.com`, `HttpOnly`) are not secrets and are left alone.
 */
export function answerSecrets(properties: Record<string, unknown> | undefined): [value: string, named: boolean][] {
  const headers = properties?.['headers'];
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return [];
  const values: [string, boolean][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!CREDENTIAL_HEADERS.has(name.toLowerCase()) || typeof value !== 'string') continue;
    values.push([value, true]);
    // Repeats are joined with `, ` (a date in `Expires=Wed, 21 Oct …` splits too, harmlessly): each cookie is the
    // `name=value` before its first `;`.
    for (const piece of value.split(/,\s*/)) {
      const pair = piece.split(';', 1)[0]!.trim();
      const eq = pair.indexOf('=');
      if (eq <= 0 || /\s/.test(pair.slice(0, eq))) continue;
      // Guessed, not certain: `theme=dark` holds no secret, and a value as short as `dark` must not be masked.
      values.push([pair, false], [pair.slice(eq + 1), false]);
    }
  }
  return values;
}

/** Properties as they may be shown or stored: `headers` keeps its names but not the values of credential headers. */
export function withoutCredentialHeaders(properties: Record<string, unknown>): Record<string, unknown> {
  const headers = properties['headers'];
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return properties;
  const names = Object.keys(headers);
  if (!names.some((name) => CREDENTIAL_HEADERS.has(name.toLowerCase()))) return properties;
  const kept = Object.fromEntries(names.map((name) => [name, CREDENTIAL_HEADERS.has(name.toLowerCase()) ? '***' : (headers as Record<string, unknown>)[name]]));
  return { ...properties, headers: kept };
}

/** Keeps secrets out of messages: every known secret value is replaced by `***` before anything is shown or stored. */

/** Environment variables that hold credentials, whatever a workflow references. */
export const SECRET_ENV = /(_API_KEY|_TOKEN|_SECRET|_PASSWORD|^AUTHORIZATION)$/i;

export type Redactor = (text: string) => string;

export function createRedactor(secrets: Iterable<string | undefined>): Redactor {
  // Short values would redact ordinary words; credentials are long.
  const values = [...new Set([...secrets].filter((s): s is string => typeof s === 'string' && s.length >= 8))].sort((a, b) => b.length - a.length);
  if (values.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const v of values) if (out.includes(v)) out = out.split(v).join('***');
    return out;
  };
}

/** Response and request headers that carry credentials or sessions, whatever their value looks like. */
const CREDENTIAL_HEADERS = new Set(['set-cookie', 'cookie', 'authorization', 'proxy-authorization']);

/**
 * Step properties as they may be stored: a `headers` map (an http step's) keeps its names but not the values of
 * credential headers. Anything else is returned as it is.
 */
export function withoutCredentialHeaders(properties: Record<string, unknown>): Record<string, unknown> {
  const headers = properties['headers'];
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return properties;
  const names = Object.keys(headers);
  if (!names.some((name) => CREDENTIAL_HEADERS.has(name.toLowerCase()))) return properties;
  const kept = Object.fromEntries(names.map((name) => [name, CREDENTIAL_HEADERS.has(name.toLowerCase()) ? '***' : (headers as Record<string, unknown>)[name]]));
  return { ...properties, headers: kept };
}

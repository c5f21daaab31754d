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

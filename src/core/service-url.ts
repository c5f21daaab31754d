/**
 * URLs of the services a run may use (a Redis queue, a PostgreSQL store) as they may be shown: in messages,
 * reports and records. They often carry a password (`postgres://app:hunter2@db/…`, `?password=…`), which
 * must never be printed or stored.
 */

/** Query parameters whose values are credentials (libpq's `password`, `sslpassword`; a `token`, an `api_key`…). */
const SECRET_PARAM = /pass|secret|token|key|auth|cred/i;

/** A URL with its user, password and credential parameters replaced by `***`; a string that is no URL is not shown. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(an unparsable URL)';
  }
  if (parsed.username !== '' || parsed.password !== '') {
    parsed.username = '***';
    parsed.password = '';
  }
  for (const name of [...parsed.searchParams.keys()]) if (SECRET_PARAM.test(name)) parsed.searchParams.set(name, '***');
  return parsed.toString().replace(/\/$/, '');
}

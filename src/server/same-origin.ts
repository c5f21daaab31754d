/**
 * Cross-site requests. A page on any web site can make the browser send a "simple" request — a POST with a
 * `text/plain` body, no preflight — to http://127.0.0.1:7070: its `Host` is a loopback name, so the DNS-rebinding
 * guard lets it through, and a server without a token would start, cancel or resume runs for that page. So:
 * every request a browser says comes from another site (`Sec-Fetch-Site: cross-site` / `same-site`, or an
 * `Origin` that is not this server's own) is refused, and a request with a body must say it is JSON (a
 * cross-site page can only send that after a preflight, which this server never allows). Clients that are
 * not browsers (curl, scripts) send neither header and are unaffected.
 */
import type { MiddlewareHandler } from 'hono';

export function sameOriginOnly(): MiddlewareHandler {
  return async (c, next) => {
    const site = c.req.header('sec-fetch-site');
    const origin = c.req.header('origin');
    // A browser that says where the request comes from is taken at its word (behind a proxy that rewrites
    // `Host`, the page's Origin and the Host seen here differ); one that does not is judged by its Origin.
    const foreign = site !== undefined ? site !== 'same-origin' && site !== 'none' : origin !== undefined && !sameHost(origin, c.req.header('host'));
    if (foreign) {
      return c.json({ error: 'requests from other web sites are refused', hint: 'call the API from a script, or from the dashboard this server serves' }, 403);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
      const empty = c.req.header('content-length') === '0' || (c.req.header('content-length') === undefined && c.req.header('transfer-encoding') === undefined);
      if (!(type === 'application/json' || (type === undefined && empty))) {
        return c.json({ error: 'the body must be JSON, sent as `content-type: application/json`', hint: "send it with the header, e.g. curl -H 'content-type: application/json' -d '{…}' (an empty body needs neither)" }, 415);
      }
    }
    await next();
  };
}

/** The origin names the host (and port) the request was sent to: the page is this server's own (its scheme may differ behind a TLS proxy). */
function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/**
 * Loopback addresses, and the DNS-rebinding guard for a server bound to one. A page on any web site can make
 * the browser resolve its own name to 127.0.0.1 and then read what a local server answers (same origin, as
 * far as the browser knows); such requests carry the site's name in `Host`. A server only this machine can
 * reach therefore answers only requests addressed to a loopback name.
 */
import { isIP } from 'node:net';
import type { MiddlewareHandler } from 'hono';

/** 127.0.0.0/8, ::1 and `localhost`: addresses only this machine reaches. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

/** The host name of a `Host` header (`name:port`, `[v6]:port`), or undefined when it has none. */
function hostName(header: string): string | undefined {
  const match = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(header.trim());
  return match?.[1];
}

export function loopbackHostOnly(): MiddlewareHandler {
  return async (c, next) => {
    const name = hostName(c.req.header('host') ?? '');
    if (name === undefined || !isLoopback(name)) {
      return c.json({ error: 'this server answers only requests addressed to localhost', hint: 'use http://127.0.0.1:<port>/ (or set CONDUCTOR_SERVE_TOKEN to serve other names)' }, 403);
    }
    await next();
  };
}

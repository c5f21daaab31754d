/**
 * The bearer-token check. Both sides are hashed before the compare so the buffers always have equal length
 * (timingSafeEqual's requirement) and the compare takes the same time whatever the client sent: neither the
 * token's length nor a matching prefix can be learnt from timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

export function bearerAuth(token: string): MiddlewareHandler {
  const expected = digest(`Bearer ${token}`);
  return async (c, next) => {
    // The scheme is case-insensitive (RFC 9110), the token is not.
    const given = (c.req.header('authorization') ?? '').replace(/^bearer /i, 'Bearer ');
    if (!timingSafeEqual(digest(given), expected)) {
      // Nothing of what was sent (or expected) is echoed back.
      return c.json({ error: 'missing or wrong token', hint: 'send `Authorization: Bearer <token>` with the token the server was started with (CONDUCTOR_SERVE_TOKEN)' }, 401, { 'WWW-Authenticate': 'Bearer' });
    }
    await next();
  };
}

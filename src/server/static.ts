/**
 * The dashboard's files: the page at `/`, its own modules at `/assets/*`, and three vendor modules at
 * `/vendor/*`. Nothing here reads data: the page fetches /api/* itself, with the token when the server has one,
 * so these routes are served without it.
 *
 * Why Preact + htm: together about 5 KB, maintained by the Preact team, and both ship ES modules a browser
 * loads as they are (an import map names them), so there is no bundler and no build step on the user's machine
 * and nothing from a CDN (the dashboard works offline). htm builds elements from tagged templates, escaping
 * every interpolated value: step outputs are untrusted model text and are never parsed as HTML.
 *
 * Confinement: `/assets/<name>` serves only the files listed in dashboard/ when the routes were made (flat, by
 * exact name, a known extension), and `/vendor/<name>` only the three modules below, by fixed name: no path a
 * client sends is ever joined to a folder.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono, type Context } from 'hono';

/** From src/server/ (tests) and from dist/server/ (the built package) alike: both sit two levels below the root. */
const DASHBOARD = fileURLToPath(new URL('../../dashboard/', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * The modules the import map in index.html names. `import.meta.resolve` takes the `import` condition: htm's
 * `require` entry (what createRequire resolves) is a CommonJS file a browser cannot import. preact/hooks imports
 * the bare name `preact`, which the import map sends to /vendor/preact.mjs.
 */
const VENDOR: Record<string, string> = {
  'preact.mjs': 'preact',
  'hooks.mjs': 'preact/hooks',
  'htm.mjs': 'htm',
};

const NO_CACHE = 'no-cache';

export function dashboardRoutes(): Hono {
  const app = new Hono();
  const assets = listAssets();
  const vendor = new Map(Object.entries(VENDOR).map(([name, specifier]) => [name, fileURLToPath(import.meta.resolve(specifier))]));
  let page: { html: string; csp: string } | undefined;

  app.get('/', (c) => {
    page ??= loadPage();
    if (!page) return c.text('the dashboard is not installed (no dashboard/index.html beside the server)', 404);
    return c.html(page.html, 200, {
      'content-security-policy': page.csp,
      'cache-control': NO_CACHE,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    });
  });

  app.get('/assets/:name', (c) => {
    const name = c.req.param('name');
    return assets.has(name) ? send(c, join(DASHBOARD, name), name) : missing(c);
  });

  app.get('/vendor/:name', (c) => {
    const file = vendor.get(c.req.param('name'));
    return file ? send(c, file, file) : missing(c);
  });

  return app;
}

/** The files of dashboard/ that may be served: plain names with a known type (index.html is served at `/`). */
function listAssets(): Set<string> {
  try {
    return new Set(readdirSync(DASHBOARD, { withFileTypes: true }).filter((e) => e.isFile() && /^[\w-]+(\.[\w-]+)*$/.test(e.name) && TYPES[extension(e.name)]).map((e) => e.name));
  } catch {
    return new Set();
  }
}

/**
 * index.html and its Content-Security-Policy. An import map is an inline script and no `src` form of it exists,
 * so the policy allows exactly that script by its hash, computed from the file as it is: no other inline script
 * runs, nor any script from elsewhere.
 */
function loadPage(): { html: string; csp: string } | undefined {
  let html: string;
  try {
    html = readFileSync(join(DASHBOARD, 'index.html'), 'utf8');
  } catch {
    return undefined;
  }
  const hashes = [...html.matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1]!, 'utf8').digest('base64')}'`);
  const csp = [
    "default-src 'self'",
    `script-src 'self' ${hashes.join(' ')}`.trim(),
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}

async function send(c: Context, file: string, name: string): Promise<Response> {
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return missing(c);
  }
  return c.body(new Uint8Array(body), 200, { 'content-type': TYPES[extension(name)] ?? 'application/octet-stream', 'cache-control': NO_CACHE, 'x-content-type-options': 'nosniff' });
}

function missing(c: Context): Response {
  return c.json({ error: `no such file: ${c.req.path}`, hint: 'the dashboard is at /' }, 404);
}

function extension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot);
}

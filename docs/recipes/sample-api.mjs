#!/usr/bin/env node
// Answers a recipe's API requests from the files in its sample/ folder, on 127.0.0.1, for the offline runs in
// the recipes' READMEs. No dependencies; Node 22 or later.
//
//   node docs/recipes/sample-api.mjs <recipe> [--port N]     (default port 8080; 0 picks a free one)
//
// It prints one line, `sample API for <recipe>: http://127.0.0.1:PORT`, and serves until Ctrl-C or `kill`.
// A request that no sample file answers gets a 404 with a JSON body saying why.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

/** Per recipe: the path its workflow.yaml requests, and the sample file that answers a request (null: none). */
const RECIPES = {
  // GET /api/v1/projects/<project>/issues?page=N → sample/page-N.json
  'api-pages': {
    path: /^\/api\/v1\/projects\/[^/]+\/issues$/,
    file: (url) => name('page-', url.searchParams.get('page'), /^\d+$/, '.json'),
  },
  // GET /v1/reports/daily?date=YYYY-MM-DD → sample/daily-YYYY-MM-DD.json
  'nightly-report': {
    path: /^\/v1\/reports\/daily$/,
    file: (url) => name('daily-', url.searchParams.get('date'), /^\d{4}-\d{2}-\d{2}$/, '.json'),
  },
  // GET /catalog/<category>.html → sample/<category>.html
  'fetch-extract-csv': {
    path: /^\/catalog\/[^/]+\.html$/,
    file: (url) => name('', /^\/catalog\/(.+)\.html$/.exec(url.pathname)[1], /^[a-z0-9-]+$/, '.html'),
  },
  // GET /api/v2/incidents?service=S → sample/incidents-S.json
  'api-fallback': {
    path: /^\/api\/v2\/incidents$/,
    file: (url) => name('incidents-', url.searchParams.get('service'), /^[a-z0-9-]+$/, '.json'),
  },
};

/** A sample file's name, or null when the value could name something outside sample/. */
function name(prefix, value, allowed, suffix) {
  return value !== null && allowed.test(value) ? `${prefix}${value}${suffix}` : null;
}

const TYPES = { '.json': 'application/json', '.html': 'text/html; charset=utf-8' };

function usage(message) {
  process.stderr.write(`${message}\nusage: node docs/recipes/sample-api.mjs <recipe> [--port N]\nrecipes: ${Object.keys(RECIPES).join(', ')}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({ allowPositionals: true, options: { port: { type: 'string', default: '8080' } } });
} catch (error) {
  usage(error.message);
}
const [recipe, ...extra] = args.positionals;
if (!recipe || extra.length > 0) usage(recipe ? `one recipe, not ${args.positionals.length}` : 'which recipe?');
const routes = Object.hasOwn(RECIPES, recipe) ? RECIPES[recipe] : usage(`no sample API for "${recipe}"`);
const port = Number(args.values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`--port: not a port number: ${args.values.port}`);
const sample = join(import.meta.dirname, recipe, 'sample');

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const answer = (status, type, body) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const notFound = (error) => answer(404, TYPES['.json'], `${JSON.stringify({ error })}\n`);
  if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, TYPES['.json'], `${JSON.stringify({ error: `${req.method}: only GET` })}\n`);
  if (!routes.path.test(url.pathname)) return notFound(`no such path: ${url.pathname}`);
  const file = routes.file(url);
  if (!file) return notFound(`no sample file answers ${url.pathname}${url.search}`);
  let body;
  try {
    body = await readFile(join(sample, file), 'utf8');
  } catch {
    return notFound(`no sample file ${recipe}/sample/${file} for ${url.pathname}${url.search}`);
  }
  answer(200, TYPES[file.slice(file.lastIndexOf('.'))], body);
});

server.on('error', (error) => {
  process.stderr.write(`sample API for ${recipe}: ${error.message}\n`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`sample API for ${recipe}: http://127.0.0.1:${server.address().port}\n`);
});

// Ctrl-C, or `kill` (SIGTERM): stop listening, drop open connections, exit 0.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
  });
}

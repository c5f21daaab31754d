/**
 * The HTTP API of `conductor serve`: workflows under the root and their plans, recorded runs, and runs started,
 * followed, cancelled and resumed here (run-routes.ts). Every answer is JSON (events are Server-Sent Events);
 * every refusal is `{ error, hint? }` with a 4xx status; anything unexpected is a bare 500 `internal error` (no
 * message, no stack: those may hold paths or secrets). Nothing here prints.
 */
import { realpathSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ActionRegistry } from '../actions/registry.ts';
import { defaultActions } from '../compose.ts';
import { ConductorError, SetupError } from '../core/errors.ts';
import type { RunStore } from '../store/types.ts';
import { describePlan } from '../views/plan.ts';
import { loadPricing } from '../cost/controls.ts';
import { prepareFingerprints, preflightContext } from '../store/fingerprint.ts';
import { stepHistory } from '../store/history.ts';
import { checkFile, diagnosticsJson, shownDiagnostics } from '../views/validation.ts';
import { bearerAuth } from './auth.ts';
import { HttpError } from './errors.ts';
import { loopbackHostOnly } from './hosts.ts';
import { sameOriginOnly } from './same-origin.ts';
import { openApiDocument } from './openapi.ts';
import { confine, workflowFiles } from './paths.ts';
import { listQuery, selectRuns } from './runs.ts';
import { MAX_YAML_BYTES } from './bodies.ts';
import type { RunManager } from './run-manager.ts';
import { runRoutes } from './run-routes.ts';
import { dashboardRoutes } from './static.ts';

export interface AppOptions {
  /** The folder workflows are served from; nothing outside it is read. */
  root: string;
  /** The run store (the caller opens it, keeps it and closes it). */
  store: () => Promise<RunStore>;
  /** Starts and keeps the runs this server runs (the caller makes it, with the same store, and closes it). */
  runs: RunManager;
  /** Where workflows posted as text are kept (see posted.ts): `$CONDUCTOR_HOME/posted`. */
  postedRoot: string;
  /** When set, every request needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Answer only requests whose `Host` is a loopback name (DNS rebinding; see hosts.ts). */
  loopbackOnly?: boolean;
  /** Aborted when the server shuts down: event streams end then (default: never). */
  closing?: AbortSignal;
  /** The actions workflows are checked against (default: the built-in ones). */
  actions?: ActionRegistry;
}

/** The dashboard's page, scripts and styles (see static.ts): served without the token. */
const PUBLIC = /^\/(?:$|assets\/|vendor\/)/;

export function createApp(options: AppOptions): Hono {
  const root = realpathSync(options.root);
  const actions = options.actions ?? defaultActions();
  const show = (file: string) => {
    const rel = relative(root, file);
    return rel && !rel.startsWith('..') ? rel.split(sep).join('/') : file;
  };
  const app = new Hono();

  app.onError((error, c) => {
    if (error instanceof HttpError) return c.json({ error: error.message, ...(error.hint ? { hint: error.hint } : {}), ...error.extra }, error.status);
    // The store's own failures are typed and say nothing secret (a URL's password is redacted): the client
    // may retry later.
    if (error instanceof ConductorError && (error.code === 'store_unavailable' || error.code === 'store_failed')) {
      return c.json({ error: 'the run store cannot be used', ...(error.hint ? { hint: error.hint } : {}) }, 503);
    }
    // A mistake in what was asked (`ambiguous_run`: an id prefix that matches more than one run), as the CLI says it.
    // Anything else that stops a run before it starts is the server's setup (a prices file it cannot read, a
    // queue it cannot reach): the client may try again once that is fixed.
    if (error instanceof SetupError) return c.json({ error: error.message, ...(error.hint ? { hint: error.hint } : {}) }, error.code === 'ambiguous_run' || error.code === 'usage' ? 400 : 503);
    if (error instanceof ConductorError && (error.code === 'server_closing' || error.code === 'server_busy')) return c.json({ error: error.message, ...(error.hint ? { hint: error.hint } : {}) }, 503);
    return c.json({ error: 'internal error' }, 500);
  });
  app.notFound((c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}`, hint: 'GET /api/openapi.json describes the API' }, 404));
  if (options.loopbackOnly) app.use('*', loopbackHostOnly());
  app.use('/api/*', sameOriginOnly());
  // Everything needs the token but the dashboard's page and scripts: they hold no data, and ask for it.
  if (options.token !== undefined) {
    const auth = bearerAuth(options.token);
    app.use('*', (c, next) => (PUBLIC.test(c.req.path) ? next() : auth(c, next)));
  }
  app.use('/api/*', bodyLimit({ maxSize: MAX_YAML_BYTES + 64 * 1024, onError: (c) => c.json({ error: 'the body is too large', hint: `a posted workflow may be at most ${MAX_YAML_BYTES / 1_000_000} MB` }, 413, { connection: 'close' }) }));
  // (`connection: close`: the rest of that body is not read, so the connection cannot carry another request.)
  app.route('/', dashboardRoutes());
  // URL parsing resolves `..` segments before routing (`/api/workflows/a/../../x.yaml` becomes `/api/x.yaml`),
  // so such a path can never reach a file; it is refused as one with `..` anywhere else is, rather than
  // answered as some other endpoint. Node's server gives the path as sent.
  app.use('*', async (c, next) => {
    const sent = (c.env as { incoming?: { url?: string } } | undefined)?.incoming?.url;
    if (sent !== undefined && sent.split('?')[0]!.split('/').some((segment) => /^(\.|%2e){2}$/i.test(segment))) {
      throw new HttpError(403, 'the path goes up with `..`: only paths under the root are served', { hint: 'name a workflow file by its path relative to the server\'s root, e.g. `flows/daily.yaml`' });
    }
    await next();
  });

  app.get('/api/openapi.json', (c) => c.json(openApiDocument()));

  app.get('/api/workflows', async (c) => {
    const { files, truncated } = await workflowFiles(root);
    const workflows = [];
    for (const path of files) {
      const check = await checkFile(`${root}${sep}${path.split('/').join(sep)}`, { actions });
      workflows.push({ path, valid: check.problems.length === 0, problems: check.problems.length, warnings: check.warnings.length });
    }
    return c.json({ workflows, ...(truncated ? { truncated: true } : {}) });
  });

  app.get('/api/workflows/*', async (c) => {
    const rest = rawPath(c).slice('/api/workflows/'.length);
    if (!rest.endsWith('/plan')) throw new HttpError(404, `no such endpoint: GET ${c.req.path}`, { hint: 'GET /api/workflows/{path}/plan' });
    const file = await confine(root, decode(rest.slice(0, -'/plan'.length)));
    const check = await checkFile(file, { actions });
    if (!check.spec) {
      throw new HttpError(422, 'the workflow is invalid', { hint: 'fix the problems listed (the same `conductor validate --json` reports)', extra: { problems: diagnosticsJson(shownDiagnostics(check, show)) } });
    }
    // As `plan --format json` prints it from the same store: with earlier runs of the workflow, the time, tokens
    // and cost they lead it to expect (a store that cannot be read now only leaves those out).
    const spec = check.spec;
    const store = await options.store().catch(() => undefined);
    const place = options.runs.place;
    const history = store && (await stepHistory(store, spec, prepareFingerprints(spec, {}, preflightContext(spec, place.env), actions)).catch(() => undefined));
    const view = describePlan(spec, undefined, history && { ...history, pricing: await loadPricing(spec, place), answered: {} }, {});
    view.workflow = show(view.workflow);
    // What a form needs to start it: the declared inputs (`location` is the server's business).
    const inputs = Object.fromEntries(Object.entries(spec.inputs).map(([name, input]) => [name, { type: input.type, required: input.required, ...(input.default === undefined ? {} : { default: input.default }), ...(input.description ? { description: input.description } : {}) }]));
    return c.json({ ...view, inputs });
  });

  app.get('/api/runs', async (c) => {
    const query = listQuery((name) => c.req.query(name));
    const store = await options.store();
    return c.json(await selectRuns(store, query, root));
  });

  runRoutes(app, { root, store: options.store, runs: options.runs, actions, postedRoot: options.postedRoot, show, closing: options.closing ?? new AbortController().signal });

  return app;
}

/** The path as sent (still percent-encoded), so an encoded `/` or `..` is judged after one decoding, not two. */
function rawPath(c: Context): string {
  return new URL(c.req.url).pathname;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new HttpError(400, 'the workflow path is not valid percent-encoding');
  }
}

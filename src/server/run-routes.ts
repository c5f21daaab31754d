/**
 * Runs over HTTP: start one (a workflow under the root, or posted text), follow its events (SSE), cancel it,
 * resume it. A run the server starts is `conductor run`'s (RunManager, recordedRun); what a client sends is data —
 * a path confined to the root, typed inputs, settings — and a refusal is a 4xx with `{ error, hint }`.
 */
import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { ActionRegistry } from '../actions/registry.ts';
import { UsageError, WorkflowInvalidError } from '../core/errors.ts';
import type { WorkflowSpec } from '../definition/types.ts';
import { planResumeOf, recordedSettings } from '../runs/resume-plan.ts';
import type { RunStore } from '../store/types.ts';
import { checkFile, diagnosticsJson, shownDiagnostics } from '../views/validation.ts';
import { readBody, ResumeBody, StartBody } from './bodies.ts';
import { HttpError } from './errors.ts';
import { confine } from './paths.ts';
import { isPosted, postedProblems, postedWorkflow, POSTED_NAME } from './posted.ts';
import { eventsOfRecord } from './record-events.ts';
import { whole } from './runs.ts';
import type { RunManager, RunSettingsGiven } from './run-manager.ts';
import { startingView, viewOfRecord } from './run-view.ts';

export interface RunRoutesContext {
  root: string;
  store: () => Promise<RunStore>;
  runs: RunManager;
  actions: ActionRegistry;
  /** Where posted workflows are kept (see posted.ts). */
  postedRoot: string;
  /** A file as the API shows it: relative to the root. */
  show: (file: string) => string;
  /** Aborted when the server shuts down: event streams end (a client that stopped reading would hold it open). */
  closing: AbortSignal;
}

/** How often a stream says it is alive (proxies close quiet connections). */
const KEEPALIVE_MS = 15_000;
/** A run going on in another process is replayed as recorded so far; the client comes back this much later for more. */
const FOREIGN_RETRY_MS = 2_000;

export function runRoutes(app: Hono, ctx: RunRoutesContext): void {
  /**
   * The run an id names: this server's own by its full id, else the store's (which takes a unique prefix, as
   * `conductor runs` shows them) — then this server's again by the full id, so a prefix reaches a live run too.
   */
  const lookUp = async (given: string) => {
    if (!/^[0-9a-zA-Z-]{1,64}$/.test(given)) throw new HttpError(400, 'a run id is letters, digits and dashes', { hint: 'GET /api/runs lists recent runs' });
    if (ctx.runs.get(given)) return { id: given, record: undefined };
    const record = await (await ctx.store()).getRun(given);
    return { id: record?.run.id ?? given, record };
  };

  const invalid = (problems: Parameters<typeof shownDiagnostics>[0], show: (file: string) => string) =>
    new HttpError(422, 'the workflow is invalid', { hint: 'fix the problems listed (the same `conductor validate --json` reports)', extra: { problems: diagnosticsJson(shownDiagnostics(problems, show)) } });
  const showPosted = (file: string) => (isPosted(file, ctx.postedRoot) ? POSTED_NAME : ctx.show(file));

  // The workflow's path from the root when it is a file there (its plan is at /api/workflows/{path}/plan).
  const withPath = <T extends { workflow: string }>(view: T): T & { workflowPath?: string } => {
    const shown = ctx.show(view.workflow);
    return shown === view.workflow ? view : { ...view, workflowPath: shown };
  };

  app.post('/api/runs', async (c) => {
    const body = await readBody(c.req.raw, StartBody, '{"workflow": "flows/daily.yaml", "inputs": {"topic": "tides"}}');
    let spec: WorkflowSpec;
    if (body.workflow !== undefined) {
      const file = await confine(ctx.root, body.workflow);
      const check = await checkFile(file, { actions: ctx.actions });
      if (!check.spec) throw invalid(check, ctx.show);
      spec = check.spec;
    } else {
      const check = await postedWorkflow(body.yaml!, ctx.postedRoot, ctx.actions);
      if (!('spec' in check)) throw invalid(check, showPosted);
      spec = check.spec;
    }
    const settings = settingsOf(body);
    const runId = await started(() => ctx.runs.start(ctx.runs.prepare(spec, body.inputs ?? {}, settings), settings), showPosted);
    return c.json({ runId }, 202, { location: `/api/runs/${runId}` });
  });

  const unknown = () => new HttpError(404, 'no such run in the store', { hint: 'GET /api/runs lists recent runs' });

  app.get('/api/runs/:id', async (c) => {
    const { id, record } = await lookUp(c.req.param('id'));
    const found = record ?? (await (await ctx.store()).getRun(id));
    if (found) {
      const view = viewOfRecord(found, ctx.runs.running(id));
      // A step the record still has pending that this server's run has started.
      for (const stepId of ctx.runs.get(id)?.running ?? []) if (view.steps[stepId]?.status === 'pending') view.steps[stepId].status = 'running';
      return c.json(withPath(view));
    }
    // Started here a moment ago: its record is written when its executor is open.
    const managed = ctx.runs.get(id);
    if (managed) return c.json(withPath(startingView(id, managed.spec, managed.inputs, managed.startedAt, ctx.runs.running(id), managed.failure)));
    throw unknown();
  });

  // The step in this run and the runs of the same workflow before it: did it always fail, or start to?
  app.get('/api/runs/:id/steps/:step/history', async (c) => {
    const stepId = c.req.param('step');
    const limit = whole(c.req.query('limit'), 'limit', 20, 1, HISTORY_MAX);
    const { id, record } = await lookUp(c.req.param('id'));
    const store = await ctx.store();
    const found = record ?? (await store.getRun(id));
    if (!found) throw unknown();
    if (!found.steps.some((s) => s.stepId === stepId)) throw new HttpError(404, `the run has no step \`${stepId}\``, { hint: `GET /api/runs/${id} lists its steps` });
    const earlier = (await store.listRuns(HISTORY_WINDOW)).filter((run) => run.workflow === found.run.workflow && run.startedAt <= found.run.startedAt).slice(0, limit);
    const history = [];
    for (const run of earlier) {
      const record = run.id === id ? found : await store.getRun(run.id);
      const step = record?.steps.find((s) => s.stepId === stepId);
      if (!step) continue;
      history.push({
        runId: run.id,
        runStatus: run.status,
        status: step.status,
        ...(step.startedAt === undefined ? {} : { startedAt: new Date(step.startedAt).toISOString() }),
        ...(step.startedAt !== undefined && step.finishedAt !== undefined ? { durationMs: step.finishedAt - step.startedAt } : {}),
        ...(step.attempts === undefined ? {} : { attempts: step.attempts }),
        ...(step.costUsd === undefined ? {} : { costUsd: step.costUsd }),
        ...(step.usage ? { usage: step.usage } : {}),
        ...(step.error ? { error: step.error } : {}),
        ...(step.reused ? { reused: true } : {}),
        ...(step.cached ? { cached: true } : {}),
        fingerprint: step.fingerprint,
      });
    }
    return c.json({ stepId, workflow: ctx.show(found.run.workflow), history });
  });

  app.get('/api/runs/:id/events', async (c) => {
    const given = c.req.header('last-event-id') || c.req.query('after');
    const after = lastEventId(given);
    const { id, record } = await lookUp(c.req.param('id'));
    const managed = ctx.runs.get(id);
    if (managed) return follow(c, ctx.closing, (signal, send) => managed.log.follow(after, signal, (event) => send(event.frame)));
    const found = record ?? (await (await ctx.store()).getRun(id));
    if (!found) throw unknown();
    // Not in this server's memory (run elsewhere, or before a restart): made from the record, without ids —
    // their order is the record's, not the one a live stream had. A client that had a live stream (it sends
    // the id it got to) is given only how the run ended.
    const events = eventsOfRecord(found);
    const running = found.run.status === 'running';
    const shown = after > 0 && !running ? events.filter((event) => event.type === 'run:end') : events;
    return follow(c, ctx.closing, async (signal, send) => {
      if (running) await send(`retry: ${FOREIGN_RETRY_MS}\n\n`);
      await send(': made from the record: no ids (reconnecting replays it again)\n\n');
      for (const event of shown) {
        if (signal.aborted) return;
        await send(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      }
    });
  });

  app.post('/api/runs/:id/cancel', async (c) => {
    const { id, record } = await lookUp(c.req.param('id'));
    if (ctx.runs.cancel(id)) return c.json({ runId: id, status: 'cancelling' }, 202);
    if (!ctx.runs.get(id) && !record) throw unknown();
    const elsewhere = !ctx.runs.get(id) && record?.run.status === 'running';
    throw new HttpError(409, elsewhere ? 'the run is not running on this server' : 'the run has ended', {
      hint: elsewhere ? 'it runs in another process (`conductor run` or another server): stop it there' : `POST /api/runs/${id}/resume runs what it left undone`,
    });
  });

  app.post('/api/runs/:id/resume', async (c) => {
    const body = await readBody(c.req.raw, ResumeBody, '{"from": "summarise", "inputs": {"apiToken": "…"}}');
    const { id, record: found } = await lookUp(c.req.param('id'));
    if (ctx.runs.running(id)) throw new HttpError(409, 'the run is still running', { hint: `cancel it first (POST /api/runs/${id}/cancel), or wait for it to end` });
    const record = found ?? (await (await ctx.store()).getRun(id));
    if (!record) throw unknown();
    if (record.run.status === 'running') throw new HttpError(409, 'the run is still running in another process', { hint: 'stop it there first, or wait for it to end' });
    const posted = isPosted(record.run.workflow, ctx.postedRoot);
    // Its workflow must be one this server serves: a file under the root (checked again now: a symlink may
    // have changed), or one a client posted.
    if (!posted) {
      const shown = ctx.show(record.run.workflow);
      if (shown === record.run.workflow) throw new HttpError(403, "the run's workflow is not a file under this server's root", { hint: `resume it where it was run: conductor resume ${record.run.id.slice(0, 8)}` });
      await confine(ctx.root, shown);
    }
    const settings: RunSettingsGiven = { ...recordedSettings(record.run), ...settingsOf(body) };
    const show = posted ? showPosted : ctx.show;
    const runId = await started(async () => {
      const planned = await planResumeOf({
        record,
        given: body.inputs ?? {},
        from: body.from,
        prepare: (spec, inputs) => ctx.runs.prepare(spec, inputs, settings),
        load: { actions: ctx.actions },
        giveAgain: (names) => `\`inputs\` in the request: ${JSON.stringify(Object.fromEntries(names.map((name) => [name, '…'])))}`,
      });
      if (posted) {
        const local = postedProblems(planned.spec, ctx.actions);
        if (local.length) throw new WorkflowInvalidError(local);
      }
      return ctx.runs.start(planned.prepared, settings, { resumedFrom: record.run.id, reuse: planned.plan.reuse, reuseItems: planned.plan.reuseItems });
    }, show);
    return c.json({ runId, resumedFrom: record.run.id }, 202, { location: `/api/runs/${runId}` });
  });
}

function settingsOf(body: { maxConcurrency?: number | undefined; model?: string | undefined; maxCost?: number | undefined }): RunSettingsGiven {
  return { ...(body.maxConcurrency === undefined ? {} : { maxConcurrency: body.maxConcurrency }), ...(body.model ? { model: body.model } : {}), ...(body.maxCost === undefined ? {} : { maxCost: body.maxCost }) };
}

/** A run started, or the refusal `conductor run` would exit 2 with, as a 422 (located problems) or a 400. */
async function started<T>(start: () => Promise<T>, show: (file: string) => string): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if (error instanceof WorkflowInvalidError) {
      throw new HttpError(422, 'the run cannot start', { hint: 'fix the problems listed', extra: { problems: diagnosticsJson(shownDiagnostics({ problems: [...error.diagnostics], warnings: [] }, show)) } });
    }
    if (error instanceof UsageError) throw new HttpError(400, error.message, error.hint ? { hint: error.hint } : {});
    throw error;
  }
}

/** How many of the newest runs a step's history looks through, and the most entries it gives. */
const HISTORY_WINDOW = 2000;
const HISTORY_MAX = 50;

function lastEventId(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  if (!/^\d{1,15}$/.test(text)) throw new HttpError(400, '`Last-Event-ID` must be a whole number (an event id this stream sent)', { hint: 'leave it out to get every event from the start' });
  return Number(text);
}

/**
 * A Server-Sent Events response written by `produce`, which sends each message (awaited: the client's pace) until
 * it is done, the client goes, or the server shuts down (`closing`).
 */
function follow(c: Context, closing: AbortSignal, produce: (signal: AbortSignal, send: (text: string) => Promise<unknown>) => Promise<void>): Response {
  c.header('cache-control', 'no-cache');
  c.header('x-accel-buffering', 'no');
  return streamSSE(c, async (stream) => {
    const gone = new AbortController();
    stream.onAbort(() => gone.abort());
    const signal = AbortSignal.any([gone.signal, closing]);
    const keepalive = setInterval(() => void stream.write(': alive\n\n'), KEEPALIVE_MS);
    try {
      // `write` (not hono's writeSSE, which awaits before it queues) resolves once the client's side has taken it.
      await produce(signal, (text) => stream.write(text));
    } finally {
      clearInterval(keepalive);
    }
  });
}

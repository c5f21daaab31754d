// A run as the page holds it, and how each event of its stream changes it. Pure functions over plain data
// (no DOM), so they can be tested without a browser; the state is replaced, never changed in place, which is
// what lets Preact see a change.

const FINAL = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);
export const RUN_FINAL = new Set(['succeeded', 'failed', 'cancelled', 'budget_exceeded', 'interrupted']);

const iso = (at) => (at === undefined || at === null ? undefined : new Date(at).toISOString());
const defined = (object) => Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));

/** The page's run from `GET /api/runs/{id}` (the report shape, steps keyed by id) or a `run:end` report. */
export function normalizeRun(body) {
  const steps = {};
  for (const [id, step] of Object.entries(body?.steps ?? {})) steps[id] = { ...step, dependsOn: Array.isArray(step.dependsOn) ? step.dependsOn : [] };
  const order = Object.keys(steps);
  return withCounts({
    ...body,
    runId: body?.runId,
    status: body?.status ?? 'running',
    steps,
    order,
  });
}

function withCounts(state) {
  const done = state.order.filter((id) => FINAL.has(state.steps[id]?.status)).length;
  return { ...state, stepCount: Math.max(state.stepCount ?? 0, state.order.length), stepsDone: done };
}

function setStep(state, id, change) {
  const before = state.steps[id] ?? { status: 'pending', dependsOn: [] };
  const steps = { ...state.steps, [id]: change(before) };
  const order = state.order.includes(id) ? state.order : [...state.order, id];
  return withCounts({ ...state, steps, order });
}

function setItem(step, index, change) {
  const items = [...(step.items ?? [])];
  items[index] = change(items[index] ?? { index, status: 'pending' });
  return { ...step, items };
}

/** What a step's or an item's end says about it. */
function endFields(e) {
  return defined({
    error: e.error,
    errorCode: e.errorCode,
    hint: e.hint,
    errorDetail: e.errorDetail,
    attempts: e.attempts,
    durationMs: e.durationMs,
    output: e.output,
    input: e.input,
    properties: e.properties,
    usage: e.usage,
    costUsd: e.costUsd,
    cached: e.cached,
    reused: e.reused,
    redacted: e.redacted,
    worker: e.worker,
  });
}

/** The run after one event of its stream (src/core/events.ts). Unknown events change nothing. */
export function applyEvent(state, type, e) {
  switch (type) {
    case 'run:start': {
      let next = { ...state, status: 'running', runId: state.runId ?? e.runId, workflow: state.workflow ?? e.workflow, inputs: state.inputs ?? e.inputs };
      for (const id of e.stepIds ?? []) if (!next.steps[id]) next = setStep(next, id, (s) => s);
      return next;
    }
    case 'step:start':
      return setStep(state, e.stepId, (s) => {
        const { error, errorCode, hint, errorDetail, finishedAt, output, ...rest } = s;
        return { ...rest, status: 'running', startedAt: iso(e.at) };
      });
    case 'step:notice':
      return setStep(state, e.stepId, (s) => ({ ...s, notice: e.notice }));
    case 'step:items':
      return setStep(state, e.stepId, (s) => ({
        ...s,
        itemCount: e.count,
        items: Array.from({ length: e.count }, (_, index) => s.items?.[index] ?? { index, status: 'pending' }),
      }));
    case 'item:start':
      return setStep(state, e.stepId, (s) => setItem(s, e.index, (i) => ({ index: e.index, status: 'running', startedAt: iso(e.at), attempts: i.attempts })));
    case 'item:end':
      return setStep(state, e.stepId, (s) => setItem(s, e.index, (i) => ({ ...i, ...endFields(e), index: e.index, status: e.status, finishedAt: iso(e.at) })));
    case 'step:end':
      return setStep(state, e.stepId, (s) => {
        const { notice, ...rest } = s;
        let items = rest.items;
        if (Array.isArray(e.items)) items = e.items.map((summary) => ({ ...(rest.items?.[summary.index] ?? {}), ...summary }));
        const startedAt = rest.startedAt ?? (e.durationMs !== undefined ? iso(e.at - e.durationMs) : undefined);
        return defined({ ...rest, ...endFields(e), status: e.status, skipReason: e.skipReason, continued: e.continued, items, startedAt, finishedAt: iso(e.at) });
      });
    case 'run:end': {
      const report = normalizeRun(e.report ?? {});
      // The event's report is the engine's: it has no `dependsOn` or items beyond the summaries, which the
      // page already has from the record and the events.
      const steps = { ...report.steps };
      for (const id of Object.keys(steps)) {
        const before = state.steps[id] ?? {};
        steps[id] = {
          ...before,
          ...steps[id],
          dependsOn: steps[id].dependsOn.length ? steps[id].dependsOn : (before.dependsOn ?? []),
          items: steps[id].items ?? before.items,
        };
      }
      const order = state.order.length ? [...state.order, ...report.order.filter((id) => !state.order.includes(id))] : report.order;
      return withCounts({ ...state, ...report, steps, order, live: false });
    }
    default:
      return state;
  }
}

/** Tokens the run used so far: the sum over its steps. */
export function runTokens(state) {
  let input = 0;
  let output = 0;
  let any = false;
  for (const id of state.order) {
    const u = state.steps[id]?.usage;
    if (!u) continue;
    any = true;
    input += u.inputTokens ?? 0;
    output += u.outputTokens ?? 0;
  }
  return any ? { inputTokens: input, outputTokens: output } : undefined;
}

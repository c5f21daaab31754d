// A run's page: its graph, timeline and the open step, kept live by the run's event stream; cancel while it
// runs, resume when it did not finish.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { api, followEvents } from './api.js';
import { applyEvent, normalizeRun, RUN_FINAL, runTokens } from './model.js';
import { baseName, cost, duration, ms, statusLabel, tokens, when } from './format.js';
import { criticalPath, Graph } from './graph.js';
import { Timeline } from './timeline.js';
import { Folded, StepPanel } from './panel.js';
import { ErrorBox } from './errors.js';

const POLL_MS = 2000;
const RESUMABLE = new Set(['failed', 'cancelled', 'interrupted', 'budget_exceeded']);

function useNow(active) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

/** The run, from its record and then its events; polled instead when the server has no stream for it. */
function useRun(id) {
  const [run, setRun] = useState();
  const [error, setError] = useState();
  const [stream, setStream] = useState('');
  useEffect(() => {
    let stopped = false;
    let stop = () => {};
    let timer;
    const load = async () => normalizeRun(await api(`/api/runs/${encodeURIComponent(id)}`));
    const poll = async () => {
      try {
        const next = await load();
        if (stopped) return;
        setRun(next);
        if (!RUN_FINAL.has(next.status)) timer = setTimeout(poll, POLL_MS);
      } catch (e) {
        if (!stopped) setError(e);
      }
    };
    setRun(undefined);
    setError(undefined);
    (async () => {
      let first;
      try {
        first = await load();
      } catch (e) {
        if (!stopped) setError(e);
        return;
      }
      if (stopped) return;
      setRun(first);
      if (RUN_FINAL.has(first.status)) return;
      stop = followEvents(id, {
        onEvent(type, data) {
          setRun((state) => applyEvent(state, type, data));
          // The engine's report has no `dependsOn` or item outputs: the record has them once it is written.
          if (type === 'run:end') load().then((r) => !stopped && setRun((state) => ({ ...r, order: state.order.length >= r.order.length ? state.order : r.order })), () => {});
        },
        onState({ state }) {
          if (stopped) return;
          setStream(state);
          // No stream for this run here (an older server, a run another process owns): poll its record.
          if (state === 'refused') timer = setTimeout(poll, POLL_MS);
          // A stream that ended without `run:end` (the server restarted, the run's process died): the record
          // says whether there is anything left to wait for.
          if (state === 'reconnecting') {
            load().then((r) => {
              if (stopped || !RUN_FINAL.has(r.status)) return;
              stop();
              setRun(r);
            }, () => {});
          }
        },
      });
    })();
    return () => {
      stopped = true;
      stop();
      clearTimeout(timer);
    };
  }, [id]);
  return { run, setRun, error, stream };
}

export function RunPage({ id, navigate }) {
  const { run, error, stream } = useRun(id);
  const [selected, setSelected] = useState();
  const [action, setAction] = useState({ busy: false });
  const running = run && !RUN_FINAL.has(run.status);
  const now = useNow(running);
  const critical = useMemo(() => (run ? criticalPath(run.order, run.steps, now) : []), [run, now]);
  const panelRef = useRef();

  useEffect(() => {
    if (selected) panelRef.current?.querySelector('h2')?.focus?.();
  }, [selected]);

  if (error) return html`<h1 tabindex="-1">Run ${id}</h1><${ErrorBox} error=${error} />`;
  if (!run) return html`<h1 tabindex="-1">Run ${id}</h1><p class="muted" role="status">Loading the run…</p>`;

  const cancel = async () => {
    setAction({ busy: true });
    try {
      await api(`/api/runs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
      setAction({ busy: false, said: 'Cancelling…' });
    } catch (e) {
      setAction({ busy: false, error: e });
    }
  };
  const resume = async (body) => {
    setAction({ busy: true });
    try {
      const answer = await api(`/api/runs/${encodeURIComponent(id)}/resume`, { method: 'POST', body });
      setAction({ busy: false });
      navigate(`#/runs/${encodeURIComponent(answer.runId)}`);
    } catch (e) {
      setAction({ busy: false, error: e, resuming: true });
    }
  };
  const elapsed = run.durationMs ?? (ms(run.startedAt) !== undefined ? (ms(run.finishedAt) ?? now) - ms(run.startedAt) : undefined);
  const used = runTokens(run);
  const open = (stepId) => setSelected(selected === stepId ? undefined : stepId);

  return html`
    <div class="run-head">
      <h1 tabindex="-1">Run of <span title=${run.workflow}>${baseName(run.workflow)}</span></h1>
      <div class="actions">
        ${running && run.live !== false && html`<button type="button" class="danger" onClick=${cancel} disabled=${action.busy || action.said}>Cancel run</button>`}
        ${RESUMABLE.has(run.status) && !action.resuming && html`<button type="button" onClick=${() => setAction({ resuming: true })} disabled=${action.busy}>Resume run…</button>`}
      </div>
    </div>
    ${RESUMABLE.has(run.status) && action.resuming && html`<${ResumeForm} run=${run} busy=${action.busy} onResume=${resume} onCancel=${() => setAction({})} />`}
    <p class=${`run-status status status-${run.status}`} role="status" aria-live="polite" data-testid="run-status">
      ${statusLabel(run.status)}${action.said && running ? ` · ${action.said}` : ''}${stream === 'reconnecting' ? ' · reconnecting…' : ''}
    </p>
    ${action.error && html`<${ErrorBox} error=${action.error} />`}
    ${run.error && html`<div class="problem"><p class="error">${run.error}</p>${run.hint && html`<p class="hint">hint: ${run.hint}</p>`}</div>`}
    <dl class="fields summary">
      <div class="field"><dt>Run</dt><dd><code>${run.runId ?? id}</code></dd></div>
      <div class="field"><dt>Started</dt><dd>${when(run.startedAt)}</dd></div>
      <div class="field"><dt>Duration</dt><dd>${duration(elapsed)}</dd></div>
      <div class="field"><dt>Steps</dt><dd>${run.stepsDone}/${run.stepCount} done</dd></div>
      <div class="field"><dt>Tokens</dt><dd>${tokens(used)}</dd></div>
      <div class="field"><dt>Cost</dt><dd>${cost(run.cost?.usd)}</dd></div>
      ${run.workflowPath && html`<div class="field"><dt>Workflow</dt><dd><a href=${`#/workflows/${run.workflowPath.split('/').map(encodeURIComponent).join('/')}`}>${run.workflowPath}</a></dd></div>`}
      ${run.resumedFrom && html`<div class="field"><dt>Resumed from</dt><dd><a href=${`#/runs/${encodeURIComponent(run.resumedFrom)}`}>${run.resumedFrom}</a></dd></div>`}
    </dl>
    <div class=${`run-body${selected ? ' with-panel' : ''}`}>
      <section class="graph-box" aria-labelledby="graph-title">
        <h2 id="graph-title">Graph</h2>
        <p class="muted small">Select a step (click, or Tab to it and press Enter) to see its output.</p>
        <${Graph} order=${run.order} steps=${run.steps} critical=${critical} selected=${selected} onSelect=${open} />
        <h2>Timeline</h2>
        <${Timeline} order=${run.order} steps=${run.steps} startedAt=${run.startedAt} finishedAt=${run.finishedAt} now=${now} onSelect=${open} />
        ${run.inputs && Object.keys(run.inputs).length > 0 && html`<h2>Inputs</h2><${Folded} value=${run.inputs} label="Inputs of the run" />`}
        ${run.outputs && Object.keys(run.outputs).length > 0 && html`<h2>Outputs</h2>
          ${Object.entries(run.outputs).map(([name, value]) => html`<h3 key=${name}>${name}</h3><${Folded} value=${value} label=${`Output ${name} of the run`} />`)}`}
      </section>
      ${selected && html`<div ref=${panelRef} class="panel-box"><${StepPanel} id=${selected} runId=${run.runId ?? id} step=${run.steps[selected]} onClose=${() => setSelected(undefined)} /></div>`}
    </div>`;
}

/**
 * What a resume may be told: the step to re-run from (with everything after it), and the run's secret inputs,
 * which its record does not keep (`***`) and must be given again. Everything else is the run's own.
 */
function ResumeForm({ run, busy, onResume, onCancel }) {
  const [from, setFrom] = useState('');
  const [secrets, setSecrets] = useState({});
  const names = run.secretInputs ?? [];
  const submit = (e) => {
    e.preventDefault();
    const inputs = Object.fromEntries(Object.entries(secrets).filter(([, value]) => value !== ''));
    onResume({ ...(from ? { from } : {}), ...(Object.keys(inputs).length ? { inputs } : {}) });
  };
  return html`
    <form class="resume-form" onSubmit=${submit} aria-label="Resume the run">
      <h2>Resume</h2>
      <p class="muted small">What succeeded is reused; what did not runs again.</p>
      <label>Re-run from step
        <select value=${from} onChange=${(e) => setFrom(e.currentTarget.value)}>
          <option value="">— only what did not succeed —</option>
          ${run.order.map((stepId) => html`<option key=${stepId} value=${stepId}>${stepId}</option>`)}
        </select>
      </label>
      ${names.map((name) => html`
        <label key=${name}>${name} <span class="muted small">(secret: the record does not keep it)</span>
          <input type="password" autocomplete="off" value=${secrets[name] ?? ''} onInput=${(e) => setSecrets({ ...secrets, [name]: e.currentTarget.value })} />
        </label>`)}
      <div class="actions">
        <button type="submit" disabled=${busy}>Resume run</button>
        <button type="button" onClick=${onCancel} disabled=${busy}>Cancel</button>
      </div>
    </form>`;
}

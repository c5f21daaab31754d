// The recorded runs, newest first, polled every 2 s while any of them runs (every 10 s otherwise, to see new
// ones started elsewhere).
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { api } from './api.js';
import { baseName, cost, duration, statusLabel, tokens, when } from './format.js';
import { ErrorBox } from './errors.js';

const PAGE = 50;
const STATUSES = ['running', 'succeeded', 'failed', 'cancelled', 'budget_exceeded', 'interrupted'];

export function RunsPage({ workflow = '' }) {
  const [status, setStatus] = useState('');
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState();
  const [error, setError] = useState();
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    let stopped = false;
    let timer;
    const load = async () => {
      try {
        const query = new URLSearchParams({ limit: String(PAGE), offset: String(offset), ...(status ? { status } : {}), ...(workflow ? { workflow } : {}) });
        const body = await api(`/api/runs?${query}`);
        if (stopped) return;
        setPage(body);
        setError(undefined);
        setNow(Date.now());
        timer = setTimeout(load, body.runs.some((r) => r.status === 'running') ? 2000 : 10000);
      } catch (e) {
        if (stopped) return;
        setError(e);
        if (e.status !== 401) timer = setTimeout(load, 10000);
      }
    };
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [status, offset, workflow]);

  return html`
    <div class="page-head">
      <h1 tabindex="-1">Runs${workflow ? html` of <code>${workflow}</code>` : ''}</h1>
      <span class="links">${workflow && html`<a href="#/runs">All runs</a>`}<a class="button" href="#/workflows">Start a run</a></span>
    </div>
    <label class="inline">Status
      <select value=${status} onChange=${(e) => (setStatus(e.currentTarget.value), setOffset(0))}>
        <option value="">any</option>
        ${STATUSES.map((s) => html`<option value=${s}>${s.replace('_', ' ')}</option>`)}
      </select>
    </label>
    <${ErrorBox} error=${error} />
    ${page && page.runs.length === 0 && html`<p class="muted">No runs${status ? ` with status ${status}` : ''} yet. <a href="#/workflows">Start one.</a></p>`}
    ${page && page.runs.length > 0 && html`
      <table class="runs">
        <caption class="visually-hidden">Recorded runs, newest first</caption>
        <thead><tr><th scope="col">Status</th><th scope="col">Workflow</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Steps</th><th scope="col">Tokens</th><th scope="col">Cost</th></tr></thead>
        <tbody>
          ${page.runs.map((r) => html`
            <tr key=${r.id} data-run=${r.id} class=${`status-${r.status}`}>
              <td data-label="Status"><a href=${`#/runs/${encodeURIComponent(r.id)}`} class=${`status status-${r.status}`} aria-label=${`${statusLabel(r.status)}: run of ${baseName(r.workflow)} started ${when(r.startedAt)}`}>${statusLabel(r.status)}</a></td>
              <td data-label="Workflow" title=${r.workflow}>${baseName(r.workflow)}</td>
              <td data-label="Started">${when(r.startedAt)}</td>
              <td data-label="Duration">${duration((r.finishedAt ?? now) - r.startedAt)}</td>
              <td data-label="Steps">${r.stepsDone}/${r.stepCount}${r.stepsSkipped ? ` (${r.stepsSkipped} skipped)` : ''}</td>
              <td data-label="Tokens">${tokens(r.usage ?? r.tokens)}</td>
              <td data-label="Cost">${cost(r.costUsd)}</td>
            </tr>`)}
        </tbody>
      </table>
      <nav class="pager" aria-label="Pages of runs">
        ${offset > 0 && html`<button type="button" onClick=${() => setOffset(Math.max(0, offset - PAGE))}>Newer</button>`}
        <span class="muted">${offset + 1}–${offset + page.runs.length}${page.total !== undefined ? ` of ${page.total}` : ''}</span>
        ${(page.total === undefined ? page.runs.length === PAGE : offset + PAGE < page.total) && html`<button type="button" onClick=${() => setOffset(offset + PAGE)}>Older</button>`}
      </nav>`}`;
}

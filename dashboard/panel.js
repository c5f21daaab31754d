// One step, opened from the graph: what it was given, what it made, how it failed and what to do, what it
// cost; a foreach step lists its items. Outputs are untrusted model text: shown as text, never as HTML.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { api } from './api.js';
import { ErrorBox } from './errors.js';
import { cost, duration, statusLabel, tokens, when } from './format.js';

const FOLD_CHARS = 1500;
const FOLD_LINES = 24;
const ITEMS_PAGE = 100;

/** A value as text: strings as they are, anything else as indented JSON. */
export function asText(value) {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Long text folded to its start, with a button that shows all of it. */
export function Folded({ value, label }) {
  const [all, setAll] = useState(false);
  const text = asText(value);
  const lines = text.split('\n');
  const long = text.length > FOLD_CHARS || lines.length > FOLD_LINES;
  const shown = !long || all ? text : lines.slice(0, FOLD_LINES).join('\n').slice(0, FOLD_CHARS);
  return html`
    <div class="folded">
      <pre class="value" aria-label=${label} tabindex="0">${shown}${long && !all ? '\n…' : ''}</pre>
      ${long && html`<button type="button" onClick=${() => setAll(!all)} aria-expanded=${all ? 'true' : 'false'}>
        ${all ? 'Show less' : `Show all (${text.length.toLocaleString('en-US')} characters)`}
      </button>`}
    </div>`;
}

function Field({ name, children }) {
  return html`<div class="field"><dt>${name}</dt><dd>${children}</dd></div>`;
}

function Items({ items }) {
  const [failedOnly, setFailedOnly] = useState(false);
  const [limit, setLimit] = useState(ITEMS_PAGE);
  const [open, setOpen] = useState(undefined);
  const list = items.filter((i) => i && (!failedOnly || i.status === 'failed'));
  const failed = items.filter((i) => i?.status === 'failed').length;
  return html`
    <section class="items" aria-label="Items">
      <h3>Items (${items.length}${failed ? `, ${failed} failed` : ''})</h3>
      ${failed > 0 && html`<label class="check"><input type="checkbox" checked=${failedOnly} onChange=${(e) => setFailedOnly(e.currentTarget.checked)} /> Only failed items</label>`}
      <ol class="item-list">
        ${list.slice(0, limit).map((item) => html`
          <li key=${item.index} class=${`status-${item.status}`}>
            <button type="button" class="link" aria-expanded=${open === item.index ? 'true' : 'false'} onClick=${() => setOpen(open === item.index ? undefined : item.index)}>
              #${item.index} — ${statusLabel(item.status)}${item.durationMs !== undefined ? ` · ${duration(item.durationMs)}` : ''}${item.attempts > 1 ? ` · ${item.attempts} attempts` : ''}
            </button>
            ${item.error && html`<p class="error">${item.error}</p>`}
            ${item.hint && html`<p class="hint">hint: ${item.hint}</p>`}
            ${open === item.index && html`
              <dl class="fields">
                ${item.worker && html`<${Field} name="Worker">${item.worker}<//>`}
                ${item.costUsd !== undefined && html`<${Field} name="Cost">${cost(item.costUsd)}<//>`}
                ${item.usage && html`<${Field} name="Tokens">${tokens(item.usage)}<//>`}
              </dl>
              ${item.input !== undefined && html`<${Folded} value=${item.input} label=${`Input of item ${item.index}`} />`}
              ${item.output !== undefined ? html`<${Folded} value=${item.output} label=${`Output of item ${item.index}`} />` : html`<p class="muted">No output recorded for this item.</p>`}`}
          </li>`)}
      </ol>
      ${list.length > limit && html`<button type="button" onClick=${() => setLimit(limit + ITEMS_PAGE)}>Show ${Math.min(ITEMS_PAGE, list.length - limit)} more items</button>`}
    </section>`;
}

/**
 * The step in this run and in the workflow's runs before it (GET /api/runs/{id}/steps/{step}/history): did it
 * always fail, or start to? An entry whose fingerprint differs from this run's ran a different definition.
 */
function History({ runId, stepId, final }) {
  const [answer, setAnswer] = useState();
  const [error, setError] = useState();
  useEffect(() => {
    if (!final) return undefined;
    const control = new AbortController();
    setAnswer(undefined);
    setError(undefined);
    api(`/api/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(stepId)}/history?limit=10`, { signal: control.signal }).then(setAnswer, (e) => e?.name !== 'AbortError' && setError(e));
    return () => control.abort();
  }, [runId, stepId, final]);
  if (!final) return null;
  const entries = answer?.history ?? [];
  const mine = entries.find((h) => h.runId === runId)?.fingerprint;
  return html`
    <section class="history" aria-label=${`History of ${stepId}`}>
      <h3>History</h3>
      ${error && html`<${ErrorBox} error=${error} />`}
      ${answer && entries.length <= 1 && html`<p class="muted">No earlier run of this workflow ran this step.</p>`}
      ${entries.length > 1 && html`
        <ol class="history-list">
          ${entries.map((h) => html`
            <li key=${h.runId} class=${`status-${h.status}`}>
              ${h.runId === runId ? html`<strong>this run</strong>` : html`<a href=${`#/runs/${encodeURIComponent(h.runId)}`}>${when(h.startedAt)}</a>`}
              ${' '}<span class="status">${statusLabel(h.status)}</span>
              ${h.durationMs !== undefined ? ` · ${duration(h.durationMs)}` : ''}${h.attempts > 1 ? ` · ${h.attempts} attempts` : ''}${h.costUsd !== undefined ? ` · ${cost(h.costUsd)}` : ''}${h.reused ? ' · reused' : ''}${h.cached ? ' · cached' : ''}${mine && h.fingerprint !== mine ? ' · a different definition' : ''}
              ${h.error && html`<div class="error">${h.error}</div>`}
            </li>`)}
        </ol>`}
    </section>`;
}

const STEP_FINAL = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);

export function StepPanel({ id, step, onClose, runId }) {
  if (!step) return null;
  const input = step.input;
  return html`
    <section class="panel" aria-labelledby="panel-title">
      <header class="panel-head">
        <h2 id="panel-title" tabindex="-1">Step ${id}</h2>
        <button type="button" onClick=${onClose} aria-label=${`Close step ${id}`}>Close</button>
      </header>
      <p class=${`status status-${step.status}`} data-testid="step-status">${statusLabel(step.status)}${step.skipReason ? ` (${step.skipReason})` : ''}${step.reused ? ' · reused from the earlier run' : ''}${step.cached ? ' · from the cache' : ''}${step.continued ? ' · continued on error' : ''}</p>
      ${step.notice?.type === 'waiting' && html`<p class="notice">waiting: ${step.notice.reason}</p>`}
      ${step.error && html`<div class="problem" role="alert"><p class="error">${step.error}${step.errorCode ? ` (${step.errorCode})` : ''}</p>${step.hint && html`<p class="hint">hint: ${step.hint}</p>`}</div>`}
      ${step.errorDetail && html`<h3>Error detail</h3><${Folded} value=${step.errorDetail} label="Error detail" />`}
      <dl class="fields">
        <${Field} name="Depends on">${step.dependsOn?.length ? step.dependsOn.join(', ') : 'nothing'}<//>
        <${Field} name="Started">${when(step.startedAt)}<//>
        <${Field} name="Duration">${duration(step.durationMs)}<//>
        <${Field} name="Attempts">${step.attempts ?? '—'}<//>
        <${Field} name="Tokens">${tokens(step.usage)}${step.usage?.model ? ` · ${step.usage.model}` : ''}<//>
        <${Field} name="Cost">${cost(step.costUsd)}<//>
        ${step.worker && html`<${Field} name="Worker">${step.worker}<//>`}
      </dl>
      ${input !== undefined && html`<h3>Input</h3><${Folded} value=${input} label="Resolved input" />`}
      <h3>Output</h3>
      ${step.output !== undefined && step.output !== null ? html`<${Folded} value=${step.output} label=${`Output of ${id}`} />` : html`<p class="muted">${step.status === 'running' || step.status === 'pending' ? 'Not finished yet.' : 'No output.'}</p>`}
      ${step.redacted && html`<p class="muted">A secret was masked in this output.</p>`}
      ${Array.isArray(step.items) && step.items.length > 0 && html`<${Items} items=${step.items} />`}
      ${runId && html`<${History} runId=${runId} stepId=${id} final=${STEP_FINAL.has(step.status)} />`}
    </section>`;
}

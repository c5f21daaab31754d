// A refusal from the API as the reader needs it: the message, the hint, and each located problem of an
// invalid workflow as `file:line:col message` (what `conductor validate` prints).
import { html } from './html.js';

export const located = (p) => `${p.file ?? ''}${p.line ? `:${p.line}` : ''}${p.column ? `:${p.column}` : ''}`;

export function Problems({ problems }) {
  return html`
    <ul class="problems">
      ${problems.map((p, i) => html`
        <li key=${i}>
          <code>${located(p)}</code> ${p.message}${p.code ? html` <span class="muted">(${p.code})</span>` : ''}
          ${p.hint && html`<div class="hint">hint: ${p.hint}</div>`}
        </li>`)}
    </ul>`;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`
    <div class="problem" role="alert">
      <p class="error">${error.message ?? String(error)}${error.status ? html` <span class="muted">(HTTP ${error.status})</span>` : ''}</p>
      ${error.hint && html`<p class="hint">hint: ${error.hint}</p>`}
      ${error.problems?.length > 0 && html`<${Problems} problems=${error.problems} />`}
    </div>`;
}

// The workflow files under the server's root, a workflow's plan before it runs, and the form that starts it
// (its fields made from the workflow's declared `inputs`).
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { api, workflowUrl } from './api.js';
import { duration } from './format.js';
import { ErrorBox } from './errors.js';
import { Graph } from './graph.js';

export function WorkflowsPage() {
  const [list, setList] = useState();
  const [error, setError] = useState();
  useEffect(() => {
    api('/api/workflows').then(setList, setError);
  }, []);
  return html`
    <h1 tabindex="-1">Workflows</h1>
    <p class="muted">Workflow files under the server's root. Pick one to see its plan and start it.</p>
    <${ErrorBox} error=${error} />
    ${list && list.workflows.length === 0 && html`<p class="muted">No workflow files (.yaml, .yml) under the root.</p>`}
    ${list && html`
      <ul class="workflows">
        ${list.workflows.map((w) => html`
          <li key=${w.path}>
            <a href=${`#/workflows/${w.path.split('/').map(encodeURIComponent).join('/')}`}>${w.path}</a>
            ${w.valid
              ? html` <span class="status status-succeeded">✓ valid${w.warnings ? `, ${w.warnings} warning${w.warnings === 1 ? '' : 's'}` : ''}</span>`
              : html` <span class="status status-failed">✗ ${w.problems} problem${w.problems === 1 ? '' : 's'} — cannot be started</span>`}
          </li>`)}
      </ul>
      ${list.truncated && html`<p class="muted">The list stops here: the root holds more files than the server looks through.</p>`}`}`;
}

export function WorkflowPage({ path, navigate }) {
  const [plan, setPlan] = useState();
  const [error, setError] = useState();
  useEffect(() => {
    setPlan(undefined);
    setError(undefined);
    api(`${workflowUrl(path)}/plan`).then(setPlan, setError);
  }, [path]);
  return html`
    <h1 tabindex="-1">Workflow <code>${path}</code></h1>
    <p class="links"><a href="#/workflows">All workflows</a> <a href=${`#/runs?workflow=${encodeURIComponent(path)}`}>Runs of this workflow</a></p>
    <${ErrorBox} error=${error} />
    ${error?.status === 422 && html`<p class="muted">This workflow cannot be started until the problems above are fixed.</p>`}
    ${plan && html`<${StartForm} path=${path} plan=${plan} navigate=${navigate} /><${Plan} plan=${plan} />`}`;
}

/** A planned step's node: its action, `foreach ×N`, and the time earlier runs lead the plan to expect. */
const planDetail = (step) =>
  [step.action, step.foreach ? `foreach${step.foreach.count !== undefined ? ` ×${step.foreach.count}` : ''}` : '', step.expectedMs !== undefined ? `~${duration(step.expectedMs)}` : ''].filter(Boolean).join(' · ');

function Plan({ plan }) {
  const order = Object.keys(plan.steps);
  const steps = Object.fromEntries(order.map((id) => [id, { ...plan.steps[id], status: 'pending' }]));
  const calls = Object.entries(plan.calls ?? {}).filter(([k, v]) => k !== 'perItem' && v > 0);
  return html`
    <section aria-labelledby="plan-title">
      <h2 id="plan-title">Plan</h2>
      <${Graph} order=${order} steps=${steps} critical=${plan.criticalPath} label="Steps of the workflow" detail=${planDetail} />
      <h3>Stages</h3>
      <ol class="stages">
        ${plan.stages.map((stage, i) => html`<li key=${i}>${stage.join(', ')}${stage.length > 1 ? html` <span class="muted">(in parallel)</span>` : ''}</li>`)}
      </ol>
      <dl class="fields">
        <div class="field"><dt>Critical path</dt><dd>${plan.criticalPath.join(' → ')}${plan.expected ? ` (about ${duration(plan.expected.criticalPathMs)})` : ''}</dd></div>
        <div class="field"><dt>Concurrency</dt><dd>up to ${plan.effectiveConcurrency} at once (limit ${plan.maxConcurrency})</dd></div>
        <div class="field"><dt>Calls</dt><dd>${calls.length ? calls.map(([k, v]) => `${v} ${k}`).join(', ') : 'none'}${plan.calls?.perItem?.length ? ` + per item of ${plan.calls.perItem.map((p) => p.of ?? p.step).join(', ')}` : ''}</dd></div>
        ${plan.expected && html`<div class="field"><dt>Expected time</dt><dd>about ${duration(plan.expected.ms)}</dd></div>`}
      </dl>
      <table class="plan-steps">
        <caption class="visually-hidden">Steps of the plan</caption>
        <thead><tr><th scope="col">Step</th><th scope="col">Action</th><th scope="col">Depends on</th><th scope="col">Notes</th></tr></thead>
        <tbody>
          ${order.map((id) => {
            const s = plan.steps[id];
            const notes = [s.foreach ? `foreach${s.foreach.count !== undefined ? ` ×${s.foreach.count}` : ''}` : '', s.condition ? `if: ${s.condition}` : '', s.continueOnError ? 'continueOnError' : '', s.expectedMs !== undefined ? `about ${duration(s.expectedMs)}` : ''].filter(Boolean);
            return html`<tr key=${id}>
              <td data-label="Step">${id}</td>
              <td data-label="Action">${s.action}</td>
              <td data-label="Depends on">${s.reasons?.length ? s.reasons.map((r) => `${r.step} (${r.kind === 'depends_on' ? 'depends_on' : r.detail ?? r.kind})`).join(', ') : s.dependsOn.join(', ') || '—'}</td>
              <td data-label="Notes">${notes.join('; ') || '—'}</td>
            </tr>`;
          })}
        </tbody>
      </table>
    </section>`;
}

const text = (value) => (value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value, null, 2));

/** How an input's field reads and writes its value, by the input's declared type. */
function kind(type) {
  if (type === 'number' || type === 'integer') return 'number';
  if (type === 'boolean') return 'boolean';
  if (type === 'string' || type === undefined) return 'string';
  return 'json';
}

function StartForm({ path, plan, navigate }) {
  const inputs = plan.inputs ?? {};
  const names = Object.keys(inputs);
  const initial = () => Object.fromEntries(names.map((n) => [n, kind(inputs[n].type) === 'boolean' ? inputs[n].default === true : text(inputs[n].default)]));
  const [values, setValues] = useState(initial);
  const [maxConcurrency, setMaxConcurrency] = useState('');
  const [fieldErrors, setFieldErrors] = useState({});
  const [error, setError] = useState();
  const [busy, setBusy] = useState(false);
  useEffect(() => setValues(initial()), [path]);

  const submit = async (event) => {
    event.preventDefault();
    const given = {};
    const wrong = {};
    for (const name of names) {
      const spec = inputs[name];
      const value = values[name];
      switch (kind(spec.type)) {
        case 'boolean':
          given[name] = value === true;
          break;
        case 'number':
          if (value === '') break;
          if (!Number.isFinite(Number(value))) wrong[name] = 'expects a number';
          else given[name] = Number(value);
          break;
        case 'json':
          if (value.trim() === '') break;
          try {
            given[name] = JSON.parse(value);
          } catch (e) {
            wrong[name] = `is not valid JSON (${e.message})`;
          }
          break;
        default:
          if (value !== '') given[name] = value;
      }
      if (spec.required && given[name] === undefined && !wrong[name]) wrong[name] = 'is required';
    }
    const limit = maxConcurrency.trim();
    if (limit !== '' && !(Number.isInteger(Number(limit)) && Number(limit) >= 1)) wrong.maxConcurrency = 'expects a whole number ≥ 1';
    setFieldErrors(wrong);
    if (Object.keys(wrong).length) return;
    setBusy(true);
    setError(undefined);
    try {
      const answer = await api('/api/runs', { method: 'POST', body: { workflow: path, inputs: given, ...(limit !== '' ? { maxConcurrency: Number(limit) } : {}) } });
      navigate(`#/runs/${encodeURIComponent(answer.runId)}`);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };

  const set = (name, value) => setValues({ ...values, [name]: value });
  return html`
    <form class="start" onSubmit=${submit} aria-labelledby="start-title" novalidate>
      <h2 id="start-title">Start a run</h2>
      ${names.length === 0 && html`<p class="muted">This workflow declares no inputs.</p>`}
      ${names.map((name) => {
        const spec = inputs[name];
        const id = `input-${name}`;
        const k = kind(spec.type);
        const problem = fieldErrors[name];
        const describedBy = [spec.description ? `${id}-help` : '', problem ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
        const label = html`<label for=${id}>${name}${spec.required ? html` <span class="required">(required)</span>` : ''} <span class="muted">${spec.type ?? 'string'}</span></label>`;
        const common = { id, name, 'aria-describedby': describedBy, 'aria-invalid': problem ? 'true' : undefined, required: spec.required === true };
        return html`
          <div class=${`input input-${k}`} key=${name}>
            ${k === 'boolean'
              ? html`<input type="checkbox" ...${common} checked=${values[name] === true} onChange=${(e) => set(name, e.currentTarget.checked)} /> ${label}`
              : html`${label}${k === 'json'
                  ? html`<textarea ...${common} rows="4" value=${values[name]} onInput=${(e) => set(name, e.currentTarget.value)}></textarea>`
                  : html`<input type=${k === 'number' ? 'number' : 'text'} step=${k === 'number' ? 'any' : undefined} ...${common} value=${values[name]} onInput=${(e) => set(name, e.currentTarget.value)} />`}`}
            ${spec.description && html`<p class="help" id=${`${id}-help`}>${spec.description}</p>`}
            ${k === 'json' && html`<p class="help">JSON (a ${spec.type}).</p>`}
            ${problem && html`<p class="error" id=${`${id}-error`}>${name} ${problem}</p>`}
          </div>`;
      })}
      <div class="input">
        <label for="max-concurrency">Max concurrency <span class="muted">(optional; the workflow's is ${plan.maxConcurrency})</span></label>
        <input id="max-concurrency" type="number" min="1" step="1" value=${maxConcurrency} onInput=${(e) => setMaxConcurrency(e.currentTarget.value)}
               aria-describedby=${fieldErrors.maxConcurrency ? 'max-concurrency-error' : undefined} />
        ${fieldErrors.maxConcurrency && html`<p class="error" id="max-concurrency-error">Max concurrency ${fieldErrors.maxConcurrency}</p>`}
      </div>
      <${ErrorBox} error=${error} />
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Starting…' : 'Start run'}</button>
    </form>`;
}

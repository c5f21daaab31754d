// The dashboard's shell: hash routes (#/runs, #/runs/<id>, #/workflows, #/workflows/<path>), the token form a
// 401 opens, and the page each route shows.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { getToken, onAuth, setToken } from './api.js';
import { RunsPage } from './runs.js';
import { RunPage } from './run.js';
import { WorkflowPage, WorkflowsPage } from './workflows.js';

export function route(hash) {
  const [path, search = ''] = hash.replace(/^#\/?/, '').split('?');
  const query = new URLSearchParams(search);
  const [head, ...rest] = path.split('/');
  const tail = rest.map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  if (head === 'runs' && tail.length && tail[0]) return { page: 'run', id: tail[0] };
  if (head === 'workflows' && tail.length && tail[0]) return { page: 'workflow', path: tail.join('/') };
  if (head === 'workflows') return { page: 'workflows' };
  return { page: 'runs', workflow: query.get('workflow') ?? '' };
}

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return hash;
}

function TokenForm({ onSaved }) {
  const [value, setValue] = useState('');
  const input = useRef();
  useEffect(() => input.current?.focus(), []);
  const had = getToken() !== '';
  return html`
    <form class="token" onSubmit=${(e) => (e.preventDefault(), setToken(value.trim()), onSaved())} aria-labelledby="token-title">
      <h2 id="token-title">${had ? 'The server refused the token' : 'This server needs a token'}</h2>
      <p>It was started with <code>CONDUCTOR_SERVE_TOKEN</code>. The token is kept in this tab only (sessionStorage) and sent as a header, never in a URL.</p>
      <label for="token-field">Token</label>
      <input id="token-field" ref=${input} type="password" autocomplete="current-password" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} required />
      <button type="submit" class="primary">Use this token</button>
    </form>`;
}

function App() {
  const hash = useHash();
  const [needToken, setNeedToken] = useState(false);
  // Bumped when a token is saved: the page remounts and asks the API again.
  const [attempt, setAttempt] = useState(0);
  const main = useRef();
  useEffect(() => onAuth(setNeedToken), []);
  const where = route(hash);
  // A new page: move focus to its heading, so a screen reader and the keyboard start there.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.querySelector('h1')?.focus();
  }, [hash]);
  const navigate = (to) => {
    location.hash = to;
  };
  const key = `${hash}|${attempt}`;
  let page;
  switch (where.page) {
    case 'run':
      page = html`<${RunPage} key=${key} id=${where.id} navigate=${navigate} />`;
      break;
    case 'workflow':
      page = html`<${WorkflowPage} key=${key} path=${where.path} navigate=${navigate} />`;
      break;
    case 'workflows':
      page = html`<${WorkflowsPage} key=${key} />`;
      break;
    default:
      page = html`<${RunsPage} key=${key} workflow=${where.workflow} />`;
  }
  const current = (p) => (where.page === p || (p === 'workflows' && where.page === 'workflow') || (p === 'runs' && where.page === 'run') ? 'page' : undefined);
  return html`
    <a class="skip" href="#main" onClick=${(e) => (e.preventDefault(), main.current?.querySelector('h1')?.focus())}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/runs">Conductor</a>
      <nav aria-label="Main">
        <a href="#/runs" aria-current=${current('runs')}>Runs</a>
        <a href="#/workflows" aria-current=${current('workflows')}>Workflows</a>
      </nav>
    </header>
    ${needToken && html`<${TokenForm} onSaved=${() => (setNeedToken(false), setAttempt(attempt + 1))} />`}
    <main id="main" ref=${main}>${page}</main>`;
}

// Preact renders beside what is there: the loading line goes first.
const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);

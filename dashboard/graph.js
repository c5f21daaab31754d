// The run's steps as a graph: a column per dependency depth, edges in SVG, the status as a colour AND as text
// (a symbol and a word), the critical path drawn thick and named in each node's label. Nodes are focusable
// buttons (when the graph opens steps: a plan's does not): Enter or Space opens the step, as a click does.
import { html } from './html.js';
import { duration, STATUS_MARK } from './format.js';

const W = 168;
const H = 52;
const GAP_X = 56;
const GAP_Y = 18;
const PAD = 8;
/** Narrower than this, the graph scrolls inside its box rather than shrink its text past reading. */
const MIN_SCALE = 0.6;

/** Each step's depth: 0 for one that depends on nothing, else one more than its deepest dependency. */
export function depths(order, steps) {
  const depth = new Map();
  const visiting = new Set();
  const of = (id) => {
    if (depth.has(id)) return depth.get(id);
    if (visiting.has(id)) return 0; // a cycle cannot be recorded; never loop on bad data
    visiting.add(id);
    const deps = (steps[id]?.dependsOn ?? []).filter((d) => steps[d]);
    const d = deps.length ? 1 + Math.max(...deps.map(of)) : 0;
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  for (const id of order) of(id);
  return depth;
}

export function layout(order, steps) {
  const depth = depths(order, steps);
  const columns = [];
  for (const id of order) (columns[depth.get(id)] ??= []).push(id);
  const nodes = new Map();
  columns.forEach((column, x) => column.forEach((id, y) => nodes.set(id, { id, x: PAD + x * (W + GAP_X), y: PAD + y * (H + GAP_Y) })));
  const rows = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  return { nodes, width: PAD * 2 + columns.length * W + Math.max(0, columns.length - 1) * GAP_X, height: PAD * 2 + rows * H + (rows - 1) * GAP_Y };
}

/**
 * The longest path through the run by time: a step that ran weighs its duration, a running one the time so
 * far, one not yet run its expected time (`expected`, from the plan) or else 1 ms — so before anything ran the
 * path is the one with the most steps, as the plan's own is without a record.
 */
export function criticalPath(order, steps, now = Date.now(), expected = {}) {
  // Every step weighs a little more than nothing, so of two chains equally long the one with more steps wins:
  // a step of 0 ms at the end is still on the path.
  const weight = (id) => 0.001 + time(id);
  const time = (id) => {
    const s = steps[id];
    if (s?.durationMs !== undefined) return s.durationMs;
    if (s?.status === 'running' && s.startedAt) return Math.max(1, now - Date.parse(s.startedAt));
    if (s?.status === 'skipped') return 0;
    return expected[id] ?? 1;
  };
  const best = new Map();
  const via = new Map();
  const depth = depths(order, steps);
  for (const id of [...order].sort((a, b) => depth.get(a) - depth.get(b))) {
    let before = 0;
    for (const d of steps[id]?.dependsOn ?? []) {
      if (best.has(d) && best.get(d) > before) {
        before = best.get(d);
        via.set(id, d);
      }
    }
    best.set(id, before + weight(id));
  }
  let end;
  for (const id of order) if (end === undefined || best.get(id) > best.get(end)) end = id;
  const path = [];
  for (let id = end; id !== undefined; id = via.get(id)) path.unshift(id);
  return path;
}

function nodeDetail(step) {
  const status = step?.status ?? 'pending';
  const parts = [`${STATUS_MARK[status] ?? '?'} ${status.replace('_', ' ')}`];
  if (step?.items?.length) parts.push(`${step.items.filter((i) => i && i.status !== 'pending' && i.status !== 'running').length}/${step.items.length} items`);
  else if (step?.durationMs !== undefined) parts.push(duration(step.durationMs));
  return parts.join(' · ');
}

const short = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** `steps`: id → {status, dependsOn, …}; `critical`: ids in order; `selected`: the open step's id. */
/** `detail(step)`: the node's second line (default: its status, and its time or items). */
export function Graph({ order, steps, critical = [], selected, onSelect, label = 'Steps of the run', detail: describe = nodeDetail }) {
  const { nodes, width, height } = layout(order, steps);
  const onPath = new Set(critical);
  const criticalEdge = new Set(critical.slice(1).map((id, i) => `${critical[i]}>${id}`));
  const edges = [];
  for (const id of order) {
    for (const dep of steps[id]?.dependsOn ?? []) {
      const a = nodes.get(dep);
      const b = nodes.get(id);
      if (!a || !b) continue;
      const x1 = a.x + W;
      const y1 = a.y + H / 2;
      const x2 = b.x;
      const y2 = b.y + H / 2;
      const mid = (x1 + x2) / 2;
      edges.push(html`<path key=${`${dep}>${id}`} class=${`edge${criticalEdge.has(`${dep}>${id}`) ? ' critical' : ''}`} d=${`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2 - 4},${y2}`} marker-end="url(#arrow)" />`);
    }
  }
  const open = (id) => onSelect?.(id);
  const keydown = (id) => (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      open(id);
    }
  };
  return html`
    <figure class="graph">
      <svg role="group" aria-label=${label} viewBox=${`0 0 ${width} ${height}`} width=${width} height=${height}
           style=${{ minWidth: `${Math.round(width * MIN_SCALE)}px` }}>
        <defs>
          <marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse">
            <path d="M0,0 L8,4 L0,8 z" class="arrowhead" />
          </marker>
        </defs>
        ${edges}
        ${order.map((id) => {
          const n = nodes.get(id);
          const step = steps[id];
          const status = step?.status ?? 'pending';
          const isCritical = onPath.has(id);
          const detail = describe(step);
          return html`
            <g key=${id} class=${`node status-${status}${isCritical ? ' critical' : ''}${selected === id ? ' selected' : ''}`}
               transform=${`translate(${n.x},${n.y})`} data-step=${id} data-status=${status}
               tabindex=${onSelect ? '0' : undefined} role=${onSelect ? 'button' : 'img'}
               aria-pressed=${onSelect ? (selected === id ? 'true' : 'false') : undefined}
               aria-label=${`${id}: ${detail}${isCritical ? ', on the critical path' : ''}`}
               onClick=${() => open(id)} onKeyDown=${keydown(id)}>
              <title>${id}</title>
              <rect width=${W} height=${H} rx="6" />
              <text x="10" y="21" class="node-id">${short(id, 20)}${isCritical ? ' ◆' : ''}</text>
              <text x="10" y="40" class="node-detail">${short(detail, 26)}</text>
            </g>`;
        })}
      </svg>
      <figcaption>◆ thick border: the critical path (the longest chain by time${critical.length ? `: ${critical.join(' → ')}` : ''})</figcaption>
    </figure>`;
}

// When each step ran, as bars on one time axis from the run's start to its end (or now, while it runs).
import { html } from './html.js';
import { duration, ms, statusLabel } from './format.js';

export function Timeline({ order, steps, startedAt, finishedAt, now, onSelect }) {
  const ran = order.filter((id) => steps[id]?.startedAt);
  if (!ran.length) return html`<p class="muted">No step has started yet.</p>`;
  const starts = ran.map((id) => ms(steps[id].startedAt));
  const t0 = Math.min(ms(startedAt) ?? Infinity, ...starts);
  const ends = ran.map((id) => ms(steps[id].finishedAt) ?? now);
  const t1 = Math.max(ms(finishedAt) ?? 0, ...ends, t0 + 1);
  const span = t1 - t0;
  const pct = (t) => `${(((t - t0) / span) * 100).toFixed(2)}%`;
  return html`
    <ol class="timeline" aria-label="Timeline">
      ${ran.map((id) => {
        const s = steps[id];
        const a = ms(s.startedAt);
        const b = ms(s.finishedAt) ?? now;
        const width = Math.max(0.5, ((b - a) / span) * 100);
        return html`
          <li key=${id} class=${`status-${s.status}`}>
            <button type="button" class="link" onClick=${() => onSelect(id)}>${id}</button>
            <span class="track" aria-hidden="true"><span class="bar" style=${{ left: pct(a), width: `${width.toFixed(2)}%` }}></span></span>
            <span class="when">${statusLabel(s.status)} · ${duration(s.durationMs ?? b - a)} from +${duration(a - t0)}</span>
          </li>`;
      })}
    </ol>`;
}

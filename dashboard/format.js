// Numbers and times as the terminal views show them.

export function duration(ms) {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Dollars: null is a model with no price (never shown as $0). */
export function cost(usd) {
  if (usd === undefined) return '—';
  if (usd === null) return 'no price';
  if (usd === 0) return '$0';
  return usd < 0.01 ? `$${usd.toPrecision(2)}` : `$${usd.toFixed(2)}`;
}

export function tokens(usage) {
  if (!usage) return '—';
  const n = (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0);
  return `${n.toLocaleString('en-US')} (${(usage.inputTokens ?? 0).toLocaleString('en-US')} in, ${(usage.outputTokens ?? 0).toLocaleString('en-US')} out)`;
}

/** ISO text or ms since the epoch, as a time of day (with the date when it is not today). */
export function when(at) {
  if (at === undefined || at === null) return '—';
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return '—';
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

export const ms = (at) => (at === undefined || at === null ? undefined : typeof at === 'number' ? at : Date.parse(at));

/** The file name of a workflow path (the list shows it; the full path is its title). */
export const baseName = (path) => String(path ?? '').split(/[\\/]/).pop() || String(path ?? '');

/** Each status with a symbol, so it reads without its colour. */
export const STATUS_MARK = {
  pending: '○',
  running: '▶',
  succeeded: '✓',
  failed: '✗',
  skipped: '⤼',
  cancelled: '■',
  budget_exceeded: '$',
  interrupted: '!',
  not_run: '○',
};

export const statusLabel = (status) => `${STATUS_MARK[status] ?? '?'} ${String(status ?? 'unknown').replace('_', ' ')}`;

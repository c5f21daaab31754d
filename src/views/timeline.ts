/**
 * A finished run as a Gantt chart: when each step ran, with the chain that decided the run's length marked.
 * As text for the terminal, or as a self-contained SVG (or an HTML page holding it) for a browser. Pure.
 * A foreach step stays one row, its items packed under it (see timeline-items.ts for why and how).
 */
import type { SkipReason } from '../core/status.ts';
import type { Style } from '../report/style.ts';
import { count, formatDuration, skipText } from '../report/progress.ts';
import type { RunRecord, StepRecord } from '../store/types.ts';
import { inFlight, packItems, type TimelineItemInput, type TimelineItems } from './timeline-items.ts';

export type { ItemBar, TimelineItemInput, TimelineItems } from './timeline-items.ts';

/**
 * A step as the store records it, with what it records for #13 when it has it: why a step was skipped,
 * whether its failure was continued, and a foreach step's items (`itemCount` of them; those never started
 * have no record).
 */
export type TimelineStep = Omit<StepRecord, 'skipReason' | 'continued' | 'items' | 'itemCount'> & { skipReason?: SkipReason; continued?: boolean; items?: readonly TimelineItemInput[]; itemCount?: number };

export interface TimelineBar {
  id: string;
  status: StepRecord['status'];
  /** Milliseconds from the start of the run; absent for steps that never ran (or were reused). */
  start?: number;
  end?: number;
  reused: boolean;
  /** On the chain of steps that decided when the run ended. */
  critical: boolean;
  skipReason?: SkipReason;
  /** Failed under `continueOnError`: the run went on. */
  continued?: true;
  /** Answered from the step cache: nothing was sent. */
  cached?: true;
  /** The worker it ran on (`--queue`), when it ran on one. */
  worker?: string;
  /** A foreach step: its items, packed into lanes. */
  items?: TimelineItems;
}

export interface Timeline {
  runId: string;
  workflow: string;
  totalMs: number;
  bars: TimelineBar[];
}

/**
 * The critical path of a finished run, found backwards: from the step that ended last, to whichever of its
 * dependencies ended last (the one it was waiting for), and so on to a step that waited for nothing.
 * Times are whole milliseconds, so fast steps tie: among steps that ended in the same millisecond, the last
 * is one that none of the others waited for.
 */
export function buildTimeline(run: RunRecord, steps: TimelineStep[]): Timeline {
  const ran = (s: TimelineStep) => !s.reused && s.startedAt !== undefined && s.finishedAt !== undefined;
  const byId = new Map(steps.map((s) => [s.stepId, s]));
  const critical = new Set<string>();
  const timed = steps.filter(ran);
  const lastEnd = timed.reduce((latest, s) => Math.max(latest, s.finishedAt!), -Infinity);
  const endedLast = timed.filter((s) => s.finishedAt === lastEnd);
  const waitedFor = new Set(endedLast.flatMap((s) => s.dependsOn));
  let current = endedLast.filter((s) => !waitedFor.has(s.stepId)).sort((a, b) => a.position - b.position)[0];
  while (current) {
    critical.add(current.stepId);
    current = current.dependsOn
      .map((d) => byId.get(d))
      .filter((d): d is TimelineStep => d !== undefined && ran(d))
      .sort((a, b) => b.finishedAt! - a.finishedAt! || a.position - b.position)[0];
  }
  const end = Math.max(run.finishedAt ?? 0, ...steps.filter(ran).map((s) => s.finishedAt!));
  return {
    runId: run.id,
    workflow: run.workflow,
    totalMs: Math.max(0, end - run.startedAt),
    bars: steps.map((s) => ({
      id: s.stepId,
      status: s.status,
      ...(ran(s) ? { start: s.startedAt! - run.startedAt, end: s.finishedAt! - run.startedAt } : {}),
      reused: s.reused,
      critical: critical.has(s.stepId),
      ...(s.skipReason ? { skipReason: s.skipReason } : {}),
      ...(s.continued ? { continued: true as const } : {}),
      ...(s.cached ? { cached: true as const } : {}),
      ...(s.worker ? { worker: s.worker } : {}),
      ...(s.items || s.itemCount !== undefined ? { items: packItems(s.items ?? [], run.startedAt, s.itemCount) } : {}),
    })),
  };
}

/** How a bar that did not run, or ended otherwise than succeeding, is described after it. */
function statusText(bar: TimelineBar): string {
  if (bar.reused) return 'reused';
  if (bar.status === 'not_run') return 'not run';
  if (bar.status === 'skipped' && bar.skipReason) return `skipped · ${skipText(bar.skipReason)}`;
  if (bar.status === 'failed' && bar.continued) return 'failed, continued';
  return bar.status;
}

/** "100 items, up to 4 at once, 3 failed ([3] [17] [42] …)": what a foreach step's items did. */
function itemsText(items: TimelineItems): string {
  const parts = [`${count(items.total)} item${items.total === 1 ? '' : 's'}`];
  if (items.peak > 0) parts.push(`up to ${count(items.peak)} at once`);
  if (items.failed > 0) {
    const first = items.bars.filter((b) => b.status === 'failed').sort((a, b) => a.index - b.index).slice(0, 3).map((b) => `[${b.index}]`);
    parts.push(`${count(items.failed)} failed${first.length ? ` (${first.join(' ')}${items.failed > first.length ? ' …' : ''})` : ''}`);
  }
  if (items.cancelled > 0) parts.push(`${count(items.cancelled)} cancelled`);
  if (items.notRun > 0) parts.push(`${count(items.notRun)} not run`);
  if (items.reused > 0) parts.push(`${count(items.reused)} reused`);
  return parts.join(', ');
}

const cut = (line: string, width: number) => ([...line].length <= width ? line : `${[...line].slice(0, width - 1).join('')}…`);

const LEVELS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/**
 * Text Gantt: one row per step; critical-path bars drawn solid (█), others shaded (▒). A foreach step's row
 * shows how many of its items were in flight in each column, on average (▁ few … █ its most at once; · none), with a line
 * under it saying what its items did.
 */
export function timelineText(t: Timeline, width: number, style: Style): string {
  const idWidth = Math.min(24, Math.max(4, ...t.bars.map((b) => b.id.length)));
  // What follows each bar (its time, how it ended) decides how wide the chart can be.
  const tails = t.bars.map((bar) => (bar.start === undefined || bar.end === undefined ? statusText(bar) : `${formatDuration(bar.end - bar.start)}${bar.status === 'succeeded' ? (bar.cached ? ' cached' : '') : ` ${statusText(bar)}`}`));
  const chart = Math.max(20, width - idWidth - 4 - Math.max(12, ...tails.map((tail) => tail.length)));
  const scale = (ms: number) => (t.totalMs === 0 ? 0 : Math.round((ms / t.totalMs) * chart));
  const lines = [`Timeline of run ${t.runId.slice(0, 8)}: ${formatDuration(t.totalMs)}, ${t.bars.length} steps (█ critical path, ▒ other steps)`, ''];
  t.bars.forEach((bar, k) => {
    const label = (bar.id.length > idWidth ? `${bar.id.slice(0, idWidth - 1)}…` : bar.id).padEnd(idWidth);
    const under = bar.items ? [cut(`${' '.repeat(idWidth)}  └ ${itemsText(bar.items)}${bar.critical ? ', on the critical path' : ''}`, width)] : [];
    if (bar.start === undefined || bar.end === undefined) {
      lines.push(`${label} ▕${' '.repeat(chart)}▏ ${style.dim(tails[k]!)}`, ...under);
      return;
    }
    const from = Math.min(chart - 1, scale(bar.start));
    const length = Math.min(Math.max(1, scale(bar.end) - from), chart - from);
    const body = bar.items && bar.items.peak > 0 ? density(bar.items, t.totalMs, chart, from, length) : (bar.critical ? '█' : '▒').repeat(length);
    const paint = bar.status === 'failed' ? (bar.continued ? style.yellow : style.red) : bar.critical ? style.cyan : (s: string) => s;
    const row = ' '.repeat(from) + paint(body) + ' '.repeat(Math.max(0, chart - from - length));
    lines.push(`${label} ▕${row}▏ ${tails[k]}`, ...under);
  });
  const axisEnd = formatDuration(t.totalMs);
  lines.push(`${' '.repeat(idWidth)}  0${' '.repeat(Math.max(1, chart - axisEnd.length - 1))}${axisEnd}`);
  return lines.join('\n') + '\n';
}

/** The columns [from, from + length) of a foreach step's row: items in flight, scaled to its most at once. */
function density(items: TimelineItems, totalMs: number, chart: number, from: number, length: number): string {
  const counts = inFlight(items.bars, totalMs, chart);
  let out = '';
  for (let c = from; c < from + length; c++) {
    const n = counts[c]!;
    out += n <= 0 ? '·' : LEVELS[Math.max(0, Math.min(LEVELS.length - 1, Math.ceil((n / items.peak) * LEVELS.length - 1e-9) - 1))];
  }
  return out;
}

const ROW = 26;
const LABEL = 180;
const CHART = 760;
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The most pixel rows a foreach step's lanes take (more lanes share rows), and the tallest a lane is drawn. */
const ITEM_AREA = 48;
const LANE_MAX = 6;

/** Lanes drawn for a foreach step: how tall its item area is, and the row a lane is drawn on. */
function laneRows(items: TimelineItems | undefined): { height: number; rowOf: (lane: number) => number; laneHeight: number } {
  if (!items) return { height: 0, rowOf: () => 0, laneHeight: 0 };
  // Room for the line under the step's label, even when no item ran.
  if (items.peak === 0) return { height: 14, rowOf: () => 0, laneHeight: 0 };
  const rows = Math.min(items.peak, ITEM_AREA);
  const laneHeight = Math.min(LANE_MAX, ITEM_AREA / rows);
  return { height: Math.max(14, rows * laneHeight + 4), rowOf: (lane) => Math.floor((lane * rows) / items.peak), laneHeight };
}

/**
 * A self-contained SVG: one `rect.bar` per step that ran (data-start / data-end in ms), critical ones marked.
 * Under a foreach step's bar, its items in lanes (`rect.item`, failed and cancelled ones classed so; see
 * itemRects): the drawing stays within about 1.5 × width × lanes rects however many items there were.
 */
export function timelineSvg(t: Timeline): string {
  const lanes = t.bars.map((bar) => laneRows(bar.items));
  const tops: number[] = [];
  let bottom = 36;
  for (const lane of lanes) {
    tops.push(bottom);
    bottom += ROW + lane.height;
  }
  const height = bottom + 24;
  const x = (ms: number) => LABEL + (t.totalMs === 0 ? 0 : (ms / t.totalMs) * CHART);
  const ticks = Array.from({ length: 6 }, (_, k) => (t.totalMs * k) / 5);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${LABEL + CHART + 100}" height="${height}" viewBox="0 0 ${LABEL + CHART + 100} ${height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="12">`,
    `<title>Conductor run ${escape(t.runId)}: ${escape(formatDuration(t.totalMs))}</title>`,
    '<style>.bar{fill:#9db4d0}.bar.critical{fill:#1f6feb}.bar.failed{fill:#d1242f}.bar.continued{fill:#d4a72c}.bar.cancelled{fill:#bf8700}.bar.cached{fill:#8fd19e}.item{fill:#6e8fb8}.item.failed{fill:#d1242f}.item.cancelled{fill:#bf8700}.grid{stroke:#d0d7de}.label{fill:#24292f}.note{fill:#57606a}</style>',
    `<text class="label" x="8" y="20" font-weight="bold">${escape(`Run ${t.runId.slice(0, 8)} — ${formatDuration(t.totalMs)}, ${t.bars.length} steps`)}</text>`,
    `<text class="note" x="${LABEL + CHART}" y="20" text-anchor="end">critical path in dark blue</text>`,
    ...ticks.map((ms) => `<line class="grid" x1="${x(ms).toFixed(1)}" y1="30" x2="${x(ms).toFixed(1)}" y2="${height - 20}"/><text class="note" x="${x(ms).toFixed(1)}" y="${height - 6}" text-anchor="middle">${escape(formatDuration(ms))}</text>`),
  ];
  t.bars.forEach((bar, row) => {
    const y = tops[row]!;
    parts.push(`<text class="label" x="8" y="${y + 15}">${escape(bar.id)}</text>`);
    if (bar.items) {
      const failed = bar.items.failed ? `, ${count(bar.items.failed)} failed` : '';
      parts.push(`<text class="note" x="8" y="${y + 29}" font-size="10">${escape(`${count(bar.items.total)} items${failed}`)}<title>${escape(itemsText(bar.items))}</title></text>`);
    }
    if (bar.start === undefined || bar.end === undefined) {
      parts.push(`<text class="note" x="${LABEL + 4}" y="${y + 15}">${escape(statusText(bar))}</text>`);
      return;
    }
    const classes = ['bar', ...(bar.critical ? ['critical'] : []), ...(bar.status === 'succeeded' ? [] : [bar.status]), ...(bar.continued ? ['continued'] : []), ...(bar.cached ? ['cached'] : [])].join(' ');
    const width = Math.max(1.5, x(bar.end) - x(bar.start));
    parts.push(
      `<rect class="${classes}" data-step="${escape(bar.id)}" data-start="${bar.start}" data-end="${bar.end}" x="${x(bar.start).toFixed(1)}" y="${y}" width="${width.toFixed(1)}" height="${ROW - 8}" rx="3"><title>${escape(`${bar.id}: ${statusText(bar)}${bar.cached ? ' (cached)' : ''}, ${formatDuration(bar.end - bar.start)} (from ${formatDuration(bar.start)})${bar.worker ? ` on ${bar.worker}` : ''}`)}</title></rect>`,
      `<text class="note" x="${(x(bar.start) + width + 6).toFixed(1)}" y="${y + 14}">${escape(formatDuration(bar.end - bar.start))}</text>`,
    );
    if (bar.items) parts.push(...itemRects(bar.id, bar.items, lanes[row]!, y + ROW - 4, x));
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

const STATUS_RANK = { succeeded: 1, cancelled: 2, not_run: 2, failed: 3 } as const;
const RANKED = ['', 'succeeded', 'cancelled', 'failed'] as const;

/**
 * A foreach step's item rects. An item 2 px wide or more is a rect of its own (a pixel short, so items end to
 * end stay apart). Narrower ones are drawn at pixel resolution: each pixel of a lane takes the worst status of
 * the narrow items in it (a failure is never hidden by its neighbours), and runs of pixels with one status
 * become one rect. So a lane holds at most about 1.5 rects per pixel of the chart, however many items it ran.
 */
function itemRects(step: string, items: TimelineItems, lanes: ReturnType<typeof laneRows>, top: number, x: (ms: number) => number): string[] {
  const rects: string[] = [];
  const rect = (lane: number, x0: number, width: number, status: string, count: number, index?: number, failed = 0) => {
    const cls = status === 'succeeded' ? 'item' : `item ${status}`;
    const what = index !== undefined ? `${step}[${index}]: ${status}` : `${step}: ${count} item${count === 1 ? '' : 's'}${failed ? `, ${failed} failed` : status === 'succeeded' ? '' : `, some ${status}`}`;
    const y = top + lanes.rowOf(lane) * lanes.laneHeight;
    const h = Math.max(1, lanes.laneHeight - (lanes.laneHeight > 2 ? 1 : 0));
    rects.push(
      `<rect class="${cls}" data-step="${escape(step)}" data-lane="${lane}" data-items="${count}"${index === undefined ? '' : ` data-index="${index}"`} x="${x0.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, width).toFixed(1)}" height="${h.toFixed(1)}"><title>${escape(what)}</title></rect>`,
    );
  };
  const left = Math.floor(x(0));
  const pixels = CHART + 2;
  // Per lane with narrow items: each pixel's worst status (by rank) and how many narrow items start in it.
  const raster = new Map<number, { rank: Uint8Array; starts: Int32Array; failed: Int32Array }>();
  for (const bar of items.bars) {
    const x0 = x(bar.start);
    const x1 = x(bar.end);
    if (x1 - x0 >= 2) {
      rect(bar.lane, x0, x1 - x0 - 1, bar.status, 1, bar.index);
      continue;
    }
    let lane = raster.get(bar.lane);
    if (!lane) raster.set(bar.lane, (lane = { rank: new Uint8Array(pixels), starts: new Int32Array(pixels), failed: new Int32Array(pixels) }));
    const p0 = Math.min(pixels - 1, Math.max(0, Math.floor(x0) - left));
    const p1 = Math.min(pixels - 1, Math.max(p0, Math.ceil(x1) - left - 1));
    lane.starts[p0]!++;
    if (bar.status === 'failed') lane.failed[p0]!++;
    for (let p = p0; p <= p1; p++) lane.rank[p] = Math.max(lane.rank[p]!, STATUS_RANK[bar.status]);
  }
  for (const [laneNo, lane] of raster) {
    let p = 0;
    while (p < pixels) {
      const rank = lane.rank[p]!;
      if (rank === 0) {
        p++;
        continue;
      }
      let end = p;
      let count = 0;
      let failed = 0;
      for (; end < pixels && lane.rank[end] === rank; end++) {
        count += lane.starts[end]!;
        failed += lane.failed[end]!;
      }
      // Items are counted in the run of pixels they start in.
      rect(laneNo, left + p, end - p, RANKED[rank]!, count, undefined, failed);
      p = end;
    }
  }
  return rects;
}

export function timelineHtml(t: Timeline): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Conductor run ${escape(t.runId)}</title></head>\n<body style="margin:24px">\n${timelineSvg(t)}</body></html>\n`;
}

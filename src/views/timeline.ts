/**
 * A finished run as a Gantt chart: when each step ran, with the chain that decided the run's length marked.
 * As text for the terminal, or as a self-contained SVG (or an HTML page holding it) for a browser. Pure.
 */
import type { Style } from '../report/style.ts';
import { formatDuration } from '../report/progress.ts';
import type { RunRecord, StepRecord } from '../store/types.ts';

export interface TimelineBar {
  id: string;
  status: StepRecord['status'];
  /** Milliseconds from the start of the run; absent for steps that never ran (or were reused). */
  start?: number;
  end?: number;
  reused: boolean;
  /** On the chain of steps that decided when the run ended. */
  critical: boolean;
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
export function buildTimeline(run: RunRecord, steps: StepRecord[]): Timeline {
  const ran = (s: StepRecord) => !s.reused && s.startedAt !== undefined && s.finishedAt !== undefined;
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
      .filter((d): d is StepRecord => d !== undefined && ran(d))
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
    })),
  };
}

/** Text Gantt: one row per step; critical-path bars drawn solid (█), others shaded (▒). */
export function timelineText(t: Timeline, width: number, style: Style): string {
  const idWidth = Math.min(24, Math.max(4, ...t.bars.map((b) => b.id.length)));
  const chart = Math.max(20, width - idWidth - 16);
  const scale = (ms: number) => (t.totalMs === 0 ? 0 : Math.round((ms / t.totalMs) * chart));
  const lines = [`Timeline of run ${t.runId.slice(0, 8)}: ${formatDuration(t.totalMs)}, ${t.bars.length} steps (█ critical path, ▒ other steps)`, ''];
  for (const bar of t.bars) {
    const label = (bar.id.length > idWidth ? `${bar.id.slice(0, idWidth - 1)}…` : bar.id).padEnd(idWidth);
    if (bar.start === undefined || bar.end === undefined) {
      lines.push(`${label} ▕${' '.repeat(chart)}▏ ${style.dim(bar.reused ? 'reused' : bar.status === 'not_run' ? 'not run' : bar.status)}`);
      continue;
    }
    const from = Math.min(chart - 1, scale(bar.start));
    const length = Math.max(1, scale(bar.end) - from);
    const body = (bar.critical ? '█' : '▒').repeat(Math.min(length, chart - from));
    const paint = bar.status === 'failed' ? style.red : bar.critical ? style.cyan : (s: string) => s;
    const row = ' '.repeat(from) + paint(body) + ' '.repeat(Math.max(0, chart - from - body.length));
    const tail = bar.status === 'succeeded' ? '' : ` ${bar.status}`;
    lines.push(`${label} ▕${row}▏ ${formatDuration(bar.end - bar.start)}${tail}`);
  }
  const axisEnd = formatDuration(t.totalMs);
  lines.push(`${' '.repeat(idWidth)}  0${' '.repeat(Math.max(1, chart - axisEnd.length - 1))}${axisEnd}`);
  return lines.join('\n') + '\n';
}

const ROW = 26;
const LABEL = 180;
const CHART = 760;
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A self-contained SVG: one `rect.bar` per step that ran (data-start / data-end in ms), critical ones marked. */
export function timelineSvg(t: Timeline): string {
  const height = 60 + t.bars.length * ROW;
  const x = (ms: number) => LABEL + (t.totalMs === 0 ? 0 : (ms / t.totalMs) * CHART);
  const ticks = Array.from({ length: 6 }, (_, k) => (t.totalMs * k) / 5);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${LABEL + CHART + 100}" height="${height}" viewBox="0 0 ${LABEL + CHART + 100} ${height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="12">`,
    `<title>Conductor run ${escape(t.runId)}: ${escape(formatDuration(t.totalMs))}</title>`,
    '<style>.bar{fill:#9db4d0}.bar.critical{fill:#1f6feb}.bar.failed{fill:#d1242f}.bar.cancelled{fill:#bf8700}.grid{stroke:#d0d7de}.label{fill:#24292f}.note{fill:#57606a}</style>',
    `<text class="label" x="8" y="20" font-weight="bold">${escape(`Run ${t.runId.slice(0, 8)} — ${formatDuration(t.totalMs)}, ${t.bars.length} steps`)}</text>`,
    `<text class="note" x="${LABEL + CHART}" y="20" text-anchor="end">critical path in dark blue</text>`,
    ...ticks.map((ms) => `<line class="grid" x1="${x(ms).toFixed(1)}" y1="30" x2="${x(ms).toFixed(1)}" y2="${height - 20}"/><text class="note" x="${x(ms).toFixed(1)}" y="${height - 6}" text-anchor="middle">${escape(formatDuration(ms))}</text>`),
  ];
  t.bars.forEach((bar, row) => {
    const y = 36 + row * ROW;
    parts.push(`<text class="label" x="8" y="${y + 15}">${escape(bar.id)}</text>`);
    if (bar.start === undefined || bar.end === undefined) {
      parts.push(`<text class="note" x="${LABEL + 4}" y="${y + 15}">${escape(bar.reused ? 'reused' : bar.status === 'not_run' ? 'not run' : bar.status)}</text>`);
      return;
    }
    const classes = ['bar', ...(bar.critical ? ['critical'] : []), ...(bar.status === 'succeeded' ? [] : [bar.status])].join(' ');
    const width = Math.max(1.5, x(bar.end) - x(bar.start));
    parts.push(
      `<rect class="${classes}" data-step="${escape(bar.id)}" data-start="${bar.start}" data-end="${bar.end}" x="${x(bar.start).toFixed(1)}" y="${y}" width="${width.toFixed(1)}" height="${ROW - 8}" rx="3"><title>${escape(`${bar.id}: ${bar.status}, ${formatDuration(bar.end - bar.start)} (from ${formatDuration(bar.start)})`)}</title></rect>`,
      `<text class="note" x="${(x(bar.start) + width + 6).toFixed(1)}" y="${y + 14}">${escape(formatDuration(bar.end - bar.start))}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export function timelineHtml(t: Timeline): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Conductor run ${escape(t.runId)}</title></head>\n<body style="margin:24px">\n${timelineSvg(t)}</body></html>\n`;
}

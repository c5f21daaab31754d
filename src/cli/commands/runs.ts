import { writeFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { UsageError } from '../../core/errors.ts';
import { buildTimeline, timelineHtml, timelineSvg, timelineText } from '../../views/timeline.ts';
import { formatDuration, formatUsd } from '../../report/progress.ts';
import type { RunRecord, StepRecord } from '../../store/types.ts';
import { displayPath } from '../diagnostics.ts';
import { EXIT, type CliIO } from '../io.ts';
import type { Command } from '../main.ts';
import { createStyle, type Style } from '../../report/style.ts';
import { openStore, STORE_DESCRIPTION } from '../execute.ts';

export const runsCommand: Command = {
  usage: 'conductor runs [--json] [--limit N]  |  conductor runs show <run-id> [--json | --timeline [--out file.svg|file.html]]',
  // `runs --json`: RunRecord[]; `runs show --json`: { run: RunRecord, steps: StepRecord[] }; with --timeline: Timeline.
  jsonShape: ['src/store/types.ts#RunRecord', 'src/store/types.ts#RunSettings', 'src/store/types.ts#StepRecord', 'src/store/types.ts#ItemRecord', 'src/store/types.ts#ResultFields', 'src/views/timeline.ts#Timeline', 'src/views/timeline.ts#TimelineBar'],
  options: {
    json: { type: 'boolean', description: 'Print JSON (complete outputs)' },
    limit: { type: 'string', value: 'N', description: 'How many runs to list (default 20)' },
    store: { type: 'string', value: 'PATH|URL', description: STORE_DESCRIPTION },
    timeline: { type: 'boolean', description: 'With `show`: draw when each step ran, critical path marked' },
    out: { type: 'string', value: 'file', description: 'With --timeline: write it as SVG (.svg) or HTML (.html) to this file' },
  },
  async run({ values, positionals }, io) {
    const json = values['json'] === true;
    const style = createStyle(io.stdout, io.env);
    // Read-only: listing works while a run writes, and on a store this user cannot write.
    const store = await openStore(values, io, { access: 'read' });
    try {
      if (positionals[0] === 'show') {
        if (positionals.length !== 2) throw new UsageError('expected one run id', { hint: 'conductor runs show <run-id>' });
        const found = await store.getRun(positionals[1]!);
        if (!found) throw new UsageError(`no run \`${positionals[1]}\` in the store ${store.location}`, { hint: 'run `conductor runs` to list recent runs' });
        if (values['timeline'] === true || values['out'] !== undefined) return await showTimeline(found.run, found.steps, values, io);
        io.stdout.write(json ? JSON.stringify(found, null, 2) + '\n' : showRun(found.run, found.steps, style, io.cwd, io.stdout.columns || 100));
        return EXIT.ok;
      }
      if (positionals.length > 0) throw new UsageError(`unknown \`runs\` subcommand \`${positionals[0]}\``, { hint: `usage: ${this.usage}` });
      const limit = values['limit'] === undefined ? 20 : Number(values['limit']);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`\`--limit\` expects a whole number ≥ 1, got \`${String(values['limit'])}\``);
      const runs = await store.listRuns(limit);
      io.stdout.write(json ? JSON.stringify(runs, null, 2) + '\n' : listRuns(runs, style, io.cwd));
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
};

function statusText(status: string, style: Style): string {
  const padded = status.padEnd(15);
  return status === 'succeeded' ? style.green(padded) : status === 'failed' || status === 'interrupted' ? style.red(padded) : status === 'running' ? style.cyan(padded) : style.yellow(padded);
}

function when(ms: number): string {
  return new Date(ms).toLocaleString('sv-SE').slice(0, 19);
}

function listRuns(runs: RunRecord[], style: Style, cwd: string): string {
  if (runs.length === 0) return 'no runs recorded yet\n';
  const rows = runs.map((r) => [
    r.id.slice(0, 8),
    statusText(r.status, style),
    when(r.startedAt),
    r.finishedAt ? formatDuration(r.finishedAt - r.startedAt) : '—',
    // Skipped steps are not left to do in a run that succeeded: `1/3 · 2 skipped` rather than a bare `1/3`.
    `${r.stepsDone}/${r.stepCount}${r.stepsSkipped ? ` · ${r.stepsSkipped} skipped` : ''}`,
    // "—": a model it called has no price (or the store is older than costs).
    r.costUsd === undefined ? '—' : formatUsd(r.costUsd),
    displayPath(r.workflow, cwd),
  ]);
  const header = ['ID', 'STATUS', 'STARTED', 'DURATION', 'STEPS', 'COST', 'WORKFLOW'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.replace(/\u001b\[[0-9;]*m/g, '').length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell + ' '.repeat(widths[c]! - cell.replace(/\u001b\[[0-9;]*m/g, '').length))).join('  ');
  return [style.bold(line(header)), ...rows.map(line)].join('\n') + '\n';
}

function showRun(run: RunRecord, steps: StepRecord[], style: Style, cwd: string, width: number): string {
  const lines = [
    `${style.bold('run')} ${run.id}`,
    `  workflow  ${displayPath(run.workflow, cwd)}`,
    `  status    ${statusText(run.status, style).trim()}${run.error ? ` — ${run.error}` : ''}`,
    ...(run.costUsd === undefined ? [] : [`  cost      ${formatUsd(run.costUsd)}`]),
    `  started   ${when(run.startedAt)}${run.finishedAt ? `, took ${formatDuration(run.finishedAt - run.startedAt)}` : ''}`,
    ...(run.resumedFrom ? [`  resumed   from ${run.resumedFrom}`] : []),
    ...(Object.keys(run.inputs).length ? [`  inputs    ${JSON.stringify(run.inputs)}`] : []),
    '',
  ];
  const idWidth = Math.max(4, ...steps.map((s) => s.stepId.length));
  const byId = new Map(steps.map((s) => [s.stepId, s]));
  const indent = `  ${' '.repeat(idWidth)}  `;
  /** One line, cut to the terminal's width. */
  const fit = (head: string, text: string) => {
    const room = Math.max(10, width - head.replace(/\u001b\[[0-9;]*m/g, '').length - 1);
    const flat = text.replace(/\s+/g, ' ').trim();
    return (head + (flat.length > room ? `${flat.slice(0, room - 1)}…` : flat)).trimEnd();
  };
  // A column of costs when some step made a model call that cost something (or had no price).
  const costs = steps.some((s) => s.costUsd !== undefined && s.costUsd !== 0);
  for (const s of steps) {
    // A step the budget stopped was started, but its call never made: it took no time worth showing.
    const took = s.reused ? 'reused' : s.cached ? 'cached' : s.status !== 'not_run' && s.startedAt !== undefined && s.finishedAt !== undefined ? formatDuration(s.finishedAt - s.startedAt) : '';
    const tries = s.attempts && s.attempts > 1 ? ` ×${s.attempts}` : '';
    const cost = costs ? `${s.costUsd === undefined ? '' : formatUsd(s.costUsd)}`.padEnd(9) : '';
    const result = s.error ?? (s.output === undefined ? '' : typeof s.output === 'string' ? s.output : JSON.stringify(s.output));
    const detail = s.skipReason ? skipped(s, byId) : s.continued ? `continued · ${result}` : result;
    // A step without a result in a run that is over never got to run.
    const status = s.status === 'not_run' || (s.status === 'pending' && run.status !== 'running') ? 'not run' : s.status;
    lines.push(fit(`  ${s.stepId.padEnd(idWidth)}  ${statusText(status, style)} ${took.padEnd(9)}${cost}${tries}  `, detail));
    if (s.hint) lines.push(`${indent}${style.cyan('hint')}: ${s.hint}`);
    if (s.worker) lines.push(style.dim(`${indent}on worker ${s.worker}`));
    if (s.items || s.itemCount !== undefined) {
      lines.push(...itemLines(s, indent, style, fit));
      const on = workers(s);
      if (on.length > 0) lines.push(style.dim(`${indent}items on ${on.length === 1 ? 'worker' : 'workers'} ${on.join(', ')}`));
    }
  }
  return lines.join('\n') + '\n';
}

/** The workers a foreach step's items ran on (none when they ran in the run's own process). */
function workers(s: StepRecord): string[] {
  return [...new Set((s.items ?? []).flatMap((i) => (i.worker ? [i.worker] : [])))];
}

/** Why a step was skipped, and which of the steps it depends on made it so. */
function skipped(s: StepRecord, byId: ReadonlyMap<string, StepRecord>): string {
  const upstream = { upstream_failed: 'failed', upstream_skipped: 'skipped', upstream_cancelled: 'cancelled', condition: undefined }[s.skipReason!];
  const which = upstream ? s.dependsOn.filter((d) => byId.get(d)?.status === upstream) : [];
  return `(${s.skipReason}${which.length ? `: ${which.join(', ')}` : ''})`;
}

/** Failed items shown one by one; the rest are counted (a list of 10,000 must not flood the terminal). */
const FAILED_ITEMS_SHOWN = 10;

/** A foreach step's items: one line of counts, then its first failed items with their errors. */
function itemLines(s: StepRecord, indent: string, style: Style, fit: (head: string, text: string) => string): string[] {
  const items = s.items ?? [];
  const count = (status: string) => items.filter((i) => i.status === status).length;
  const total = s.itemCount ?? items.length;
  const reused = items.filter((i) => i.reused).length;
  const counts = [
    `${count('succeeded')} succeeded`,
    `${count('failed')} failed`,
    ...(count('cancelled') ? [`${count('cancelled')} cancelled`] : []),
    // Items a run stopped before starting have no record.
    ...(total > items.length ? [`${total - items.length} not run`] : []),
    `${total} total`,
  ];
  const lines = [`${indent}items: ${counts.join(' · ')}${reused ? ` (${reused} reused)` : ''}`];
  const failed = items.filter((i) => i.status === 'failed');
  const shown = failed.slice(0, FAILED_ITEMS_SHOWN);
  const width = String(shown.at(-1)?.index ?? 0).length;
  for (const item of shown) lines.push(fit(`${indent}  ${style.red(`item ${String(item.index).padStart(width)}`)}  `, item.error ?? ''));
  if (failed.length > FAILED_ITEMS_SHOWN) lines.push(`${indent}  … and ${failed.length - FAILED_ITEMS_SHOWN} more failed items (\`runs show --json\` lists every item)`);
  return lines;
}

async function showTimeline(run: RunRecord, steps: StepRecord[], values: Record<string, unknown>, io: CliIO): Promise<number> {
  const timeline = buildTimeline(run, steps);
  const out = values['out'] as string | undefined;
  if (out === undefined) {
    if (values['json'] === true) io.stdout.write(JSON.stringify(timeline, null, 2) + '\n');
    else io.stdout.write(timelineText(timeline, io.stdout.columns || 100, createStyle(io.stdout, io.env)));
    return EXIT.ok;
  }
  const kind = extname(out).toLowerCase();
  if (kind !== '.svg' && kind !== '.html' && kind !== '.htm') throw new UsageError(`\`--out ${out}\`: expected a .svg or .html file`);
  const file = resolve(io.cwd, out);
  await writeFile(file, kind === '.svg' ? timelineSvg(timeline) : timelineHtml(timeline));
  io.stdout.write(`wrote ${displayPath(file, io.cwd)} (open it in a browser)\n`);
  return EXIT.ok;
}

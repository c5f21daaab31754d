/** The closing lines of a human-readable run: how it ended, why, and the counts. */
import type { RunReport, StepReport } from '../core/report.ts';
import type { SkipReason } from '../core/status.ts';
import { docsFor, docsLink } from './docs.ts';
import type { Style } from './style.ts';
import { count, countStatuses, formatCost, formatCounts, formatDuration, formatUsd, skipText } from './progress.ts';

/** Item errors shown per continued foreach step; the others are counted. */
export const SHOWN_ITEM_ERRORS = 3;
/** Step names listed per skip reason; the others are counted. */
const SHOWN_SKIPPED = 10;

/**
 * A run that succeeded with continued failures still reads as a success (a green mark, exit 0), but says
 * which steps failed and why, and for a foreach step how many items and which: nothing is hidden.
 * Skipped steps are listed by reason. In a run that failed or was cancelled, only the skips its conditions
 * chose are listed: the others follow from the failure, and the counts say how many.
 */
export function formatSummary(report: RunReport, style: Style): string {
  const steps = Object.entries(report.steps);
  const counts = countStatuses(steps.map(([, s]) => s.status));
  const continued = report.continued ?? steps.filter(([, s]) => s.continued && s.status === 'failed').map(([id]) => id);
  const took = formatDuration(report.durationMs);
  const lines = [`${statusMark(report, style)} in ${took} (${formatCounts(counts, continued.length)})`];
  if (report.error) lines.push(`  ${report.error}`);
  if (report.hint) lines.push(`  ${style.cyan('hint')}: ${report.hint}`);
  lines.push(...docsLines(report, style));
  lines.push(...costLines(report));
  if (continued.length > 0) {
    lines.push(`  ${style.yellow('!')} continued after failure: ${continued.join(', ')}`);
    for (const id of continued) lines.push(...continuedLines(id, report.steps[id], style));
  }
  lines.push(...skippedLines(steps, report.status === 'succeeded', style));
  return lines.join('\n') + '\n';
}

function statusMark(report: RunReport, style: Style): string {
  switch (report.status) {
    case 'succeeded':
      return style.green('✓ succeeded');
    case 'failed':
      return style.red('✗ failed');
    case 'cancelled':
      return style.yellow('⊘ cancelled');
    case 'budget_exceeded':
      return style.yellow('$ budget exceeded');
  }
}

/**
 * "cost: $0.0123 (openai:gpt-4o-mini $0.0100, …)" when the run's model calls cost something (or a model has no
 * price: "—"), and "cache: 38 hits, saved ~$0.42" when the step cache answered. A run of `echo` steps, or of
 * no model at all, says nothing of money.
 */
function costLines(report: RunReport): string[] {
  const lines: string[] = [];
  const { usd, byModel } = report.cost;
  if (usd !== 0) lines.push(`  cost: ${formatCost(usd, Object.entries(byModel))}`);
  const cache = report.cache;
  if (cache && cache.hits > 0) {
    const saved = cache.savedUsd === null ? `${count(cache.savedTokens)} tokens` : `~${formatUsd(cache.savedUsd)}`;
    lines.push(`  cache: ${count(cache.hits)} hit${cache.hits === 1 ? '' : 's'}, saved ${saved}`);
  }
  return lines;
}

function continuedLines(id: string, step: StepReport | undefined, style: Style): string[] {
  if (!step) return [];
  if (!step.items) return [`    ${id}: ${style.yellow(firstLine(step.error ?? 'failed'))}`];
  const failed = step.items.filter((item) => item.status === 'failed');
  const lines = [`    ${id}: ${style.yellow(`${count(failed.length)} of ${count(step.items.length)} items failed`)}`];
  for (const item of failed.slice(0, SHOWN_ITEM_ERRORS)) lines.push(`      [${item.index}] ${firstLine(item.error ?? 'failed')}`);
  if (failed.length > SHOWN_ITEM_ERRORS) lines.push(style.dim(`      … and ${count(failed.length - SHOWN_ITEM_ERRORS)} more`));
  return lines;
}

function skippedLines(steps: [string, StepReport][], all: boolean, style: Style): string[] {
  const byReason = new Map<SkipReason | undefined, string[]>();
  for (const [id, step] of steps) {
    if (step.status !== 'skipped' || (!all && step.skipReason !== 'condition')) continue;
    const list = byReason.get(step.skipReason);
    if (list) list.push(id);
    else byReason.set(step.skipReason, [id]);
  }
  return [...byReason].map(([reason, ids]) => {
    const more = ids.length > SHOWN_SKIPPED ? ` and ${count(ids.length - SHOWN_SKIPPED)} more` : '';
    return `  ${style.dim('−')} skipped${reason ? ` (${skipText(reason)})` : ''}: ${ids.slice(0, SHOWN_SKIPPED).join(', ')}${more}`;
  });
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}

/** Just why a run did not succeed (for `--quiet`): the run's error and hint, or that it was cancelled. */
export function formatFailure(report: RunReport, style: Style): string {
  const head = report.status === 'cancelled' ? style.yellow('cancelled') : report.status === 'budget_exceeded' ? style.yellow('budget exceeded') : style.red('failed');
  const lines = [`${head}: ${report.error ?? `the run ${report.status}`}`];
  if (report.hint) lines.push(`  ${style.cyan('hint')}: ${report.hint}`);
  lines.push(...docsLines(report, style));
  return lines.join('\n') + '\n';
}

/** The docs page about why the run did not succeed: its own error's code, else the step that stopped it. */
function docsLines(report: RunReport, style: Style): string[] {
  if (report.status === 'succeeded' || report.status === 'cancelled') return [];
  const stopper = Object.values(report.steps).find((s) => s.status === 'failed' && !s.continued);
  const page = docsFor(report.errorCode ?? (report.status === 'budget_exceeded' ? 'budget_exceeded' : stopper?.errorCode));
  return page ? [`  ${style.cyan('docs')}: ${docsLink(page)}`] : [];
}

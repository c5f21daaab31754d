/** The closing lines of a human-readable run: how it ended, why, and the counts. */
import type { RunReport } from '../core/report.ts';
import type { Style } from './style.ts';
import { countStatuses, formatCounts, formatDuration } from './progress.ts';

export function formatSummary(report: RunReport, style: Style): string {
  const counts = countStatuses(Object.values(report.steps).map((s) => s.status));
  const took = formatDuration(report.durationMs);
  const mark = report.status === 'succeeded' ? style.green('✓ succeeded') : report.status === 'failed' ? style.red('✗ failed') : style.yellow('⊘ cancelled');
  const lines = [`${mark} in ${took} (${formatCounts(counts)})`];
  if (report.error) lines.push(`  ${report.error}`);
  if (report.hint) lines.push(`  ${style.cyan('hint')}: ${report.hint}`);
  return lines.join('\n') + '\n';
}

/** Just why a run did not succeed (for `--quiet`): the run's error and hint, or that it was cancelled. */
export function formatFailure(report: RunReport, style: Style): string {
  const lines = [`${report.status === 'cancelled' ? style.yellow('cancelled') : style.red('failed')}: ${report.error ?? `the run ${report.status}`}`];
  if (report.hint) lines.push(`  ${style.cyan('hint')}: ${report.hint}`);
  return lines.join('\n') + '\n';
}

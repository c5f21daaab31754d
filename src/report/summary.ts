/** The closing lines of a human-readable run: how it ended, why, and the counts. */
import type { RunReport } from '../core/report.ts';
import type { StepStatus } from '../core/status.ts';
import type { Style } from './style.ts';
import { formatCounts, formatDuration } from './progress.ts';

export function formatSummary(report: RunReport, style: Style): string {
  const counts: Record<StepStatus, number> = { pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, skipped: 0, not_run: 0 };
  for (const step of Object.values(report.steps)) counts[step.status]++;
  const took = formatDuration(report.durationMs);
  const mark = report.status === 'succeeded' ? style.green('✓ succeeded') : report.status === 'failed' ? style.red('✗ failed') : style.yellow('⊘ cancelled');
  const lines = [`${mark} in ${took} (${formatCounts(counts)})`];
  if (report.error) lines.push(`  ${report.error}`);
  return lines.join('\n') + '\n';
}

/**
 * The live view's frame, as a pure function of the run's progress and the terminal's size, so it can be
 * tested without a terminal. Every line fits the width (a wrapped line would break redrawing in place).
 * When there are more steps than rows, it shows what matters: running and failed steps, then counts.
 */
import type { Style } from './style.ts';
import { count, formatCost, formatCounts, formatDuration, formatItems, formatUsd, skipText, type RunProgress, type StepProgress } from './progress.ts';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface FrameOptions {
  width: number;
  height: number;
  now: number;
  style: Style;
}

export function renderFrame(progress: RunProgress, { width, height, now, style }: FrameOptions): string[] {
  const idWidth = Math.min(30, Math.max(4, ...progress.steps.map((s) => s.id.length)));
  const lineFor = (step: StepProgress) => fit(`  ${stepLine(step, idWidth, now, style)}`, width, style);
  const counts = progress.counts();
  const elapsed = formatDuration(now - progress.startedAt);
  const tokens = progress.tokens > 0 ? style.dim(` · ${formatTokens(progress.tokens)} tokens`) : '';
  // The run's cost so far, and each model's when there are several (one model's is the run's).
  const models = progress.costByModel.size > 1 ? progress.costByModel : [];
  const cost = progress.costByModel.size > 0 ? style.dim(` · ${formatCost(progress.costUsd, models)}`) : '';
  const waiting = progress.steps.filter((s) => s.status === 'running' && s.waiting && s.waiting.untilMs > now).length;
  const limited = waiting > 0 ? style.yellow(` · ${waiting} rate-limited`) : '';
  const items = itemTotals(progress);
  const itemPart = items ? ` · ${count(items.done)}/${count(items.total)} items` : '';
  const summary = fit(`${style.dim(`${elapsed} · `)}${formatCounts(counts, progress.continuedCount()) || 'starting'}${itemPart}${tokens}${cost}${limited}`, width, style);
  const room = Math.max(1, height - 2);
  if (progress.steps.length <= room) return [...progress.steps.map(lineFor), summary];
  // Compact: running steps (longest-running first), then failures, as many as fit.
  const running = progress.steps.filter((s) => s.status === 'running').sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0));
  const failed = progress.steps.filter((s) => s.status === 'failed');
  const shown = [...failed, ...running];
  const lines = shown.slice(0, room - 1).map(lineFor);
  if (shown.length > lines.length) lines.push(fit(style.dim(`  … and ${shown.length - lines.length} more running`), width, style));
  return [...lines, summary];
}

function stepLine(step: StepProgress, idWidth: number, now: number, style: Style): string {
  const id = step.id.length > idWidth ? `${step.id.slice(0, idWidth - 1)}…` : step.id.padEnd(idWidth);
  switch (step.status) {
    case 'pending':
      return `${style.dim('◌')} ${style.dim(id)}  ${style.dim('waiting')}`;
    case 'running': {
      const frame = SPINNER[Math.floor(now / 80) % SPINNER.length];
      const elapsed = formatDuration(now - (step.startedAt ?? now));
      const wait = step.waiting && step.waiting.untilMs > now ? style.yellow(` · ${step.waiting.reason}, ${formatDuration(step.waiting.untilMs - now)} left`) : '';
      // A foreach step is one line however many items it has: what they are doing, then the step's time.
      if (step.items) return `${style.cyan(frame!)} ${id}  ▸ ${itemsText(step, style)}${step.costUsd === undefined ? '' : ` · ${formatUsd(step.costUsd)}`} · ${elapsed}${wait}`;
      return `${style.cyan(frame!)} ${id}  ${elapsed}${wait}`;
    }
    case 'succeeded': {
      if (step.reused) return `${style.dim('↺')} ${id}  ${style.dim('reused')}`;
      if (step.cached) return `${style.green('✓')} ${id}  ${style.dim(`cached${step.items ? ` · ${count(step.items.total)} item${step.items.total === 1 ? '' : 's'}` : ''}`)}`;
      const taken = step.items ? [step.items.reused ? `${count(step.items.reused)} reused` : '', step.items.cached ? `${count(step.items.cached)} cached` : ''].filter(Boolean).join(', ') : '';
      const items = step.items ? `${count(step.items.total)} item${step.items.total === 1 ? '' : 's'}${taken ? ` (${taken})` : ''} · ` : '';
      const cost = step.costUsd === undefined ? '' : ` · ${formatUsd(step.costUsd)}`;
      return `${style.green('✓')} ${id}  ${style.dim(items + formatDuration(step.durationMs ?? 0) + cost + (step.worker ? ` · on ${step.worker}` : ''))}`;
    }
    case 'failed':
      // A failure the run went on after: its own mark and colour, so it never reads as what stopped the run.
      if (step.continued) return `${style.yellow('!')} ${id}  ${style.yellow(`continued · ${failureText(step)}`)}`;
      return `${style.red('✗')} ${id}  ${style.red(failureText(step))}`;
    case 'cancelled':
      return `${style.yellow('⊘')} ${id}  ${style.yellow('cancelled')}`;
    case 'skipped':
      return `${style.dim('−')} ${id}  ${style.dim(step.skipReason ? `skipped · ${skipText(step.skipReason)}` : 'skipped')}`;
    case 'not_run':
      return `${style.dim('−')} ${id}  ${style.dim('not run')}`;
  }
}

function itemsText(step: StepProgress, style: Style): string {
  const text = formatItems(step.items!);
  return step.items!.failed > 0 ? text.replace(/\d[\d,]* failed/, (m) => style.red(m)) : text;
}

/** A failed step in a few words: its error, and for a foreach step how many of its items failed. */
function failureText(step: StepProgress): string {
  const items = step.items;
  if (!items) return firstLine(step.error ?? 'failed');
  const failed = `${count(items.failed)} of ${count(items.total)} items failed`;
  return step.continued || !step.error ? failed : `${firstLine(step.error)} · ${failed}`;
}

/** Items done and in all, over every foreach step; undefined when the run has none. O(steps), once per frame. */
function itemTotals(progress: RunProgress): { done: number; total: number } | undefined {
  let done = 0;
  let total = 0;
  let any = false;
  for (const step of progress.steps) {
    if (!step.items) continue;
    any = true;
    done += step.items.done;
    total += step.items.total;
  }
  return any ? { done, total } : undefined;
}

export function formatTokens(n: number): string {
  return n < 1000 ? String(n) : n < 1_000_000 ? `${(n / 1000).toFixed(1)}k` : `${(n / 1_000_000).toFixed(1)}M`;
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}

/** Cut a line (which may hold colour codes) to `width` visible characters. */
export function fit(line: string, width: number, style: Style): string {
  const visible = line.replace(/\u001b\[[0-9;]*m/g, '');
  if ([...visible].length <= width) return line;
  const plain = [...visible].slice(0, Math.max(1, width - 1)).join('') + '…';
  return style.color ? `${plain}\u001b[0m` : plain;
}

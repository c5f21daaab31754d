/**
 * Line-per-event output for logs, pipes and CI: nothing is redrawn, every line stands on its own.
 *
 * A foreach step never prints a line per item (10,000 items would flood a CI log). It prints:
 * - `▸ step 100 items` when its list is resolved;
 * - each failed item (`✗ step[3] failed: …`), up to PRINTED_ITEM_FAILURES per step; the rest are counted;
 * - a progress line (`▸ step 37/100 items · 4 running · 2 failed`) each time another tenth of its items has
 *   ended, for steps of TENTHS_FROM items or more (at most 9 lines: the last tenth is the step's own closing
 *   line; fewer items would make it a line per item), and whenever a step has printed nothing
 *   for HEARTBEAT_MS of the run's own event times, so a long step still shows signs of life in CI.
 *   Both rules read only the events (counts and their `at`), never a clock: the same events print the same
 *   lines however fast the machine is.
 * Every item event costs O(1).
 */
import type { RunEvent } from '../core/events.ts';
import type { Style } from './style.ts';
import { count, formatDuration, formatItems, formatUsd, newItemProgress, skipText, type ItemProgress } from './progress.ts';

export const PRINTED_ITEM_FAILURES = 20;
export const HEARTBEAT_MS = 60_000;
/** Fewer items than this print no tenths (they would be a line per item); the heartbeat still applies. */
export const TENTHS_FROM = 20;

interface StepLog {
  items: ItemProgress;
  /** The last tenth of the items a progress line was printed for. */
  tenth: number;
  /** When this step last printed a line (event time). */
  lastLineAt: number;
  printedFailures: number;
}

export function plainReporter(write: (text: string) => void, style: Style): (event: RunEvent) => void {
  const logs = new Map<string, StepLog>();
  const logOf = (stepId: string, at: number) => {
    let log = logs.get(stepId);
    if (!log) logs.set(stepId, (log = { items: newItemProgress(), tenth: 0, lastLineAt: at, printedFailures: 0 }));
    return log;
  };
  const progressLine = (stepId: string, log: StepLog, at: number) => {
    log.lastLineAt = at;
    write(`  ${style.cyan('▸')} ${stepId} ${formatItems(log.items)}\n`);
  };
  return (event) => {
    switch (event.type) {
      case 'run:start':
        write(`${style.bold('conductor')}: ${event.stepIds.length} step${event.stepIds.length === 1 ? '' : 's'}, up to ${event.maxConcurrency} at once\n`);
        break;
      case 'step:start':
        write(`  ${style.cyan('▶')} ${event.stepId} started\n`);
        break;
      case 'step:notice':
        write(`  ${style.yellow('…')} ${event.stepId} ${event.notice.reason}, waiting ${formatDuration(Math.max(0, event.notice.untilMs - event.at))}\n`);
        break;
      case 'step:items': {
        const log = logOf(event.stepId, event.at);
        log.items.total = event.count;
        log.lastLineAt = event.at;
        write(`  ${style.cyan('▸')} ${event.stepId} ${count(event.count)} item${event.count === 1 ? '' : 's'}\n`);
        break;
      }
      case 'item:start':
        logOf(event.stepId, event.at).items.running++;
        break;
      case 'item:end': {
        const log = logOf(event.stepId, event.at);
        const { items } = log;
        if (event.reused) items.reused++;
        else if (items.running > 0) items.running--;
        // Started, but its call was never made (the budget): it is not done.
        if (event.status === 'not_run') break;
        items.done++;
        items[event.status]++;
        if (event.cached) items.cached++;
        if (event.status === 'failed') {
          if (log.printedFailures < PRINTED_ITEM_FAILURES) {
            log.printedFailures++;
            log.lastLineAt = event.at;
            write(`  ${style.red('✗')} ${event.stepId}[${event.index}] failed: ${firstLine(event.error ?? '')}\n`);
          } else if (log.printedFailures++ === PRINTED_ITEM_FAILURES) {
            write(`  ${style.dim('…')} ${event.stepId}: more items failed; counted below, not printed\n`);
          }
        }
        if (items.done >= items.total) break; // the step's closing line says the rest
        const tenth = Math.floor((items.done * 10) / items.total);
        if (tenth > log.tenth && items.total >= TENTHS_FROM) {
          log.tenth = tenth;
          progressLine(event.stepId, log, event.at);
        } else if (event.at - log.lastLineAt >= HEARTBEAT_MS) progressLine(event.stepId, log, event.at);
        break;
      }
      case 'step:end': {
        const took = event.durationMs === undefined ? '' : ` in ${formatDuration(event.durationMs)}`;
        const items = event.items ? closingItems(event.items) : undefined;
        const cost = event.costUsd === undefined || event.costUsd === 0 ? '' : ` · ${formatUsd(event.costUsd)}`;
        if (event.reused) write(`  ${style.dim('↺')} ${event.stepId} reused from the earlier run\n`);
        else if (event.status === 'succeeded' && event.cached && !items) write(`  ${style.green('✓')} ${event.stepId} succeeded from the cache: nothing sent\n`);
        else if (event.status === 'succeeded') write(`  ${style.green('✓')} ${event.stepId} succeeded${took}${items ? ` (${items.total} item${items.total === '1' ? '' : 's'}${reusedText(logs.get(event.stepId))})` : ''}${cost}${event.worker ? style.dim(` on ${event.worker}`) : ''}\n`);
        else if (event.status === 'failed') {
          const what = items ? `${items.failed} of ${items.total} items failed` : (event.error ?? '');
          // A failure the run went on after has its own mark: it must not read as the one that stopped the run.
          if (event.continued) write(`  ${style.yellow('!')} ${event.stepId} failed${took}, continued: ${what}\n`);
          else write(`  ${style.red('✗')} ${event.stepId} failed${took}: ${items && event.error ? `${event.error} (${what})` : what}\n`);
        } else if (event.status === 'skipped') write(`  ${style.dim('−')} ${event.stepId} skipped: ${skipText(event.skipReason)}\n`);
        else write(`  ${style.yellow('⊘')} ${event.stepId} ${event.status === 'not_run' ? 'not run' : event.status}${took}${items ? ` (${items.done} of ${items.total} items done)` : ''}${cost}\n`);
        logs.delete(event.stepId);
        break;
      }
      case 'run:end':
        break;
    }
  };
}

function closingItems(items: readonly { status: string }[]): { total: string; failed: string; done: string } {
  let failed = 0;
  let notRun = 0;
  for (const item of items) {
    if (item.status === 'failed') failed++;
    else if (item.status === 'not_run') notRun++;
  }
  return { total: count(items.length), failed: count(failed), done: count(items.length - notRun) };
}

function reusedText(log: StepLog | undefined): string {
  if (!log) return '';
  return `${log.items.reused > 0 ? `, ${count(log.items.reused)} reused` : ''}${log.items.cached > 0 ? `, ${count(log.items.cached)} cached` : ''}`;
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}

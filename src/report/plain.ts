/** Line-per-event output for logs, pipes and CI: nothing is redrawn, every line stands on its own. */
import type { RunEvent } from '../core/events.ts';
import type { Style } from './style.ts';
import { formatDuration } from './progress.ts';

export function plainReporter(write: (text: string) => void, style: Style): (event: RunEvent) => void {
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
      case 'step:end': {
        const took = event.durationMs === undefined ? '' : ` in ${formatDuration(event.durationMs)}`;
        if (event.reused) write(`  ${style.dim('↺')} ${event.stepId} reused from the earlier run\n`);
        else if (event.status === 'succeeded') write(`  ${style.green('✓')} ${event.stepId} succeeded${took}\n`);
        else if (event.status === 'failed') write(`  ${style.red('✗')} ${event.stepId} failed${took}: ${event.error ?? ''}\n`);
        else write(`  ${style.yellow('⊘')} ${event.stepId} ${event.status}${took}\n`);
        break;
      }
      case 'run:end':
        break;
    }
  };
}

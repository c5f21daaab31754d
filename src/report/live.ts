/**
 * The live view on a terminal: redraws one frame in place, every 100 ms and on every change of a step. Item
 * events (a foreach step's thousands) only update counters: the 100 ms timer draws them, so 100,000 items
 * cost 100,000 counter updates and ten frames a second, not a frame each.
 */
import type { RunEvent } from '../core/events.ts';
import type { Style } from './style.ts';
import { renderFrame } from './frame.ts';
import { RunProgress } from './progress.ts';

export interface LiveTarget {
  write(text: string): void;
  columns?: number;
  rows?: number;
}

export function liveReporter(target: LiveTarget, style: Style): { onEvent: (event: RunEvent) => void; stop: () => void } {
  const progress = new RunProgress();
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  let dirty = false;
  const draw = () => {
    dirty = false;
    // Some pseudo-terminals report a size of 0: treat that as unknown, not as a terminal with no room.
    const lines = renderFrame(progress, { width: (target.columns || 80) - 1, height: target.rows || 24, now: Date.now(), style });
    // Up to the first line of the last frame, clear to the end of the screen, draw the new frame.
    const up = drawn > 0 ? `\u001b[${drawn}F` : '';
    target.write(`${up}\u001b[J${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  return {
    onEvent(event) {
      progress.apply(event);
      if (event.type === 'run:start') {
        draw();
        timer = setInterval(draw, 100);
        timer.unref();
      } else if (event.type === 'run:end') {
        if (timer) clearInterval(timer);
        draw();
      } else if (event.type === 'item:start' || event.type === 'item:end') {
        // Drawn by the timer.
      } else if (!dirty) {
        // Coalesce bursts of events (a fan-out of 500 steps) into one redraw.
        dirty = true;
        setImmediate(() => dirty && draw());
      }
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}

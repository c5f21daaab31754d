/**
 * The events of one run as the server hands them out: numbered from 1 in the order the run emitted them, each
 * serialised once (however many clients watch), and kept for replay. A client is a cursor into this one list —
 * replay and live are the same loop, so nothing is lost or repeated between them, a client that reconnects with
 * `Last-Event-ID: n` starts after n, and one that reads slowly costs no memory: it is only further behind.
 */
import type { RunEvent } from '../core/events.ts';

export interface LoggedEvent {
  id: number;
  type: RunEvent['type'];
  /** The event as one Server-Sent Events message (`id`, `event`, `data`), made once for every client. */
  frame: string;
}

export class RunLog {
  readonly #events: LoggedEvent[] = [];
  #waiting = new Set<() => void>();
  #ended = false;
  #bytes = 0;

  get ended(): boolean {
    return this.#ended;
  }

  get size(): number {
    return this.#events.length;
  }

  /** What the kept events weigh, about (their text): the server keeps finished runs' logs within a budget. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The event with id `index + 1`. */
  entry(index: number): LoggedEvent | undefined {
    return this.#events[index];
  }

  append(event: RunEvent): void {
    if (this.#ended) return;
    const id = this.#events.length + 1;
    // JSON has no raw line breaks: the data is one `data:` line.
    const frame = `id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
    this.#events.push({ id, type: event.type, frame });
    this.#bytes += frame.length;
    this.#wake();
    if (event.type === 'run:end') this.end();
  }

  /** No more events (the run ended, or could not start). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#wake();
  }

  /** Resolves once there are more than `size` events, or the log has ended, or `signal` aborts. */
  changed(size: number, signal: AbortSignal): Promise<void> {
    if (this.#events.length > size || this.#ended || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#waiting.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#waiting.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Every event after id `after`, in order, each handed to `send` and awaited (the client's pace), until the log
   * ends or `signal` aborts.
   */
  async follow(after: number, signal: AbortSignal, send: (event: LoggedEvent) => Promise<unknown>): Promise<void> {
    let next = Math.max(0, after);
    while (!signal.aborted) {
      while (next < this.#events.length && !signal.aborted) await send(this.#events[next++]!);
      if (this.#ended && next >= this.#events.length) return;
      await this.changed(next, signal);
    }
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = new Set();
    for (const wake of waiting) wake();
  }
}

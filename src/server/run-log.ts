/**
 * The events of one run as the server hands them out: numbered from 1 in the order the run emitted them, each
 * serialised once (however many clients watch), kept for replay, and pushed to every subscriber as it comes.
 * A client that reconnects with `Last-Event-ID: n` gets everything after n, then the rest live: no event is lost
 * or repeated between the replay and the live part, because both come from this one list.
 */
import type { RunEvent } from '../core/events.ts';

export interface LoggedEvent {
  id: number;
  type: RunEvent['type'];
  /** The event as JSON. */
  data: string;
  /** The event as one Server-Sent Events message (`id`, `event`, `data`), made once for every client. */
  frame: string;
}

export class RunLog {
  readonly #events: LoggedEvent[] = [];
  readonly #subscribers = new Set<(event: LoggedEvent | undefined) => void>();
  #ended = false;

  get ended(): boolean {
    return this.#ended;
  }

  get size(): number {
    return this.#events.length;
  }

  append(event: RunEvent): void {
    if (this.#ended) return;
    const id = this.#events.length + 1;
    const data = JSON.stringify(event);
    // JSON has no raw line breaks: the data is one `data:` line.
    const logged = { id, type: event.type, data, frame: `id: ${id}\nevent: ${event.type}\ndata: ${data}\n\n` };
    this.#events.push(logged);
    for (const subscriber of this.#subscribers) subscriber(logged);
    if (event.type === 'run:end') this.end();
  }

  /** No more events (the run ended, or could not start): every subscriber is told with `undefined`. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const subscriber of this.#subscribers) subscriber(undefined);
    this.#subscribers.clear();
  }

  /**
   * The events after `afterId`, then each new one as it comes, then `undefined` once the log ends. Returns the
   * unsubscribe function. Replay and live are one sequence: nothing is appended between them (this is synchronous).
   */
  follow(afterId: number, onEvent: (event: LoggedEvent | undefined) => void): () => void {
    for (let i = Math.max(0, afterId); i < this.#events.length; i++) onEvent(this.#events[i]!);
    if (this.#ended) {
      onEvent(undefined);
      return () => {};
    }
    this.#subscribers.add(onEvent);
    return () => this.#subscribers.delete(onEvent);
  }
}

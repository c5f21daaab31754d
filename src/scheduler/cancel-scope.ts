/**
 * Per-step abort signals tied to the run's. Every step gets its own controller (the action, fetch and the
 * provider SDK attach their listeners to it), and the run's signal carries a single listener however many
 * steps run: adding listeners to one shared EventTarget costs time in proportion to the listeners already
 * there, which a 2,000-step fan-out turns into seconds.
 */
export class CancelScope {
  readonly signal: AbortSignal;
  readonly #children = new Set<AbortController>();

  constructor(signal: AbortSignal) {
    this.signal = signal;
    signal.addEventListener(
      'abort',
      () => {
        for (const child of this.#children) child.abort(signal.reason);
        this.#children.clear();
      },
      { once: true },
    );
  }

  /** A controller aborted with the run; `release` it when the step is done so the scope does not grow. */
  child(): { controller: AbortController; release: () => void } {
    const controller = new AbortController();
    if (this.signal.aborted) controller.abort(this.signal.reason);
    else this.#children.add(controller);
    return { controller, release: () => this.#children.delete(controller) };
  }
}

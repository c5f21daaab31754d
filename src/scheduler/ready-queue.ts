/**
 * The ready set: a binary heap of step indices, highest priority first. Priority is the longest remaining
 * path (critical path first), ties to the step declared first, so a long chain declared after many short
 * steps is never starved. O(log n) per push and pop.
 */
export class ReadyQueue {
  readonly #heap: number[] = [];
  readonly #priority: ArrayLike<number>;

  constructor(priority: ArrayLike<number>) {
    this.#priority = priority;
  }

  get size(): number {
    return this.#heap.length;
  }

  push(step: number): void {
    const heap = this.#heap;
    heap.push(step);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(step, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = step;
  }

  pop(): number | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && this.#before(heap[right]!, heap[left]!) ? right : left;
      if (!this.#before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }

  #before(a: number, b: number): boolean {
    const pa = this.#priority[a]!;
    const pb = this.#priority[b]!;
    return pa > pb || (pa === pb && a < b);
  }
}

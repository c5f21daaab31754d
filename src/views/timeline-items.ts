/**
 * A foreach step's items on the timeline, grouped under their step: one row per step, never one per item.
 *
 * Items are packed into lanes (greedy interval partitioning: each item takes the lowest lane free when it
 * starts), so the lanes number exactly the most items that ran at once, and a lane is a strip of items end to
 * end. The text timeline draws, in each column, how many items were in flight (▁ to █); the SVG draws the
 * lanes under the step's bar, merging items of a lane closer than a pixel. Either way a step of 100,000 items
 * costs O(n log n) once and draws at most width × lanes marks: the shape — how many at once, stalls, a long
 * tail, failures — is what a reader takes from it, and a row per item would bury the other steps.
 */
import type { ItemStatus } from '../core/status.ts';

/** One item as the store records it (times in epoch ms). */
export interface TimelineItemInput {
  index: number;
  status: ItemStatus;
  startedAt?: number;
  finishedAt?: number;
  reused?: boolean;
}

export interface ItemBar {
  index: number;
  status: ItemStatus;
  /** Milliseconds from the start of the run. */
  start: number;
  end: number;
  lane: number;
}

export interface TimelineItems {
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  notRun: number;
  reused: number;
  /** The most items that ran at once (= the number of lanes). */
  peak: number;
  /** The items that ran, by start time, each in its lane. */
  bars: ItemBar[];
}

/** `total`: how many items the list had, when more than were recorded (the others never started). */
export function packItems(items: readonly TimelineItemInput[], runStart: number, total = items.length): TimelineItems {
  const summary: TimelineItems = { total: Math.max(total, items.length), succeeded: 0, failed: 0, cancelled: 0, notRun: Math.max(0, total - items.length), reused: 0, peak: 0, bars: [] };
  const ran: ItemBar[] = [];
  for (const item of items) {
    if (item.status === 'not_run') summary.notRun++;
    else summary[item.status]++;
    if (item.reused) summary.reused++;
    else if (item.startedAt !== undefined && item.finishedAt !== undefined) ran.push({ index: item.index, status: item.status, start: item.startedAt - runStart, end: Math.max(item.startedAt, item.finishedAt) - runStart, lane: 0 });
  }
  ran.sort((a, b) => a.start - b.start || a.index - b.index);
  // Busy lanes by end time, free lanes by number: an item takes the lowest lane whose last item has ended.
  const busy = new Heap<[number, number]>((a, b) => a[0] - b[0] || a[1] - b[1]);
  const free = new Heap<number>((a, b) => a - b);
  for (const bar of ran) {
    while (busy.size > 0 && busy.peek()![0] <= bar.start) free.push(busy.pop()![1]);
    bar.lane = free.size > 0 ? free.pop()! : summary.peak++;
    busy.push([bar.end, bar.lane]);
  }
  summary.bars = ran;
  return summary;
}

/**
 * How many items were in flight, on average, in each of `columns` equal slices of [0, totalMs]: the time the
 * items spent in the slice over its length, so a column never shows more than ran at once. One sweep over
 * the starts and ends in time order: O(items · log items + columns).
 */
export function inFlight(bars: readonly ItemBar[], totalMs: number, columns: number): Float64Array {
  const out = new Float64Array(columns);
  if (totalMs <= 0 || columns <= 0) return out;
  const starts = Float64Array.from(bars, (b) => b.start).sort();
  const ends = Float64Array.from(bars, (b) => b.end).sort();
  const slice = totalMs / columns;
  let i = 0;
  let j = 0;
  let level = 0;
  let t = 0;
  for (let c = 0; c < columns; c++) {
    const until = (c + 1) * slice;
    let area = 0;
    for (;;) {
      // Ends before starts at the same time: an item that ends as another starts never overlaps it.
      const next = j < ends.length && (i >= starts.length || ends[j]! <= starts[i]!) ? ends[j]! : i < starts.length ? starts[i]! : Infinity;
      if (next >= until) break;
      area += level * (Math.max(next, t) - t);
      t = Math.max(next, t);
      if (j < ends.length && ends[j] === next && (i >= starts.length || ends[j]! <= starts[i]!)) {
        level--;
        j++;
      } else {
        level++;
        i++;
      }
    }
    area += level * (until - t);
    t = until;
    out[c] = area / slice;
  }
  return out;
}

/** A small binary heap (the packing above needs two). */
class Heap<T> {
  readonly #items: T[] = [];
  readonly compare: (a: T, b: T) => number;
  constructor(compare: (a: T, b: T) => number) {
    this.compare = compare;
  }
  get size(): number {
    return this.#items.length;
  }
  peek(): T | undefined {
    return this.#items[0];
  }
  push(value: T): void {
    const items = this.#items;
    items.push(value);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(items[i]!, items[parent]!) >= 0) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }
  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.compare(items[l]!, items[m]!) < 0) m = l;
        if (r < items.length && this.compare(items[r]!, items[m]!) < 0) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }
}

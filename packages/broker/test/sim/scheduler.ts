/**
 * Simulated time: a priority queue of events ordered by (time, insertion order). Nothing in
 * the simulation sleeps or reads the wall clock; `now` moves only when an event is taken.
 * Ties keep insertion order, so a run depends on the seed alone.
 */
import type { Clock } from '@tributary/storage';

export interface SimEvent {
  readonly atMs: number;
  readonly seq: number;
  readonly label: string;
  readonly run: () => void | Promise<void>;
}

/** The simulated start time: a fixed date (2026-01-01), so timestamps in batches look real and replay the same. */
export const SIM_EPOCH_MS = 1_767_225_600_000;

export class Scheduler implements Clock {
  private nowMs = SIM_EPOCH_MS;
  private seq = 0;
  private readonly heap: SimEvent[] = [];

  now(): number {
    return this.nowMs;
  }

  /** Milliseconds since the simulation started (for traces). */
  elapsedMs(): number {
    return this.nowMs - SIM_EPOCH_MS;
  }

  get pending(): number {
    return this.heap.length;
  }

  after(delayMs: number, label: string, run: () => void | Promise<void>): void {
    const event: SimEvent = { atMs: this.nowMs + Math.max(0, Math.floor(delayMs)), seq: this.seq++, label, run };
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** Takes the next event and moves the clock to it; undefined when none is left. */
  take(): SimEvent | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    this.nowMs = top.atMs;
    return top;
  }
}

function before(x: SimEvent, y: SimEvent): boolean {
  return x.atMs < y.atMs || (x.atMs === y.atMs && x.seq < y.seq);
}

/**
 * Reusable memory for request frames.
 *
 * Every request is copied out of the shared read buffer into memory of its own (see
 * shared-read-buffer.ts and frame-decoder.ts). Allocating that memory fresh for each
 * request cost the produce path twice over at a few hundred MB/s:
 * - each buffer is external memory to V8, which starts a full GC whenever external memory
 *   has grown by 64 MB since the last one: with 500 producing connections, ~10 mark-compacts
 *   a second on a 10 MB heap (17% of the broker's CPU in a profile);
 * - the memory malloc hands out after such a GC has often been given back to the kernel,
 *   and on a VM whose host reclaims freed memory every page of it faults in again, at a
 *   fraction of the speed of memory in use.
 *
 * So frames come from per-size-class free lists (powers of two, 1 KiB to 2 MiB) and a
 * frame goes back only when the connection knows nothing can still see it: a Produce
 * request answered synchronously (its batches were validated and written to the segment
 * file with writeSync before the handler returned, and no Produce handler, log or index
 * keeps a view of request bytes). Any other frame is simply left to the garbage collector,
 * which is always safe; a frame given back while something still held a view of it would
 * corrupt that view, so `give` is called from exactly one place (Connection.dispatch).
 *
 * The event loop is one thread, so the pool needs no locking. Idle memory is bounded:
 * each class keeps at most IDLE_BYTES_PER_CLASS (but at least one buffer), and all
 * classes together at most IDLE_BYTES_TOTAL.
 */

const MIN_CLASS_SHIFT = 10; // 1 KiB
const MAX_CLASS_SHIFT = 21; // 2 MiB: Kafka's max.request.size and librdkafka's message.max.bytes are ~1 MB
const IDLE_BYTES_PER_CLASS = 2 * 1024 * 1024;
const IDLE_BYTES_TOTAL = 8 * 1024 * 1024;

/** The largest frame the pool serves; larger ones are allocated as they come. */
export const POOLED_FRAME_MAX_BYTES = 1 << MAX_CLASS_SHIFT;

/**
 * The pool's buffers carry a property keyed by the pool's own symbol, so that `give` can
 * tell them from any other memory. (A WeakSet of them did the same, but every frame not
 * given back left an entry that only a full GC removes, and at 10k requests/s the
 * scavenges that had to walk those entries grew ~50% longer.)
 */
type Marked = ArrayBuffer & Record<symbol, boolean>;

export class FramePool {
  private readonly mark = Symbol('FramePool');
  private readonly free: ArrayBuffer[][] = [];
  private idle = 0;
  /** Frames allocated fresh, and taken from the free lists: for tests and metrics. */
  allocated = 0;
  reused = 0;

  constructor() {
    for (let s = MIN_CLASS_SHIFT; s <= MAX_CLASS_SHIFT; s++) this.free.push([]);
  }

  /** A buffer of exactly `size` bytes (uninitialised), from a free list when one has room. */
  take(size: number): Buffer {
    if (size > POOLED_FRAME_MAX_BYTES) {
      this.allocated++;
      return Buffer.allocUnsafeSlow(size);
    }
    const cls = classOf(size);
    const list = this.free[cls]!;
    let backing = list.pop();
    if (backing === undefined) {
      backing = Buffer.allocUnsafeSlow(1 << (cls + MIN_CLASS_SHIFT)).buffer as ArrayBuffer;
      (backing as Marked)[this.mark] = true;
      this.allocated++;
    } else {
      this.idle -= backing.byteLength;
      this.reused++;
    }
    return Buffer.from(backing, 0, size);
  }

  /**
   * Returns a frame from `take` for reuse. The caller guarantees that nothing holds a view
   * of it any more. Frames the pool did not make are ignored.
   */
  give(frame: Buffer): void {
    const backing = frame.buffer as ArrayBuffer;
    if (frame.byteOffset !== 0 || (backing as Marked)[this.mark] !== true) return;
    const cls = classOf(backing.byteLength);
    const list = this.free[cls]!;
    const size = backing.byteLength;
    if (this.idle + size > IDLE_BYTES_TOTAL) return;
    if (list.length > 0 && (list.length + 1) * size > IDLE_BYTES_PER_CLASS) return;
    list.push(backing);
    this.idle += size;
  }

  /**
   * Bytes of a pool buffer's own memory past `view` (a view of a frame from `take`): room
   * nothing else uses. 0 for memory the pool did not make.
   */
  spareBytesAfter(view: Uint8Array): number {
    const backing = view.buffer as ArrayBuffer;
    if ((backing as Marked)[this.mark] !== true) return 0;
    return backing.byteLength - (view.byteOffset + view.byteLength);
  }

  /** Bytes held in the free lists. */
  get idleBytes(): number {
    return this.idle;
  }
}

/** Index of the smallest class that holds `size` bytes (size <= POOLED_FRAME_MAX_BYTES). */
function classOf(size: number): number {
  if (size <= 1 << MIN_CLASS_SHIFT) return 0;
  return 32 - Math.clz32(size - 1) - MIN_CLASS_SHIFT;
}

/** The pool every connection of this process uses (all on the one event-loop thread). */
export const framePool = new FramePool();

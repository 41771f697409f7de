/**
 * The most recently appended batches of one partition, kept in memory so that tailing
 * consumers (and followers) are served without a file read. Bounded in bytes; the oldest
 * batches fall out first. Entries are views of the appended buffers, never copies, so the
 * cache costs no extra memory while the request buffer is alive anyway.
 *
 * Invariant: the cached batches are contiguous in the log and end at the log end offset,
 * so a fetch at or after the first cached offset is answered entirely from here.
 *
 * A view keeps its whole backing memory alive, and a small batch is often a slice of a
 * 64 KiB socket read (or of an 8 KiB pool slab). Kept as views, 1 KiB batches pinned up to
 * 64x their size: hundreds of MB for a 64 MiB budget, and the external memory drove
 * V8 into extra full GCs. Such batches are copied into shared slabs instead (see
 * `retainable`), so what the cache holds is within a slab of what the budget counts.
 */
export interface CachedBatch {
  baseOffset: number;
  lastOffset: number;
  bytes: Buffer;
  /** Order of insertion across all caches sharing a budget (set by add). */
  seq?: number;
}

/**
 * One memory budget shared by the caches of every partition of a LogManager: with
 * thousands of partitions, per-partition limits alone would let the caches grow to
 * gigabytes. Eviction is first-in first-out across all partitions: the globally oldest
 * cached batch goes first, which keeps what tailing consumers are about to read.
 */
export class CacheBudget {
  readonly maxBytes: number;
  private bytes = 0;
  private seq = 0;
  /**
   * Every batch added, oldest first; entries whose batch is already gone are skipped.
   * Batches also leave by their own partition's limit, truncation or clear, without the
   * budget seeing which: such entries are dropped when the array is compacted.
   */
  private order: { cache: BatchCache; seq: number }[] = [];
  private head = 0;
  /** Compact when more entries than this are queued (twice the live ones at the last compaction). */
  private compactAbove = MIN_COMPACT_ENTRIES;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get sizeInBytes(): number {
    return this.bytes;
  }

  /** Called by a cache after it added a batch: numbers it, then evicts what is over budget. */
  added(cache: BatchCache, batch: CachedBatch): void {
    const seq = ++this.seq;
    batch.seq = seq;
    this.bytes += batch.bytes.length;
    this.order.push({ cache, seq });
    while (this.bytes > this.maxBytes && this.head < this.order.length) {
      const oldest = this.order[this.head++]!;
      oldest.cache.evictThrough(oldest.seq);
    }
    if (this.order.length - this.head > this.compactAbove || (this.head > MIN_COMPACT_ENTRIES && this.head * 2 > this.order.length)) {
      this.compact();
    }
  }

  /**
   * Keeps only the entries whose batch may still be cached. Without this, a budget that is
   * never exceeded (six partitions at their 1 MiB limit under a 64 MiB budget) queued one
   * entry per appended batch for ever: a leak of ~50 bytes per batch, and a steady stream
   * of objects promoted to the old generation. Amortised O(1): the next compaction waits
   * until the queue has doubled past what survived this one.
   */
  private compact(): void {
    const live: { cache: BatchCache; seq: number }[] = [];
    for (let i = this.head; i < this.order.length; i++) {
      const entry = this.order[i]!;
      if (entry.cache.mayHold(entry.seq)) live.push(entry);
    }
    this.order = live;
    this.head = 0;
    this.compactAbove = Math.max(MIN_COMPACT_ENTRIES, live.length * 2);
  }

  /** Called by a cache for every byte it drops, whatever the reason. */
  released(bytes: number): void {
    this.bytes -= bytes;
  }
}

const MIN_COMPACT_ENTRIES = 4096;

/** Batches up to this size are copied into slabs when their backing memory is much larger. */
const SLAB_BYTES = 256 * 1024;
const SLAB_MAX_BATCH = SLAB_BYTES / 8;
let slab: Buffer = Buffer.alloc(0);
let slabUsed = 0;

/**
 * `bytes` itself when it is most of its backing memory; otherwise a compact copy (into a
 * shared slab for small batches). Slabs are plain memory released by GC once every batch
 * copied into them is evicted; eviction is oldest-first, so slabs go in order.
 */
export function retainable(bytes: Buffer): Buffer {
  const backing = bytes.buffer.byteLength;
  if (bytes.length > SLAB_MAX_BATCH) {
    // A large batch is usually one of a request's few partitions, whose other batches are
    // cached too: keep the view unless it would pin far more than itself.
    return backing <= bytes.length * 8 ? bytes : Buffer.from(bytes);
  }
  if (backing <= bytes.length * 2) return bytes;
  if (slabUsed + bytes.length > slab.length) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + bytes.length);
  bytes.copy(out);
  slabUsed += (bytes.length + 7) & ~7;
  return out;
}

/** Put in place of an evicted batch so the array no longer keeps its bytes alive. */
const EVICTED: CachedBatch = Object.freeze({ baseOffset: -1, lastOffset: -1, bytes: Buffer.alloc(0) }) as CachedBatch;

export class BatchCache {
  readonly maxBytes: number;
  private batches: CachedBatch[] = [];
  private head = 0;
  private bytes = 0;
  private readonly budget: CacheBudget | undefined;

  constructor(maxBytes: number, budget?: CacheBudget) {
    this.maxBytes = maxBytes;
    this.budget = budget;
  }

  get sizeInBytes(): number {
    return this.bytes;
  }

  /** First offset served from memory, or null when empty. */
  firstOffset(): number | null {
    return this.head < this.batches.length ? this.batches[this.head]!.baseOffset : null;
  }

  /** Caches `batch`; its bytes may be replaced by a compact copy (see `retainable`). */
  add(batch: CachedBatch): void {
    if (this.maxBytes <= 0) return;
    batch.bytes = retainable(batch.bytes);
    this.batches.push(batch);
    this.bytes += batch.bytes.length;
    while (this.bytes > this.maxBytes && this.head < this.batches.length) {
      this.dropHead();
    }
    // After the push, so that a budget eviction of this very batch leaves the cache consistent.
    this.budget?.added(this, batch);
    // Compact the array now and then instead of shifting on every eviction.
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Batches from the one holding `offset`, within maxBytes (the first whole when
   * minOneBatch), stopping before a batch that reaches maxOffset. null when `offset` is
   * before the cache.
   */
  read(offset: number, maxBytes: number, maxOffset: number, minOneBatch: boolean): { buffers: Buffer[]; bytes: number; lastOffset: number } | null {
    const first = this.firstOffset();
    if (first === null || offset < first) return null;
    let lo = this.head;
    let hi = this.batches.length - 1;
    let idx = this.batches.length;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.batches[mid]!.lastOffset >= offset) {
        idx = mid;
        hi = mid - 1;
      } else {
        lo = mid + 1;
      }
    }
    const buffers: Buffer[] = [];
    let bytes = 0;
    let lastOffset = -1;
    for (let i = idx; i < this.batches.length; i++) {
      const b = this.batches[i]!;
      if (b.lastOffset >= maxOffset) break;
      if (bytes + b.bytes.length > maxBytes && !(buffers.length === 0 && minOneBatch)) break;
      buffers.push(b.bytes);
      bytes += b.bytes.length;
      lastOffset = b.lastOffset;
    }
    return { buffers, bytes, lastOffset };
  }

  private dropHead(): void {
    const size = this.batches[this.head]!.bytes.length;
    // The slot must let go of the batch at once: a batch is a view of a whole request
    // buffer, and the array is only compacted now and then, so keeping evicted entries
    // until then pinned up to a gigabyte of request buffers.
    this.batches[this.head] = EVICTED;
    this.bytes -= size;
    this.head++;
    this.budget?.released(size);
  }

  /**
   * False when the batch numbered `seq` by the budget is certainly gone: older than the
   * oldest cached batch, or newer than the newest (truncated away). May be true for a batch
   * truncated and replaced since, which only keeps one budget entry a little longer.
   */
  mayHold(seq: number): boolean {
    if (this.head >= this.batches.length) return false;
    const first = this.batches[this.head]!.seq;
    const last = this.batches[this.batches.length - 1]!.seq;
    return first !== undefined && last !== undefined && seq >= first && seq <= last;
  }

  /** Drops the oldest batches up to and including the one with budget sequence `seq`. */
  evictThrough(seq: number): void {
    while (this.head < this.batches.length) {
      const b = this.batches[this.head]!;
      if (b.seq === undefined || b.seq > seq) return;
      this.dropHead();
    }
  }

  /** Drops cached batches at or after `offset` (log truncation). */
  truncateTo(offset: number): void {
    while (this.batches.length > this.head && this.batches[this.batches.length - 1]!.lastOffset >= offset) {
      const size = this.batches.pop()!.bytes.length;
      this.bytes -= size;
      this.budget?.released(size);
    }
  }

  clear(): void {
    this.budget?.released(this.bytes);
    this.batches = [];
    this.head = 0;
    this.bytes = 0;
  }
}

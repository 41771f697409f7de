/**
 * The batches a leader appended most recently, in memory, so that a follower fetching at
 * (or near) the log end gets them without a file read (issue 15). Kafka sends follower
 * fetches from the page cache with sendfile; Tributary reads fetched bytes into memory
 * before writing them to the socket, so without this every follower fetch was one pread
 * per partition into a fresh buffer, for bytes the leader had in memory moments before.
 *
 * What it holds: a copy of each appended byte range, taken after the log has assigned
 * offsets and leader epochs (the bytes exactly as written to the segment). A copy, because
 * the appended buffer belongs to a request frame that goes back to the frame pool and is
 * reused (network/frame-pool.ts, replica/written-appends.ts).
 *
 * Consistency: the Log feeds every write to it and clears it on every change that is not
 * an append at the end (truncation, cleaner swap, close), so what it holds is always a
 * suffix of the log: from its first batch's base offset to the log end offset. A read is
 * served from it only when the fetch offset is at or past that first batch; anything
 * earlier goes to the segment files, as before. It is dropped from the front only (size
 * limits, or once every follower has fetched past a batch), which keeps it a suffix.
 *
 * Memory: bounded per partition (`maxBytes`) and broker-wide (RecentAppendsBudget). An
 * append that does not fit in the broker-wide budget after dropping this partition's own
 * older batches is not kept (and the partition's cache is then empty): reads fall back to
 * the files, which is only slower.
 */
import type { BatchSummary } from '@tributary/protocol';

/** The bytes every partition's recent appends may hold together on one broker. */
export class RecentAppendsBudget {
  private used = 0;

  constructor(readonly limitBytes: number) {}

  get usedBytes(): number {
    return this.used;
  }

  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.limitBytes) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }
}

/** One cached batch: `size` bytes at `at` in `buf` (the copy of the append that held it). */
interface CachedBatch {
  readonly buf: Buffer;
  readonly at: number;
  readonly size: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** Bytes charged to the budget when this batch leaves: the whole copy on its append's last batch, else 0. */
  readonly charge: number;
}

/** What a read served from memory returns: whole batches, in order, as Log.read's records. */
export interface RecentRead {
  readonly records: Buffer[];
  readonly sizeInBytes: number;
  readonly nextFetchOffset: number;
}

export class RecentAppends {
  /** Batches in offset order; the live ones are [head, batches.length). */
  private batches: CachedBatch[] = [];
  private head = 0;
  private bytes = 0;

  /** `maxBytes`: this partition's bound; `budget`: the broker's, shared by every partition. */
  constructor(
    private readonly budget: RecentAppendsBudget,
    readonly maxBytes: number,
  ) {}

  /** Bytes held (the copies of the appends still cached). */
  get sizeInBytes(): number {
    return this.bytes;
  }

  /** Base offset of the oldest batch held, or -1 when empty: reads from it on are served here. */
  get firstOffset(): number {
    return this.head < this.batches.length ? this.batches[this.head]!.baseOffset : -1;
  }

  /**
   * Keeps a copy of `batches` (the bytes just written, framed by `headers`). They must
   * follow what is held (the log calls this for every write, in order).
   */
  appended(batches: Buffer, headers: readonly BatchSummary[]): void {
    const size = batches.length;
    if (size > this.maxBytes) {
      this.clear();
      return;
    }
    while (this.bytes + size > this.maxBytes) this.dropOldest();
    while (!this.budget.tryReserve(size)) {
      if (this.head === this.batches.length) return; // Not kept: nothing held, so reads go to the files.
      this.dropOldest();
    }
    // Its own ArrayBuffer of exactly this size: a Fetch response holding a slice of it
    // pins no more than it accounts for (handlers/fetch.ts rightSized).
    const copy = Buffer.allocUnsafeSlow(size);
    batches.copy(copy, 0, 0, size);
    const first = headers[0]!.position;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      this.batches.push({ buf: copy, at: h.position - first, size: h.size, baseOffset: h.baseOffset, lastOffset: h.lastOffset, charge: i === headers.length - 1 ? size : 0 });
    }
    this.bytes += size;
  }

  /** Drops the batches every reader has fetched: those ending before `offset` (whole appends only). */
  releaseBelow(offset: number): void {
    while (this.head < this.batches.length) {
      // An append's copy is released with its last batch; drop by whole appends.
      let end = this.head;
      while (this.batches[end]!.charge === 0) end++;
      if (this.batches[end]!.lastOffset >= offset) return;
      this.dropOldest();
    }
  }

  /** Forgets everything (the log changed other than by an append at its end). */
  clear(): void {
    this.budget.release(this.bytes);
    this.bytes = 0;
    this.batches = [];
    this.head = 0;
  }

  /**
   * Log.read's answer from memory, or undefined when `fetchOffset` is before what is held
   * (the files answer). Same rules as a segment read: whole batches from the one holding
   * `fetchOffset`, each ending before `maxOffset`, within `maxBytes`; the first one whole
   * even when larger with `minOneBatch` (KIP-74). The caller has checked that `fetchOffset`
   * is below both `maxOffset` and the log end offset.
   */
  read(fetchOffset: number, maxBytes: number, maxOffset: number, minOneBatch: boolean): RecentRead | undefined {
    const batches = this.batches;
    const n = batches.length;
    if (this.head === n || fetchOffset < batches[this.head]!.baseOffset) return undefined;
    // First batch whose last offset is >= fetchOffset (binary search; followers ask near the end).
    let lo = this.head;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (batches[mid]!.lastOffset < fetchOffset) lo = mid + 1;
      else hi = mid;
    }
    const records: Buffer[] = [];
    let total = 0;
    let next = fetchOffset;
    let runBuf: Buffer | undefined;
    let runStart = 0;
    let runEnd = 0;
    for (let i = lo; i < n; i++) {
      const b = batches[i]!;
      if (b.lastOffset >= maxOffset) break;
      if (total + b.size > maxBytes && !(total === 0 && minOneBatch)) break;
      if (runBuf === b.buf && runEnd === b.at) {
        runEnd += b.size;
      } else {
        if (runBuf !== undefined) records.push(runBuf.subarray(runStart, runEnd));
        runBuf = b.buf;
        runStart = b.at;
        runEnd = b.at + b.size;
      }
      total += b.size;
      next = b.lastOffset + 1;
      // KIP-74: a first batch larger than maxBytes comes alone.
      if (total > maxBytes) break;
    }
    if (runBuf !== undefined) records.push(runBuf.subarray(runStart, runEnd));
    return { records, sizeInBytes: total, nextFetchOffset: next };
  }

  private dropOldest(): void {
    // Drops one whole append (its batches share one copy, charged on the last).
    while (this.head < this.batches.length) {
      const b = this.batches[this.head++]!;
      if (b.charge > 0) {
        this.bytes -= b.charge;
        this.budget.release(b.charge);
        break;
      }
    }
    if (this.head === this.batches.length) {
      this.batches = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head);
      this.head = 0;
    }
  }
}

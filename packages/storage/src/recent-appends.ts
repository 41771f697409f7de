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
 * reused (network/frame-pool.ts, replica/written-appends.ts). The copies go back to back
 * into chunks (up to CHUNK_BYTES_MAX), so that a follower fetching several appends of a
 * partition gets one slice, not one buffer per append that the Fetch handler then copied
 * into one (Buffer.concat): with a copy per append, each follower fetch copied its records
 * once more, and every byte the leader took in was allocated three times (the copy and
 * two followers' concatenations), which also drove V8's full collections (external
 * memory). A chunk is never written again where it was written once: a Fetch response may
 * still hold a slice of it after the cache has dropped it (isRecentAppendsBuffer).
 *
 * Consistency: the Log feeds every write to it and clears it on every change that is not
 * an append at the end (truncation, cleaner swap, close), so what it holds is always a
 * suffix of the log: from its first batch's base offset to the log end offset. A read is
 * served from it only when the fetch offset is at or past that first batch; anything
 * earlier goes to the segment files, as before. It is dropped from the front only (size
 * limits, or once every follower has fetched past a batch), which keeps it a suffix.
 *
 * Memory: bounded per partition (`maxBytes`) and broker-wide (RecentAppendsBudget), counted
 * in whole chunks (what is really allocated): a chunk is charged when it is allocated and
 * given back once every append in it has been dropped and no append goes into it any more.
 * A partition's first chunk is CHUNK_BYTES_MIN and each one that fills doubles the next, so
 * a partition with few small appends holds little. An append that does not fit in the
 * broker-wide budget after dropping this partition's own older batches is not kept (and the
 * partition's cache is then empty): reads fall back to the files, which is only slower.
 */
import type { BatchSummary } from '@tributary/protocol';

/**
 * A partition's first chunk: small, so that the many partitions with a trickle of small
 * appends (__consumer_offsets) take little of the broker-wide budget.
 */
export const CHUNK_BYTES_MIN = 16 * 1024;
/**
 * The largest chunk (besides an append larger than this, which gets one of its own size): a
 * quarter of Kafka's replica.fetch.max.bytes (1 MiB), so that most follower fetches of a busy
 * partition fall within one chunk, and a chunk dropped from the cache but still held by a
 * Fetch response being written pins at most this much outside any budget.
 */
export const CHUNK_BYTES_MAX = 256 * 1024;

/** The ArrayBuffers of every chunk: a Fetch response may keep a slice of one whole (isRecentAppendsBuffer). */
const chunkBuffers = new WeakSet<ArrayBufferLike>();

/**
 * Whether `buf` is a slice of a recent-appends chunk. Its memory is counted by the cache's
 * budget while cached, and is at most CHUNK_BYTES_MAX, so a Fetch response need not copy a
 * small slice out of it to keep its own memory accounting exact (handlers/fetch.ts rightSized).
 */
export function isRecentAppendsBuffer(buf: Buffer): boolean {
  return chunkBuffers.has(buf.buffer);
}

/** Where appends are copied, back to back, each byte written once. */
class Chunk {
  /** Bytes written so far (appends go after them). */
  used = 0;
  /** Appends held by the cache whose bytes are in this chunk. */
  live = 0;
  constructor(readonly buf: Buffer) {}
}

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

/** One cached batch: `size` bytes at `at` in `buf` (its append's chunk). */
interface CachedBatch {
  readonly buf: Buffer;
  readonly at: number;
  readonly size: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly chunk: Chunk;
  /** The last batch of its append: appends are dropped whole. */
  readonly lastOfAppend: boolean;
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
  /** Bytes charged: the chunks held. */
  private bytes = 0;
  /** The chunk appends are copied into; undefined before the first or after clear(). */
  private current: Chunk | undefined;
  private nextChunkBytes = CHUNK_BYTES_MIN;

  /** `maxBytes`: this partition's bound; `budget`: the broker's, shared by every partition. */
  constructor(
    private readonly budget: RecentAppendsBudget,
    readonly maxBytes: number,
  ) {}

  /** Bytes held (the chunks the appends still cached are in). */
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
    let chunk = this.current;
    if (chunk === undefined || chunk.buf.length - chunk.used < size) {
      if (chunk !== undefined) {
        // Full: no append goes into it any more, and a busy partition gets a larger one.
        this.current = undefined;
        if (chunk.live === 0) this.releaseChunk(chunk);
        this.nextChunkBytes = Math.min(CHUNK_BYTES_MAX, this.nextChunkBytes * 2);
      }
      const chunkBytes = Math.min(this.maxBytes, Math.max(size, this.nextChunkBytes));
      while (this.bytes + chunkBytes > this.maxBytes && this.head < this.batches.length) this.dropOldest();
      while (!this.budget.tryReserve(chunkBytes)) {
        if (this.head === this.batches.length) return; // Not kept: nothing held, so reads go to the files.
        this.dropOldest();
      }
      chunk = new Chunk(Buffer.allocUnsafeSlow(chunkBytes));
      chunkBuffers.add(chunk.buf.buffer);
      this.bytes += chunkBytes;
      this.current = chunk;
    }
    const start = chunk.used;
    batches.copy(chunk.buf, start, 0, size);
    chunk.used += size;
    chunk.live++;
    const first = headers[0]!.position;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      this.batches.push({ buf: chunk.buf, at: start + h.position - first, size: h.size, baseOffset: h.baseOffset, lastOffset: h.lastOffset, chunk, lastOfAppend: i === headers.length - 1 });
    }
  }

  /** Drops the batches every reader has fetched: those ending before `offset` (whole appends only). */
  releaseBelow(offset: number): void {
    while (this.head < this.batches.length) {
      // Drop by whole appends: an append goes when its last batch has been fetched.
      let end = this.head;
      while (!this.batches[end]!.lastOfAppend) end++;
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
    this.current = undefined;
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
    // Drops one whole append; its chunk goes once nothing in it is held and nothing more goes in.
    while (this.head < this.batches.length) {
      const b = this.batches[this.head++]!;
      if (b.lastOfAppend) {
        const chunk = b.chunk;
        chunk.live--;
        if (chunk.live === 0 && chunk !== this.current) this.releaseChunk(chunk);
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

  private releaseChunk(chunk: Chunk): void {
    this.bytes -= chunk.buf.length;
    this.budget.release(chunk.buf.length);
  }
}

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
 * memory).
 *
 * Reuse (issue 15): a new chunk per 256 KiB was still ~1 MB allocated per MB produced on the
 * leader, and V8 starts a full collection each time external memory grows ~64 MB, so the
 * RF=3 leader ran 3-4 Mark-Compacts a second on a 17 MB heap. Full-size chunks
 * (CHUNK_BYTES_MAX) therefore go back to a broker-wide pool (chunkPool, at most
 * CHUNK_POOL_MAX free) once the cache has dropped them AND no read still holds a slice of
 * them. A read takes a hold on every chunk it returns a slice of (ChunkHolds, passed in by
 * the Fetch handler), released once the socket write that carried the response completed,
 * or once it is certain it never will (the connection closed before it, the read was
 * replaced). Where nobody will release (a read without holds), the chunk is pinned: never
 * reused, left to the garbage collector. So a missed release costs an allocation, never
 * bytes overwritten under a response still being written; only a release before the write
 * completed could do that, and holds are released once (ChunkHolds.release empties itself).
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

/**
 * Free full-size chunks kept for reuse, broker-wide: 8 MiB. In steady state a chunk comes
 * back about as often as one is taken (each busy leader partition fills one per 256 KiB
 * appended and drops one as its followers fetch past it), so a few suffice; the bound only
 * caps what a burst of dropped caches (leadership moving away, truncations) leaves idle.
 */
export const CHUNK_POOL_MAX = 32;

/** Where appends are copied, back to back, each byte written once; or where a read is assembled (assembleRecords). */
class Chunk {
  /** Bytes written so far (appends go after them). */
  used = 0;
  /** Appends held by the cache whose bytes are in this chunk. */
  live = 0;
  /** Holds not yet released: reads whose slices of it may still be written to a socket. */
  refs = 0;
  /** The cache still holds it (appends in it are cached, or appends still go in). */
  cached: boolean;
  /** Read without a hold: a slice of it may be anywhere, so it is never reused. */
  pinned = false;
  /** Given back to the pool (once): nothing may use this object any more. */
  recycled = false;
  constructor(readonly buf: Buffer, cached: boolean) {
    this.cached = cached;
  }
}

/** The chunk every chunk buffer belongs to now (a pooled buffer gets a new Chunk each time it is taken). */
const chunkOf = new WeakMap<ArrayBufferLike, Chunk>();

/**
 * Whether `buf` is a slice of a recent-appends chunk. Its memory is counted by the cache's
 * budget while cached, and is at most CHUNK_BYTES_MAX, so a Fetch response need not copy a
 * small slice out of it to keep its own memory accounting exact (handlers/fetch.ts rightSized).
 */
export function isRecentAppendsBuffer(buf: Buffer): boolean {
  return chunkOf.has(buf.buffer);
}

/** The broker-wide free list of full-size chunks (see Reuse above). */
class ChunkPool {
  private readonly free: Buffer[] = [];
  /** Counters for tests and metrics: chunks allocated, and taken from the free list. */
  allocated = 0;
  reused = 0;

  get freeChunks(): number {
    return this.free.length;
  }

  take(cached: boolean): Chunk {
    let buf = this.free.pop();
    if (buf === undefined) {
      buf = Buffer.allocUnsafeSlow(CHUNK_BYTES_MAX);
      this.allocated++;
    } else {
      this.reused++;
    }
    const chunk = new Chunk(buf, cached);
    chunkOf.set(buf.buffer, chunk);
    return chunk;
  }

  /** Gives `chunk` back if nothing holds it any more: not cached, no hold, not pinned. */
  recycleIfFree(chunk: Chunk): void {
    if (chunk.cached || chunk.refs !== 0 || chunk.pinned || chunk.recycled) return;
    if (chunk.buf.length !== CHUNK_BYTES_MAX) return; // not a pooled size: left to the garbage collector
    chunk.recycled = true;
    chunkOf.delete(chunk.buf.buffer);
    if (this.free.length < CHUNK_POOL_MAX) this.free.push(chunk.buf);
  }

  /** Tests: forgets the free chunks and the counters. */
  reset(): void {
    this.free.length = 0;
    this.allocated = 0;
    this.reused = 0;
  }
}

export const chunkPool = new ChunkPool();

/**
 * The chunks a read returned slices of (RecentAppends.read, assembleRecords), held until
 * `release`: call it once the response carrying the slices has been written to the socket
 * (the write's callback ran, with or without an error), or once the read is dropped unsent.
 * Never earlier: a released chunk may be overwritten by the next append.
 */
export class ChunkHolds {
  private chunks: Chunk[] = [];

  get size(): number {
    return this.chunks.length;
  }

  /** @internal */
  add(chunk: Chunk): void {
    chunk.refs++;
    this.chunks.push(chunk);
  }

  /** Releases every hold taken so far; a second call releases nothing. */
  release(): void {
    if (this.chunks.length === 0) return;
    const chunks = this.chunks;
    this.chunks = [];
    for (const chunk of chunks) {
      chunk.refs--;
      if (chunk.refs < 0) {
        // Cannot happen (each hold is released once); if it did, never reuse the chunk.
        chunk.refs = 0;
        chunk.pinned = true;
      }
      chunkPool.recycleIfFree(chunk);
    }
  }
}

/**
 * `parts` (a read's records, `size` bytes together) as one buffer, for a response that
 * carries one buffer per partition: copied into a pooled chunk held by `holds` when they fit
 * in one, so that a follower fetch spanning two chunks does not allocate (Buffer.concat
 * allocated ~0.2 MB per MB produced on the RF=3 leader); else concatenated.
 */
export function assembleRecords(parts: readonly Buffer[], size: number, holds: ChunkHolds | undefined): Buffer {
  if (holds === undefined || size > CHUNK_BYTES_MAX) return Buffer.concat(parts, size);
  const chunk = chunkPool.take(false);
  let at = 0;
  for (const part of parts) at += part.copy(chunk.buf, at);
  chunk.used = at;
  holds.add(chunk);
  return chunk.buf.subarray(0, at);
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
      if (chunkBytes === CHUNK_BYTES_MAX) {
        chunk = chunkPool.take(true);
      } else {
        chunk = new Chunk(Buffer.allocUnsafeSlow(chunkBytes), true);
        chunkOf.set(chunk.buf.buffer, chunk);
      }
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
    const dropped = new Set<Chunk>();
    for (let i = this.head; i < this.batches.length; i++) dropped.add(this.batches[i]!.chunk);
    if (this.current !== undefined) dropped.add(this.current);
    for (const chunk of dropped) {
      chunk.cached = false;
      chunkPool.recycleIfFree(chunk);
    }
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
   *
   * `holds`: takes a hold on every chunk a returned slice is in (released by the caller once
   * the slices are written, see ChunkHolds); without it those chunks are never reused.
   */
  read(fetchOffset: number, maxBytes: number, maxOffset: number, minOneBatch: boolean, holds?: ChunkHolds): RecentRead | undefined {
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
        if (holds !== undefined) holds.add(b.chunk);
        else b.chunk.pinned = true;
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
    chunk.cached = false;
    chunkPool.recycleIfFree(chunk);
  }
}

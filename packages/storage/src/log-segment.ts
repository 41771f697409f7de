/**
 * One segment of a partition log: `<base>.log` holding record batches exactly as on the
 * wire, plus its sparse `.index` and `.timeindex`. Everything is loaded lazily so that
 * opening a log with thousands of old segments costs one stat per segment: the file
 * descriptor opens on first read or append, the indexes load (and are validated, and
 * rebuilt from the log when they do not fit) on first lookup.
 *
 * All file I/O here is synchronous: page-cache reads and writes are several times cheaper
 * through the sync calls (see README, "Measurements"), and a synchronous read cannot
 * interleave with truncation or deletion, so readers never see a half-changed segment.
 */
import { constants } from 'node:fs';
import path from 'node:path';
import { type BatchSummary, BatchLayout, INT32_MAX, assert, assertAtMost, batchCrcMatches, batchFrameSize, scanBatchHeader } from '@tributary/protocol';
import type { FileSystem } from './file-system.js';
import { readIndexFile } from './index-file.js';
import { OffsetIndex } from './offset-index.js';
import { TimeIndex } from './time-index.js';
import { TXN_INDEX_FILE_SUFFIX, TxnIndex } from './txn-index.js';
import { DELETED_FILE_SUFFIX, INDEX_FILE_SUFFIX, LOG_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX, offsetFileName } from './file-names.js';
import { READ_AHEAD_MAX_BYTES, readAheadReleased, readAheadTaken, roomForReadAhead } from './read-ahead.js';

/** Read size when walking batch headers: large enough to hold many small batches per syscall. */
const WALK_CHUNK_BYTES = 64 * 1024;
/** Appended batches whose positions a segment remembers (see batchPosition). */
const RECENT_BATCHES = 32;
/** Shared by every walk (see walk()). */
const walkScratch = Buffer.allocUnsafeSlow(WALK_CHUNK_BYTES);


export interface SegmentSettings {
  indexIntervalBytes: number;
  maxIndexBytes: number;
  /** Every file call of the segment goes through it (file-system.ts). */
  fs: FileSystem;
}

export interface WalkResult {
  /** Position after the last batch accepted by the walk. */
  endPosition: number;
  /** Why the walk stopped before the end of the file, when it did because of bad bytes. */
  invalidReason?: string;
}

export interface RecoverOptions {
  /** Batches whose last offset is at or past this are CRC-checked (earlier ones were fsynced). */
  crcFromOffset: number;
  /** When set, each batch must start exactly at the previous batch's last offset + 1. */
  contiguous: boolean;
  /** Offset the segment's first batch must start at (at least, when not contiguous): its base offset. */
  expectedFirstOffset: number;
}

export interface RecoverResult {
  validBytes: number;
  /** Offset after the last valid batch; the base offset when the segment is empty. */
  nextOffset: number;
  truncatedBytes: number;
  invalidReason?: string;
}

export class LogSegment {
  readonly baseOffset: number;
  readonly dir: string;
  readonly settings: SegmentSettings;
  private readonly fs: FileSystem;
  /** Bytes of valid batches in the .log file. */
  size: number;
  /** Clock time the segment object was created: segment.ms for segments without timestamps. */
  readonly createdMs: number;
  deleted = false;
  private fd = -1;
  private offsetIndexLoaded: OffsetIndex | null = null;
  private timeIndexLoaded: TimeIndex | null = null;
  /** The aborted-transaction index (txn-index.ts), opened on first use. */
  private txnIndexLoaded: TxnIndex | null = null;
  private maxTimestamp: number | null = null;
  private offsetOfMaxTimestamp = -1;
  private firstBatchTimestamp: number | null = null;
  /** Log bytes appended since the last offset index entry; -1 until known (see openAtCleanEnd). */
  private bytesSinceLastIndexEntry = 0;
  private suffix = '';
  /**
   * Last offsets and positions of the last RECENT_BATCHES batches appended, oldest first
   * from `recentNext` (a ring; allocated on the first append). A consumer at the tail
   * asks for an offset in one of them: its position is then known without reading batch
   * headers from the file. Typed arrays, so appends allocate nothing the GC must trace.
   */
  private recentLastOffsets: Float64Array | null = null;
  private recentPositions: Float64Array | null = null;
  private recentCount = 0;
  private recentNext = 0;
  /**
   * Bytes of the file at `readAheadAt`, read before any Fetch asked (readAhead), or null.
   * They lie below `size` when read: bytes there change only by a truncation, which drops them.
   */
  private readAheadBytes: Buffer | null = null;
  private readAheadAt = -1;

  private constructor(dir: string, baseOffset: number, size: number, settings: SegmentSettings, createdMs: number) {
    this.dir = dir;
    this.baseOffset = baseOffset;
    this.size = size;
    this.settings = settings;
    this.fs = settings.fs;
    this.createdMs = createdMs;
  }

  /**
   * Creates a new, empty segment; an existing file of that name is emptied. `suffix` names
   * files in the making (the cleaner's `.cleaned`), renamed by changeFileSuffix.
   */
  static create(dir: string, baseOffset: number, settings: SegmentSettings, nowMs: number, suffix = ''): LogSegment {
    const segment = new LogSegment(dir, baseOffset, 0, settings, nowMs);
    segment.suffix = suffix;
    segment.fd = segment.fs.openSync(segment.logFile, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o644);
    segment.offsetIndexLoaded = new OffsetIndex(baseOffset, settings.maxIndexBytes);
    segment.timeIndexLoaded = new TimeIndex(baseOffset, settings.maxIndexBytes);
    segment.offsetIndexLoaded.forgetFile();
    segment.timeIndexLoaded.forgetFile();
    segment.maxTimestamp = -1;
    return segment;
  }

  /** Wraps an existing segment without reading it: `size` comes from a stat. */
  static open(dir: string, baseOffset: number, size: number, settings: SegmentSettings, nowMs: number, suffix = ''): LogSegment {
    const segment = new LogSegment(dir, baseOffset, size, settings, nowMs);
    segment.suffix = suffix;
    return segment;
  }

  get logFile(): string {
    return path.join(this.dir, offsetFileName(this.baseOffset, LOG_FILE_SUFFIX) + this.suffix);
  }

  get indexFile(): string {
    return path.join(this.dir, offsetFileName(this.baseOffset, INDEX_FILE_SUFFIX) + this.suffix);
  }

  get timeIndexFile(): string {
    return path.join(this.dir, offsetFileName(this.baseOffset, TIME_INDEX_FILE_SUFFIX) + this.suffix);
  }

  get txnIndexFile(): string {
    return path.join(this.dir, offsetFileName(this.baseOffset, TXN_INDEX_FILE_SUFFIX) + this.suffix);
  }

  get txnIndex(): TxnIndex {
    this.txnIndexLoaded ??= new TxnIndex(this.txnIndexFile, this.fs);
    return this.txnIndexLoaded;
  }

  private getFd(): number {
    if (this.fd < 0) this.fd = this.fs.openSync(this.logFile, constants.O_RDWR);
    return this.fd;
  }

  get fdForSync(): number {
    return this.getFd();
  }

  // ---------------------------------------------------------------- indexes

  get offsetIndex(): OffsetIndex {
    if (this.offsetIndexLoaded === null) this.loadIndexes();
    return this.offsetIndexLoaded!;
  }

  get timeIndex(): TimeIndex {
    if (this.timeIndexLoaded === null) this.loadIndexes();
    return this.timeIndexLoaded!;
  }

  /**
   * Loads both index files. They are trusted only if well-formed and the last offset index
   * entry points at a batch whose last offset it names; otherwise both are rebuilt from the
   * log (headers only: the segment's data itself was validated or fsynced already).
   */
  private loadIndexes(): void {
    const { maxIndexBytes } = this.settings;
    const offsetBytes = readIndexFile(this.fs, this.indexFile);
    const timeBytes = readIndexFile(this.fs, this.timeIndexFile);
    let offsetIndex = offsetBytes === null ? 'missing' : OffsetIndex.fromBytes(offsetBytes, this.baseOffset, maxIndexBytes, this.size);
    const timeIndex = timeBytes === null ? 'missing' : TimeIndex.fromBytes(timeBytes, this.baseOffset, maxIndexBytes);
    if (typeof offsetIndex !== 'string') {
      const last = offsetIndex.lastEntry();
      if (last !== null) {
        const header = this.readHeaderAt(last.position);
        if (typeof header === 'string' || header.lastOffset !== last.offset) offsetIndex = 'last entry does not match the log';
      } else if (this.size > this.settings.indexIntervalBytes) {
        offsetIndex = 'empty index for a segment larger than index.interval.bytes';
      }
    }
    if (typeof offsetIndex === 'string' || typeof timeIndex === 'string') {
      this.rebuildIndexes();
      return;
    }
    this.offsetIndexLoaded = offsetIndex;
    this.timeIndexLoaded = timeIndex;
  }

  private rebuildIndexes(): void {
    const offsetIndex = new OffsetIndex(this.baseOffset, this.settings.maxIndexBytes);
    const timeIndex = new TimeIndex(this.baseOffset, this.settings.maxIndexBytes);
    offsetIndex.forgetFile();
    timeIndex.forgetFile();
    this.offsetIndexLoaded = offsetIndex;
    this.timeIndexLoaded = timeIndex;
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = -1;
    this.bytesSinceLastIndexEntry = 0;
    let next = this.baseOffset;
    const result = this.walk(0, this.size, () => false, (h) => {
      // Bytes from disk: offsets out of place are damage, and the indexes must not see them.
      const misplaced = this.misplacedBatch(h, next, false);
      if (misplaced !== null) return misplaced;
      next = h.lastOffset + 1;
      this.indexBatch(h, h.position);
      return true;
    });
    // A segment below the recovery point whose framing breaks was damaged after it was
    // fsynced; keep what frames and let reads stop there rather than fail.
    if (result.invalidReason !== undefined) this.shrinkTo(result.endPosition);
    this.finishIndexes();
  }

  /** Index bookkeeping for one batch appended (or found) at h.position. Kafka's rule. */
  private indexBatch(h: BatchSummary, position: number): void {
    if (this.maxTimestamp === null) this.loadMaxTimestamp();
    if (h.maxTimestamp > this.maxTimestamp!) {
      this.maxTimestamp = h.maxTimestamp;
      this.offsetOfMaxTimestamp = h.lastOffset;
    }
    if (this.bytesSinceLastIndexEntry > this.settings.indexIntervalBytes) {
      this.offsetIndex.append(h.lastOffset, position);
      this.timeIndex.maybeAppend(this.maxTimestamp!, this.offsetOfMaxTimestamp);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += h.size;
    if (this.firstBatchTimestamp === null && position === 0) this.firstBatchTimestamp = h.maxTimestamp;
  }

  /** Records the exact largest timestamp in the time index (on roll and close), like Kafka. */
  finishIndexes(): void {
    if (this.maxTimestamp !== null && this.maxTimestamp >= 0) {
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp, true);
    }
  }

  private loadMaxTimestamp(): void {
    const last = this.timeIndex.lastEntry();
    this.maxTimestamp = last?.timestamp ?? -1;
    this.offsetOfMaxTimestamp = last?.offset ?? -1;
  }

  /** Largest record timestamp in the segment (-1 when none has one). */
  get maxTimestampSoFar(): number {
    if (this.maxTimestamp === null) this.loadMaxTimestamp();
    return this.maxTimestamp!;
  }

  get offsetOfMaxTimestampSoFar(): number {
    if (this.maxTimestamp === null) this.loadMaxTimestamp();
    return this.offsetOfMaxTimestamp;
  }

  /** Kafka's "largest timestamp" for retention: the max record timestamp, else the file's mtime. */
  largestTimestamp(): number {
    const ts = this.maxTimestampSoFar;
    if (ts >= 0) return ts;
    return this.fs.statSync(this.logFile).mtimeMs;
  }

  /** Max timestamp of the first batch (segment.ms measures from it); null when empty. */
  firstTimestamp(): number | null {
    if (this.size === 0) return null;
    if (this.firstBatchTimestamp === null) {
      const h = this.readHeaderAt(0);
      this.firstBatchTimestamp = typeof h === 'string' ? -1 : h.maxTimestamp;
    }
    return this.firstBatchTimestamp;
  }

  /** True when an append of `lastOffset` could not be indexed relative to this base offset. */
  cannotHoldOffset(lastOffset: number): boolean {
    return lastOffset - this.baseOffset > INT32_MAX;
  }

  indexesFull(): boolean {
    return this.offsetIndex.isFull() || this.timeIndex.isFull();
  }

  // ---------------------------------------------------------------- writing

  /** Writes whole batches (already stamped with offsets) at the end of the segment. */
  append(bytes: Buffer, headers: readonly BatchSummary[]): void {
    assertAtMost(this.baseOffset, headers[0]!.baseOffset, 'a segment holds no batch below its base offset');
    assert(!this.cannotHoldOffset(headers[headers.length - 1]!.lastOffset), 'a segment holds only offsets within int32 of its base offset');
    const fd = this.getFd();
    // Load the indexes before writing, so a lazily opened segment indexes only the old bytes.
    void this.offsetIndex;
    void this.maxTimestampSoFar;
    if (this.bytesSinceLastIndexEntry < 0) this.bytesSinceLastIndexEntry = this.size - (this.offsetIndex.lastEntry()?.position ?? 0);
    const start = this.size;
    let written = 0;
    try {
      while (written < bytes.length) written += this.fs.writeSync(fd, bytes, written, bytes.length - written, start + written);
    } catch (err) {
      // Part of the batches may be in the file. Cut them off so that the file again ends
      // where `size` says (a later append writes there anyway, but a crash now must not
      // leave a torn batch for recovery to find, nor one that a shorter append leaves
      // half-overwritten). If the cut fails too, the caller takes the directory offline.
      if (written > 0) this.fs.ftruncateSync(fd, start);
      throw err;
    }
    for (const h of headers) {
      this.indexBatch(h, start + h.position);
      this.rememberBatch(h.lastOffset, start + h.position);
    }
    this.size = start + bytes.length;
  }

  /** The valid bytes end at `size` (truncation, or a torn tail found): batches remembered past it are gone. */
  private shrinkTo(size: number): void {
    this.size = size;
    this.recentCount = 0;
    this.dropReadAhead();
  }

  private rememberBatch(lastOffset: number, position: number): void {
    if (this.recentLastOffsets === null) {
      this.recentLastOffsets = new Float64Array(RECENT_BATCHES);
      this.recentPositions = new Float64Array(RECENT_BATCHES);
    }
    this.recentLastOffsets[this.recentNext] = lastOffset;
    this.recentPositions![this.recentNext] = position;
    this.recentNext = (this.recentNext + 1) % RECENT_BATCHES;
    if (this.recentCount < RECENT_BATCHES) this.recentCount++;
  }

  /**
   * Position of the first batch whose last offset is >= offset, or -1 when there is none.
   * Answered from the recent appends when `offset` lies past the oldest of them (no file
   * read), else by findBatch.
   */
  batchPosition(offset: number): number {
    const n = this.recentCount;
    if (n > 0) {
      const offsets = this.recentLastOffsets!;
      const oldest = (this.recentNext - n + RECENT_BATCHES) % RECENT_BATCHES;
      // The oldest remembered batch may be the answer only if the batch before it (not
      // remembered) ends before `offset`; a segment whose every batch is remembered has none.
      const coversStart = n < RECENT_BATCHES && this.recentPositions![oldest] === 0;
      if (offset > offsets[oldest]! || coversStart) {
        for (let k = 0; k < n; k++) {
          const i = (oldest + k) % RECENT_BATCHES;
          if (offsets[i]! >= offset) return this.recentPositions![i]!;
        }
        return -1;
      }
    }
    return this.findBatch(offset)?.position ?? -1;
  }

  /** fdatasync of the .log file (sync flavour; the async one is Log.flushToAsync, through index-file.ts's fsyncAsync). */
  flushLogSync(): void {
    this.fs.fdatasyncSync(this.getFd());
  }

  /** Writes index files; fsyncs them when the segment is leaving the active position. */
  persistIndexes(fsync: boolean): void {
    if (this.deleted) return;
    if (this.offsetIndexLoaded === null) return;
    this.offsetIndexLoaded.persist(this.indexFile, fsync, this.fs);
    this.timeIndexLoaded!.persist(this.timeIndexFile, fsync, this.fs);
  }

  /** persistIndexes(true) with the fsyncs off the event loop (clean shutdown). */
  async persistIndexesDurably(): Promise<void> {
    if (this.deleted) return;
    if (this.offsetIndexLoaded === null) return;
    await Promise.all([this.offsetIndexLoaded.persistDurably(this.indexFile, this.fs), this.timeIndexLoaded!.persistDurably(this.timeIndexFile, this.fs)]);
  }

  // ---------------------------------------------------------------- reading

  readBytes(position: number, length: number): Buffer {
    return this.readInto(Buffer.allocUnsafe(length), position, length);
  }

  /** Reads up to `length` bytes at `position` into the start of `buf`; returns the filled view. */
  private readInto(buf: Buffer, position: number, length: number): Buffer {
    let got = 0;
    while (got < length) {
      const n = this.fs.readSync(this.getFd(), buf, got, length - got, position + got);
      if (n === 0) break;
      got += n;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  }

  private readHeaderAt(position: number): BatchSummary | string {
    if (position + BatchLayout.HEADER_SIZE > this.size) return `no batch header fits at position ${position}`;
    const buf = this.readBytes(position, BatchLayout.HEADER_SIZE);
    const size = batchFrameSize(buf, 0, buf.length);
    if (typeof size === 'string') return size;
    return scanBatchHeader(buf, 0, position, size);
  }

  /**
   * Walks batches from `from` up to `end`, reading headers in chunks; `needBody` decides per
   * batch whether the visitor gets the whole batch bytes (null otherwise). The visitor
   * returns false to stop (that batch is then not counted in endPosition).
   */
  walk(
    from: number,
    end: number,
    needBody: (h: BatchSummary) => boolean,
    visit: (h: BatchSummary, body: Buffer | null) => boolean | string,
  ): WalkResult {
    // Every visitor uses `body` before returning, and nothing here is asynchronous, so one
    // scratch buffer serves all walks: recovering a gigabyte then allocates nothing per
    // chunk (fresh 64 KiB buffers per chunk left ~30 MB of freed malloc heap resident).
    let chunk: Buffer = walkScratch.subarray(0, 0);
    let chunkStart = from;
    let pos = from;
    while (pos < end) {
      if (pos + BatchLayout.HEADER_SIZE > chunkStart + chunk.length) {
        chunkStart = pos;
        chunk = this.readInto(walkScratch, pos, Math.min(WALK_CHUNK_BYTES, end - pos));
      }
      const at = pos - chunkStart;
      const size = batchFrameSize(chunk, at, chunk.length);
      if (typeof size === 'string') return { endPosition: pos, invalidReason: `at position ${pos}: ${size}` };
      if (chunk.length - at < BatchLayout.HEADER_SIZE) return { endPosition: pos, invalidReason: `at position ${pos}: torn header` };
      if (pos + size > end) return { endPosition: pos, invalidReason: `at position ${pos}: batch of ${size} bytes is torn at ${end}` };
      const header = scanBatchHeader(chunk, at, pos, size);
      if (typeof header === 'string') return { endPosition: pos, invalidReason: `at position ${pos}: ${header}` };
      let body: Buffer | null = null;
      if (needBody(header)) body = at + size <= chunk.length ? chunk.subarray(at, at + size) : this.readBytes(pos, size);
      const verdict = visit(header, body);
      if (verdict === false) return { endPosition: pos };
      if (typeof verdict === 'string') return { endPosition: pos, invalidReason: `at position ${pos}: ${verdict}` };
      pos += size;
    }
    return { endPosition: pos };
  }

  /** The first batch whose last offset is >= offset, starting from the offset index. */
  findBatch(offset: number, startPosition?: number): BatchSummary | null {
    const from = startPosition ?? this.offsetIndex.lookup(offset).position;
    let found: BatchSummary | null = null;
    this.walk(from, this.size, () => false, (h) => {
      if (h.lastOffset >= offset) {
        found = h;
        return false;
      }
      return true;
    });
    return found;
  }

  /**
   * Reads whole batches starting at `position`: as many as fit in `maxBytes`, stopping
   * before the first batch reaching `maxOffset` (exclusive). With `minOneBatch` the first
   * batch is returned whole even when larger than maxBytes (KIP-74).
   */
  readBatches(position: number, maxBytes: number, maxOffset: number, minOneBatch: boolean): { bytes: Buffer; lastOffset: number } {
    assertAtMost(position, this.size, 'a read starts inside its segment');
    const avail = this.size - position;
    const want = Math.min(avail, Math.max(maxBytes, minOneBatch ? BatchLayout.HEADER_SIZE : 0));
    if (want <= 0) return { bytes: Buffer.alloc(0), lastOffset: -1 };
    let buf: Buffer = this.takeReadAhead(position, want) ?? this.readBytes(position, want);
    let at = 0;
    let lastOffset = -1;
    while (buf.length - at >= BatchLayout.HEADER_SIZE) {
      const size = batchFrameSize(buf, at, buf.length);
      if (typeof size === 'string') break;
      const h = scanBatchHeader(buf, at, position + at, size);
      if (typeof h === 'string' || h.lastOffset >= maxOffset) break;
      if (at + size > buf.length) {
        if (at === 0 && minOneBatch && size <= avail) {
          buf = this.readBytes(position, size);
          at = size;
          lastOffset = h.lastOffset;
        }
        break;
      }
      at += size;
      lastOffset = h.lastOffset;
    }
    return { bytes: buf.subarray(0, at), lastOffset };
  }

  /**
   * Reads up to `maxBytes` at `position` now, for the next readBatches at that position
   * (a consumer's next Fetch, while it is still busy with this one's response). One per
   * segment: a newer read-ahead replaces the older. Not made when the process-wide budget
   * (read-ahead.ts) is held by younger read-aheads. Reads only bytes already in the file
   * (below `size`). False when nothing was read (nothing there, or the read failed: the
   * Fetch's own read then meets the error, as before), or the segment is not open.
   */
  readAhead(position: number, maxBytes: number): boolean {
    const length = Math.min(this.size - position, maxBytes, READ_AHEAD_MAX_BYTES);
    // Only a segment open now (a read just used it): a closed one is not reopened for this.
    if (position < 0 || length <= 0 || this.fd < 0) return false;
    this.dropReadAhead();
    const nowMs = performance.now();
    if (!roomForReadAhead(length, nowMs)) return false;
    let bytes: Buffer;
    try {
      bytes = this.readBytes(position, length);
    } catch {
      return false;
    }
    this.readAheadBytes = bytes;
    this.readAheadAt = position;
    readAheadTaken(this, bytes.length, nowMs);
    return true;
  }

  /** The read-ahead if it starts at `position` and holds `length` bytes; dropped either way. */
  private takeReadAhead(position: number, length: number): Buffer | null {
    const bytes = this.readAheadBytes;
    if (bytes === null) return null;
    const at = this.readAheadAt;
    this.dropReadAhead();
    return at === position && bytes.length >= length ? (bytes.length === length ? bytes : bytes.subarray(0, length)) : null;
  }

  /** Lets go of the read-ahead, if any (also when it expires unused). */
  dropReadAhead(): void {
    const bytes = this.readAheadBytes;
    if (bytes === null) return;
    this.readAheadBytes = null;
    this.readAheadAt = -1;
    readAheadReleased(this);
  }

  /**
   * The active segment of a log whose end offset is known without reading (a clean
   * shutdown vouches for it, log-loader.ts): nothing is read now. What readNextOffset
   * would have learnt from the tail comes later from the indexes: the largest timestamp
   * from the time index's last entry (a clean close wrote the exact one, finishIndexes),
   * the bytes since the last index entry on the first append.
   */
  openAtCleanEnd(): void {
    this.bytesSinceLastIndexEntry = -1;
  }

  /** Offset after the last batch, found from the last index entry and a short tail walk. */
  readNextOffset(): number {
    const start = this.offsetIndex.lastEntry()?.position ?? 0;
    void this.maxTimestampSoFar;
    let next = this.baseOffset;
    const result = this.walk(start, this.size, () => false, (h) => {
      next = h.lastOffset + 1;
      if (this.maxTimestamp !== null && h.maxTimestamp > this.maxTimestamp) {
        this.maxTimestamp = h.maxTimestamp;
        this.offsetOfMaxTimestamp = h.lastOffset;
      }
      return true;
    });
    if (result.invalidReason !== undefined) this.shrinkTo(result.endPosition);
    if (start > 0 && next === this.baseOffset) next = this.offsetIndex.lastEntry()!.offset + 1;
    this.bytesSinceLastIndexEntry = this.size - start;
    return next;
  }

  // ---------------------------------------------------------------- recovery and truncation

  /**
   * Validates every batch (framing, header, offsets, and CRC-32C past the recovery point),
   * rebuilds both indexes, and truncates the file at the first invalid batch.
   */
  recover(options: RecoverOptions): RecoverResult {
    const fileSize = this.fs.fstatSync(this.getFd()).size;
    this.offsetIndexLoaded = new OffsetIndex(this.baseOffset, this.settings.maxIndexBytes);
    this.timeIndexLoaded = new TimeIndex(this.baseOffset, this.settings.maxIndexBytes);
    this.offsetIndexLoaded.forgetFile();
    this.timeIndexLoaded.forgetFile();
    this.maxTimestamp = -1;
    this.offsetOfMaxTimestamp = -1;
    this.bytesSinceLastIndexEntry = 0;
    this.firstBatchTimestamp = null;
    let expected = options.expectedFirstOffset;
    const result = this.walk(0, fileSize, (h) => h.lastOffset >= options.crcFromOffset, (h, body) => {
      const misplaced = this.misplacedBatch(h, expected, options.contiguous);
      if (misplaced !== null) return misplaced;
      if (body !== null && !batchCrcMatches(body, 0, h.size)) return `CRC-32C mismatch in batch at offset ${h.baseOffset}`;
      this.indexBatch(h, h.position);
      expected = h.lastOffset + 1;
      return true;
    });
    const validBytes = result.endPosition;
    const truncatedBytes = fileSize - validBytes;
    if (truncatedBytes > 0) this.fs.ftruncateSync(this.getFd(), validBytes);
    this.shrinkTo(validBytes);
    const out: RecoverResult = { validBytes, nextOffset: validBytes === 0 ? this.baseOffset : expected, truncatedBytes };
    if (result.invalidReason !== undefined) out.invalidReason = result.invalidReason;
    return out;
  }

  /**
   * Why a batch read back from disk cannot stand where it is, or null: its base offset below
   * `expected` (the previous batch's last offset + 1, or the segment's base offset), or not
   * equal to it when the log is `contiguous` (no compaction; that also catches a damaged
   * baseOffset, which the CRC does not cover), or a last offset too far from the segment's
   * base offset to index.
   */
  private misplacedBatch(h: BatchSummary, expected: number, contiguous: boolean): string | null {
    if (h.baseOffset < expected || (contiguous && h.baseOffset !== expected)) {
      return `batch base offset ${h.baseOffset} where ${contiguous ? '' : 'at least '}${expected} was expected`;
    }
    if (this.cannotHoldOffset(h.lastOffset)) return `last offset ${h.lastOffset} does not fit relative to ${this.baseOffset}`;
    return null;
  }

  /**
   * Removes every batch whose last offset is >= offset (the batch holding `offset` goes
   * whole). Returns the offset where the segment now ends.
   */
  truncateTo(offset: number): number {
    const batch = this.findBatch(offset);
    if (batch === null) return -1;
    const position = batch.position;
    this.fs.ftruncateSync(this.getFd(), position);
    this.shrinkTo(position);
    this.txnIndex.truncateTo(batch.baseOffset);
    this.offsetIndex.truncate(batch.baseOffset, position);
    this.timeIndex.truncate(batch.baseOffset);
    this.maxTimestamp = null;
    this.loadMaxTimestamp();
    // The time index may have missed batches after its last entry; rescan that short tail.
    const from = this.offsetIndex.lastEntry()?.position ?? 0;
    this.walk(from, this.size, () => false, (h) => {
      if (h.maxTimestamp > this.maxTimestamp!) {
        this.maxTimestamp = h.maxTimestamp;
        this.offsetOfMaxTimestamp = h.lastOffset;
      }
      return true;
    });
    this.bytesSinceLastIndexEntry = this.size - from;
    if (position === 0) this.firstBatchTimestamp = null;
    return batch.baseOffset;
  }

  // ---------------------------------------------------------------- deletion

  /** Renames the files to `*.deleted`; open descriptors keep working for in-flight readers. */
  markDeleted(): void {
    if (this.deleted) return;
    const files = [this.logFile, this.indexFile, this.timeIndexFile, this.txnIndexFile];
    this.deleted = true;
    this.suffix = DELETED_FILE_SUFFIX;
    this.txnIndexLoaded = null;
    const renamed = [this.logFile, this.indexFile, this.timeIndexFile, this.txnIndexFile];
    for (let i = 0; i < files.length; i++) {
      try {
        this.fs.renameSync(files[i]!, renamed[i]!);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }

  /**
   * Renames the segment's three files from the current suffix to `suffix` (Kafka's
   * changeFileSuffixes: `.cleaned` -> `.swap` -> ''). An index file that was never written
   * (a segment too small for an entry) is skipped. The descriptor stays valid.
   */
  changeFileSuffix(suffix: string): void {
    // Indexes first, the .log last: a `.log.swap` on disk then implies its indexes were
    // renamed before it, and recovery can tell how far a rename got (log-loader.ts).
    // The .txnindex (a cleaned segment's aborted transactions, when it has any) goes with them.
    const from = [this.txnIndexFile, this.indexFile, this.timeIndexFile, this.logFile];
    this.suffix = suffix;
    this.txnIndexLoaded = null;
    const to = [this.txnIndexFile, this.indexFile, this.timeIndexFile, this.logFile];
    for (let i = 0; i < from.length; i++) {
      try {
        this.fs.renameSync(from[i]!, to[i]!);
      } catch (err) {
        if (i === from.length - 1 || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }

  /** Closes the descriptor; the files stay. */
  close(): void {
    this.dropReadAhead();
    if (this.fd >= 0) {
      this.fs.closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** Closes and unlinks the (renamed) files. */
  destroy(): void {
    this.close();
    for (const file of [this.logFile, this.indexFile, this.timeIndexFile, this.txnIndexFile]) {
      try {
        this.fs.unlinkSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
}

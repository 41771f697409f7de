/**
 * The log of one partition: an ordered list of segments, the last one active. Offsets,
 * in Kafka's words:
 *
 *   logStartOffset <= (first batch) ... recoveryPoint ... highWatermark <= logEndOffset
 *
 * - logStartOffset: first offset a consumer may fetch (moved by retention and DeleteRecords).
 * - recoveryPoint: everything below it is fdatasync'ed; recovery scans from its segment on.
 * - highWatermark: set by the broker (replication); retention never deletes past it.
 * - logEndOffset: offset the next appended record gets.
 *
 * Appends and reads are synchronous (see log-segment.ts for why); only flushing is
 * asynchronous. Loading from disk is in log-loader.ts, time-based lookups in
 * log-offsets.ts, retention in log-retention.ts.
 */
import path from 'node:path';
import {
  type BatchSummary, BatchLayout, ControlRecordType, assertAtMost, assignOffsets, encodeControlBatch, readInt64, setLogAppendTime,
  setPartitionLeaderEpoch, splitBatches,
} from '@tributary/protocol';
import type { Clock } from './clock.js';
import { StorageError, StorageErrorCode } from './errors.js';
import type { FsyncMode } from './group-commit.js';
import { GroupCommit } from './group-commit.js';
import { fsyncDir, fsyncDirAsync } from './checkpoint-file.js';
import { fsyncAsync } from './index-file.js';
import type { FileSystem } from './file-system.js';
import { isIoError, isNoSpace, nodeFileSystem } from './file-system.js';
import type { LogConfig } from './log-config.js';
import { TimestampType } from './log-config.js';
import { LogSegment } from './log-segment.js';
import { LeaderEpochCache } from './leader-epoch-cache.js';
import { SWAP_FILE_SUFFIX } from './file-names.js';
import type { Decompressor } from './record-timestamps.js';
import { ProducerStateManager } from './producer-state.js';
import { applyProducerBatch, producerBatchAt, replayProducerState } from './producer-state-loader.js';
import type { AbortedTxn } from './txn-index.js';
import type { ChunkHolds, RecentAppends } from './recent-appends.js';

export interface AppendOptions {
  /** Written into each batch's partitionLeaderEpoch field. */
  leaderEpoch: number;
  /** Overrides the clock for LogAppendTime stamping (the broker's request time). */
  logAppendTimeMs?: number;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /** Offset after the appended data (pass it to waitForFlush). */
  logEndOffset: number;
  /** The stamped time under message.timestamp.type=LogAppendTime, else -1 (Kafka's convention). */
  logAppendTimeMs: number;
  logStartOffset: number;
  recordCount: number;
  sizeInBytes: number;
}

export interface ReadOptions {
  /** Exclusive upper bound (the high watermark for consumers); defaults to the log end offset. */
  maxOffset?: number;
  /** Return the first batch whole even when it is larger than maxBytes (KIP-74). */
  minOneBatch?: boolean;
  /**
   * Records served from the recent appends are slices of chunks that are reused once
   * released: with `holds`, the read holds them until the caller releases (recent-appends.ts
   * ChunkHolds); without, those chunks are never reused.
   */
  holds?: ChunkHolds;
}

export type ReadResult =
  | {
      kind: 'ok';
      /** Whole batches, in order; concatenated they are the Fetch response's records. */
      records: Buffer[];
      sizeInBytes: number;
      /** Offset after the last returned batch (the next fetch offset); fetchOffset when empty. */
      nextFetchOffset: number;
      /** Segment and file position of the first batch returned (-1 when empty or served from memory). */
      segmentBaseOffset: number;
      position: number;
      logStartOffset: number;
      logEndOffset: number;
      highWatermark: number;
    }
  | { kind: 'offset_out_of_range'; fetchOffset: number; logStartOffset: number; logEndOffset: number };

/** Callbacks the LogManager uses to persist checkpoints when they must move at once. */
export interface LogListener {
  onLogStartOffsetChanged?(log: Log): void;
  onRecoveryPointLowered?(log: Log): void;
  /** An I/O error took this log offline (it already refuses everything): take its directory offline. */
  onIoError?(log: Log, err: unknown): void;
  /** A background flush found the disk full; the log stays online and retries at the next flush. */
  onNoSpace?(log: Log, err: StorageError): void;
}

export interface LogState {
  dir: string;
  topic: string;
  partition: number;
  config: LogConfig;
  clock: Clock;
  segments: LogSegment[];
  logStartOffset: number;
  logEndOffset: number;
  recoveryPoint: number;
  highWatermark: number;
  fsyncMode: FsyncMode;
  /** The directory and its entry in the parent are not durable yet (a just-created log). */
  dirsUnsynced?: boolean;
  decompress?: Decompressor;
  listener?: LogListener;
  /** node:fs unless a test injects failures (file-system.ts). */
  fs?: FileSystem;
  /** Loaded by log-loader.ts; a new, empty one (writing leader-epoch-checkpoint in `dir`) when absent. */
  leaderEpochCache?: LeaderEpochCache;
  /** Loaded by log-loader.ts; a new, empty one when absent. */
  producerState?: ProducerStateManager;
}

/** An end-transaction marker the transaction coordinator writes (Kafka's WriteTxnMarkers). */
export interface EndTxnMarker {
  producerId: number;
  producerEpoch: number;
  coordinatorEpoch: number;
  /** COMMIT when true, ABORT when false. */
  commit: boolean;
  /** Written into the batch's partitionLeaderEpoch field. */
  leaderEpoch: number;
  /** The marker's timestamp; the clock's time when absent. */
  timestampMs?: number;
}

export type EndTxnMarkerResult =
  | { kind: 'ok'; append: AppendResult }
  | { kind: 'error'; errorCode: number; message: string };

const INT32_MAX = 2147483647;

export class Log {
  readonly dir: string;
  readonly topic: string;
  readonly partition: number;
  /** `<topic>-<partition>`, Kafka's name for the partition in messages (built once, not per append). */
  readonly topicPartition: string;
  readonly clock: Clock;
  config: LogConfig;
  /** Sorted by base offset; never empty; the last is the active segment. */
  segments: LogSegment[];
  private logStart: number;
  private logEnd: number;
  private recovery: number;
  private hw: number;
  readonly groupCommit: GroupCommit;
  readonly decompress: Decompressor | undefined;
  private readonly listener: LogListener;
  private unflushedMessages = 0;
  private lastFlushMs: number;
  private dirDirty = false;
  /** The partition directory's own entry in the data dir still needs an fsync. */
  private parentDirDirty = false;
  /** Lowest log end offset seen during an async flush (truncation must not be marked durable). */
  private truncatedDuringFlush = Infinity;
  private asyncFlushInFlight = false;
  private pendingDeletes = new Map<LogSegment, NodeJS.Timeout>();
  private closed = false;
  /** The I/O error that took the log offline; set once, never cleared (fsyncgate: see fail()). */
  private offlineCause: unknown = null;
  readonly fs: FileSystem;
  /** Where each leader epoch starts in this log (leader-epoch-cache.ts), kept in step with appends and truncations. */
  readonly leaderEpochCache: LeaderEpochCache;
  /** Producer ids, sequences and open transactions (producer-state.ts): Kafka's UnifiedLog keeps them too. */
  readonly producerState: ProducerStateManager;
  /** The latest appends in memory (recent-appends.ts), while the broker asks for them (a leader with followers). */
  private recent: RecentAppends | undefined;

  constructor(state: LogState) {
    this.dir = state.dir;
    this.topic = state.topic;
    this.partition = state.partition;
    this.topicPartition = `${state.topic}-${state.partition}`;
    this.clock = state.clock;
    this.config = state.config;
    this.segments = state.segments;
    this.logStart = state.logStartOffset;
    this.logEnd = state.logEndOffset;
    this.recovery = state.recoveryPoint;
    this.hw = state.highWatermark;
    this.decompress = state.decompress;
    this.listener = state.listener ?? {};
    this.fs = state.fs ?? nodeFileSystem;
    this.leaderEpochCache = state.leaderEpochCache ?? new LeaderEpochCache(LeaderEpochCache.fileIn(state.dir), [], this.fs);
    this.producerState = state.producerState ?? new ProducerStateManager({ dir: this.dir, topicPartition: this.topicPartition, fs: this.fs });
    if (state.producerState === undefined) this.producerState.mapEndOffset = this.logEnd;
    // A snapshot deferred at start-up and found damaged on first use: rebuild as a load would.
    this.producerState.onDeferredSnapshotLost = () => this.reloadProducerState();
    this.lastFlushMs = state.clock.now();
    if (state.dirsUnsynced) {
      this.dirDirty = true;
      this.parentDirDirty = true;
    }
    this.groupCommit = new GroupCommit(
      {
        durableOffset: () => this.recovery,
        isClosed: () => this.closed,
        endOffset: () => this.logEnd,
        flushTo: (target) => (state.fsyncMode === 'sync' ? this.guard('Flush', () => this.flushToSync(target)) : this.flushToAsync(target).catch((err: unknown) => {
          throw this.failure('Flush', err);
        })),
      },
      state.fsyncMode,
    );
  }

  get logStartOffset(): number {
    return this.logStart;
  }

  get logEndOffset(): number {
    return this.logEnd;
  }

  get recoveryPoint(): number {
    return this.recovery;
  }

  get highWatermark(): number {
    return this.hw;
  }

  get activeSegment(): LogSegment {
    return this.segments[this.segments.length - 1]!;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True once an I/O error took the log offline (isClosed is then true as well). */
  get isOffline(): boolean {
    return this.offlineCause !== null;
  }

  /** Total bytes of all segments. */
  get size(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  /** The broker moves the high watermark; it is clamped to [logStartOffset, logEndOffset]. */
  updateHighWatermark(offset: number): number {
    this.hw = Math.min(Math.max(offset, this.logStart), this.logEnd);
    this.checkOffsets();
    this.producerState.onHighWatermarkUpdated(this.hw);
    return this.hw;
  }

  /**
   * Kafka's firstUnstableOffset: the first offset of the oldest transaction that is open or
   * whose marker is not below the high watermark yet; -1 when there is none.
   */
  get firstUnstableOffset(): number {
    return this.producerState.firstUnstableOffset();
  }

  /** The last stable offset: read_committed consumers read below it (min(first unstable offset, high watermark)). */
  get lastStableOffset(): number {
    const first = this.producerState.firstUnstableOffset();
    return first >= 0 && first < this.hw ? first : this.hw;
  }

  /**
   * Kafka's collectAbortedTransactions: the aborted transactions overlapping
   * [startOffset, upperBoundOffset), from the transaction indexes of the segment holding
   * startOffset and later ones (a transaction's ABORT marker is never before its data).
   */
  collectAbortedTransactions(startOffset: number, upperBoundOffset: number): AbortedTxn[] {
    this.ensureOpen();
    const out: AbortedTxn[] = [];
    this.guard('Reading the transaction index', () => {
      for (let i = this.floorSegmentIndex(startOffset); i < this.segments.length; i++) {
        if (this.segments[i]!.txnIndex.collect(startOffset, upperBoundOffset, out)) break;
      }
    });
    return out;
  }

  /** Producers whose last batch is producer.id.expiration.ms old and have no open transaction go. */
  removeExpiredProducers(nowMs = this.clock.now()): number {
    if (this.closed) return 0;
    return this.producerState.removeExpiredProducers(nowMs);
  }

  /** The order of the log's offsets (see the top of this file), after every change of them. */
  private checkOffsets(): void {
    assertAtMost(this.logStart, this.hw, 'log start offset <= high watermark');
    assertAtMost(this.hw, this.logEnd, 'high watermark <= log end offset');
    assertAtMost(this.recovery, this.logEnd, 'recovery point <= log end offset');
  }

  private ensureOpen(): void {
    if (this.offlineCause !== null) throw this.offlineError();
    if (this.closed) throw new StorageError(StorageErrorCode.LOG_CLOSED, `Log ${this.topic}-${this.partition} is closed`);
  }

  private offlineError(): StorageError {
    return new StorageError(StorageErrorCode.LOG_DIR_OFFLINE, `Log ${this.topic}-${this.partition} is offline: its directory had an I/O error`, { cause: this.offlineCause });
  }

  // ---------------------------------------------------------------- I/O failures

  /**
   * Runs a file operation of the log. An I/O error takes the log offline (fail()) and is
   * rethrown as LOG_DIR_OFFLINE, except a full disk on a write, which the write path has
   * rolled back: that is NO_SPACE and the log stays online. Other throws (bugs, StorageErrors)
   * pass through unchanged.
   */
  private guard<T>(what: string, op: () => T): T {
    try {
      return op();
    } catch (err) {
      throw this.failure(what, err);
    }
  }

  /**
   * For reads done outside this class (time lookups in log-offsets.ts, the broker's
   * producer-state rebuild): refuses an offline log and takes the log offline on an I/O error.
   */
  guardRead<T>(what: string, op: () => T): T {
    this.ensureOpen();
    return this.guard(what, op);
  }

  private failure(what: string, err: unknown): unknown {
    if (!isIoError(err)) return err;
    if (isNoSpace(err)) {
      return new StorageError(StorageErrorCode.NO_SPACE, `${what} of ${this.topic}-${this.partition} failed: no space left in ${path.dirname(this.dir)} (${(err as Error).message}); nothing was written`, { cause: err });
    }
    this.fail(err);
    return this.offlineError();
  }

  /**
   * Takes the log offline after an I/O error, then tells the LogManager (which takes the
   * whole directory offline, as Kafka's LogDirFailureChannel does). From here on nothing is
   * written or read and no flush waiter is ever released as durable: after a failed
   * fdatasync the kernel may have dropped the dirty pages and marked them clean, so a later
   * fdatasync that succeeds proves nothing about them (the "fsyncgate" of PostgreSQL, 2018).
   */
  fail(err: unknown): void {
    if (this.offlineCause !== null) return;
    this.takeOffline(err);
    this.listener.onIoError?.(this, err);
  }

  /**
   * Closes the log without flushing or writing anything (Kafka's closeHandlers): its
   * directory is offline. Every flush waiter is rejected with LOG_DIR_OFFLINE.
   */
  takeOffline(cause: unknown): void {
    if (this.offlineCause !== null) return;
    this.offlineCause = cause ?? new Error('log directory offline');
    this.closed = true;
    this.recent?.clear();
    for (const timer of this.pendingDeletes.values()) clearTimeout(timer);
    this.pendingDeletes.clear();
    for (const seg of this.segments) {
      try {
        seg.close();
      } catch {
        // The directory is already failing; a close error adds nothing.
      }
    }
    this.groupCommit.failAll(this.offlineError());
  }

  /** Index of the segment holding `offset` (the last with baseOffset <= offset), 0 if before all. */
  floorSegmentIndex(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  // ---------------------------------------------------------------- append

  /**
   * Appends already-validated v2 batches as leader: assigns offsets from the log end
   * offset and the leader epoch in place (both outside the CRC), stamps LogAppendTime when
   * the topic asks for it (recomputing the CRC), writes and indexes them. The log takes
   * ownership of `batches`: it is patched in place.
   */
  append(batches: Buffer, options: AppendOptions): AppendResult {
    this.ensureOpen();
    const headers = this.frame(batches);
    const now = this.clock.now();
    const logAppendTime = this.config.messageTimestampType === TimestampType.LOG_APPEND_TIME;
    const appendTimeMs = logAppendTime ? (options.logAppendTimeMs ?? now) : -1;
    let offset = this.logEnd;
    let recordCount = 0;
    for (const h of headers) {
      h.baseOffset = offset;
      h.lastOffset = assignOffsets(batches, h.position, offset);
      setPartitionLeaderEpoch(batches, h.position, options.leaderEpoch);
      if (logAppendTime) {
        setLogAppendTime(batches, h.position, appendTimeMs);
        h.maxTimestamp = appendTimeMs;
      }
      offset = h.lastOffset + 1;
      recordCount += h.recordCount;
    }
    const baseOffset = this.logEnd;
    this.write(batches, headers, now);
    return {
      baseOffset,
      lastOffset: offset - 1,
      logEndOffset: this.logEnd,
      logAppendTimeMs: appendTimeMs,
      logStartOffset: this.logStart,
      recordCount,
      sizeInBytes: batches.length,
    };
  }

  /**
   * Appends batches as a follower: offsets are the leader's and are kept. They must start
   * at or after the log end offset and increase (gaps are allowed: compacted leaders).
   */
  appendAsFollower(batches: Buffer): AppendResult {
    this.ensureOpen();
    const headers = this.frame(batches);
    let expected = this.logEnd;
    let recordCount = 0;
    for (const h of headers) {
      if (h.baseOffset < expected) {
        throw new StorageError(
          StorageErrorCode.UNEXPECTED_APPEND_OFFSET,
          `Follower append to ${this.topic}-${this.partition} has a batch at offset ${h.baseOffset}, expected at least ${expected}`,
        );
      }
      expected = h.lastOffset + 1;
      recordCount += h.recordCount;
    }
    const baseOffset = headers[0]!.baseOffset;
    this.write(batches, headers, this.clock.now());
    return {
      baseOffset,
      lastOffset: expected - 1,
      logEndOffset: this.logEnd,
      logAppendTimeMs: -1,
      logStartOffset: this.logStart,
      recordCount,
      sizeInBytes: batches.length,
    };
  }

  private frame(batches: Buffer): BatchSummary[] {
    const headers = splitBatches(batches);
    if (typeof headers === 'string') {
      throw new StorageError(StorageErrorCode.INVALID_BATCH_FRAMING, `Append to ${this.topic}-${this.partition} rejected: ${headers}`);
    }
    return headers;
  }

  private write(batches: Buffer, headers: BatchSummary[], now: number): void {
    const first = headers[0]!;
    const last = headers[headers.length - 1]!;
    let maxTimestamp = -1;
    let records = 0;
    for (const h of headers) {
      if (h.maxTimestamp > maxTimestamp) maxTimestamp = h.maxTimestamp;
      records += h.recordCount;
    }
    assertAtMost(this.logEnd, first.baseOffset, 'appended batches start at or after the log end offset');
    // Inline rather than guard(): no closure per append on the produce path.
    try {
      this.assignEpochs(batches, headers);
      this.maybeRoll(batches.length, first.baseOffset, last.lastOffset, maxTimestamp, now);
      this.activeSegment.append(batches, headers);
    } catch (err) {
      throw this.failure('Append', err);
    }
    this.logEnd = last.lastOffset + 1;
    this.recent?.appended(batches, headers);
    this.updateProducerState(batches, headers);
    this.unflushedMessages += records;
    if (this.unflushedMessages >= this.config.flushMessages) this.flushInBackground();
  }

  /**
   * Records a batch's leader epoch in the cache when it starts a new one (the epoch stamped
   * in the header: the leader's own, or the leader's as a follower copies it), before the
   * batch is written, as Kafka's UnifiedLog.append does. Memory only: flushes write the
   * checkpoint (leader-epoch-cache.ts). If the write then fails, the entry left starts at
   * the unchanged log end offset, which is where the next batch goes; a later epoch or a
   * truncation replaces it. Batches without an epoch (-1) are not recorded.
   */
  private assignEpochs(batches: Buffer, headers: BatchSummary[]): void {
    const cache = this.leaderEpochCache;
    for (const h of headers) {
      const epoch = batches.readInt32BE(h.position + BatchLayout.PARTITION_LEADER_EPOCH);
      if (epoch >= 0 && epoch !== cache.latestEpoch()) cache.assign(epoch, h.baseOffset);
    }
  }

  /**
   * Every appended batch with a producer id updates the producer state (no checks here:
   * the leader checked them before appending, and a follower takes what its leader wrote).
   * A batch without one costs one 8-byte read.
   */
  private updateProducerState(batches: Buffer, headers: readonly BatchSummary[]): void {
    for (const h of headers) {
      if (readInt64(batches, h.position + BatchLayout.PRODUCER_ID) < 0) continue;
      const batch = producerBatchAt(batches, h.position, true);
      if (batch === null || batch === 'need-body') continue;
      try {
        applyProducerBatch(this.producerState, batch, this.activeSegment);
      } catch (err) {
        // Writing the transaction index failed after the data was written: the log goes
        // offline (even on a full disk) rather than keep a state that disagrees with its data.
        if (!isIoError(err)) throw err;
        this.fail(err);
        throw this.offlineError();
      }
    }
    this.producerState.mapEndOffset = this.logEnd;
  }

  /**
   * Appends an end-transaction marker (COMMIT or ABORT control batch) as leader, after
   * Kafka's checks: an older producer epoch is INVALID_PRODUCER_EPOCH, an older coordinator
   * epoch TRANSACTION_COORDINATOR_FENCED (both answered, nothing appended). The marker
   * completes the producer's open transaction; an ABORT goes into the transaction index.
   */
  appendEndTxnMarker(marker: EndTxnMarker): EndTxnMarkerResult {
    const check = this.producerState.checkMarker(marker.producerId, marker.producerEpoch, marker.coordinatorEpoch);
    if (check.kind === 'error') return check;
    const batch = encodeControlBatch({
      type: marker.commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT,
      producerId: marker.producerId,
      producerEpoch: marker.producerEpoch,
      coordinatorEpoch: marker.coordinatorEpoch,
      timestamp: marker.timestampMs ?? this.clock.now(),
    });
    return { kind: 'ok', append: this.append(batch, { leaderEpoch: marker.leaderEpoch }) };
  }

  // ---------------------------------------------------------------- roll

  /** Kafka's roll rule: size, age (segment.ms from the first batch's timestamp), full index, offset overflow. */
  private maybeRoll(appendBytes: number, firstOffset: number, lastOffset: number, maxTimestamp: number, now: number): void {
    const seg = this.activeSegment;
    if (seg.size === 0) {
      // An empty active segment takes any append whose offsets it can index.
      if (firstOffset >= seg.baseOffset && !seg.cannotHoldOffset(lastOffset)) return;
      this.replaceEmptyActive(firstOffset, now);
      return;
    }
    const firstTs = seg.firstTimestamp();
    const waitedMs = firstTs !== null && firstTs >= 0 ? maxTimestamp - firstTs : now - seg.createdMs;
    const reachedRollMs = waitedMs > this.config.segmentMs - this.config.segmentJitterMs;
    if (
      seg.size > this.config.segmentBytes - appendBytes ||
      reachedRollMs ||
      seg.indexesFull() ||
      seg.cannotHoldOffset(lastOffset)
    ) {
      this.rollUnguarded(firstOffset, now);
    }
  }

  private replaceEmptyActive(baseOffset: number, now: number): void {
    // The new segment first: if creating it fails (a full disk), the log is unchanged.
    const old = this.activeSegment;
    const fresh = LogSegment.create(this.dir, baseOffset, this.segmentSettings(), now);
    this.segments[this.segments.length - 1] = fresh;
    this.dirDirty = true;
    old.close();
    if (old.baseOffset === baseOffset) return;
    this.fs.rmSync(old.logFile, { force: true });
    this.fs.rmSync(old.indexFile, { force: true });
    this.fs.rmSync(old.timeIndexFile, { force: true });
  }

  /** Starts a new active segment at `baseOffset`; the old one is flushed in the background. */
  roll(baseOffset = this.logEnd, now = this.clock.now()): LogSegment {
    this.ensureOpen();
    return this.guard('Roll', () => this.rollUnguarded(baseOffset, now));
  }

  private rollUnguarded(baseOffset: number, now: number): LogSegment {
    const old = this.activeSegment;
    if (old.size === 0) {
      if (old.baseOffset !== baseOffset) this.replaceEmptyActive(baseOffset, now);
      return this.activeSegment;
    }
    // The producer state as of the new segment's base offset, first: a reload then replays
    // at most the new segment (Kafka's roll does the same). Written before anything else
    // changes, so a full disk refuses the append with the log as it was.
    if (baseOffset >= this.producerState.mapEndOffset) this.producerState.mapEndOffset = baseOffset;
    this.producerState.takeSnapshot();
    old.finishIndexes();
    old.persistIndexes(false);
    this.segments.push(LogSegment.create(this.dir, baseOffset, this.segmentSettings(), now));
    this.dirDirty = true;
    // Kafka flushes a rolled segment right away (in the background), so the recovery
    // point, and with it start-up recovery, never lags by more than one segment.
    this.flushInBackground();
    return this.activeSegment;
  }

  segmentSettings(): { indexIntervalBytes: number; maxIndexBytes: number; fs: FileSystem } {
    return { indexIntervalBytes: this.config.indexIntervalBytes, maxIndexBytes: this.config.segmentIndexBytes, fs: this.fs };
  }

  // ---------------------------------------------------------------- read

  /**
   * Serves reads at the end of the log from `cache` (recent-appends.ts), fed by every
   * append from now on; undefined stops it and frees what it held.
   */
  keepRecentAppends(cache: RecentAppends | undefined): void {
    if (this.recent === cache) return;
    this.recent?.clear();
    this.recent = this.closed ? undefined : cache;
  }

  /** The recent-appends cache in use, if any (tests, metrics). */
  get recentAppends(): RecentAppends | undefined {
    return this.recent;
  }

  /**
   * Reads whole batches from the one holding fetchOffset. Offsets before the log start or
   * past the log end are a result (the broker answers OFFSET_OUT_OF_RANGE), not an error.
   */
  read(fetchOffset: number, maxBytes: number, options: ReadOptions = {}): ReadResult {
    this.ensureOpen();
    try {
      return this.readUnguarded(fetchOffset, maxBytes, options);
    } catch (err) {
      throw this.failure('Read', err);
    }
  }

  /**
   * Reads ahead the bytes a read at `fetchOffset` of up to `maxBytes` would read from a
   * segment file, so that that read takes them from memory (LogSegment.readAhead). For a
   * consumer that has just been sent a Fetch response: it asks for the next records only
   * once it has received and parsed the whole response, and this reads them meanwhile.
   * Nothing when the offset is outside the log, served from the recent appends, or the log
   * is closed; never throws.
   */
  readAhead(fetchOffset: number, maxBytes: number): void {
    if (this.closed || fetchOffset < this.logStart || fetchOffset >= this.logEnd || maxBytes <= 0) return;
    const recentFrom = this.recent?.firstOffset ?? -1;
    if (recentFrom >= 0 && fetchOffset >= recentFrom) return;
    try {
      const seg = this.segments[this.floorSegmentIndex(fetchOffset)];
      if (seg === undefined) return;
      const position = seg.batchPosition(fetchOffset);
      if (position >= 0) seg.readAhead(position, maxBytes);
    } catch {
      // The Fetch that asks for these bytes reads them itself and meets the error there.
    }
  }

  private readUnguarded(fetchOffset: number, maxBytes: number, options: ReadOptions): ReadResult {
    if (fetchOffset < this.logStart || fetchOffset > this.logEnd) {
      return { kind: 'offset_out_of_range', fetchOffset, logStartOffset: this.logStart, logEndOffset: this.logEnd };
    }
    const limit = Math.min(options.maxOffset ?? this.logEnd, this.logEnd);
    const minOne = options.minOneBatch ?? false;
    const result = {
      kind: 'ok' as const,
      records: [] as Buffer[],
      sizeInBytes: 0,
      nextFetchOffset: fetchOffset,
      segmentBaseOffset: -1,
      position: -1,
      logStartOffset: this.logStart,
      logEndOffset: this.logEnd,
      highWatermark: this.hw,
    };
    if (fetchOffset >= limit) return result;
    const recent = this.recent?.read(fetchOffset, maxBytes, limit, minOne, options.holds);
    if (recent !== undefined) {
      result.records = recent.records;
      result.sizeInBytes = recent.sizeInBytes;
      result.nextFetchOffset = recent.nextFetchOffset;
      return result;
    }
    let remaining = maxBytes;
    let offset = fetchOffset;
    for (let i = this.floorSegmentIndex(fetchOffset); i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      const position = seg.batchPosition(offset);
      if (position < 0) continue;
      const first = result.records.length === 0;
      const got = seg.readBatches(position, remaining, limit, minOne && first);
      if (got.bytes.length === 0) break;
      if (first) {
        result.segmentBaseOffset = seg.baseOffset;
        result.position = position;
      }
      result.records.push(got.bytes);
      result.sizeInBytes += got.bytes.length;
      result.nextFetchOffset = got.lastOffset + 1;
      remaining -= got.bytes.length;
      offset = got.lastOffset + 1;
      // Continue into the next segment only when this one was read to its end.
      if (remaining <= 0 || offset >= limit || position + got.bytes.length < seg.size) break;
    }
    return result;
  }

  // ---------------------------------------------------------------- flush

  /** Resolves once every offset below `endOffset` is fdatasync'ed (group commit). */
  waitForFlush(endOffset: number): Promise<void> {
    try {
      this.ensureOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.groupCommit.waitFor(endOffset);
  }

  /** Flushes everything appended so far. */
  flush(): Promise<void> {
    return this.waitForFlush(this.logEnd);
  }

  private flushInBackground(): void {
    this.flush().catch((err: unknown) => {
      // An I/O error has already taken the log offline (guard); a full disk leaves the data
      // unflushed, and the next flush (flush.ms, roll, close) tries again.
      if (err instanceof StorageError && err.code === StorageErrorCode.NO_SPACE) this.listener.onNoSpace?.(this, err);
      else if (!(err instanceof StorageError)) this.fail(err);
    });
  }

  /** flush.ms policy: flush when the oldest unflushed data is older than flush.ms. */
  flushIfDue(now = this.clock.now()): void {
    if (this.closed || this.recovery >= this.logEnd) return;
    if (now - this.lastFlushMs >= this.config.flushMs) this.flushInBackground();
  }

  /** Segments holding offsets at or after the recovery point: the ones a flush must sync. */
  private unflushedSegments(): LogSegment[] {
    return this.segments.slice(this.floorSegmentIndex(this.recovery));
  }

  private beforeFlush(segments: LogSegment[]): void {
    for (const seg of segments) {
      // Rolled segments get their index files made durable once; the active segment's
      // indexes are rebuilt by recovery anyway, so they are written but not fsynced.
      if (seg !== this.activeSegment) seg.persistIndexes(true);
      else seg.persistIndexes(false);
    }
  }

  private afterFlush(target: number, messages: number): void {
    if (this.dirDirty) {
      this.dirDirty = false;
      fsyncDir(this.dir, this.fs);
    }
    if (this.parentDirDirty) {
      this.parentDirDirty = false;
      fsyncDir(path.dirname(this.dir), this.fs);
    }
    const durable = Math.min(target, this.truncatedDuringFlush, this.logEnd);
    if (durable > this.recovery) this.recovery = durable;
    this.checkOffsets();
    this.truncatedDuringFlush = Infinity;
    this.unflushedMessages = Math.max(0, this.unflushedMessages - messages);
    this.lastFlushMs = this.clock.now();
  }

  private flushToSync(target: number): void {
    if (this.closed) return;
    const messages = this.unflushedMessages;
    const segments = this.unflushedSegments();
    this.beforeFlush(segments);
    for (const seg of segments) if (!seg.deleted) seg.flushLogSync();
    // The epoch checkpoint covers the data before the recovery point moves past it.
    this.leaderEpochCache.persistIfDirty();
    this.afterFlush(target, messages);
  }

  private async flushToAsync(target: number): Promise<void> {
    if (this.closed) return;
    const messages = this.unflushedMessages;
    const segments = this.unflushedSegments();
    this.truncatedDuringFlush = Infinity;
    this.asyncFlushInFlight = true;
    try {
      await this.syncSegments(segments, false);
    } finally {
      this.asyncFlushInFlight = false;
    }
    if (this.closed) return;
    // The directory fsyncs of afterFlush, off the event loop: behind the fdatasync of a
    // rolled 1 GiB segment, one took ~0.8 s with the loop blocked.
    await this.syncDirs(false);
    if (this.closed) return;
    // The epoch checkpoint covers the data before the recovery point moves past it.
    await this.leaderEpochCache.persistIfDirtyAsync();
    if (this.closed) return;
    this.afterFlush(target, messages);
  }

  /**
   * The async flush and close: index files written, then every fsync on libuv's
   * threadpool. Rolled segments' index files are fsynced there too (beforeFlush does it on
   * the event loop, which a background flush after a roll blocked for ~0.6 s); the active
   * segment's only when `activeIndexes` (close: the next start trusts them).
   */
  private async syncSegments(segments: LogSegment[], activeIndexes: boolean): Promise<void> {
    const live = segments.filter((s) => !s.deleted);
    // allSettled, not all: a full disk failing an index write must not hide an fdatasync
    // failing next to it, which takes the log offline.
    const settled = await Promise.allSettled(live.flatMap((seg) => [
      seg !== this.activeSegment || activeIndexes ? seg.persistIndexesDurably() : Promise.resolve().then(() => seg.persistIndexes(false)),
      fsyncAsync(this.fs, seg.fdForSync, true),
    ]));
    throwWorst(settled);
  }

  /** fsyncs the directories afterFlush would, on the threadpool; the parent unless `parentSynced`. */
  private async syncDirs(parentSynced: boolean): Promise<void> {
    const dirs: string[] = [];
    if (this.dirDirty) {
      this.dirDirty = false;
      dirs.push(this.dir);
    }
    if (this.parentDirDirty) {
      this.parentDirDirty = false;
      if (!parentSynced) dirs.push(path.dirname(this.dir));
    }
    throwWorst(await Promise.allSettled(dirs.map((dir) => fsyncDirAsync(dir, this.fs))));
  }

  // ---------------------------------------------------------------- truncation

  /**
   * Removes everything at and after `offset` (followers diverging from the leader). The
   * batch holding `offset` goes whole, so the log end offset lands on a batch boundary at
   * or below `offset` (Kafka keeps `offset` itself; with whole batches removed the
   * boundary is what the log really holds).
   */
  truncateTo(offset: number): void {
    this.ensureOpen();
    this.guard('Truncation', () => this.truncateToUnguarded(offset));
  }

  private truncateToUnguarded(offset: number): void {
    if (offset >= this.logEnd) return;
    if (offset < this.logStart) {
      this.truncateFullyUnguarded(offset);
      return;
    }
    const keep = this.floorSegmentIndex(offset);
    const removed = this.segments.splice(keep + 1);
    for (const seg of removed) this.deleteSegmentFiles(seg);
    const cut = this.activeSegment.truncateTo(offset);
    const end = cut < 0 ? offset : cut;
    if (end < this.logStart) {
      // The batch holding the log start offset went: nothing fetchable is left.
      this.truncateFullyUnguarded(this.logStart);
      return;
    }
    this.logEnd = end;
    this.leaderEpochCache.truncateFromEnd(end);
    this.afterTruncation();
    this.reloadProducerState();
  }

  /**
   * Kafka's truncateAndReload + rebuildProducerState after a truncation: snapshots past the
   * new log end go, the state is reloaded from the latest remaining one and the batches
   * after it are replayed (headers only) up to the log end.
   */
  private reloadProducerState(): void {
    const state = this.producerState;
    state.deleteSnapshotsAbove(this.logEnd);
    state.loadFromSnapshot(this.logEnd, this.logStart, this.clock.now());
    replayProducerState(state, this.segments, Math.max(state.mapEndOffset, this.logStart), this.logEnd);
    state.mapEndOffset = this.logEnd;
    state.onHighWatermarkUpdated(this.hw);
  }

  /** Deletes every segment and restarts the log, empty, at `offset` (log start and end). */
  truncateFullyAndStartAt(offset: number): void {
    this.ensureOpen();
    this.guard('Truncation', () => this.truncateFullyUnguarded(offset));
  }

  private truncateFullyUnguarded(offset: number): void {
    const removed = this.segments.splice(0);
    for (const seg of removed) this.deleteSegmentFiles(seg);
    this.segments.push(LogSegment.create(this.dir, offset, this.segmentSettings(), this.clock.now()));
    this.dirDirty = true;
    this.logStart = offset;
    this.logEnd = offset;
    this.hw = offset;
    this.leaderEpochCache.clear();
    this.producerState.truncateFullyAndStartAt(offset);
    this.afterTruncation();
    if (this.recovery !== offset) {
      this.recovery = offset;
      this.listener.onRecoveryPointLowered?.(this);
    }
    this.listener.onLogStartOffsetChanged?.(this);
  }

  private afterTruncation(): void {
    this.recent?.clear();
    if (this.asyncFlushInFlight) this.truncatedDuringFlush = Math.min(this.truncatedDuringFlush, this.logEnd);
    if (this.hw > this.logEnd) this.hw = this.logEnd;
    if (this.recovery > this.logEnd) {
      this.recovery = this.logEnd;
      this.listener.onRecoveryPointLowered?.(this);
    }
    this.checkOffsets();
  }

  // ---------------------------------------------------------------- deletion

  /**
   * DeleteRecords: moves the log start offset to `offset` (at most the high watermark) and
   * deletes the segments wholly below it. Returns the new log start offset.
   */
  deleteRecordsBefore(offset: number): number {
    this.ensureOpen();
    if (offset > this.hw) {
      throw new StorageError(
        StorageErrorCode.OFFSET_OUT_OF_RANGE,
        `Cannot delete records of ${this.topic}-${this.partition} before ${offset}: beyond the high watermark ${this.hw}`,
      );
    }
    if (offset <= this.logStart) return this.logStart;
    this.logStart = offset;
    this.checkOffsets();
    this.producerState.onLogStartOffsetIncremented(offset);
    this.guard('DeleteRecords', () => {
      this.leaderEpochCache.truncateFromStart(offset);
      this.deletePrefixSegments(this.countLogStartBreached());
    });
    this.listener.onLogStartOffsetChanged?.(this);
    return this.logStart;
  }

  /** Number of leading segments that hold only offsets below the log start offset. */
  countLogStartBreached(): number {
    let n = 0;
    while (n < this.segments.length - 1 && this.segments[n + 1]!.baseOffset <= this.logStart) n++;
    return n;
  }

  /** Deletes the first `count` segments (never the active one) and moves the log start offset. */
  deletePrefixSegments(count: number): number {
    const n = Math.min(count, this.segments.length - 1);
    if (n <= 0) return 0;
    const removed = this.segments.splice(0, n);
    for (const seg of removed) this.deleteSegmentFiles(seg);
    const first = this.segments[0]!.baseOffset;
    // Snapshots of deleted segments go with them (Kafka's deleteProducerSnapshots).
    this.producerState.deleteSnapshotsBelow(first);
    if (first > this.logStart) {
      this.logStart = first;
      this.leaderEpochCache.truncateFromStart(first);
      if (this.hw < first) this.hw = Math.min(first, this.logEnd);
      this.checkOffsets();
      this.listener.onLogStartOffsetChanged?.(this);
    }
    return n;
  }

  /**
   * Renames a segment's files to `.deleted` and removes them after file.delete.delay.ms,
   * so a reader that already holds the segment keeps reading it.
   */
  private deleteSegmentFiles(seg: LogSegment): void {
    seg.markDeleted();
    const delay = this.config.fileDeleteDelayMs;
    const timer = setTimeout(() => {
      this.pendingDeletes.delete(seg);
      this.groupCommit.idle().then(() => seg.destroy()).catch((err: unknown) => this.fail(err));
    }, delay);
    timer.unref();
    this.pendingDeletes.set(seg, timer);
  }

  private destroyPendingDeletes(): void {
    for (const [seg, timer] of this.pendingDeletes) {
      clearTimeout(timer);
      seg.destroy();
    }
    this.pendingDeletes.clear();
  }

  // ---------------------------------------------------------------- compaction

  /**
   * The log cleaner's swap (Kafka's replaceSegments): each group's `cleaned` segment,
   * written as `.cleaned` files by log-cleaner-core.ts, takes the place of its `old`
   * segments. Synchronous, so no reader sees half of it. Refused (false, nothing changed)
   * unless every group's old segments are still consecutive segments of this log, not the
   * active one, with the sizes the clean read: retention, DeleteRecords or truncation may
   * have changed them meanwhile. Each step is a crash point log-loader.ts completes or
   * discards; two directory fsyncs per clean, whatever its number of groups:
   *   every `.cleaned` -> `.swap`, directory fsync (a swap must be durable before any old
   *   segment is renamed away); old segments -> `.deleted`, newest first; every `.swap` ->
   *   final names, directory fsync.
   */
  replaceCleanedSegments(groups: ReadonlyArray<{ old: readonly LogSegment[]; oldSizes: readonly number[]; cleaned: LogSegment }>): boolean {
    this.ensureOpen();
    for (const { old, oldSizes } of groups) {
      const first = this.segments.indexOf(old[0]!);
      if (first < 0 || first + old.length >= this.segments.length) return false;
      for (let i = 0; i < old.length; i++) {
        const seg = this.segments[first + i]!;
        if (seg !== old[i] || seg.deleted || seg.size !== oldSizes[i]) return false;
      }
    }
    // The cached appends may overlap the cleaned segments: reads go to the files from here.
    this.recent?.clear();
    this.guard('Cleaner swap', () => {
      for (const { cleaned } of groups) cleaned.changeFileSuffix(SWAP_FILE_SUFFIX);
      fsyncDir(this.dir, this.fs);
      for (let g = groups.length - 1; g >= 0; g--) {
        const { old, cleaned } = groups[g]!;
        for (let i = old.length - 1; i >= 0; i--) this.deleteSegmentFiles(old[i]!);
        this.segments.splice(this.segments.indexOf(old[0]!), old.length, cleaned);
      }
      for (const { cleaned } of groups) cleaned.changeFileSuffix('');
      fsyncDir(this.dir, this.fs);
    });
    return true;
  }

  // ---------------------------------------------------------------- close

  /**
   * Flushes everything, writes final index entries, closes the files. After close the
   * recovery point equals the log end offset, so a restart recovers nothing.
   */
  /**
   * Makes everything durable (data, index files, directory entries) and closes the files.
   * The log refuses appends from the start of the close. The fsyncs run on libuv's
   * threadpool, so a LogManager closing many logs at once has them made durable together:
   * ext4 serves concurrent fsyncs with shared journal commits, and a clean shutdown with
   * 10,000 partitions went from ~18 s of fsyncs one after another to a few seconds.
   * `parentDirSynced`: the caller fsyncs the data directory itself afterwards, so this log
   * need not (10,000 logs were 10,000 fsyncs of that one directory).
   */
  async close(options: { parentDirSynced?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    await this.groupCommit.idle();
    if (this.closed) return;
    this.closed = true;
    this.recent?.clear();
    try {
      this.activeSegment.finishIndexes();
      // The producer state at the log end, so the next start replays nothing (Kafka's
      // close takes this snapshot too); fsynced with the segments.
      this.producerState.mapEndOffset = this.logEnd;
      const snapshot = this.producerState.takeSnapshot();
      await Promise.all([this.syncSegments(this.unflushedSegments(), true), snapshot === null ? undefined : fsyncFile(this.fs, snapshot)]);
      await this.syncDirs(options.parentDirSynced ?? false);
      await this.leaderEpochCache.persistIfDirtyAsync();
    } catch (err) {
      // Not durable after all: the log (and its directory) goes offline, no clean marker;
      // on a full disk (an index write) the data is intact and the next start recovers it.
      if (isIoError(err) && !isNoSpace(err)) this.fail(err);
      else this.groupCommit.failAll(new StorageError(StorageErrorCode.LOG_CLOSED, `Log ${this.topic}-${this.partition} is closed`));
      for (const seg of this.segments) seg.close();
      throw err;
    }
    this.recovery = this.logEnd;
    this.unflushedMessages = 0;
    this.lastFlushMs = this.clock.now();
    // Waiters of a flush that was scheduled but not started: the data is durable, but the
    // log is closed under them (as before: the broker is stopping and will not answer).
    this.groupCommit.failAll(new StorageError(StorageErrorCode.LOG_CLOSED, `Log ${this.topic}-${this.partition} is closed`));
    for (const seg of this.segments) seg.close();
    this.destroyPendingDeletes();
  }

  /** Closes files without flushing or writing anything: what a crash leaves (tests). */
  abandon(): void {
    this.closed = true;
    this.recent?.clear();
    for (const timer of this.pendingDeletes.values()) clearTimeout(timer);
    this.pendingDeletes.clear();
    for (const seg of this.segments) seg.close();
    this.groupCommit.failAll(new StorageError(StorageErrorCode.LOG_CLOSED, `Log ${this.topic}-${this.partition} was abandoned`));
  }

  /** Closes and marks the log deleted (the LogManager renames the directory). */
  closeForDeletion(): void {
    this.closed = true;
    this.recent?.clear();
    this.groupCommit.failAll(new StorageError(StorageErrorCode.LOG_CLOSED, `Log ${this.topic}-${this.partition} was deleted`));
    for (const timer of this.pendingDeletes.values()) clearTimeout(timer);
    for (const seg of this.pendingDeletes.keys()) seg.close();
    this.pendingDeletes.clear();
    for (const seg of this.segments) seg.close();
  }

  /** Largest relative offset a segment can index; appends beyond it roll. */
  static readonly MAX_RELATIVE_OFFSET = INT32_MAX;
}

/** fsyncs a file written with writeSync (a producer-state snapshot), on the threadpool. */
async function fsyncFile(fs: FileSystem, file: string): Promise<void> {
  const fd = fs.openSync(file, 'r');
  try {
    await fsyncAsync(fs, fd, false);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Throws the most serious failure among settled file operations: an I/O error other than a
 * full disk first (it takes the log offline), then a full disk, then anything else.
 */
function throwWorst(settled: readonly PromiseSettledResult<unknown>[]): void {
  let worst: unknown = undefined;
  let rank = 0;
  for (const r of settled) {
    if (r.status === 'fulfilled') continue;
    const err: unknown = r.reason;
    const rankOf = isIoError(err) ? (isNoSpace(err) ? 2 : 3) : 1;
    if (rankOf > rank) {
      rank = rankOf;
      worst = err;
    }
  }
  if (rank > 0) throw worst;
}

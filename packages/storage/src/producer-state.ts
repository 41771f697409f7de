/**
 * Producer state of one partition (Kafka's ProducerStateManager, ProducerStateEntry and
 * ProducerAppendInfo): for each producer id, its epoch, the sequence ranges of its last five
 * batches (Kafka's NUM_BATCHES_TO_RETAIN, the idempotent client's in-flight limit), the
 * epoch of the transaction coordinator that last wrote a marker for it, and the first
 * offset of its open transaction; plus the open transactions of the partition in offset
 * order, which bound the last stable offset.
 *
 * Rules, as in Kafka 3.9 (leader appends from clients, `checkAppend`):
 * - a batch of the producer's current epoch whose sequence range equals one of the five
 *   retained is a duplicate, answered with the original offsets and not appended;
 * - an epoch older than the producer's is INVALID_PRODUCER_EPOCH;
 * - a newer epoch (KIP-360 bump) must start at sequence 0, unless the partition does not
 *   know the producer: OUT_OF_ORDER_SEQUENCE_NUMBER;
 * - within an epoch the first sequence must follow the last (wrapping at 2^31):
 *   OUT_OF_ORDER_SEQUENCE_NUMBER; a producer the partition does not know is accepted at any
 *   sequence (its state may have expired or been removed with the log). Kafka stopped
 *   answering UNKNOWN_PRODUCER_ID to Produce with KIP-360 (2.5), so it is never returned;
 * - a non-transactional batch from a producer with an open transaction: INVALID_TXN_STATE.
 * Markers (`checkMarker`): an older producer epoch is INVALID_PRODUCER_EPOCH, an older
 * coordinator epoch TRANSACTION_COORDINATOR_FENCED.
 *
 * Every appended batch with a producer id (leader, follower, replay at load) goes through
 * `applyBatch` without checks (Kafka's REPLICATION origin), so followers and reloads end in
 * the same state as the leader.
 *
 * Expected outcomes are error codes; throws are bugs or I/O errors.
 */
import { ErrorCode, INT32_MAX, assertAtMost } from '@tributary/protocol';
import type { FileSystem } from './file-system.js';
import {
  deleteSnapshotFile, readSnapshotFile, snapshotFileOf, writeSnapshotFile, type SnapshotEntry,
} from './producer-state-snapshot.js';

/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN. */
export const BATCHES_TO_RETAIN = 5;
/** producer.id.expiration.ms default (1 day). */
export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000;
/** producer.id.expiration.check.interval.ms default (10 minutes). */
export const DEFAULT_PRODUCER_ID_EXPIRATION_CHECK_INTERVAL_MS = 600_000;

const NO_EPOCH = -1;
const NO_SEQUENCE = -1;

export interface BatchMetadata {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
  /** The batch's max timestamp (Kafka answers a duplicate with it as log_append_time). */
  timestamp: number;
}

export interface ProducerStateEntry {
  readonly producerId: number;
  producerEpoch: number;
  coordinatorEpoch: number;
  lastTimestamp: number;
  /** First offset of the producer's open transaction, -1 when none. */
  currentTxnFirstOffset: number;
  /** Oldest first, at most BATCHES_TO_RETAIN. */
  batches: BatchMetadata[];
}

/** What a batch needs for producer state: header fields and, for a marker, its record. */
export interface ProducerBatch {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  isTransactional: boolean;
  /** The end-transaction marker of a control batch, null for a data batch. */
  marker: { commit: boolean; coordinatorEpoch: number } | null;
}

export type ProducerAppendCheck =
  | { kind: 'ok' }
  | { kind: 'duplicate'; firstOffset: number; lastOffset: number; timestamp: number }
  | { kind: 'error'; errorCode: number; message: string };

export interface CompletedTxn {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
  isAborted: boolean;
}

interface TxnMetadata {
  producerId: number;
  firstOffset: number;
  /** The marker's offset once completed; -1 while open. */
  lastOffset: number;
}

const OK: ProducerAppendCheck = { kind: 'ok' };

export interface ProducerStateManagerOptions {
  dir: string;
  topicPartition: string;
  fs: FileSystem;
  producerIdExpirationMs?: number;
}

export class ProducerStateManager {
  readonly dir: string;
  readonly topicPartition: string;
  private readonly fs: FileSystem;
  producerIdExpirationMs: number;
  private readonly producerEntries = new Map<number, ProducerStateEntry>();
  /** Open transactions, by first offset ascending. */
  private ongoingTxns: TxnMetadata[] = [];
  /**
   * A snapshot to load on first use (deferLoadFromSnapshot), -1 when none; with the clock
   * time of the start-up, against which its producers' expiry is judged.
   */
  private deferredSnapshot = -1;
  private deferredNowMs = 0;
  /** Completed transactions whose marker is not below the high watermark yet, by first offset. */
  private unreplicated: TxnMetadata[] = [];
  /** Offsets of the `.snapshot` files in the directory, ascending. */
  private snapshots: number[] = [];
  /** The state reflects every batch below this offset. */
  mapEndOffset = 0;
  private lastSnapOffset = -1;

  constructor(options: ProducerStateManagerOptions) {
    this.dir = options.dir;
    this.topicPartition = options.topicPartition;
    this.fs = options.fs;
    this.producerIdExpirationMs = options.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS;
  }

  /** Every access to the state goes through these two, so a deferred snapshot loads first. */
  private get producers(): Map<number, ProducerStateEntry> {
    if (this.deferredSnapshot >= 0) this.loadDeferred();
    return this.producerEntries;
  }

  private get ongoing(): TxnMetadata[] {
    if (this.deferredSnapshot >= 0) this.loadDeferred();
    return this.ongoingTxns;
  }

  private set ongoing(txns: TxnMetadata[]) {
    this.ongoingTxns = txns;
  }

  get size(): number {
    return this.producers.size;
  }

  entry(producerId: number): Readonly<ProducerStateEntry> | undefined {
    return this.producers.get(producerId);
  }

  /** Every producer, for DescribeProducers. */
  activeProducers(): IterableIterator<Readonly<ProducerStateEntry>> {
    return this.producers.values();
  }

  snapshotOffsets(): readonly number[] {
    return this.snapshots;
  }

  // ---------------------------------------------------------------- checks (leader, client origin)

  /** Kafka's findDuplicateBatch, then ProducerAppendInfo's epoch, sequence and transaction checks. */
  checkAppend(producerId: number, epoch: number, firstSeq: number, lastOffsetDelta: number, isTransactional: boolean): ProducerAppendCheck {
    const entry = this.producers.get(producerId);
    if (entry === undefined) return OK;
    const lastSeq = wrap(firstSeq + lastOffsetDelta);
    if (epoch === entry.producerEpoch) {
      for (const b of entry.batches) {
        if (b.firstSeq === firstSeq && b.lastSeq === lastSeq) return { kind: 'duplicate', firstOffset: b.firstOffset, lastOffset: b.lastOffset, timestamp: b.timestamp };
      }
    }
    if (epoch < entry.producerEpoch) {
      return error(ErrorCode.INVALID_PRODUCER_EPOCH, `Epoch of producer ${producerId} in ${this.topicPartition} is ${epoch}, which is smaller than the last seen epoch ${entry.producerEpoch}`);
    }
    if (epoch !== entry.producerEpoch) {
      if (firstSeq !== 0 && entry.producerEpoch !== NO_EPOCH) {
        return error(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `Invalid sequence number for new epoch of producer ${producerId} in partition ${this.topicPartition}: ${epoch} (request epoch), ${firstSeq} (seq. number), ${entry.producerEpoch} (current producer epoch)`);
      }
    } else {
      const last = entry.batches[entry.batches.length - 1];
      const currentLastSeq = last === undefined ? NO_SEQUENCE : last.lastSeq;
      if (!inSequence(currentLastSeq, firstSeq)) {
        return error(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `Out of order sequence number for producer ${producerId} in partition ${this.topicPartition}: ${firstSeq} (incoming seq. number), ${currentLastSeq} (current end sequence number)`);
      }
    }
    if (entry.currentTxnFirstOffset >= 0 && !isTransactional) {
      return error(ErrorCode.INVALID_TXN_STATE, `Expected transactional write from producer ${producerId} in partition ${this.topicPartition}: it has a transaction open since offset ${entry.currentTxnFirstOffset}`);
    }
    return OK;
  }

  /** Kafka's checkProducerEpoch and checkCoordinatorEpoch for a marker the coordinator writes. */
  checkMarker(producerId: number, epoch: number, coordinatorEpoch: number): { kind: 'ok' } | { kind: 'error'; errorCode: number; message: string } {
    const entry = this.producers.get(producerId);
    if (entry === undefined) return OK as { kind: 'ok' };
    if (epoch < entry.producerEpoch) {
      return error(ErrorCode.INVALID_PRODUCER_EPOCH, `Epoch of producer ${producerId} in ${this.topicPartition} is ${epoch}, which is smaller than the last seen epoch ${entry.producerEpoch}`);
    }
    if (entry.coordinatorEpoch > coordinatorEpoch) {
      return error(ErrorCode.TRANSACTION_COORDINATOR_FENCED, `Invalid coordinator epoch for producer ${producerId} in ${this.topicPartition}: ${coordinatorEpoch} (zombie), ${entry.coordinatorEpoch} (current)`);
    }
    return OK as { kind: 'ok' };
  }

  // ---------------------------------------------------------------- updates (every appended batch)

  /**
   * Records an appended batch (in log order). Returns the transaction a marker completed,
   * if it had data (a marker of an empty transaction completes nothing, as in Kafka).
   */
  applyBatch(b: ProducerBatch): CompletedTxn | null {
    let entry = this.producers.get(b.producerId);
    if (entry === undefined) {
      entry = { producerId: b.producerId, producerEpoch: NO_EPOCH, coordinatorEpoch: -1, lastTimestamp: -1, currentTxnFirstOffset: -1, batches: [] };
      this.producers.set(b.producerId, entry);
    }
    this.mapEndOffset = Math.max(this.mapEndOffset, b.lastOffset + 1);
    if (b.marker !== null) {
      let completed: CompletedTxn | null = null;
      if (entry.currentTxnFirstOffset >= 0) {
        completed = { producerId: b.producerId, firstOffset: entry.currentTxnFirstOffset, lastOffset: b.lastOffset, isAborted: !b.marker.commit };
      }
      if (entry.producerEpoch !== b.producerEpoch) {
        entry.producerEpoch = b.producerEpoch;
        entry.batches = [];
      }
      entry.currentTxnFirstOffset = -1;
      entry.coordinatorEpoch = b.marker.coordinatorEpoch;
      entry.lastTimestamp = b.maxTimestamp;
      return completed;
    }
    if (entry.producerEpoch !== b.producerEpoch) {
      entry.producerEpoch = b.producerEpoch;
      entry.batches = [];
    }
    const previous = entry.batches[entry.batches.length - 1];
    if (previous !== undefined) assertAtMost(previous.lastOffset + 1, b.baseOffset, 'a producer\'s batches are appended at increasing offsets');
    if (b.baseSequence >= 0) {
      entry.batches.push({
        firstSeq: b.baseSequence,
        lastSeq: wrap(b.baseSequence + (b.lastOffset - b.baseOffset)),
        firstOffset: b.baseOffset,
        lastOffset: b.lastOffset,
        timestamp: b.maxTimestamp,
      });
      if (entry.batches.length > BATCHES_TO_RETAIN) entry.batches.shift();
    }
    entry.lastTimestamp = b.maxTimestamp;
    if (b.isTransactional && entry.currentTxnFirstOffset < 0) {
      entry.currentTxnFirstOffset = b.baseOffset;
      insertByFirstOffset(this.ongoing, { producerId: b.producerId, firstOffset: b.baseOffset, lastOffset: -1 });
    }
    return null;
  }

  /**
   * Kafka's lastStableOffset(completedTxn): the LSO once this transaction is complete, the
   * first offset of the oldest other open transaction or the offset after the marker.
   */
  lastStableOffsetAfter(completed: CompletedTxn): number {
    for (const t of this.ongoing) if (t.producerId !== completed.producerId) return t.firstOffset;
    return completed.lastOffset + 1;
  }

  /** Moves a completed transaction from open to unreplicated (until the HW passes its marker). */
  completeTxn(completed: CompletedTxn): void {
    const i = this.ongoing.findIndex((t) => t.firstOffset === completed.firstOffset);
    if (i < 0) return;
    const [txn] = this.ongoing.splice(i, 1);
    txn!.lastOffset = completed.lastOffset;
    insertByFirstOffset(this.unreplicated, txn!);
  }

  /** Completed transactions whose markers are now below the high watermark stop bounding the LSO. */
  onHighWatermarkUpdated(highWatermark: number): void {
    if (this.unreplicated.length === 0) return;
    this.unreplicated = this.unreplicated.filter((t) => t.lastOffset >= highWatermark);
  }

  /** The first offset of the oldest open or not yet replicated transaction, -1 when none. */
  firstUnstableOffset(): number {
    const a = this.ongoing[0]?.firstOffset ?? Infinity;
    const b = this.unreplicated[0]?.firstOffset ?? Infinity;
    const first = Math.min(a, b);
    return first === Infinity ? -1 : first;
  }

  /** Open transactions (producer id, first offset), oldest first. */
  ongoingTransactions(): readonly { producerId: number; firstOffset: number }[] {
    return this.ongoing;
  }

  // ---------------------------------------------------------------- expiry

  /**
   * Kafka's removeExpiredProducers: producers without an open transaction whose last
   * batch's timestamp is producer.id.expiration.ms old. Returns how many went.
   */
  removeExpiredProducers(nowMs: number): number {
    // A deferred snapshot is not read for this: its producers are judged against the
    // latest check's time when it loads (loadEntry leaves expired ones out).
    if (this.deferredSnapshot >= 0) {
      this.deferredNowMs = Math.max(this.deferredNowMs, nowMs);
      return 0;
    }
    let removed = 0;
    for (const [id, e] of this.producers) {
      if (e.currentTxnFirstOffset < 0 && nowMs - e.lastTimestamp >= this.producerIdExpirationMs) {
        this.producers.delete(id);
        removed++;
      }
    }
    return removed;
  }

  // ---------------------------------------------------------------- snapshots

  /** Registers the snapshot files found in the directory (the loader lists it once). */
  setSnapshotOffsets(offsets: readonly number[]): void {
    this.snapshots = [...offsets].sort((a, b) => a - b);
  }

  /**
   * Writes `<mapEndOffset>.snapshot` unless one was written at this offset already; returns
   * the file written, or null. Not fsynced here (see producer-state-snapshot.ts).
   */
  takeSnapshot(): string | null {
    if (this.mapEndOffset === this.lastSnapOffset) return null;
    const entries: SnapshotEntry[] = [];
    for (const e of this.producers.values()) {
      const last = e.batches[e.batches.length - 1];
      entries.push({
        producerId: e.producerId,
        epoch: e.producerEpoch,
        lastSequence: last?.lastSeq ?? NO_SEQUENCE,
        lastOffset: last?.lastOffset ?? -1,
        offsetDelta: last === undefined ? 0 : last.lastOffset - last.firstOffset,
        timestamp: e.lastTimestamp,
        coordinatorEpoch: e.coordinatorEpoch,
        currentTxnFirstOffset: e.currentTxnFirstOffset,
      });
    }
    const file = writeSnapshotFile(this.fs, this.dir, this.mapEndOffset, entries);
    this.lastSnapOffset = this.mapEndOffset;
    if (!this.snapshots.includes(this.mapEndOffset)) {
      this.snapshots.push(this.mapEndOffset);
      this.snapshots.sort((a, b) => a - b);
    }
    return file;
  }

  /**
   * Kafka's loadFromSnapshot: the state of the latest readable snapshot at or below
   * `maxOffset` (unreadable ones are deleted, the next older one tried); expired producers
   * are left out. Returns the snapshot's offset, or -1 when none could be read (the state
   * is then empty from `fallbackOffset`).
   */
  loadFromSnapshot(maxOffset: number, fallbackOffset: number, nowMs: number): number {
    this.clear();
    for (let i = this.snapshots.length - 1; i >= 0; i--) {
      const offset = this.snapshots[i]!;
      if (offset > maxOffset) continue;
      const entries = readSnapshotFile(this.fs, snapshotFileOf(this.dir, offset));
      if (entries === null) {
        deleteSnapshotFile(this.fs, this.dir, offset);
        this.snapshots.splice(i, 1);
        continue;
      }
      for (const s of entries) this.loadEntry(s, nowMs);
      this.mapEndOffset = offset;
      this.lastSnapOffset = offset;
      return offset;
    }
    this.mapEndOffset = fallbackOffset;
    return -1;
  }

  /**
   * After a clean shutdown the close snapshot at the log end is the whole state, and nothing
   * is replayed after it: it is read on first use instead of at start-up (one file per
   * partition, a quarter of a 1,000-partition clean start-up; most partitions of a broker
   * see no idempotent producer for a while after a restart, and a close before then needs
   * no new snapshot, since this one still holds). Kafka reads it at load.
   */
  deferLoadFromSnapshot(offset: number, nowMs: number): void {
    this.clear();
    this.deferredSnapshot = offset;
    this.deferredNowMs = nowMs;
    this.mapEndOffset = offset;
    this.lastSnapOffset = offset;
  }

  /**
   * Rebuilds the state from an older snapshot and the log after it (the Log's
   * reloadProducerState), when a deferred snapshot turns out to be unreadable.
   */
  onDeferredSnapshotLost: (() => void) | null = null;

  /**
   * Loads the deferred snapshot. A file that cannot be read now (damaged since the clean
   * shutdown fsynced it) is deleted and the state rebuilt as a start-up would have
   * (onDeferredSnapshotLost): from the next older snapshot and the log after it. Only that
   * rare case reads the log on first use; without a rebuilder the state stays empty, as
   * after a clean shutdown without a snapshot.
   */
  private loadDeferred(): void {
    const offset = this.deferredSnapshot;
    this.deferredSnapshot = -1;
    const entries = readSnapshotFile(this.fs, snapshotFileOf(this.dir, offset));
    if (entries === null) {
      deleteSnapshotFile(this.fs, this.dir, offset);
      this.snapshots = this.snapshots.filter((o) => o !== offset);
      if (this.lastSnapOffset === offset) this.lastSnapOffset = -1;
      this.onDeferredSnapshotLost?.();
      return;
    }
    for (const e of entries) this.loadEntry(e, this.deferredNowMs);
  }

  private loadEntry(s: SnapshotEntry, nowMs: number): void {
    const entry: ProducerStateEntry = {
      producerId: s.producerId,
      producerEpoch: s.epoch,
      coordinatorEpoch: s.coordinatorEpoch,
      lastTimestamp: s.timestamp,
      currentTxnFirstOffset: s.currentTxnFirstOffset,
      batches: s.lastOffset >= 0 ? [{
        firstSeq: decrementSequence(s.lastSequence, s.offsetDelta),
        lastSeq: s.lastSequence,
        firstOffset: s.lastOffset - s.offsetDelta,
        lastOffset: s.lastOffset,
        timestamp: s.timestamp,
      }] : [],
    };
    if (entry.currentTxnFirstOffset < 0 && nowMs - entry.lastTimestamp >= this.producerIdExpirationMs) return;
    this.producers.set(s.producerId, entry);
    if (entry.currentTxnFirstOffset >= 0) insertByFirstOffset(this.ongoing, { producerId: s.producerId, firstOffset: entry.currentTxnFirstOffset, lastOffset: -1 });
  }

  /** Deletes the snapshot files above `offset` (the log was truncated there). */
  deleteSnapshotsAbove(offset: number): void {
    while (this.snapshots.length > 0 && this.snapshots[this.snapshots.length - 1]! > offset) {
      deleteSnapshotFile(this.fs, this.dir, this.snapshots.pop()!);
    }
    if (this.lastSnapOffset > offset) this.lastSnapOffset = -1;
  }

  /** Deletes the snapshot files below `offset` (their segments were deleted). */
  deleteSnapshotsBelow(offset: number): void {
    while (this.snapshots.length > 0 && this.snapshots[0]! < offset) deleteSnapshotFile(this.fs, this.dir, this.snapshots.shift()!);
  }

  /** Kafka's truncateFullyAndStartAt: no state, no snapshots, mapped up to `offset`. */
  truncateFullyAndStartAt(offset: number): void {
    this.clear();
    for (const s of this.snapshots) deleteSnapshotFile(this.fs, this.dir, s);
    this.snapshots = [];
    this.lastSnapOffset = -1;
    this.mapEndOffset = offset;
  }

  /** The log start offset moved: transactions wholly below it no longer bound anything. */
  onLogStartOffsetIncremented(logStartOffset: number): void {
    this.unreplicated = this.unreplicated.filter((t) => t.lastOffset >= logStartOffset);
    if (this.mapEndOffset < logStartOffset) this.mapEndOffset = logStartOffset;
  }

  private clear(): void {
    this.deferredSnapshot = -1;
    this.producerEntries.clear();
    this.ongoingTxns = [];
    this.unreplicated = [];
  }
}

function error(errorCode: number, message: string): { kind: 'error'; errorCode: number; message: string } {
  return { kind: 'error', errorCode, message };
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

/** Kafka's DefaultRecordBatch.decrementSequence: sequences wrap at 2^31. */
function decrementSequence(seq: number, by: number): number {
  return seq < by ? INT32_MAX - (by - seq) + 1 : seq - by;
}

function wrap(seq: number): number {
  return seq > INT32_MAX ? seq - INT32_MAX - 1 : seq;
}

function insertByFirstOffset(list: TxnMetadata[], txn: TxnMetadata): void {
  let i = list.length;
  while (i > 0 && list[i - 1]!.firstOffset > txn.firstOffset) i--;
  list.splice(i, 0, txn);
}

/**
 * The leader-epoch cache of one partition (Kafka's LeaderEpochFileCache): for every leader
 * epoch that wrote to the log, the offset of its first batch. Followers ask the leader
 * "where does my latest epoch end in your log?" (OffsetForLeaderEpoch, Fetch's
 * diverging_epoch) and truncate what the leader never had (KIP-101, KIP-279); consumers
 * use it to detect log truncation after an unclean leader change (KIP-320).
 *
 * Kept in `leader-epoch-checkpoint` in the partition directory, Kafka's format, text:
 *
 *   0             version
 *   2             number of entries
 *   0 0           epoch, start offset (space separated), epochs increasing
 *   3 150
 *
 * Invariants (checked on every change): epochs strictly increase, start offsets strictly
 * increase, all are >= 0.
 *
 * Durability follows the data's: a change only marks the cache dirty, and the log writes
 * the file (atomic rename, fsynced: writeFileDurably or its async twin) in every flush
 * *before* it moves the recovery point, and on close. So the file always covers the data
 * below the recovery point, and recovery after a crash re-reads the epochs of the batches
 * from the recovery point on (log-loader.ts), as Kafka's LogSegment.recover does; entries
 * past the recovered log end and before the log start offset are cut at load. Writing the
 * file on the append path instead (Kafka fsyncs it on every new epoch) cost ~9.5 ms of
 * blocked event loop per partition at its first append or leader change (two fsyncs;
 * measured here on 500 partitions), seconds for a broker taking over 1,000 partitions.
 * clear() is the exception: it writes at once, as the emptied log then holds no batch a
 * recovery could re-read the truth from.
 *
 * A missing or malformed file is rebuilt from the epochs stamped in the log's batches
 * (leader-epoch-load.ts); Kafka instead starts empty (missing) or fails the log directory
 * (malformed).
 */
import path from 'node:path';
import { fsyncDirAsync, writeFileDurably } from './checkpoint-file.js';
import { fsyncAsync } from './index-file.js';
import { assert } from '@tributary/protocol';
import type { FileSystem } from './file-system.js';
import { nodeFileSystem } from './file-system.js';

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint';
const CHECKPOINT_VERSION = 0;

/** Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

/** endOffsetFor's answer: Kafka's (epoch, end offset) pair; both -1 when undefined. */
export interface EpochEndOffset {
  readonly epoch: number;
  readonly endOffset: number;
}

export function formatLeaderEpochCheckpoint(entries: readonly EpochEntry[]): string {
  const lines = [String(CHECKPOINT_VERSION), String(entries.length)];
  for (const e of entries) lines.push(`${e.epoch} ${e.startOffset}`);
  return lines.join('\n') + '\n';
}

/** Parses the checkpoint text; a reason string when it is not a well-formed, ordered list. */
export function parseLeaderEpochCheckpoint(text: string): EpochEntry[] | string {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length < 2) return `expected version and count lines, found ${lines.length} lines`;
  if (lines[0]!.trim() !== String(CHECKPOINT_VERSION)) return `expected version 0, found ${JSON.stringify(lines[0])}`;
  const count = Number(lines[1]!.trim());
  if (!Number.isInteger(count) || count < 0) return `bad entry count ${JSON.stringify(lines[1])}`;
  if (lines.length - 2 !== count) return `expected ${count} entries, found ${lines.length - 2}`;
  const out: EpochEntry[] = [];
  for (let i = 2; i < lines.length; i++) {
    const parts = lines[i]!.trim().split(/\s+/);
    if (parts.length !== 2 || !/^\d+$/.test(parts[0]!) || !/^\d+$/.test(parts[1]!)) {
      return `line ${i + 1} is not "epoch offset": ${JSON.stringify(lines[i])}`;
    }
    const epoch = Number(parts[0]);
    const startOffset = Number(parts[1]);
    if (epoch > 0x7fffffff || !Number.isSafeInteger(startOffset)) return `line ${i + 1} is out of range: ${JSON.stringify(lines[i])}`;
    const prev = out[out.length - 1];
    if (prev !== undefined && (epoch <= prev.epoch || startOffset <= prev.startOffset)) {
      return `line ${i + 1} (${epoch} ${startOffset}) does not follow (${prev.epoch} ${prev.startOffset}) in increasing order`;
    }
    out.push({ epoch, startOffset });
  }
  return out;
}

export class LeaderEpochCache {
  /** Ordered by epoch and by start offset (both strictly increasing). */
  private entries: EpochEntry[];
  /** Bumped by every change; the file holds version `persisted`. */
  private version = 0;
  private persisted = 0;

  /** `file` is null for a cache that is never written (tests, the pure functions' inputs). */
  constructor(
    private readonly file: string | null,
    entries: readonly EpochEntry[] = [],
    private readonly fs: FileSystem = nodeFileSystem,
  ) {
    this.entries = [...entries];
    checkOrder(this.entries);
  }

  /** Path of the checkpoint in a partition directory. */
  static fileIn(dir: string): string {
    return path.join(dir, LEADER_EPOCH_CHECKPOINT);
  }

  /**
   * Reads the checkpoint of `dir`: its entries, or null when the file is missing or
   * malformed (with why, for the log), in which case the caller rebuilds from the log.
   */
  static read(dir: string, fs: FileSystem = nodeFileSystem): { entries: EpochEntry[] } | { missing: string } {
    let text: string;
    try {
      text = fs.readFileSync(LeaderEpochCache.fileIn(dir), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { missing: 'no leader-epoch-checkpoint' };
      throw err;
    }
    const parsed = parseLeaderEpochCheckpoint(text);
    if (typeof parsed === 'string') return { missing: `leader-epoch-checkpoint is malformed: ${parsed}` };
    return { entries: parsed };
  }

  /** The entries, oldest first (a copy). */
  epochEntries(): EpochEntry[] {
    return [...this.entries];
  }

  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  /** The latest epoch, or UNDEFINED_EPOCH (-1) when there is none. */
  latestEpoch(): number {
    return this.entries[this.entries.length - 1]?.epoch ?? UNDEFINED_EPOCH;
  }

  latestEntry(): EpochEntry | undefined {
    return this.entries[this.entries.length - 1];
  }

  /** The epoch before the latest (Kafka's previousEpoch), or -1. */
  previousEpoch(): number {
    return this.entries[this.entries.length - 2]?.epoch ?? UNDEFINED_EPOCH;
  }

  /**
   * Records that `epoch` starts at `startOffset` (Kafka's assign). A no-op when it is the
   * latest epoch already and starts at or before `startOffset`. Otherwise every entry with
   * an epoch >= `epoch` or a start offset >= `startOffset` goes first (they are not
   * monotonic with the new one: a follower re-fetching after truncation), and the file is
   * written before this returns. When the write fails the cache is unchanged.
   */
  assign(epoch: number, startOffset: number): boolean {
    assert(Number.isInteger(epoch) && epoch >= 0, 'an assigned leader epoch is >= 0');
    assert(Number.isSafeInteger(startOffset) && startOffset >= 0, 'an assigned epoch start offset is >= 0');
    const latest = this.latestEntry();
    if (latest !== undefined && latest.epoch === epoch && latest.startOffset <= startOffset) return false;
    const kept = this.entries.filter((e) => e.epoch < epoch && e.startOffset < startOffset);
    kept.push({ epoch, startOffset });
    this.replace(kept);
    return true;
  }

  /**
   * Removes every entry starting at or after `endOffset` (Kafka's truncateFromEnd): the
   * log was truncated to `endOffset`. Written to the file when anything was removed.
   */
  truncateFromEnd(endOffset: number): void {
    const latest = this.latestEntry();
    if (endOffset < 0 || latest === undefined || latest.startOffset < endOffset) return;
    this.replace(this.entries.filter((e) => e.startOffset < endOffset));
  }

  /**
   * The log start offset moved to `startOffset` (Kafka's truncateFromStart): entries that
   * start at or before it go, and the last of them comes back starting at `startOffset`,
   * since its epoch still holds the first offsets of the log.
   */
  truncateFromStart(startOffset: number): void {
    if (startOffset < 0) return;
    let removed = 0;
    while (removed < this.entries.length && this.entries[removed]!.startOffset <= startOffset) removed++;
    if (removed === 0) return;
    const first = this.entries[removed - 1]!;
    if (removed === 1 && first.startOffset === startOffset) return;
    const next = [{ epoch: first.epoch, startOffset }, ...this.entries.slice(removed)];
    this.replace(next);
  }

  /** Removes every entry (the log was emptied: truncateFullyAndStartAt, Kafka's clearAndFlush). */
  clear(): void {
    if (this.entries.length === 0) return;
    this.replace([]);
    this.persistIfDirty();
  }

  /**
   * Kafka's endOffsetFor: for the requested epoch, the largest epoch <= it that this log
   * has, and where that epoch ends (the start offset of the next epoch, or `logEndOffset`
   * when it is the latest). An epoch older than every entry answers (requested epoch, the
   * first entry's start offset): the data before is gone, the follower can start there.
   * UNDEFINED (-1, -1) for -1, for an epoch newer than the latest, and for an empty cache.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    const undefinedAnswer = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === UNDEFINED_EPOCH) return undefinedAnswer;
    const latest = this.latestEntry();
    if (latest === undefined) return undefinedAnswer;
    // The leader's own epoch is still being written: it ends at the log end.
    if (latest.epoch === requestedEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset };
    const higher = this.entries.findIndex((e) => e.epoch > requestedEpoch);
    if (higher < 0) return undefinedAnswer;
    if (higher === 0) return { epoch: requestedEpoch, endOffset: this.entries[0]!.startOffset };
    return { epoch: this.entries[higher - 1]!.epoch, endOffset: this.entries[higher]!.startOffset };
  }

  /** The epoch of the batch holding `offset` (Kafka's epochForOffset), or -1 when unknown. */
  epochForOffset(offset: number): number {
    let previous = UNDEFINED_EPOCH;
    for (const e of this.entries) {
      if (e.startOffset === offset) return e.epoch;
      if (e.startOffset > offset) return previous;
      previous = e.epoch;
    }
    return previous;
  }

  /** True when the file lags the entries (the next flush writes it). */
  get isDirty(): boolean {
    return this.version !== this.persisted;
  }

  /** Marks the entries as not yet in the file (a rebuild, or a file that must be replaced). */
  markDirty(): void {
    this.version++;
  }

  /** Writes the file durably, on the event loop, when it lags (sync flushes, clear()). */
  persistIfDirty(): void {
    if (this.file === null || !this.isDirty) return;
    const version = this.version;
    writeFileDurably(this.file, formatLeaderEpochCheckpoint(this.entries), this.fs);
    this.persisted = version;
  }

  /**
   * persistIfDirty with the fsyncs on libuv's threadpool (async flushes and close): a
   * snapshot of the entries goes to its own `<file>.<version>.tmp` (so an overlapping sync
   * write of clear() cannot mix with it), is fsynced and renamed over the file unless a
   * newer snapshot got there first; then the directory is fsynced. Async writes run one at
   * a time. A change made meanwhile stays dirty for the next flush.
   */
  persistIfDirtyAsync(): Promise<void> {
    const next = this.persisting.then(() => this.persistOnce());
    // The chain continues after a failure; the caller of the failed write sees its error.
    this.persisting = next.catch(() => undefined);
    return next;
  }

  private persisting: Promise<void> = Promise.resolve();

  private async persistOnce(): Promise<void> {
    if (this.file === null || !this.isDirty) return;
    const version = this.version;
    const bytes = Buffer.from(formatLeaderEpochCheckpoint(this.entries), 'utf8');
    const tmp = `${this.file}.${version}.tmp`;
    const fd = this.fs.openSync(tmp, 'w');
    try {
      let written = 0;
      while (written < bytes.length) written += this.fs.writeSync(fd, bytes, written, bytes.length - written);
      await fsyncAsync(this.fs, fd);
    } finally {
      this.fs.closeSync(fd);
    }
    if (this.persisted >= version) {
      this.fs.rmSync(tmp, { force: true });
      return;
    }
    this.fs.renameSync(tmp, this.file);
    await fsyncDirAsync(path.dirname(this.file), this.fs);
    if (version > this.persisted) this.persisted = version;
  }

  private replace(next: EpochEntry[]): void {
    checkOrder(next);
    this.entries = next;
    this.version++;
  }
}

function checkOrder(entries: readonly EpochEntry[]): void {
  for (let i = 1; i < entries.length; i++) {
    const a = entries[i - 1]!;
    const b = entries[i]!;
    assert(a.epoch < b.epoch, 'leader epochs in the cache strictly increase');
    assert(a.startOffset < b.startOffset, 'epoch start offsets in the cache strictly increase');
  }
}

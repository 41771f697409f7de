/**
 * Opening a partition directory. Start-up cost grows with unflushed data only:
 *
 *  1. The directory is listed once. A cleaner swap cut short is completed (`*.swap`, see
 *     completeSwaps), then leftovers are removed: `*.deleted`, `*.cleaned`, `*.tmp`, and
 *     index files whose `.log` is gone.
 *  2. Each segment is stat'ed for its size; nothing is read or kept open.
 *  3. After an unclean shutdown, the segment holding the recovery point and every later
 *     one are walked batch by batch: framing, offsets and (from the recovery point on)
 *     CRC-32C are checked, indexes rebuilt, and the log truncated at the first bad batch;
 *     later segments are then deleted. The recovered data is fsynced, so the recovery
 *     point becomes the log end offset.
 *  4. After a clean shutdown nothing of the segments is read when the recovery-point
 *     checkpoint and the close snapshot agree on the log end offset (cleanLogEndOffset);
 *     otherwise the last segment's tail is read (from its last index entry) to find it.
 *     Indexes load on first use.
 *  5. The leader-epoch cache is read from leader-epoch-checkpoint, completed from the
 *     recovered batches after an unclean shutdown, and cut to the log start and end
 *     offsets; a missing or malformed file is rebuilt from every batch's header
 *     (leader-epoch-load.ts).
 *  6. Producer state (Kafka's rebuildProducerState): loaded from the latest `.snapshot` at
 *     or below the log end offset, then the batches after it are replayed, headers only
 *     (producer-state-loader.ts). A clean shutdown wrote a snapshot at the log end, so
 *     nothing is replayed, and that snapshot is read on the state's first use
 *     (ProducerStateManager.deferLoadFromSnapshot); segments roll with a snapshot, so a
 *     crash replays at most the active segment's headers. A clean shutdown without any snapshot (data written before
 *     snapshots existed) starts empty rather than scanning the log, as Kafka does.
 */
import path from 'node:path';
import type { Clock } from './clock.js';
import { fsyncDir } from './checkpoint-file.js';
import { CLEANED_FILE_SUFFIX, LOG_FILE_SUFFIX, SWAP_FILE_SUFFIX, parseSegmentFileName } from './file-names.js';
import type { FileSystem } from './file-system.js';
import { nodeFileSystem } from './file-system.js';
import type { FsyncMode } from './group-commit.js';
import type { LogListener } from './log.js';
import { Log } from './log.js';
import type { LogConfig } from './log-config.js';
import { LogSegment } from './log-segment.js';
import { loadLeaderEpochCache } from './leader-epoch-load.js';
import type { Decompressor } from './record-timestamps.js';
import { ProducerStateManager } from './producer-state.js';
import { type ReplayStats, replayProducerState } from './producer-state-loader.js';
import { parseSnapshotFileName } from './producer-state-snapshot.js';

export interface LoadLogOptions {
  dir: string;
  topic: string;
  partition: number;
  config: LogConfig;
  clock: Clock;
  /** From recovery-point-offset-checkpoint; absent means "recover everything". */
  recoveryPoint?: number;
  /** From log-start-offset-checkpoint. */
  logStartOffset?: number;
  /** From replication-offset-checkpoint. */
  highWatermark?: number;
  /** True when the previous process closed the data dir cleanly (nothing to recover). */
  cleanShutdown: boolean;
  /** A log created just now: its directory is fsynced (with its parent) at the first flush. */
  deferDirSync?: boolean;
  fsyncMode: FsyncMode;
  decompress?: Decompressor;
  listener?: LogListener;
  /** node:fs unless a test injects failures (file-system.ts). */
  fs?: FileSystem;
  /** producer.id.expiration.ms: expired producers are left out of a loaded snapshot. */
  producerIdExpirationMs?: number;
}

export interface LoadStats {
  segments: number;
  recoveredSegments: number;
  truncatedBytes: number;
  deletedSegments: number;
  /** Why recovery truncated, if it did. */
  invalidReason?: string;
  /** Why the leader-epoch cache was rebuilt from the log, if it was. */
  epochCacheRebuilt?: string;
  /** The producer-state snapshot loaded (-1: none) and what was replayed after it. */
  producerSnapshotOffset: number;
  producerReplay: ReplayStats;
  /** Time spent loading the producer state. */
  producerStateMs: number;
}

const LEFTOVER_SUFFIXES = ['.deleted', CLEANED_FILE_SUFFIX, SWAP_FILE_SUFFIX, '.tmp'];

/**
 * Completes swaps the log cleaner left half done (Kafka's LogLoader, "swap files"). A
 * `<base>.log.swap` is a cleaned segment, fsynced, that replaces old segments: every
 * non-swap segment file whose base offset lies in [base, the swap's next offset) is one
 * of them (the one sharing its base offset included) and is deleted, then the swap files
 * get their final names. Old segments past the swap's last offset (all their records were
 * cleaned away) may survive: their records are older versions the next clean removes
 * again, never a loss. `.index.swap`/`.timeindex.swap` without a `.log.swap` belong to a
 * rename that had not reached the .log: they are removed with the other leftovers.
 */
function completeSwaps(dir: string, names: readonly string[], fs: FileSystem, settings: { indexIntervalBytes: number; maxIndexBytes: number; fs: FileSystem }, now: number): number {
  const logSwap = LOG_FILE_SUFFIX + SWAP_FILE_SUFFIX;
  let completed = 0;
  for (const name of names) {
    if (!name.endsWith(logSwap)) continue;
    const parsed = parseSegmentFileName(name.slice(0, -SWAP_FILE_SUFFIX.length));
    if (parsed === null) continue;
    const size = fs.statSync(path.join(dir, name)).size;
    const swap = LogSegment.open(dir, parsed.baseOffset, size, settings, now, SWAP_FILE_SUFFIX);
    const end = Math.max(swap.readNextOffset(), parsed.baseOffset + 1);
    swap.close();
    for (const other of fs.readdirSync(dir)) {
      const seg = parseSegmentFileName(other);
      if (seg !== null && seg.baseOffset >= parsed.baseOffset && seg.baseOffset < end) unlinkQuiet(fs, path.join(dir, other));
    }
    swap.changeFileSuffix('');
    completed++;
  }
  if (completed > 0) fsyncDir(dir, fs);
  return completed;
}

function unlinkQuiet(fs: FileSystem, file: string): void {
  fs.rmSync(file, { force: true });
}

export function loadLog(options: LoadLogOptions): { log: Log; stats: LoadStats } {
  const { dir, config, clock } = options;
  const fs = options.fs ?? nodeFileSystem;
  const now = clock.now();
  const settings = { indexIntervalBytes: config.indexIntervalBytes, maxIndexBytes: config.segmentIndexBytes, fs };
  const logs = new Set<number>();
  const indexes: Array<{ base: number; name: string }> = [];
  const snapshots: number[] = [];
  // One listing serves both passes unless a swap was completed (it renamed and deleted files).
  let names = fs.readdirSync(dir);
  if (names.some((name) => name.endsWith(SWAP_FILE_SUFFIX)) && completeSwaps(dir, names, fs, settings, now) > 0) names = fs.readdirSync(dir);
  for (const name of names) {
    if (LEFTOVER_SUFFIXES.some((s) => name.endsWith(s))) {
      unlinkQuiet(fs, path.join(dir, name));
      continue;
    }
    const snapshot = parseSnapshotFileName(name);
    if (snapshot !== null) {
      snapshots.push(snapshot);
      continue;
    }
    const parsed = parseSegmentFileName(name);
    if (parsed === null) continue;
    if (parsed.kind === 'log') logs.add(parsed.baseOffset);
    else indexes.push({ base: parsed.baseOffset, name });
  }
  for (const idx of indexes) if (!logs.has(idx.base)) unlinkQuiet(fs, path.join(dir, idx.name));

  const stats: LoadStats = { segments: 0, recoveredSegments: 0, truncatedBytes: 0, deletedSegments: 0, producerSnapshotOffset: -1, producerReplay: { batches: 0, bytesRead: 0 }, producerStateMs: 0 };
  let segments = [...logs].sort((a, b) => a - b).map((base) => {
    const size = fs.statSync(path.join(dir, String(base).padStart(20, '0') + '.log')).size;
    return LogSegment.open(dir, base, size, settings, now);
  });
  if (segments.length === 0) {
    segments = [LogSegment.create(dir, options.logStartOffset ?? 0, settings, now)];
    if (!options.deferDirSync) fsyncDir(dir, fs);
  }

  let logEnd: number;
  let recoveryPoint: number;
  let recoveredFrom = -1;
  if (!options.cleanShutdown) {
    const rp = options.recoveryPoint ?? 0;
    let start = 0;
    for (let i = 0; i < segments.length; i++) if (segments[i]!.baseOffset <= rp) start = i;
    recoveredFrom = start;
    const contiguous = !config.cleanupPolicy.includes('compact');
    let next = segments[start]!.baseOffset;
    let cutAt = segments.length;
    for (let i = start; i < segments.length; i++) {
      const seg = segments[i]!;
      if (i > start && seg.baseOffset < next) {
        stats.invalidReason = `segment ${seg.baseOffset} starts below the previous segment's end ${next}`;
        cutAt = i;
        break;
      }
      if (i > start && contiguous && seg.baseOffset !== next) {
        stats.invalidReason = `segment ${seg.baseOffset} does not start at the previous segment's end ${next}`;
        cutAt = i;
        break;
      }
      const result = seg.recover({ crcFromOffset: rp, contiguous, expectedFirstOffset: seg.baseOffset });
      stats.recoveredSegments++;
      stats.truncatedBytes += result.truncatedBytes;
      next = result.nextOffset;
      if (result.invalidReason !== undefined) {
        stats.invalidReason = `segment ${seg.baseOffset}: ${result.invalidReason}`;
        cutAt = i + 1;
        break;
      }
    }
    for (const seg of segments.splice(cutAt)) {
      seg.close();
      unlinkQuiet(fs, seg.logFile);
      unlinkQuiet(fs, seg.indexFile);
      unlinkQuiet(fs, seg.timeIndexFile);
      unlinkQuiet(fs, seg.txnIndexFile);
      stats.deletedSegments++;
    }
    // Markers cut off by the truncation leave the index of the segment that held them.
    const lastRecovered = segments[segments.length - 1];
    if (lastRecovered !== undefined && fs.existsSync(lastRecovered.txnIndexFile)) lastRecovered.txnIndex.truncateTo(next);
    // Recovery does not fsync what it validated (with 1,000 partitions that was ~4,000
    // fsyncs and seconds of start-up). As in Kafka, the recovery point stays where it was:
    // the next flush makes the data durable and moves it, and a crash before that simply
    // validates the same range again. The rebuilt indexes stay in memory: every recovered
    // segment is at or past the recovery point, so the next flush (or close) writes them
    // before the recovery point can pass them, and a crash before that rebuilds them again.
    // (Writing them here cost ~90 ms of a 1,000-partition start-up after kill -9.)
    for (let i = start; i < segments.length - 1; i++) segments[i]!.finishIndexes();
    logEnd = next;
    recoveryPoint = Math.min(rp, logEnd);
  } else {
    const active = segments[segments.length - 1]!;
    const activeIndexes = indexes.filter((idx) => idx.base === active.baseOffset).length;
    const vouched = activeIndexes === 2 ? cleanLogEndOffset(options.recoveryPoint, snapshots, active) : null;
    if (vouched !== null) active.openAtCleanEnd();
    logEnd = vouched ?? active.readNextOffset();
    recoveryPoint = Math.min(options.recoveryPoint ?? logEnd, logEnd);
  }
  stats.segments = segments.length;

  let logStart = Math.max(options.logStartOffset ?? segments[0]!.baseOffset, segments[0]!.baseOffset);
  if (logStart > logEnd) {
    // The log start offset was checkpointed past data a crash lost: restart empty there.
    for (const seg of segments.splice(0)) {
      seg.close();
      unlinkQuiet(fs, seg.logFile);
      unlinkQuiet(fs, seg.indexFile);
      unlinkQuiet(fs, seg.timeIndexFile);
      unlinkQuiet(fs, seg.txnIndexFile);
    }
    segments.push(LogSegment.create(dir, logStart, settings, now));
    fsyncDir(dir, fs);
    logEnd = logStart;
    recoveryPoint = logStart;
  }
  if (recoveryPoint < logStart) recoveryPoint = Math.max(recoveryPoint, segments[0]!.baseOffset);
  const hw = Math.min(Math.max(options.highWatermark ?? logStart, logStart), logEnd);
  const leaderEpochCache = loadLeaderEpochCache(dir, segments, logStart, logEnd, Math.min(recoveredFrom, segments.length - 1), fs, stats);
  const producerStateStarted = performance.now();
  const producerState = loadProducerState(options, fs, segments, snapshots, logStart, logEnd, hw, now, stats);
  stats.producerStateMs = performance.now() - producerStateStarted;
  const log = new Log({
    dir,
    topic: options.topic,
    partition: options.partition,
    config,
    clock,
    segments,
    logStartOffset: logStart,
    logEndOffset: logEnd,
    recoveryPoint,
    highWatermark: hw,
    fsyncMode: options.fsyncMode,
    fs,
    leaderEpochCache,
    producerState,
    dirsUnsynced: options.deferDirSync === true,
    ...(options.decompress !== undefined ? { decompress: options.decompress } : {}),
    ...(options.listener !== undefined ? { listener: options.listener } : {}),
  });
  return { log, stats };
}

/**
 * The log end offset a clean shutdown vouches for, or null when it must be read from the
 * active segment. A clean close flushes the log (its recovery point becomes the log end
 * offset), writes the producer-state snapshot `<log end>.snapshot`, then the recovery-point
 * checkpoint, and only then the clean-shutdown marker. So when the checkpointed recovery
 * point names the newest snapshot, both say where the log ends, and reading the active
 * segment (its index, the batch the last entry points at, the tail after it) would only
 * confirm it: with 1,000 partitions that was ~1/3 of a clean start-up. Any disagreement
 * (no snapshot, a checkpoint a full disk kept from being rewritten, data from a version
 * without snapshots, a recovery point outside the active segment) falls back to reading,
 * and so does an active segment without both index files (the caller checks the listing):
 * as in Kafka, a missing index after a clean shutdown gets the segment re-read and indexed.
 */
function cleanLogEndOffset(recoveryPoint: number | undefined, snapshots: readonly number[], active: LogSegment): number | null {
  if (recoveryPoint === undefined || snapshots.length === 0) return null;
  let newest = snapshots[0]!;
  for (const s of snapshots) if (s > newest) newest = s;
  if (newest !== recoveryPoint) return null;
  if (recoveryPoint < active.baseOffset) return null;
  // An empty active segment ends at its base offset, a non-empty one past it.
  if ((active.size === 0) !== (recoveryPoint === active.baseOffset)) return null;
  return recoveryPoint;
}

function loadProducerState(
  options: LoadLogOptions, fs: FileSystem, segments: readonly LogSegment[], snapshots: number[],
  logStart: number, logEnd: number, hw: number, now: number, stats: LoadStats,
): ProducerStateManager {
  const state = new ProducerStateManager({
    dir: options.dir,
    topicPartition: `${options.topic}-${options.partition}`,
    fs,
    ...(options.producerIdExpirationMs !== undefined ? { producerIdExpirationMs: options.producerIdExpirationMs } : {}),
  });
  state.setSnapshotOffsets(snapshots);
  // Snapshots past the log end describe data a crash lost; those of deleted segments are stale.
  state.deleteSnapshotsAbove(logEnd);
  state.deleteSnapshotsBelow(segments[0]!.baseOffset);
  if (options.cleanShutdown && state.snapshotOffsets().length === 0) {
    state.mapEndOffset = logEnd;
    // Data written before snapshots existed: an (empty) snapshot at the log end now, so a
    // crash before the next roll replays from here, not the whole log (Kafka takes empty
    // snapshots at the last segments for the same reason). A new, empty log needs none.
    if (logEnd > logStart) state.takeSnapshot();
    return state;
  }
  const snapshotOffsets = state.snapshotOffsets();
  if (options.cleanShutdown && snapshotOffsets[snapshotOffsets.length - 1] === logEnd) {
    // The close snapshot is the whole state: read on first use (deferLoadFromSnapshot).
    state.deferLoadFromSnapshot(logEnd, now);
    stats.producerSnapshotOffset = logEnd;
    return state;
  }
  stats.producerSnapshotOffset = state.loadFromSnapshot(logEnd, logStart, now);
  stats.producerReplay = replayProducerState(state, segments, Math.max(state.mapEndOffset, logStart), logEnd);
  state.mapEndOffset = logEnd;
  state.onHighWatermarkUpdated(hw);
  return state;
}

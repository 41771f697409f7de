/**
 * Opening a partition directory. Start-up cost grows with unflushed data only:
 *
 *  1. A cleaner swap cut short is completed (`*.swap`, see completeSwaps), then leftovers
 *     are removed: `*.deleted`, `*.cleaned`, `*.tmp`, and index files whose `.log` is gone.
 *  2. Each segment is stat'ed for its size; nothing is read or kept open.
 *  3. After an unclean shutdown, the segment holding the recovery point and every later
 *     one are walked batch by batch: framing, offsets and (from the recovery point on)
 *     CRC-32C are checked, indexes rebuilt, and the log truncated at the first bad batch;
 *     later segments are then deleted. The recovered data is fsynced, so the recovery
 *     point becomes the log end offset.
 *  4. After a clean shutdown only the last segment's tail is read (from its last index
 *     entry) to find the log end offset. Indexes of other segments load on first use.
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
import type { Decompressor } from './record-timestamps.js';

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
}

export interface LoadStats {
  segments: number;
  recoveredSegments: number;
  truncatedBytes: number;
  deletedSegments: number;
  /** Why recovery truncated, if it did. */
  invalidReason?: string;
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
function completeSwaps(dir: string, fs: FileSystem, settings: { indexIntervalBytes: number; maxIndexBytes: number; fs: FileSystem }, now: number): number {
  const logSwap = LOG_FILE_SUFFIX + SWAP_FILE_SUFFIX;
  const names = fs.readdirSync(dir);
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
  completeSwaps(dir, fs, settings, now);
  for (const name of fs.readdirSync(dir)) {
    if (LEFTOVER_SUFFIXES.some((s) => name.endsWith(s))) {
      unlinkQuiet(fs, path.join(dir, name));
      continue;
    }
    const parsed = parseSegmentFileName(name);
    if (parsed === null) continue;
    if (parsed.kind === 'log') logs.add(parsed.baseOffset);
    else indexes.push({ base: parsed.baseOffset, name });
  }
  for (const idx of indexes) if (!logs.has(idx.base)) unlinkQuiet(fs, path.join(dir, idx.name));

  const stats: LoadStats = { segments: 0, recoveredSegments: 0, truncatedBytes: 0, deletedSegments: 0 };
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
  if (!options.cleanShutdown) {
    const rp = options.recoveryPoint ?? 0;
    let start = 0;
    for (let i = 0; i < segments.length; i++) if (segments[i]!.baseOffset <= rp) start = i;
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
      stats.deletedSegments++;
    }
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
    logEnd = segments[segments.length - 1]!.readNextOffset();
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
    }
    segments.push(LogSegment.create(dir, logStart, settings, now));
    fsyncDir(dir, fs);
    logEnd = logStart;
    recoveryPoint = logStart;
  }
  if (recoveryPoint < logStart) recoveryPoint = Math.max(recoveryPoint, segments[0]!.baseOffset);
  const hw = Math.min(Math.max(options.highWatermark ?? logStart, logStart), logEnd);
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
    dirsUnsynced: options.deferDirSync === true,
    ...(options.decompress !== undefined ? { decompress: options.decompress } : {}),
    ...(options.listener !== undefined ? { listener: options.listener } : {}),
  });
  return { log, stats };
}

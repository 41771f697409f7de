/**
 * Loading a partition's leader-epoch cache at start-up (log-loader.ts step 5):
 *
 * - The checkpoint when it is there and well formed; otherwise a rebuild from every batch
 *   header of the log (one walk, once: the rebuilt cache is written at the next flush).
 * - After an unclean shutdown, the entries from the recovery point's segment on are
 *   dropped and assigned again from that segment's batches (Kafka's LogSegment.recover
 *   re-assigns too): the file is only written by flushes (leader-epoch-cache.ts), so epochs
 *   appended or truncated since then are known from the batches alone. Entries before that
 *   segment are trusted: each flush wrote the file before moving the recovery point past
 *   them, and a truncation lowers the recovery point (checkpointed at once) to at most
 *   where it cut.
 * - Then the cache is cut to what the log holds: entries at or past the log end offset (a
 *   tail recovery removed, or a checkpoint written ahead of data a crash lost) and before
 *   the log start offset (log-start-offset-checkpoint moved after the last write).
 *
 * Nothing is written here: a start-up costs no fsync per partition.
 */
import { BatchLayout } from '@tributary/protocol';
import type { FileSystem } from './file-system.js';
import { LeaderEpochCache } from './leader-epoch-cache.js';
import type { LogSegment } from './log-segment.js';

/** Batches up to this size are read whole by the walk's chunk; larger ones have their epoch read alone. */
const WHOLE_BATCH_READ_BYTES = 64 * 1024;

export function loadLeaderEpochCache(
  dir: string,
  segments: readonly LogSegment[],
  logStartOffset: number,
  logEndOffset: number,
  /** Index of the first segment recovery walked after an unclean shutdown; -1 after a clean one. */
  recoveredFrom: number,
  fs: FileSystem,
  stats: { epochCacheRebuilt?: string },
): LeaderEpochCache {
  const file = LeaderEpochCache.fileIn(dir);
  const read = LeaderEpochCache.read(dir, fs);
  let cache: LeaderEpochCache;
  if ('entries' in read) {
    cache = new LeaderEpochCache(file, read.entries, fs);
    if (recoveredFrom >= 0) {
      cache.truncateFromEnd(segments[recoveredFrom]!.baseOffset);
      assignFromBatches(cache, segments, recoveredFrom, logStartOffset);
    }
  } else {
    cache = new LeaderEpochCache(file, [], fs);
    assignFromBatches(cache, segments, 0, logStartOffset);
    // A new, empty log has no file and nothing to write; anything else is written at the next flush.
    if (!cache.isEmpty || read.missing !== 'no leader-epoch-checkpoint') {
      stats.epochCacheRebuilt = read.missing;
      cache.markDirty();
    }
  }
  cache.truncateFromEnd(logEndOffset);
  cache.truncateFromStart(logStartOffset);
  return cache;
}

/** Assigns the epoch of every batch (with one) from segment `from` on whose offsets reach the log start. */
function assignFromBatches(cache: LeaderEpochCache, segments: readonly LogSegment[], from: number, logStartOffset: number): void {
  for (let i = from; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg.size === 0) continue;
    seg.walk(0, seg.size, (h) => h.size <= WHOLE_BATCH_READ_BYTES, (h, body) => {
      if (h.lastOffset < logStartOffset) return true;
      const epoch = body !== null ? body.readInt32BE(BatchLayout.PARTITION_LEADER_EPOCH) : seg.readBytes(h.position + BatchLayout.PARTITION_LEADER_EPOCH, 4).readInt32BE(0);
      if (epoch >= 0) cache.assign(epoch, h.baseOffset);
      return true;
    });
  }
}

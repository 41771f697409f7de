/**
 * Loading a partition's leader-epoch cache at start-up (log-loader.ts step 5): the
 * checkpoint if it is there and well formed, else a rebuild from the batches' headers.
 * Either way the result is cut to what the log holds: entries at or past the log end
 * offset (a crash between the checkpoint and the append, or a tail recovery removed) and
 * before the log start offset (log-start-offset-checkpoint moved after the last write).
 */
import { BatchLayout } from '@tributary/protocol';
import type { FileSystem } from './file-system.js';
import { EpochRebuilder, LeaderEpochCache } from './leader-epoch-cache.js';
import type { LogSegment } from './log-segment.js';

export function loadLeaderEpochCache(
  dir: string,
  segments: readonly LogSegment[],
  logStartOffset: number,
  logEndOffset: number,
  fs: FileSystem,
  stats: { epochCacheRebuilt?: string },
): LeaderEpochCache {
  const file = LeaderEpochCache.fileIn(dir);
  const read = LeaderEpochCache.read(dir, fs);
  if ('entries' in read) {
    const cache = new LeaderEpochCache(file, read.entries, fs);
    cache.truncateFromEnd(logEndOffset);
    cache.truncateFromStart(logStartOffset);
    return cache;
  }
  const rebuilder = new EpochRebuilder();
  for (const seg of segments) {
    if (seg.size === 0) continue;
    // The epoch sits in the first 17 bytes, which the walk reads in its header chunk; the
    // body is asked for only so the visitor can read them (the walk passes no header bytes).
    seg.walk(0, seg.size, () => true, (h, body) => {
      if (body !== null && h.lastOffset >= logStartOffset) rebuilder.visit(body.readInt32BE(BatchLayout.PARTITION_LEADER_EPOCH), h.baseOffset);
      return true;
    });
  }
  const cache = new LeaderEpochCache(file, rebuilder.entries(), fs);
  cache.truncateFromEnd(logEndOffset);
  cache.truncateFromStart(logStartOffset);
  // Written only when there is something to keep: a new, empty log costs no fsyncs here.
  if (!cache.isEmpty) {
    cache.persist();
    stats.epochCacheRebuilt = read.missing;
  } else if (read.missing !== 'no leader-epoch-checkpoint') {
    cache.persist();
    stats.epochCacheRebuilt = read.missing;
  }
  return cache;
}

/**
 * Retention of one log, Kafka's three rules, each deleting a prefix of whole segments:
 *  - log start offset: segments wholly below it (after DeleteRecords);
 *  - retention.ms: segments whose largest timestamp is older than now - retention.ms;
 *  - retention.bytes: the oldest segments while the log is larger than retention.bytes.
 * Only with cleanup.policy containing `delete` for the last two. The active segment and
 * segments reaching past the high watermark are never deleted.
 */
import type { Log } from './log.js';

/** Deletes what retention allows; returns the number of segments deleted. */
export function deleteOldSegments(log: Log, nowMs: number): number {
  if (log.isClosed) return 0;
  const segments = log.segments;
  // Candidates: not the active segment, and wholly below the high watermark.
  let candidates = 0;
  while (candidates < segments.length - 1 && segments[candidates + 1]!.baseOffset <= log.highWatermark) candidates++;
  let count = log.countLogStartBreached();
  const config = log.config;
  if (config.cleanupPolicy.includes('delete')) {
    if (config.retentionMs >= 0) {
      let n = 0;
      while (n < candidates && nowMs - segments[n]!.largestTimestamp() > config.retentionMs) n++;
      count = Math.max(count, n);
    }
    if (config.retentionBytes >= 0) {
      let excess = log.size - config.retentionBytes;
      let n = 0;
      while (n < candidates && excess - segments[n]!.size >= 0) {
        excess -= segments[n]!.size;
        n++;
      }
      count = Math.max(count, n);
    }
  }
  return log.deletePrefixSegments(Math.min(count, candidates));
}

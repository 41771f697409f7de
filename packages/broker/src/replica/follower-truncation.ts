/**
 * Epoch-based truncation on the follower's side (KIP-101, KIP-279, and Kafka 2.7+'s
 * truncate-on-fetch with Fetch v12's last_fetched_epoch / diverging_epoch), wiring the
 * pure rules of epoch-truncation.ts to a log:
 *
 * - On becoming follower (Kafka's AbstractFetcherThread.addPartitions with
 *   isTruncationOnFetchSupported): a log whose leader-epoch cache has an epoch keeps all it
 *   has and fetches from its log end offset, sending that epoch as last_fetched_epoch; the
 *   leader says whether (and where) it diverges. A log without epoch information (a new
 *   replica, or a log written before leader epochs) truncates to its high watermark first
 *   (Kafka's truncateToHighWatermark): nothing proves the suffix above it is the leader's.
 * - On a Fetch answer with a diverging_epoch {epoch, endOffset} (Kafka's
 *   truncateOnFetchResponse): truncate where offsetTruncationState says, then fetch again
 *   with the log's new latest epoch; when the follower never had the leader's epoch
 *   (KIP-279, truncationCompleted false) the next fetch's last_fetched_epoch is the older
 *   epoch it now ends with, and the leader answers again until the logs agree.
 * - On becoming leader (Kafka's Partition.makeLeader, maybeAssignEpochStartOffset): the new
 *   epoch is recorded as starting at the log end offset before anything is appended in it,
 *   so a follower that fetches with an older epoch learns where that epoch ends here even if
 *   this leader writes nothing, and the boundary survives a restart (checkpoint).
 */
import type { Log } from '@tributary/storage';
import { initialFollowerStep, offsetTruncationState, type OffsetTruncationState } from './epoch-truncation.js';

/** The last_fetched_epoch a follower sends: the epoch of the last batch its log holds, -1 without one. */
export function lastFetchedEpochOf(log: Log): number {
  return log.leaderEpochCache.latestEpoch();
}

/** Kafka's maybeAssignEpochStartOffset on becoming leader of `leaderEpoch`. */
export function recordLeaderEpochStart(log: Log, leaderEpoch: number): void {
  if (log.isClosed || log.isOffline) return;
  const cache = log.leaderEpochCache;
  // A cache already past this epoch would lose its newer entries: never the case for a
  // leader elected by the controller (epochs only grow), so leave such a cache alone.
  if (leaderEpoch < cache.latestEpoch()) return;
  cache.assign(leaderEpoch, log.logEndOffset);
}

/**
 * The follower's step before its first fetch in a new leader epoch: truncate to the high
 * watermark only when the log holds no epoch. Returns the offset truncated to, or undefined.
 */
export function truncateOnBecomingFollower(log: Log): number | undefined {
  if (log.isClosed || log.isOffline) return undefined;
  const step = initialFollowerStep(log.leaderEpochCache, log.logEndOffset, log.highWatermark);
  if (step.kind === 'fetch') return undefined;
  if (step.offset >= log.logEndOffset) return undefined;
  log.truncateTo(step.offset);
  return step.offset;
}

/**
 * Truncates the follower's log after a diverging_epoch answer to a fetch at `fetchOffset`.
 * Like Kafka's UnifiedLog.truncateTo, an offset at or past the log end still cuts the
 * epoch cache there: an epoch this replica recorded as leader but never wrote in (its start
 * at the log end) is not the leader's, and sending it again would diverge forever.
 */
export function truncateOnDivergingEpoch(log: Log, diverging: { epoch: number; endOffset: number }, fetchOffset: number): OffsetTruncationState {
  const state = offsetTruncationState({ leaderEpochCache: log.leaderEpochCache, logEndOffset: log.logEndOffset, fetchOffset }, { leaderEpoch: diverging.epoch, endOffset: diverging.endOffset });
  if (state.offset < log.logEndOffset) log.truncateTo(state.offset);
  else log.leaderEpochCache.truncateFromEnd(state.offset);
  return state;
}

/**
 * Where a follower truncates its log after asking the leader about its epochs: the pure
 * rules of Kafka's AbstractFetcherThread (getOffsetTruncationState, KIP-101 and KIP-279),
 * for the replica fetcher to call with the leader's OffsetForLeaderEpoch answer or a Fetch
 * v12+ diverging_epoch (both are an {epoch, endOffset} pair). Nothing here does I/O: the
 * caller truncates (Log.truncateTo, which also cuts the epoch cache) and then either fetches
 * from the returned offset (truncationCompleted) or asks again with its new latest epoch.
 *
 * The follower's step before any answer (Kafka's addPartitions / truncateToHighWatermark):
 * with a latest epoch, fetch from the log end offset sending it as lastFetchedEpoch (the
 * leader answers diverging_epoch if needed); without one (an empty cache: a new replica or
 * a log written before leader epochs), truncate to the high watermark first, since
 * nothing can prove the suffix above it was the leader's.
 */
import { UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET, type LeaderEpochCache } from '@tributary/storage';

/** The leader's answer: OffsetForLeaderEpoch's (leaderEpoch, endOffset) or Fetch's diverging_epoch (epoch, endOffset). */
export interface LeaderEpochEndOffset {
  readonly leaderEpoch: number;
  readonly endOffset: number;
}

/** What the follower knows about its own log. */
export interface FollowerLogState {
  readonly leaderEpochCache: LeaderEpochCache;
  readonly logEndOffset: number;
  /** The offset the fetcher would fetch from (Kafka: the partition fetch state's fetchOffset; the high watermark when it was truncating). */
  readonly fetchOffset: number;
}

/** Kafka's OffsetTruncationState. */
export interface OffsetTruncationState {
  /** Truncate the log to this offset (a no-op when it is the log end offset). */
  readonly offset: number;
  /** False: truncate, then send OffsetForLeaderEpoch again with the new latest epoch. */
  readonly truncationCompleted: boolean;
}

/** Kafka's AbstractFetcherThread.getOffsetTruncationState, case by case. */
export function offsetTruncationState(follower: FollowerLogState, leader: LeaderEpochEndOffset): OffsetTruncationState {
  const replicaEndOffset = follower.logEndOffset;
  if (leader.endOffset === UNDEFINED_EPOCH_OFFSET) {
    // The leader cannot place the epoch: keep what the fetch state says is safe.
    return { offset: follower.fetchOffset, truncationCompleted: true };
  }
  if (leader.leaderEpoch === UNDEFINED_EPOCH) {
    // OffsetForLeaderEpoch v0 carries no epoch: trust the leader's offset.
    return { offset: Math.min(leader.endOffset, replicaEndOffset), truncationCompleted: true };
  }
  const own = follower.leaderEpochCache.endOffsetFor(leader.leaderEpoch, replicaEndOffset);
  if (own.endOffset === UNDEFINED_EPOCH_OFFSET) {
    // The follower tracked no epoch at or below the leader's (KIP-101 fallback).
    return { offset: Math.min(leader.endOffset, replicaEndOffset), truncationCompleted: true };
  }
  if (own.epoch !== leader.leaderEpoch) {
    // KIP-279: the follower never had the leader's epoch. Cut back to where its own
    // largest epoch below that ends, and ask again with the epoch it then has.
    return { offset: Math.min(own.endOffset, replicaEndOffset), truncationCompleted: false };
  }
  return { offset: Math.min(own.endOffset, leader.endOffset, replicaEndOffset), truncationCompleted: true };
}

/** The follower's first step for a partition (see the top of the file). */
export type InitialFollowerStep =
  | { readonly kind: 'fetch'; readonly fetchOffset: number; readonly lastFetchedEpoch: number }
  | { readonly kind: 'truncate_to_high_watermark'; readonly offset: number };

export function initialFollowerStep(cache: LeaderEpochCache, logEndOffset: number, highWatermark: number): InitialFollowerStep {
  const latest = cache.latestEpoch();
  if (latest === UNDEFINED_EPOCH) return { kind: 'truncate_to_high_watermark', offset: Math.min(highWatermark, logEndOffset) };
  return { kind: 'fetch', fetchOffset: logEndOffset, lastFetchedEpoch: latest };
}

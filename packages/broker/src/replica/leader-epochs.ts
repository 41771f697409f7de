/**
 * Leader-epoch checks shared by the handlers that read a partition (Fetch, ListOffsets,
 * OffsetForLeaderEpoch), as Kafka's Partition does them.
 *
 * - checkCurrentLeaderEpoch (Kafka's Partition.checkCurrentLeaderEpoch): a client sends the
 *   leader epoch of its metadata; older than the partition's -> FENCED_LEADER_EPOCH (the
 *   client must refresh), newer -> UNKNOWN_LEADER_EPOCH (this broker has not seen the
 *   change yet). -1 (or a version without the field) skips the check. Kafka checks this
 *   before it checks leadership, on leaders and followers alike, so a stale client that
 *   reaches a former leader hears FENCED_LEADER_EPOCH, not NOT_LEADER_OR_FOLLOWER.
 * - endOffsetForEpochAsLeader (Kafka's UnifiedLog.endOffsetForEpoch on a leader): Kafka's
 *   makeLeader records the new epoch at the log end offset the moment a broker becomes
 *   leader, before anything is appended in it; Partition.makeLeader does the same
 *   (follower-truncation.ts recordLeaderEpochStart). Should that entry be missing (the log
 *   was offline then), a leader whose current epoch is newer than its cache's latest still
 *   answers as if it were there: the same answer, without a write on a read path.
 */
import { ErrorCode } from '@tributary/protocol';
import { LeaderEpochCache, type EpochEndOffset, type Log } from '@tributary/storage';
import type { PartitionState } from '../metadata/metadata-store.js';

/** The currentLeaderEpoch value meaning "no check" (Kafka's NO_PARTITION_LEADER_EPOCH). */
export const NO_LEADER_EPOCH = -1;

export function checkCurrentLeaderEpoch(currentLeaderEpoch: number, state: PartitionState): number {
  if (currentLeaderEpoch === NO_LEADER_EPOCH) return ErrorCode.NONE;
  if (currentLeaderEpoch < state.leaderEpoch) return ErrorCode.FENCED_LEADER_EPOCH;
  if (currentLeaderEpoch > state.leaderEpoch) return ErrorCode.UNKNOWN_LEADER_EPOCH;
  return ErrorCode.NONE;
}

/**
 * The error a partition this broker does not lead answers with: the epoch check first
 * when this broker holds a replica (Kafka's hosted partition), then NOT_LEADER_OR_FOLLOWER.
 */
export function notLeaderError(currentLeaderEpoch: number, state: PartitionState, nodeId: number): number {
  if (state.replicas.includes(nodeId)) {
    const fenced = checkCurrentLeaderEpoch(currentLeaderEpoch, state);
    if (fenced !== ErrorCode.NONE) return fenced;
  }
  return ErrorCode.NOT_LEADER_OR_FOLLOWER;
}

/** Kafka's endOffsetForEpoch on the leader of `leaderEpoch` (see the top of the file). */
export function endOffsetForEpochAsLeader(log: Log, leaderEpoch: number, requestedEpoch: number): EpochEndOffset {
  const cache = log.leaderEpochCache;
  if (leaderEpoch <= cache.latestEpoch()) return cache.endOffsetFor(requestedEpoch, log.logEndOffset);
  const withCurrent = new LeaderEpochCache(null, cache.epochEntries());
  withCurrent.assign(leaderEpoch, log.logEndOffset);
  return withCurrent.endOffsetFor(requestedEpoch, log.logEndOffset);
}

/**
 * Fetch v12+ (KIP-595/KIP-405's diverging epoch; Kafka's Partition.readRecords): a fetcher
 * that sends the epoch of the last batch it holds (lastFetchedEpoch >= 0) learns whether its
 * log diverges from the leader's before reading. Answers:
 * - null: no divergence, read as usual;
 * - 'out_of_range': the leader cannot place that epoch (newer than any it has, or an empty
 *   log): Kafka answers OFFSET_OUT_OF_RANGE;
 * - { epoch, endOffset }: the leader's epoch is older than the fetcher's, or it ends before
 *   the fetch offset: no records, and the fetcher truncates (epoch-truncation.ts).
 */
export function divergingEpoch(log: Log, leaderEpoch: number, lastFetchedEpoch: number, fetchOffset: number): EpochEndOffset | 'out_of_range' | null {
  if (lastFetchedEpoch < 0) return null;
  const found = endOffsetForEpochAsLeader(log, leaderEpoch, lastFetchedEpoch);
  if (found.epoch < 0 || found.endOffset < 0) return 'out_of_range';
  if (found.epoch < lastFetchedEpoch || found.endOffset < fetchOffset) return found;
  return null;
}

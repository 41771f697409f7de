/**
 * The leader's side of a follower's Fetch, kept out of the Fetch handler: a fetch offset
 * within the leader's log is the follower's log end offset (Kafka's
 * Partition.updateFollowerFetchState). An offset outside it is answered OFFSET_OUT_OF_RANGE
 * by the read and tells nothing about the follower, so it is not recorded. `nowMs` is the
 * wall clock unless a simulation passes its own time (test/sim).
 */
import type { Partition } from './partition.js';

export function followerFetched(partition: Partition, replicaId: number, fetchOffset: number, nowMs = Date.now()): void {
  const log = partition.log;
  if (fetchOffset < log.logStartOffset || fetchOffset > log.logEndOffset) return;
  partition.updateFollowerFetchState(replicaId, fetchOffset, nowMs);
}

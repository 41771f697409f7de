/**
 * OffsetForLeaderEpoch (api key 23), versions 0-4 (Kafka 3.9 serves the same).
 *
 * A follower (replicaId >= 0) or a consumer (KIP-320: after a leader change or a seek, to
 * detect log truncation) asks, per partition, where `leaderEpoch` ends in the leader's log.
 * Behaviour (Kafka's ReplicaManager/Partition.lastOffsetForLeaderEpoch, with
 * fetchOnlyFromLeader always true, for consumers and followers alike):
 * - Unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION.
 * - currentLeaderEpoch (v2+) is checked first when this broker holds a replica:
 *   FENCED_LEADER_EPOCH when older than the partition's, UNKNOWN_LEADER_EPOCH when newer.
 * - Not the leader: NOT_LEADER_OR_FOLLOWER (followers do not answer, even to replicas).
 * - Log directory offline: KAFKA_STORAGE_ERROR.
 * - Otherwise the leader-epoch cache's answer (storage's endOffsetFor): the largest epoch
 *   <= the requested one and where it ends (the start of the next epoch, or the log end
 *   offset for the current epoch); -1/-1 with NONE when there is none (an epoch newer
 *   than the leader's, -1, or an empty log).
 * Each partition listed is answered in the order asked, duplicates included. v0 has no
 * leader epoch in the answer (the codec drops it).
 *
 * Authorization, as Kafka: a follower (replica id >= 0) needs CLUSTER_ACTION on the cluster,
 * a client DESCRIBE on each topic.
 */
import { ApiKey, ErrorCode, type OffsetForLeaderEpochResponseEpochEndOffset } from '@tributary/protocol';
import { authorized, authorizedOnCluster } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';
import type { Handler, RequestContext } from './registry.js';
import { NO_LEADER_EPOCH, checkCurrentLeaderEpoch, endOffsetForEpochAsLeader, notLeaderError } from '../replica/leader-epochs.js';

export const offsetForLeaderEpochHandler: Handler<'OffsetForLeaderEpoch'> = {
  apiKey: ApiKey.OffsetForLeaderEpoch,
  name: 'OffsetForLeaderEpoch',
  minVersion: 0,
  maxVersion: 4,

  handle(req, ctx) {
    // Kafka: a follower (replica id >= 0, v3+) needs CLUSTER_ACTION; a client DESCRIBE on each topic.
    const follower = (req.replicaId ?? -2) >= 0;
    if (follower && !authorizedOnCluster(ctx, AclOperation.CLUSTER_ACTION)) return this.errorResponse!(req, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, ctx);
    const describable = (topic: string) => follower || authorized(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, topic);
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        topic: t.topic,
        partitions: describable(t.topic)
          ? t.partitions.map((p) => endOffsetFor(ctx, t.topic, p.partition, p.currentLeaderEpoch ?? NO_LEADER_EPOCH, p.leaderEpoch))
          : t.partitions.map((p) => failed(p.partition, ErrorCode.TOPIC_AUTHORIZATION_FAILED)),
      })),
    };
  },

  errorResponse(req, errorCode) {
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => failed(p.partition, errorCode)) })),
    };
  },
};

function failed(partition: number, errorCode: number): OffsetForLeaderEpochResponseEpochEndOffset {
  return { errorCode, partition, leaderEpoch: -1, endOffset: -1 };
}

function endOffsetFor(ctx: RequestContext, topicName: string, partition: number, currentLeaderEpoch: number, leaderEpoch: number): OffsetForLeaderEpochResponseEpochEndOffset {
  const topic = ctx.broker.metadata.topic(topicName);
  const state = topic?.partitions[partition];
  if (topic === undefined || state === undefined) return failed(partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const view = ctx.broker.replicaManager.partitionOf(topic, partition);
  if ('errorCode' in view) {
    // An offline log answers KAFKA_STORAGE_ERROR before any epoch check, as Kafka's Offline partition.
    if (view.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER) return failed(partition, notLeaderError(currentLeaderEpoch, state, ctx.broker.nodeId));
    return failed(partition, view.errorCode);
  }
  const fenced = checkCurrentLeaderEpoch(currentLeaderEpoch, view.state);
  if (fenced !== ErrorCode.NONE) return failed(partition, fenced);
  const found = endOffsetForEpochAsLeader(view.log, view.state.leaderEpoch, leaderEpoch);
  return { errorCode: ErrorCode.NONE, partition, leaderEpoch: found.epoch, endOffset: found.endOffset };
}

/**
 * OffsetCommit (api key 8), versions 0-9.
 *
 * Behaviour (Kafka's, see group/offset-manager.ts):
 * - Partitions of topics that do not exist get UNKNOWN_TOPIC_OR_PARTITION; the rest are
 *   validated against the group: generation -1 with an empty member id commits as a "simple"
 *   consumer while the group is Empty or unknown; otherwise member id, group.instance.id (v7+)
 *   and generation must be current (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
 *   ILLEGAL_GENERATION; REBALANCE_IN_PROGRESS while the group awaits its assignment; v9
 *   GROUP_ID_NOT_FOUND for a member commit to an unknown group).
 * - Metadata longer than offset.metadata.max.bytes: OFFSET_METADATA_TOO_LARGE for that
 *   partition only.
 * - v1: an explicit commit timestamp per partition; v2-v4: a retention time (the offset then
 *   expires at commit time + retention); v6+: the leader epoch.
 * - The response is sent only after the offsets are durable in `__consumer_offsets`.
 *
 * Deliberate difference: Kafka serves v0 from ZooKeeper (and KRaft brokers reject it); here
 * v0 commits go to the coordinator like v1+, so old clients keep working.
 */
import { ApiKey } from '@tributary/protocol';
import { commitPartitionParams, validateCommitTopics } from '../group/handler-support.js';
import type { Handler } from './registry.js';

export const offsetCommitHandler: Handler<'OffsetCommit'> = {
  apiKey: ApiKey.OffsetCommit,
  name: 'OffsetCommit',
  minVersion: 0,
  maxVersion: 9,

  async handle(req, ctx) {
    const coordinator = ctx.broker.groupCoordinator;
    // Kafka: READ on the group (the per-API table), then READ on each topic, before existence.
    const { known, refused: unknown } = validateCommitTopics(ctx, req.topics);
    if (known.length === 0) return { throttleTimeMs: 0, topics: unknown };
    const committed = await coordinator.commitOffsets({
      groupId: req.groupId,
      generationId: req.generationIdOrMemberEpoch ?? -1,
      memberId: req.memberId ?? '',
      groupInstanceId: req.groupInstanceId ?? null,
      retentionTimeMs: req.retentionTimeMs ?? -1,
      apiVersion: ctx.header.apiVersion,
      topics: commitPartitionParams(known),
    });
    return { throttleTimeMs: 0, topics: [...committed, ...unknown] };
  },

  errorResponse(req, errorCode) {
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
    };
  },
};

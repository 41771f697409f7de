/**
 * TxnOffsetCommit (api key 28), versions 0-4.
 *
 * Behaviour (Kafka's): partitions of topics that do not exist get UNKNOWN_TOPIC_OR_PARTITION.
 * The transaction must hold the group's `__consumer_offsets` partition (AddOffsetsToTxn
 * first), checked with the coordinator as Kafka 3.6+ verifies it (KIP-890):
 * INVALID_TXN_STATE when it does not, INVALID_PRODUCER_EPOCH for a stale epoch. The group
 * coordinator then validates the group (v3+: member id, group.instance.id and generation when
 * given) and writes the offsets in a transactional batch; they become visible when the
 * transaction commits and are dropped when it aborts (group/txn-offsets.ts).
 */
import { ApiKey, ErrorCode, type TxnOffsetCommitResponseTopic, type TxnOffsetCommitRequest } from '@tributary/protocol';
import { commitPartitionParams, validateCommitTopics } from '../group/handler-support.js';
import { CONSUMER_OFFSETS_TOPIC } from '../transaction/marker-writer.js';
import type { Handler } from './registry.js';

function all(topics: TxnOffsetCommitRequest['topics'], errorCode: number): TxnOffsetCommitResponseTopic[] {
  return topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) }));
}

export const txnOffsetCommitHandler: Handler<'TxnOffsetCommit'> = {
  apiKey: ApiKey.TxnOffsetCommit,
  name: 'TxnOffsetCommit',
  minVersion: 0,
  maxVersion: 4,

  async handle(req, ctx) {
    const groups = ctx.broker.groupCoordinator;
    // Kafka: WRITE on the id and READ on the group (the per-API table), READ on each topic.
    const { known, refused: unknown } = validateCommitTopics(ctx, req.topics);
    if (known.length === 0) return { throttleTimeMs: 0, topics: unknown };
    const status = ctx.broker.txnCoordinator.verifyPartitions(req.transactionalId, req.producerId, req.producerEpoch, [{ topic: CONSUMER_OFFSETS_TOPIC, partition: groups.partitionFor(req.groupId) }]);
    let error: number = 'error' in status ? status.error : status.perPartition[0]!;
    if (error === ErrorCode.PRODUCER_FENCED) error = ErrorCode.INVALID_PRODUCER_EPOCH;
    if (error !== ErrorCode.NONE) return { throttleTimeMs: 0, topics: [...all(known, error), ...unknown] };
    const committed = await groups.commitTxnOffsets({
      transactionalId: req.transactionalId,
      groupId: req.groupId,
      producerId: req.producerId,
      producerEpoch: req.producerEpoch,
      generationId: req.generationId ?? -1,
      memberId: req.memberId ?? '',
      groupInstanceId: req.groupInstanceId ?? null,
      topics: commitPartitionParams(known),
    });
    return { throttleTimeMs: 0, topics: [...committed, ...unknown] };
  },

  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, topics: all(req.topics, errorCode) };
  },
};

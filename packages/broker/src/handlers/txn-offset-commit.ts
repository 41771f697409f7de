/**
 * TxnOffsetCommit (api key 28), versions 0-5.
 *
 * Behaviour (Kafka's): partitions of topics that do not exist get UNKNOWN_TOPIC_OR_PARTITION.
 * The transaction must hold the group's `__consumer_offsets` partition (AddOffsetsToTxn
 * first), checked with the coordinator as Kafka 3.6+ verifies it (KIP-890):
 * INVALID_TXN_STATE when it does not, INVALID_PRODUCER_EPOCH for a stale epoch. The group
 * coordinator then validates the group (v3+: member id, group.instance.id and generation when
 * given) and writes the offsets in a transactional batch; they become visible when the
 * transaction commits and are dropped when it aborts (group/txn-offsets.ts). The transaction
 * coordinator may be another broker (asked with AddPartitionsToTxn v5); when it cannot answer
 * now the commit gets COORDINATOR_NOT_AVAILABLE, which clients retry.
 * - v5 is transactions v2 (KIP-890 part 2): no AddOffsetsToTxn comes first; the group's
 *   `__consumer_offsets` partition is added to the transaction here, through the coordinator.
 */
import { ApiKey, ErrorCode, type TxnOffsetCommitResponseTopic, type TxnOffsetCommitRequest } from '@tributary/protocol';
import { commitPartitionParams, validateCommitTopics } from '../group/handler-support.js';
import { CONSUMER_OFFSETS_TOPIC } from '../transaction/marker-writer.js';
import type { Handler } from './registry.js';

/** TxnOffsetCommit v5+ is transactions v2 (KIP-890 part 2): the offsets partition is added implicitly. */
const FIRST_TV2_VERSION = 5;

/**
 * The transaction coordinator's answer as a TxnOffsetCommit error. A coordinator that cannot
 * answer now is COORDINATOR_NOT_AVAILABLE, as Kafka's coordinator runtime normalizes a failed
 * verification: NOT_COORDINATOR here would send the client looking for another *group*
 * coordinator, which is not what went wrong.
 */
function verificationError(code: number): number {
  switch (code) {
    case ErrorCode.PRODUCER_FENCED:
      return ErrorCode.INVALID_PRODUCER_EPOCH;
    case ErrorCode.NOT_COORDINATOR:
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
    case ErrorCode.CONCURRENT_TRANSACTIONS:
    case ErrorCode.NETWORK_EXCEPTION:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    default:
      return code;
  }
}

function all(topics: TxnOffsetCommitRequest['topics'], errorCode: number): TxnOffsetCommitResponseTopic[] {
  return topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) }));
}

export const txnOffsetCommitHandler: Handler<'TxnOffsetCommit'> = {
  apiKey: ApiKey.TxnOffsetCommit,
  name: 'TxnOffsetCommit',
  minVersion: 0,
  maxVersion: 5,

  async handle(req, ctx) {
    const groups = ctx.broker.groupCoordinator;
    // Kafka: WRITE on the id and READ on the group (the per-API table), READ on each topic.
    const { known, refused: unknown } = validateCommitTopics(ctx, req.topics);
    if (known.length === 0) return { throttleTimeMs: 0, topics: unknown };
    // The transaction coordinator may be another broker (asked over AddPartitionsToTxn v5).
    const asked = await ctx.broker.txnPartitions.ask({
      transactionalId: req.transactionalId,
      producerId: req.producerId,
      producerEpoch: req.producerEpoch,
      partitions: [{ topic: CONSUMER_OFFSETS_TOPIC, partition: groups.partitionFor(req.groupId) }],
      operation: ctx.header.apiVersion >= FIRST_TV2_VERSION ? 'add' : 'verify',
    });
    const error = verificationError(asked[0]!);
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

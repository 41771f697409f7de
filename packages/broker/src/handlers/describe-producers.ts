/**
 * DescribeProducers (api key 61), version 0 (KIP-664).
 *
 * Behaviour (Kafka's KafkaApis.handleDescribeProducersRequest, Partition.activeProducerState,
 * UnifiedLog.activeProducers): for each requested partition that this broker leads, every
 * producer id in the partition's producer state (storage's ProducerStateManager): its
 * epoch, last sequence (-1 when none is retained), last timestamp, the epoch of the
 * coordinator that last wrote a marker for it (-1 when none) and the first offset of its
 * open transaction (-1 when none). Producers leave the list when they expire
 * (producer.id.expiration.ms) or are truncated away with the log.
 * Errors per partition: UNKNOWN_TOPIC_OR_PARTITION for a topic or partition that does not
 * exist, NOT_LEADER_OR_FOLLOWER for one this broker does not lead, KAFKA_STORAGE_ERROR when
 * its log directory failed; errorMessage is always null, as in Kafka.
 */
import { ApiKey, ErrorCode, type DescribeProducersResponsePartitionResponse } from '@tributary/protocol';
import { authorized } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';
import type { Handler, RequestContext } from './registry.js';

export const describeProducersHandler: Handler<'DescribeProducers'> = {
  apiKey: ApiKey.DescribeProducers,
  name: 'DescribeProducers',
  minVersion: 0,
  maxVersion: 0,

  handle(req, ctx) {
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        // Kafka: READ on the topic, else TOPIC_AUTHORIZATION_FAILED for its partitions.
        partitions: authorized(ctx, AclOperation.READ, ResourceType.TOPIC, t.name)
          ? t.partitionIndexes.map((p) => describe(ctx, t.name, p))
          : t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null, activeProducers: [] })),
      })),
    };
  },

  errorResponse(req, errorCode) {
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode, errorMessage: null, activeProducers: [] })),
      })),
    };
  },
};

function describe(ctx: RequestContext, topic: string, partitionIndex: number): DescribeProducersResponsePartitionResponse {
  const view = ctx.broker.replicaManager.partition(topic, partitionIndex);
  if ('errorCode' in view) return { partitionIndex, errorCode: view.errorCode, errorMessage: null, activeProducers: [] };
  if (view.log.isOffline) return { partitionIndex, errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: null, activeProducers: [] };
  const activeProducers = [];
  for (const e of view.log.producerState.activeProducers()) {
    activeProducers.push({
      producerId: e.producerId,
      producerEpoch: e.producerEpoch,
      lastSequence: e.batches[e.batches.length - 1]?.lastSeq ?? -1,
      lastTimestamp: e.lastTimestamp,
      coordinatorEpoch: e.coordinatorEpoch,
      currentTxnStartOffset: e.currentTxnFirstOffset,
    });
  }
  return { partitionIndex, errorCode: ErrorCode.NONE, errorMessage: null, activeProducers };
}

/**
 * DeleteRecords (api key 21), versions 0-2.
 *
 * Behaviour (Kafka's KafkaApis + ReplicaManager + Partition.deleteRecordsOnLeader):
 * - For each partition, moves the log start offset up to the given offset (segments
 *   wholly below it are deleted) and answers the new low watermark.
 * - offset -1 means the high watermark; any other negative offset, or one above the high
 *   watermark, is OFFSET_OUT_OF_RANGE. An offset at or below the current log start offset
 *   changes nothing and answers the current one.
 * - Unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION; internal topics:
 *   INVALID_TOPIC_EXCEPTION; a topic whose cleanup.policy lacks "delete":
 *   POLICY_VIOLATION; a partition this broker does not lead (or has no log for):
 *   NOT_LEADER_OR_FOLLOWER. Errors answer low watermark -1.
 * - A partition named twice: one answer, the last offset wins (Kafka keys by partition).
 *
 * Deliberate difference from Kafka: the answer does not wait for followers to move their
 * log start offsets (Kafka's DelayedDeleteRecords waits for every replica's low watermark,
 * up to timeoutMs). The low watermark answered is the leader's log start offset, which is
 * the same thing on a single broker.
 */
import type { DeleteRecordsRequest, DeleteRecordsResponse, DeleteRecordsResponseDeleteRecordsPartitionResult } from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { StorageError, StorageErrorCode } from '@tributary/storage';
import type { BrokerServices } from '../broker.js';
import { isInternalTopic } from '../topics/topic-name.js';
import { authorized } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';
import type { Handler, RequestContext } from './registry.js';

/** DeleteRecordsRequest.HIGH_WATERMARK: delete everything below the high watermark. */
export const DELETE_TO_HIGH_WATERMARK = -1;
/** DeleteRecordsResponse.INVALID_LOW_WATERMARK, answered with every error. */
export const INVALID_LOW_WATERMARK = -1;

export const deleteRecordsHandler: Handler<'DeleteRecords'> = {
  apiKey: ApiKey.DeleteRecords,
  name: 'DeleteRecords',
  minVersion: 0,
  maxVersion: 2,

  handle(req, ctx) {
    return {
      throttleTimeMs: 0,
      topics: byPartition(req).map(([name, partitions]) => ({
        name,
        // Kafka: DELETE on the topic, else TOPIC_AUTHORIZATION_FAILED for its partitions.
        partitions: authorized(ctx, AclOperation.DELETE, ResourceType.TOPIC, name)
          ? [...partitions].map(([partitionIndex, offset]) => ({ partitionIndex, ...deleteRecords(ctx, name, partitionIndex, offset) }))
          : [...partitions.keys()].map((partitionIndex) => ({ partitionIndex, lowWatermark: INVALID_LOW_WATERMARK, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })),
      })),
    };
  },

  errorResponse(req, errorCode) {
    return {
      throttleTimeMs: 0,
      topics: byPartition(req).map(([name, partitions]) => ({
        name,
        partitions: [...partitions.keys()].map((partitionIndex) => ({ partitionIndex, lowWatermark: INVALID_LOW_WATERMARK, errorCode })),
      })),
    };
  },
};

/** The request's offsets by topic, then partition; a repeated partition keeps its last offset. */
function byPartition(req: DeleteRecordsRequest): [string, Map<number, number>][] {
  const topics = new Map<string, Map<number, number>>();
  for (const t of req.topics) {
    let partitions = topics.get(t.name);
    if (!partitions) topics.set(t.name, (partitions = new Map()));
    for (const p of t.partitions) partitions.set(p.partitionIndex, p.offset);
  }
  return [...topics];
}

function deleteRecords(ctx: RequestContext, topicName: string, partition: number, requested: number): Omit<DeleteRecordsResponseDeleteRecordsPartitionResult, 'partitionIndex'> {
  const failed = (errorCode: number) => ({ lowWatermark: INVALID_LOW_WATERMARK, errorCode });
  const services = ctx.broker;
  const topic = services.metadata.topic(topicName);
  const state = topic?.partitions[partition];
  if (!topic || state === undefined) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  if (isInternalTopic(topicName)) return failed(ErrorCode.INVALID_TOPIC_EXCEPTION);
  const log = services.logManager.getLog(topicName, partition);
  if (state.leader !== services.nodeId || log === undefined) return failed(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  // The log's typed config is the topic's effective one (kept current by the config subscription).
  if (!log.config.cleanupPolicy.includes('delete')) return failed(ErrorCode.POLICY_VIOLATION);
  const offset = requested === DELETE_TO_HIGH_WATERMARK ? log.highWatermark : requested;
  if (offset < 0 || offset > log.highWatermark) return failed(ErrorCode.OFFSET_OUT_OF_RANGE);
  try {
    return { lowWatermark: log.deleteRecordsBefore(offset), errorCode: ErrorCode.NONE };
  } catch (err) {
    if (!(err instanceof StorageError)) throw err;
    ctx.logger.info('DeleteRecords refused by the log', { topic: topicName, partition, offset, reason: err.message });
    if (err.code === StorageErrorCode.OFFSET_OUT_OF_RANGE) return failed(ErrorCode.OFFSET_OUT_OF_RANGE);
    // A closed log was deleted or handed over while this request ran.
    if (err.code === StorageErrorCode.LOG_CLOSED) return failed(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    return failed(ErrorCode.KAFKA_STORAGE_ERROR);
  }
}

/**
 * DescribeTopicPartitions (api key 75), version 0 (KIP-966).
 *
 * Behaviour (Kafka's DescribeTopicPartitionsRequestHandler + KRaftMetadataCache):
 * - No topics named: every topic, in name order. Topics named: those, de-duplicated, in
 *   name order; a named topic that does not exist is answered UNKNOWN_TOPIC_OR_PARTITION
 *   (INVALID_TOPIC_EXCEPTION for an illegal name) with an all-zero id.
 * - Paging: at most min(ResponsePartitionLimit, 2000) partitions (at least 1) per
 *   response. When a topic does not fit, the response ends with a cursor naming the topic
 *   and the first partition not sent; when the limit is reached exactly at a topic
 *   boundary, the cursor names the next topic at partition 0. The next request passes the
 *   cursor back: topics before its topic name are skipped, and its topic starts at its
 *   partition. A cursor topic missing from the named topics, or a negative cursor
 *   partition, is INVALID_REQUEST.
 * - Per partition: leader (-1 when the leader broker is not live), leader epoch, replicas,
 *   ISR, offline replicas (replicas on brokers that are not live); eligible leader
 *   replicas and last known ELR are empty (no ELR here).
 * - topicAuthorizedOperations: the topic operations the principal may do (every one
 *   without an authorizer).
 * - Authorization (Kafka's): listing all topics shows only those the principal may
 *   DESCRIBE; a named topic without DESCRIBE is TOPIC_AUTHORIZATION_FAILED, existing or not.
 */
import type {
  DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, DescribeTopicPartitionsResponseCursor,
  DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
} from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { ZERO_UUID } from '../metadata/kafka-uuid.js';
import type { TopicMetadata } from '../metadata/metadata-store.js';
import { isInternalTopic, isValidTopicName } from '../topics/topic-name.js';
import { authorized, authorizedOperations } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';
import type { Handler, RequestContext } from './registry.js';

/** Kafka's max.request.partition.size.limit default: partitions per response at most. */
export const RESPONSE_PARTITION_LIMIT_MAX = 2000;

/**
 * Kafka's AclOperation codes allowed on topics (READ 3, WRITE 4, CREATE 5, DELETE 6,
 * ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11) as a bit field.
 */
export const TOPIC_AUTHORIZED_OPERATIONS_ALL = [3, 4, 5, 6, 7, 8, 10, 11].reduce((bits, op) => bits | (1 << op), 0);

const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export const describeTopicPartitionsHandler: Handler<'DescribeTopicPartitions'> = {
  apiKey: ApiKey.DescribeTopicPartitions,
  name: 'DescribeTopicPartitions',
  minVersion: 0,
  maxVersion: 0,

  handle(req, ctx) {
    const metadata = ctx.broker.metadata;
    const cursor = req.cursor;
    const cursorTopic = cursor?.topicName ?? '';
    const fetchAll = req.topics.length === 0;
    const names = new Set<string>();
    for (const name of fetchAll ? metadata.topics().map((t) => t.name) : req.topics.map((t) => t.name)) {
      if (name >= cursorTopic) names.add(name);
    }
    if (cursor !== null && !fetchAll && !names.has(cursor.topicName)) {
      return invalid(ctx, req, `DescribeTopicPartitionsRequest topic list should contain the cursor topic: ${cursor.topicName}`);
    }
    if (cursor !== null && cursor.partitionIndex < 0) {
      return invalid(ctx, req, `DescribeTopicPartitionsRequest cursor partition must be valid: ${cursor.topicName}-${cursor.partitionIndex}`);
    }
    let remaining = Math.max(Math.min(RESPONSE_PARTITION_LIMIT_MAX, req.responsePartitionLimit), 1);
    const topics: DescribeTopicPartitionsResponseTopic[] = [];
    let nextCursor: DescribeTopicPartitionsResponseCursor | null = null;
    for (const name of [...names].sort(compareNames)) {
      if (remaining === 0) {
        nextCursor = { topicName: name, partitionIndex: 0 };
        break;
      }
      if (!authorized(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name)) {
        if (!fetchAll) {
          topics.push({ errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, name, topicId: ZERO_UUID, isInternal: isInternalTopic(name), partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED });
        }
        continue;
      }
      const topic = metadata.topic(name);
      if (!topic) {
        if (!fetchAll) {
          topics.push({
            errorCode: isValidTopicName(name) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.INVALID_TOPIC_EXCEPTION,
            name, topicId: ZERO_UUID, isInternal: isInternalTopic(name), partitions: [], topicAuthorizedOperations: TOPIC_AUTHORIZED_OPERATIONS_ALL,
          });
        }
        continue;
      }
      const start = name === cursorTopic && cursor !== null ? cursor.partitionIndex : 0;
      const end = Math.min(topic.partitions.length, start + remaining);
      topics.push({
        errorCode: ErrorCode.NONE,
        name,
        topicId: topic.topicId,
        isInternal: isInternalTopic(name),
        partitions: describePartitions(ctx, topic, start, end),
        topicAuthorizedOperations: authorizedOperations(ctx, ResourceType.TOPIC, name, TOPIC_AUTHORIZED_OPERATIONS_ALL),
      });
      if (end < topic.partitions.length) {
        nextCursor = { topicName: name, partitionIndex: end };
        break;
      }
      remaining -= Math.max(end - start, 0);
    }
    return { throttleTimeMs: 0, topics, nextCursor };
  },

  errorResponse(req, errorCode) {
    return errorTopics(req, errorCode);
  },
};

function errorTopics(req: DescribeTopicPartitionsRequest, errorCode: number): DescribeTopicPartitionsResponse {
  return {
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({ errorCode, name: t.name, topicId: ZERO_UUID, isInternal: false, partitions: [], topicAuthorizedOperations: -2147483648 })),
    nextCursor: null,
  };
}

function describePartitions(ctx: RequestContext, topic: TopicMetadata, start: number, end: number): DescribeTopicPartitionsResponsePartition[] {
  const listener = ctx.connection.listenerName;
  const live = new Set(ctx.broker.metadata.brokers().filter((b) => b.endpoints.some((e) => e.listener === listener)).map((b) => b.nodeId));
  const out: DescribeTopicPartitionsResponsePartition[] = [];
  for (let i = start; i < end; i++) {
    const p = topic.partitions[i]!;
    out.push({
      errorCode: ErrorCode.NONE,
      partitionIndex: p.partition,
      leaderId: live.has(p.leader) ? p.leader : -1,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: [...p.replicas],
      isrNodes: [...p.isr],
      eligibleLeaderReplicas: [],
      lastKnownElr: [],
      offlineReplicas: p.replicas.filter((id) => !live.has(id)),
    });
  }
  return out;
}

/** Kafka throws here, which fails the whole request: INVALID_REQUEST on every topic named. */
function invalid(ctx: RequestContext, req: DescribeTopicPartitionsRequest, reason: string): DescribeTopicPartitionsResponse {
  ctx.logger.info('Invalid DescribeTopicPartitions request', { reason });
  return errorTopics(req, ErrorCode.INVALID_REQUEST);
}

/** Java's String.compareTo on these names (ASCII only): code unit order. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

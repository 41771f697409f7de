/**
 * CreateTopics (api key 19), versions 0-7.
 *
 * Behaviour (Kafka's, KRaft mode):
 * - Each topic is validated and created on its own (TopicManager.createTopic): name rules
 *   (INVALID_TOPIC_EXCEPTION), TOPIC_ALREADY_EXISTS, '.'/'_' collisions, configs
 *   (INVALID_CONFIG), partitions (INVALID_PARTITIONS), replication factor
 *   (INVALID_REPLICATION_FACTOR: more than the live brokers), manual assignments
 *   (INVALID_REPLICA_ASSIGNMENT, INVALID_REQUEST when mixed with counts), oversized
 *   requests (POLICY_VIOLATION). v1+ carry the error message.
 * - A name that appears more than once gets one INVALID_REQUEST "Duplicate topic name."
 *   and none of its copies is created.
 * - validateOnly (v1+) runs every check and writes nothing.
 * - v5+ answer the topic's partition count, replication factor and full effective config
 *   (sorted by name, sensitive values null), also for validateOnly; errors carry -1/-1 and
 *   no configs. v7 adds the topic id.
 * - The answer comes after the metadata write, and so after the partition logs exist.
 *
 * Deliberate differences from Kafka:
 * - timeoutMs is not used: creation completes before the answer (Kafka may answer
 *   REQUEST_TIMED_OUT and finish later).
 * - Topics of one request are created one after another, so two names of the same request
 *   that collide ('a.b' and 'a_b') are caught; Kafka creates both.
 * - validateOnly answers an all-zero topic id (Kafka answers a random id that never exists).
 */
import type {
  CreateTopicsResponseCreatableTopicConfigs, CreateTopicsResponseCreatableTopicResult,
} from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { ZERO_UUID } from '../metadata/kafka-uuid.js';
import type { TopicMetadata } from '../metadata/metadata-store.js';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Handler } from './registry.js';

export const createTopicsHandler: Handler<'CreateTopics'> = {
  apiKey: ApiKey.CreateTopics,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 7,

  async handle(req, ctx) {
    const version = ctx.header.apiVersion;
    const counts = new Map<string, number>();
    for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const manager = ctx.broker.topicManager;
    const results: CreateTopicsResponseCreatableTopicResult[] = [];
    const answered = new Set<string>();
    for (const t of req.topics) {
      if (answered.has(t.name)) continue;
      answered.add(t.name);
      if (counts.get(t.name)! > 1) {
        results.push(failed(t.name, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'));
        continue;
      }
      const configs: Record<string, string | null> = {};
      for (const c of t.configs) configs[c.name] = c.value;
      const result = await manager.createTopic({
        name: t.name,
        numPartitions: t.numPartitions,
        replicationFactor: t.replicationFactor,
        assignments: t.assignments,
        configs,
        validateOnly: version >= 1 && req.validateOnly === true,
      });
      results.push(result.errorCode === ErrorCode.NONE && result.topic
        ? created(result.topic, ctx.broker.config)
        : failed(t.name, result.errorCode, result.errorMessage));
    }
    return { throttleTimeMs: 0, topics: results };
  },

  errorResponse(req, errorCode) {
    const names = [...new Set(req.topics.map((t) => t.name))];
    return { throttleTimeMs: 0, topics: names.map((name) => failed(name, errorCode, null)) };
  },
};

function created(topic: TopicMetadata, config: BrokerConfig): CreateTopicsResponseCreatableTopicResult {
  const configs: CreateTopicsResponseCreatableTopicConfigs[] = config.describeTopic(topic.configs)
    .map((e) => ({ name: e.name, value: e.isSensitive ? null : e.value, readOnly: e.readOnly, configSource: e.source, isSensitive: e.isSensitive }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    name: topic.name,
    topicId: topic.topicId,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    topicConfigErrorCode: ErrorCode.NONE,
    numPartitions: topic.partitions.length,
    replicationFactor: topic.partitions[0]?.replicas.length ?? -1,
    configs,
  };
}

function failed(name: string, errorCode: number, errorMessage: string | null): CreateTopicsResponseCreatableTopicResult {
  return { name, topicId: ZERO_UUID, errorCode, errorMessage, numPartitions: -1, replicationFactor: -1, configs: [] };
}

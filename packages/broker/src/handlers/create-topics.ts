/**
 * CreateTopics (api key 19), versions 0-7.
 *
 * Behaviour (Kafka's, KRaft mode):
 * - Each topic is validated on its own (TopicManager.createTopics): name rules
 *   (INVALID_TOPIC_EXCEPTION), TOPIC_ALREADY_EXISTS, '.'/'_' collisions, configs
 *   (INVALID_CONFIG), partitions (INVALID_PARTITIONS), replication factor
 *   (INVALID_REPLICATION_FACTOR: more than the live brokers), manual assignments
 *   (INVALID_REPLICA_ASSIGNMENT, INVALID_REQUEST when mixed with counts). v1+ carry the
 *   error message.
 * - One request is one operation of at most 10,000 metadata records (Kafka's
 *   MAX_RECORDS_PER_USER_OP: a record per topic, per config given and per partition, counted
 *   over the topics that pass their checks). Beyond it, every topic of the request, as
 *   listed, gets POLICY_VIOLATION "Unable to perform excessively large batch operation."
 *   and nothing is created, validateOnly or not (Kafka's CreateTopicsRequest
 *   .getErrorResponse for the controller's BoundedListTooLongException).
 * - Topics are checked 250 per event-loop turn and written 100 per metadata write (one
 *   fsync each), a turn apart, so a request of thousands of topics does not hold other
 *   clients; a name another request took in between is answered TOPIC_ALREADY_EXISTS.
 * - A name that appears more than once gets one INVALID_REQUEST "Duplicate topic name."
 *   and none of its copies is created.
 * - validateOnly (v1+) runs every check and writes nothing.
 * - v5+ answer the topic's partition count, replication factor and full effective config
 *   (sorted by name, sensitive values null), also for validateOnly; errors carry -1/-1 and
 *   no configs. v7 adds the topic id.
 * - The answer comes after the metadata write. The partition logs are created by the
 *   replica manager, at most 100 per event-loop turn across all topics; until its log
 *   exists a partition answers NOT_LEADER_OR_FOLLOWER.
 *
 * Authorization (Kafka's handleCreateTopicsRequest): CREATE on the cluster allows every
 * topic; without it each topic needs CREATE on itself, else TOPIC_AUTHORIZATION_FAILED
 * "Authorization failed.". v5+ configs in the answer need DESCRIBE_CONFIGS on the topic,
 * else topic_config_error_code TOPIC_AUTHORIZATION_FAILED and no configs.
 *
 * Deliberate differences from Kafka:
 * - timeoutMs is not used: creation completes before the answer (Kafka may answer
 *   REQUEST_TIMED_OUT and finish later).
 * - Topics of one request are checked as if the earlier ones existed, so two names of the
 *   same request that collide ('a.b' and 'a_b') are caught; Kafka creates both.
 * - validateOnly answers an all-zero topic id (Kafka answers a random id that never exists).
 * - Kafka's controller commits the topics of one request atomically; here a request of
 *   more than 100 topics takes several metadata writes, so a crash in the middle leaves
 *   the first ones created (the client got no answer and retries: they then exist).
 */
import type {
  CreateTopicsResponseCreatableTopicConfigs, CreateTopicsResponseCreatableTopicResult,
} from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { ZERO_UUID } from '../metadata/kafka-uuid.js';
import type { TopicMetadata } from '../metadata/metadata-store.js';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Handler } from './registry.js';
import { authorized, authorizedOnCluster } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';

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
    const clusterCreate = authorizedOnCluster(ctx, AclOperation.CREATE);
    const unauthorized = new Set(req.topics.filter((t) => !clusterCreate && !authorized(ctx, AclOperation.CREATE, ResourceType.TOPIC, t.name)).map((t) => t.name));
    const unique = req.topics.filter((t) => counts.get(t.name) === 1 && !unauthorized.has(t.name));
    const outcome = await manager.createTopics(unique.map((t) => {
      const configs: Record<string, string | null> = {};
      for (const c of t.configs) configs[c.name] = c.value;
      return { name: t.name, numPartitions: t.numPartitions, replicationFactor: t.replicationFactor, assignments: t.assignments, configs };
    }), version >= 1 && req.validateOnly === true);
    if (outcome.refused) {
      return { throttleTimeMs: 0, topics: req.topics.map((t) => failed(t.name, outcome.errorCode, outcome.errorMessage)) };
    }
    const byName = new Map(unique.map((t, i) => [t.name, outcome.results[i]!]));
    const describe = configDescriber(ctx.broker.config, version);
    const results: CreateTopicsResponseCreatableTopicResult[] = [];
    const answered = new Set<string>();
    for (const t of req.topics) {
      if (answered.has(t.name)) continue;
      answered.add(t.name);
      const result = byName.get(t.name);
      if (result === undefined && unauthorized.has(t.name) && counts.get(t.name) === 1) {
        results.push(failed(t.name, ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Authorization failed.'));
        continue;
      }
      if (result === undefined) {
        results.push(failed(t.name, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'));
        continue;
      }
      if (result.errorCode === ErrorCode.NONE && result.topic) {
        const answer = created(result.topic, describe);
        if (version >= CONFIGS_IN_RESPONSE_VERSION_MIN && !authorized(ctx, AclOperation.DESCRIBE_CONFIGS, ResourceType.TOPIC, t.name)) {
          answer.configs = [];
          answer.topicConfigErrorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
        }
        results.push(answer);
      } else {
        results.push(failed(t.name, result.errorCode, result.errorMessage));
      }
    }
    return { throttleTimeMs: 0, topics: results };
  },

  errorResponse(req, errorCode) {
    const names = [...new Set(req.topics.map((t) => t.name))];
    return { throttleTimeMs: 0, topics: names.map((name) => failed(name, errorCode, null)) };
  },
};

/** v5+ answer the effective configs of each topic; they are described once per distinct set of overrides (topics of one request mostly share theirs). */
const CONFIGS_IN_RESPONSE_VERSION_MIN = 5;

function configDescriber(config: BrokerConfig, version: number): (overrides: Readonly<Record<string, string>>) => CreateTopicsResponseCreatableTopicConfigs[] {
  const cache = new Map<string, CreateTopicsResponseCreatableTopicConfigs[]>();
  return (overrides) => {
    if (version < CONFIGS_IN_RESPONSE_VERSION_MIN) return [];
    const key = JSON.stringify(Object.entries(overrides).sort());
    let configs = cache.get(key);
    if (configs === undefined) {
      configs = config.describeTopic(overrides)
        .map((e) => ({ name: e.name, value: e.isSensitive ? null : e.value, readOnly: e.readOnly, configSource: e.source, isSensitive: e.isSensitive }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      cache.set(key, configs);
    }
    return configs;
  };
}

function created(topic: TopicMetadata, describe: (overrides: Readonly<Record<string, string>>) => CreateTopicsResponseCreatableTopicConfigs[]): CreateTopicsResponseCreatableTopicResult {
  const configs = describe(topic.configs);
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

/**
 * CreatePartitions (api key 37), versions 0-3.
 *
 * Behaviour (Kafka's, KRaft mode):
 * - Each topic is grown on its own (TopicManager.createPartitions): unknown topic
 *   UNKNOWN_TOPIC_OR_PARTITION; a count equal to or below the current one
 *   INVALID_PARTITIONS ("Topic already has N partition(s)." / "... would not be an
 *   increase."); assignments that do not match the number of new partitions, name an
 *   unregistered broker, repeat a broker or differ from the topic's replication factor
 *   INVALID_REPLICA_ASSIGNMENT; more replicas than live brokers INVALID_REPLICATION_FACTOR.
 * - New partitions get the topic's replication factor, placed like new topics unless
 *   assigned; leader = first replica, ISR = all replicas.
 * - A name given twice: one INVALID_REQUEST "Duplicate topic name." and no change.
 * - validateOnly runs every check and writes nothing.
 *
 * Deliberate difference from Kafka: timeoutMs is not used (the change completes before the
 * answer).
 */
import type { CreatePartitionsResponseCreatePartitionsTopicResult } from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler } from './registry.js';

export const createPartitionsHandler: Handler<'CreatePartitions'> = {
  apiKey: ApiKey.CreatePartitions,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 3,

  async handle(req, ctx) {
    const counts = new Map<string, number>();
    for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const manager = ctx.broker.topicManager;
    const results: CreatePartitionsResponseCreatePartitionsTopicResult[] = [];
    const answered = new Set<string>();
    for (const t of req.topics) {
      if (answered.has(t.name)) continue;
      answered.add(t.name);
      if (counts.get(t.name)! > 1) {
        results.push({ name: t.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic name.' });
        continue;
      }
      const assignments = t.assignments === null ? null : t.assignments.map((a) => a.brokerIds);
      const outcome = await manager.createPartitions(t.name, t.count, assignments, req.validateOnly);
      results.push({ name: t.name, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage });
    }
    return { throttleTimeMs: 0, results };
  },

  errorResponse(req, errorCode) {
    const names = [...new Set(req.topics.map((t) => t.name))];
    return { throttleTimeMs: 0, results: names.map((name) => ({ name, errorCode, errorMessage: null })) };
  },
};

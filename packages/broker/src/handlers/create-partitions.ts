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
 * - One request may add at most 10,000 partitions (Kafka's MAX_RECORDS_PER_USER_OP, one
 *   metadata record each, counted in request order over the topics that pass their
 *   checks, validateOnly included): the topic that would go past it, and every later topic
 *   that passes its checks, get POLICY_VIOLATION "Unable to perform excessively large batch
 *   operation." and are not grown; the topics before it are.
 * - The event loop is given a turn between topics, so a request naming thousands of
 *   topics (one metadata write each) does not hold other clients.
 * - validateOnly runs every check and writes nothing.
 *
 * Deliberate differences from Kafka:
 * - timeoutMs is not used (the change completes before the answer).
 * - Past the record limit Kafka 3.9 answers UNKNOWN_SERVER_ERROR for the topic that crosses
 *   it and every later one, and commits the part of the crossing topic's partitions that
 *   fitted; here that topic is refused whole, with Kafka's POLICY_VIOLATION and message
 *   for an oversized operation.
 */
import type { CreatePartitionsResponseCreatePartitionsTopicResult } from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { USER_OPERATION_RECORDS_MAX } from '../topics/topic-manager.js';

import { authorized } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';
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
    let recordsLeft = USER_OPERATION_RECORDS_MAX;
    for (const t of req.topics) {
      if (answered.has(t.name)) continue;
      answered.add(t.name);
      if (counts.get(t.name)! > 1) {
        results.push({ name: t.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic name.' });
        continue;
      }
      // Kafka: ALTER on the topic, else TOPIC_AUTHORIZATION_FAILED (before existence).
      if (!authorized(ctx, AclOperation.ALTER, ResourceType.TOPIC, t.name)) {
        results.push({ name: t.name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null });
        continue;
      }
      const assignments = t.assignments === null ? null : t.assignments.map((a) => a.brokerIds);
      const outcome = await manager.createPartitions(t.name, t.count, assignments, req.validateOnly, recordsLeft);
      // Past the limit no later topic may add anything (Kafka's record list is full).
      if (outcome.errorCode === ErrorCode.POLICY_VIOLATION) recordsLeft = 0;
      recordsLeft -= outcome.partitionsAdded ?? 0;
      results.push({ name: t.name, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage });
      if (outcome.partitionsAdded !== undefined && !req.validateOnly) await nextTurn();
    }
    return { throttleTimeMs: 0, results };
  },

  errorResponse(req, errorCode) {
    const names = [...new Set(req.topics.map((t) => t.name))];
    return { throttleTimeMs: 0, results: names.map((name) => ({ name, errorCode, errorMessage: null })) };
  },
};

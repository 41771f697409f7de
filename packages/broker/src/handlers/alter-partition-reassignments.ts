/**
 * AlterPartitionReassignments (api key 45), version 0.
 *
 * Behaviour (Kafka's, KRaft controller: ReplicationControlManager.alterPartitionReassignments):
 * - For each partition, `replicas` is the target replica list; null cancels the
 *   reassignment in progress (NO_REASSIGNMENT_IN_PROGRESS when there is none).
 * - Starting one: replicas become target + the original replicas not in it,
 *   addingReplicas = target - original, removingReplicas = original - target, the leader
 *   stays. New replicas are followers that fetch from the leader; once every target
 *   replica is in the ISR the controller completes the reassignment (removed replicas
 *   dropped, a removed leader replaced). A target already in sync completes at once.
 * - A new target for a partition being reassigned replaces the previous one, computed
 *   from the original replicas (the previous adding ones are not original).
 * - Per-partition errors: UNKNOWN_TOPIC_OR_PARTITION; INVALID_REPLICA_ASSIGNMENT for an
 *   empty list, a broker given twice or an unregistered broker (Kafka's messages).
 * - The top-level errorCode is NONE.
 *
 * Deliberate differences from Kafka:
 * - Served by the receiving broker with a compare-and-swap on each partition's epoch
 *   rather than forwarded to the controller; timeoutMs is not used.
 */
import type { AlterPartitionReassignmentsResponseReassignableTopicResponse } from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { alterReassignment } from '../controller/admin-operations.js';
import type { Handler } from './registry.js';

export const alterPartitionReassignmentsHandler: Handler<'AlterPartitionReassignments'> = {
  apiKey: ApiKey.AlterPartitionReassignments,
  name: 'AlterPartitionReassignments',
  minVersion: 0,
  maxVersion: 0,

  async handle(req, ctx) {
    const responses: AlterPartitionReassignmentsResponseReassignableTopicResponse[] = [];
    for (const topic of req.topics) {
      const partitions: AlterPartitionReassignmentsResponseReassignableTopicResponse['partitions'] = [];
      for (const p of topic.partitions) {
        const outcome = await alterReassignment(ctx.broker.metadata, ctx.broker.config, topic.name, p.partitionIndex, p.replicas);
        partitions.push({ partitionIndex: p.partitionIndex, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage });
      }
      responses.push({ name: topic.name, partitions });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, responses };
  },

  errorResponse(req, errorCode) {
    return {
      throttleTimeMs: 0,
      errorCode,
      errorMessage: null,
      responses: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode, errorMessage: null })) })),
    };
  },
};

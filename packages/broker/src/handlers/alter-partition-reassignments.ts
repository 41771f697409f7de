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
 *   rather than forwarded to the controller; timeoutMs is not used. Kafka's controller
 *   commits a request's changes in one batch; here each partition is its own write, so up
 *   to REASSIGNMENT_WRITES_IN_FLIGHT of them run at once (a drain of a broker moves every
 *   partition it holds, and one write after another took longer than a client's request
 *   timeout on a loaded machine). A partition named twice is written in request order.
 */
import type { AlterPartitionReassignmentsResponseReassignableTopicResponse } from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { alterReassignment } from '../controller/admin-operations.js';
import type { Handler } from './registry.js';

/** Partition writes of one request in flight at once: as the controller's reconcile pass. */
const REASSIGNMENT_WRITES_IN_FLIGHT = 16;

export const alterPartitionReassignmentsHandler: Handler<'AlterPartitionReassignments'> = {
  apiKey: ApiKey.AlterPartitionReassignments,
  name: 'AlterPartitionReassignments',
  minVersion: 0,
  maxVersion: 0,

  async handle(req, ctx) {
    type Outcome = { errorCode: number; errorMessage: string | null };
    const jobs: { topic: string; partition: number; replicas: number[] | null }[] = [];
    for (const topic of req.topics) for (const p of topic.partitions) jobs.push({ topic: topic.name, partition: p.partitionIndex, replicas: p.replicas });
    const outcomes: Outcome[] = new Array(jobs.length);
    // A partition named twice: its later entry waits for the earlier one (request order).
    const lastOfPartition = new Map<string, Promise<void>>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        const i = next++;
        const job = jobs[i]!;
        const key = `${job.topic}\u0000${job.partition}`;
        const before = lastOfPartition.get(key);
        const run = (async () => {
          if (before !== undefined) await before;
          const outcome = await alterReassignment(ctx.broker.metadata, ctx.broker.config, job.topic, job.partition, job.replicas);
          outcomes[i] = { errorCode: outcome.errorCode, errorMessage: outcome.errorMessage ?? null };
        })();
        lastOfPartition.set(key, run);
        await run;
      }
    };
    await Promise.all(Array.from({ length: Math.min(REASSIGNMENT_WRITES_IN_FLIGHT, jobs.length) }, worker));
    let i = 0;
    const responses: AlterPartitionReassignmentsResponseReassignableTopicResponse[] = req.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p) => {
        const o = outcomes[i++]!;
        return { partitionIndex: p.partitionIndex, errorCode: o.errorCode, errorMessage: o.errorMessage };
      }),
    }));
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

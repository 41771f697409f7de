/**
 * ListPartitionReassignments (api key 46), version 0.
 *
 * Behaviour (Kafka's, KRaft controller): the partitions with a reassignment in progress,
 * each with its replicas (target first, then those being removed), addingReplicas and
 * removingReplicas; of every topic when `topics` is null, else of the partitions named
 * (unknown topics and partitions, and partitions not being reassigned, are left out).
 * Topics without an ongoing reassignment are not listed. The top-level errorCode is NONE.
 */
import type { ListPartitionReassignmentsResponseOngoingTopicReassignment } from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { listReassignments } from '../controller/admin-operations.js';
import type { Handler } from './registry.js';

export const listPartitionReassignmentsHandler: Handler<'ListPartitionReassignments'> = {
  apiKey: ApiKey.ListPartitionReassignments,
  name: 'ListPartitionReassignments',
  minVersion: 0,
  maxVersion: 0,

  handle(req, ctx) {
    const byTopic = new Map<string, ListPartitionReassignmentsResponseOngoingTopicReassignment>();
    for (const r of listReassignments(ctx.broker.metadata, req.topics)) {
      let topic = byTopic.get(r.topic);
      if (topic === undefined) {
        topic = { name: r.topic, partitions: [] };
        byTopic.set(r.topic, topic);
      }
      topic.partitions.push({ partitionIndex: r.partition, replicas: [...r.replicas], addingReplicas: [...r.addingReplicas], removingReplicas: [...r.removingReplicas] });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics: [...byTopic.values()] };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, errorMessage: null, topics: [] };
  },
};

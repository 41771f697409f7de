/**
 * What the group handlers need from the broker besides its group coordinator
 * (`ctx.broker.groupCoordinator`): this broker's address as the client reached it, whether
 * a partition exists, and the topic checks OffsetCommit and TxnOffsetCommit share.
 */
import { ErrorCode } from '@tributary/protocol';
import type { RequestContext } from '../handlers/registry.js';
import type { OffsetCommitPartitionParams } from './offset-manager.js';
import { authorized } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';

/** This broker as seen through the listener the request arrived on (Kafka answers per listener). */
export function coordinatorNode(ctx: RequestContext): { nodeId: number; host: string; port: number } | undefined {
  const endpoints = ctx.broker.advertisedEndpoints;
  const endpoint = endpoints.find((e) => e.listener === ctx.connection.listenerName) ?? endpoints[0];
  if (endpoint === undefined) return undefined;
  return { nodeId: ctx.broker.nodeId, host: endpoint.host, port: endpoint.port };
}

/** Whether a topic partition exists in the cluster metadata (OffsetCommit checks this, as Kafka does). */
export function partitionExists(ctx: RequestContext, topic: string, partition: number): boolean {
  const t = ctx.broker.metadata.topic(topic);
  return t !== undefined && partition >= 0 && partition < t.partitions.length;
}

/** A request topic as OffsetCommit and TxnOffsetCommit carry it. */
interface CommitTopic<P extends { partitionIndex: number }> {
  name: string;
  partitions: P[];
}

/** A response topic of partitions refused before the coordinator sees them. */
export interface RefusedCommitTopic {
  name: string;
  partitions: { partitionIndex: number; errorCode: number }[];
}

/**
 * The request validation OffsetCommit and TxnOffsetCommit share, in Kafka's order: READ on
 * each topic (TOPIC_AUTHORIZATION_FAILED for all of its partitions), then existence
 * (UNKNOWN_TOPIC_OR_PARTITION per partition). `known` goes on to the coordinator;
 * `refused` is answered as it is, after the coordinator's results.
 */
export function validateCommitTopics<P extends { partitionIndex: number }>(ctx: RequestContext, topics: readonly CommitTopic<P>[]): { known: CommitTopic<P>[]; refused: RefusedCommitTopic[] } {
  const known: CommitTopic<P>[] = [];
  const refused: RefusedCommitTopic[] = [];
  for (const t of topics) {
    if (!authorized(ctx, AclOperation.READ, ResourceType.TOPIC, t.name)) {
      refused.push({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })) });
      continue;
    }
    const valid = t.partitions.filter((p) => partitionExists(ctx, t.name, p.partitionIndex));
    const invalid = t.partitions.filter((p) => !partitionExists(ctx, t.name, p.partitionIndex));
    if (valid.length > 0) known.push({ name: t.name, partitions: valid });
    if (invalid.length > 0) {
      refused.push({ name: t.name, partitions: invalid.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })) });
    }
  }
  return { known, refused };
}

/** A request partition of OffsetCommit or TxnOffsetCommit (TxnOffsetCommit has no commit timestamp). */
interface CommitPartition {
  partitionIndex: number;
  committedOffset: number;
  committedLeaderEpoch?: number | undefined;
  commitTimestamp?: number | undefined;
  committedMetadata: string | null;
}

/** The coordinator's view of validated commit topics: absent fields as Kafka defaults them (-1). */
export function commitPartitionParams<P extends CommitPartition>(topics: readonly CommitTopic<P>[]): { name: string; partitions: OffsetCommitPartitionParams[] }[] {
  return topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({
      partitionIndex: p.partitionIndex,
      committedOffset: p.committedOffset,
      committedLeaderEpoch: p.committedLeaderEpoch ?? -1,
      commitTimestamp: p.commitTimestamp ?? -1,
      committedMetadata: p.committedMetadata,
    })),
  }));
}

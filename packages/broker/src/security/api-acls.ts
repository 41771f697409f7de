/**
 * Authorization in one place: the per-API table of checks on the CLUSTER resource that
 * cover a whole request (the dispatcher applies it before the handler runs), and the helper
 * handlers use for per-resource checks (topics, groups, transactional ids).
 *
 * The table follows Kafka 3.9's KafkaApis: an API listed here is refused as a whole,
 * answered with the handler's errorResponse(CLUSTER_AUTHORIZATION_FAILED) (Kafka fills the
 * same code into every entry). APIs that check topics/groups/transactional ids do so in
 * their handlers, since Kafka answers those per entry:
 *   Produce            WRITE topic; WRITE transactional id (transactional batches)
 *   Fetch              READ topic (consumers); CLUSTER_ACTION cluster (followers)
 *   ListOffsets, OffsetForLeaderEpoch, DescribeProducers  DESCRIBE/READ topic
 *   Metadata, DescribeTopicPartitions  DESCRIBE topic (filtering), CREATE for auto-create
 *   CreateTopics       CREATE cluster or CREATE topic; DeleteTopics/DeleteRecords DELETE topic
 *   CreatePartitions   ALTER topic
 *   group APIs         READ group (+ READ topic for commits); DescribeGroups DESCRIBE,
 *                      DeleteGroups DELETE; ListGroups DESCRIBE cluster or filtered by group
 *   FindCoordinator    DESCRIBE group / transactional id
 *   InitProducerId     WRITE transactional id; idempotent: IDEMPOTENT_WRITE cluster or WRITE on some topic
 *   transactions       WRITE transactional id (+ topic WRITE / group READ)
 *   configs            DESCRIBE_CONFIGS / ALTER_CONFIGS on the topic or cluster
 */
import { ApiKey } from '@tributary/protocol';
import type { RequestContext } from '../handlers/registry.js';
import { AclOperation, CLUSTER_RESOURCE_NAME, ResourceType } from './authorizer.js';

/** api key -> the operation on the cluster the whole request needs. */
export const CLUSTER_OPERATION_BY_API: ReadonlyMap<number, number> = new Map([
  [ApiKey.DescribeAcls, AclOperation.DESCRIBE],
  [ApiKey.CreateAcls, AclOperation.ALTER],
  [ApiKey.DeleteAcls, AclOperation.ALTER],
  [ApiKey.ElectLeaders, AclOperation.ALTER],
  [ApiKey.AlterPartitionReassignments, AclOperation.ALTER],
  [ApiKey.ListPartitionReassignments, AclOperation.DESCRIBE],
  [ApiKey.DescribeLogDirs, AclOperation.DESCRIBE],
  [ApiKey.AlterUserScramCredentials, AclOperation.ALTER],
  [ApiKey.DescribeUserScramCredentials, AclOperation.DESCRIBE],
  [ApiKey.WriteTxnMarkers, AclOperation.CLUSTER_ACTION],
]);

/** Whether the request's principal may do `operation` on the resource (always, without an authorizer). */
export function authorized(ctx: RequestContext, operation: number, resourceType: number, resourceName: string): boolean {
  const authorizer = ctx.broker.authorizer;
  if (!authorizer) return true;
  const ok = authorizer.authorize(ctx.principal, ctx.connection.remoteAddress, operation, resourceType, resourceName);
  if (!ok) ctx.logger.debug('Principal is not authorized', { principal: ctx.principal, host: ctx.connection.remoteAddress, operation, resourceType, resourceName });
  return ok;
}

export function authorizedOnCluster(ctx: RequestContext, operation: number): boolean {
  return authorized(ctx, operation, ResourceType.CLUSTER, CLUSTER_RESOURCE_NAME);
}

/** Kafka's authorizeByResourceType: `operation` on some resource of the type. */
export function authorizedOnSome(ctx: RequestContext, operation: number, resourceType: number): boolean {
  const authorizer = ctx.broker.authorizer;
  return !authorizer || authorizer.authorizeByResourceType(ctx.principal, ctx.connection.remoteAddress, operation, resourceType);
}

/** The *_authorized_operations bit set for a resource (all of the type's operations without an authorizer). */
export function authorizedOperations(ctx: RequestContext, resourceType: number, resourceName: string, all: number): number {
  const authorizer = ctx.broker.authorizer;
  return authorizer ? authorizer.authorizedOperations(ctx.principal, ctx.connection.remoteAddress, resourceType, resourceName) : all;
}

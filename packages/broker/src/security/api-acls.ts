/**
 * Authorization in one place: the per-API table of checks on the CLUSTER resource that
 * cover a whole request (the dispatcher applies it before the handler runs), and the helper
 * handlers use for per-resource checks (topics, groups, transactional ids).
 *
 * The table follows Kafka 3.9's KafkaApis: an API listed here is refused as a whole when
 * the principal lacks the operation on the cluster / the request's group / its
 * transactional id, answered with the handler's errorResponse(*_AUTHORIZATION_FAILED)
 * (Kafka fills the same code into every entry). Checks of the topics, groups and ids a
 * request lists are in the handlers, since Kafka answers those per entry:
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

/**
 * One check that covers a whole request: `operation` on the resource `name(req)` names
 * (skipped when it names none), refused with `errorCode` through the handler's errorResponse.
 */
export interface RequestCheck {
  readonly resourceType: number;
  readonly operation: number;
  // The request's type varies by API; each entry reads only fields its API's request has.
  readonly name: (req: any, version: number) => string | null | undefined;
  readonly errorCode: number;
}

const CLUSTER_AUTHORIZATION_FAILED = 31;
const GROUP_AUTHORIZATION_FAILED = 30;
const TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53;

const onCluster = (operation: number): RequestCheck => ({ resourceType: ResourceType.CLUSTER, operation, name: () => CLUSTER_RESOURCE_NAME, errorCode: CLUSTER_AUTHORIZATION_FAILED });
const onGroup = (operation: number): RequestCheck => ({ resourceType: ResourceType.GROUP, operation, name: (req: { groupId?: string | null }) => req.groupId, errorCode: GROUP_AUTHORIZATION_FAILED });
const writeTransactionalId: RequestCheck = {
  resourceType: ResourceType.TRANSACTIONAL_ID, operation: AclOperation.WRITE,
  name: (req: { transactionalId?: string | null }) => req.transactionalId, errorCode: TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
};

/** api key -> the checks (in Kafka's order) that cover the whole request. */
export const REQUEST_CHECKS_BY_API: ReadonlyMap<number, readonly RequestCheck[]> = new Map([
  [ApiKey.DescribeAcls, [onCluster(AclOperation.DESCRIBE)]],
  [ApiKey.CreateAcls, [onCluster(AclOperation.ALTER)]],
  [ApiKey.DeleteAcls, [onCluster(AclOperation.ALTER)]],
  [ApiKey.ElectLeaders, [onCluster(AclOperation.ALTER)]],
  [ApiKey.AlterPartitionReassignments, [onCluster(AclOperation.ALTER)]],
  [ApiKey.ListPartitionReassignments, [onCluster(AclOperation.DESCRIBE)]],
  [ApiKey.DescribeLogDirs, [onCluster(AclOperation.DESCRIBE)]],
  [ApiKey.AlterUserScramCredentials, [onCluster(AclOperation.ALTER)]],
  [ApiKey.DescribeUserScramCredentials, [onCluster(AclOperation.DESCRIBE)]],
  [ApiKey.WriteTxnMarkers, [onCluster(AclOperation.CLUSTER_ACTION)]],
  [ApiKey.JoinGroup, [onGroup(AclOperation.READ)]],
  [ApiKey.SyncGroup, [onGroup(AclOperation.READ)]],
  [ApiKey.Heartbeat, [onGroup(AclOperation.READ)]],
  [ApiKey.LeaveGroup, [onGroup(AclOperation.READ)]],
  [ApiKey.OffsetCommit, [onGroup(AclOperation.READ)]],
  [ApiKey.OffsetDelete, [onGroup(AclOperation.DELETE)]],
  [ApiKey.InitProducerId, [writeTransactionalId]],
  [ApiKey.EndTxn, [writeTransactionalId]],
  [ApiKey.AddOffsetsToTxn, [writeTransactionalId, onGroup(AclOperation.READ)]],
  [ApiKey.TxnOffsetCommit, [writeTransactionalId, onGroup(AclOperation.READ)]],
  // v0-3 name one transactional id; v4+ (batched, sent by brokers) need CLUSTER_ACTION.
  [ApiKey.AddPartitionsToTxn, [
    { ...writeTransactionalId, name: (req: { v3AndBelowTransactionalId?: string }, version: number) => (version < 4 ? req.v3AndBelowTransactionalId : null) },
    { ...onCluster(AclOperation.CLUSTER_ACTION), name: (_req: unknown, version: number) => (version >= 4 ? CLUSTER_RESOURCE_NAME : null) },
  ]],
]);

/** The error code of the first request-level check the principal fails, or null. */
export function failedRequestCheck(ctx: RequestContext, req: unknown): number | null {
  if (!ctx.broker.authorizer) return null;
  for (const check of REQUEST_CHECKS_BY_API.get(ctx.header.apiKey) ?? []) {
    const name = check.name(req, ctx.header.apiVersion);
    if (name === null || name === undefined) continue;
    if (!authorized(ctx, check.operation, check.resourceType, name)) return check.errorCode;
  }
  return null;
}

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

/** ConfigResource types (protocol numbers) and the ACL resource each is authorized as. */
const CONFIG_RESOURCE = new Map<number, { resourceType: number; errorCode: number; cluster: boolean }>([
  [2, { resourceType: ResourceType.TOPIC, errorCode: 29, cluster: false }], // TOPIC
  [4, { resourceType: ResourceType.CLUSTER, errorCode: CLUSTER_AUTHORIZATION_FAILED, cluster: true }], // BROKER
  [8, { resourceType: ResourceType.CLUSTER, errorCode: CLUSTER_AUTHORIZATION_FAILED, cluster: true }], // BROKER_LOGGER
  [32, { resourceType: ResourceType.GROUP, errorCode: GROUP_AUTHORIZATION_FAILED, cluster: false }], // GROUP
]);

/**
 * Kafka's config authorization (DescribeConfigs: DESCRIBE_CONFIGS, AlterConfigs and
 * IncrementalAlterConfigs: ALTER_CONFIGS): topics and groups on themselves, brokers and
 * broker loggers on the cluster. The error code to answer, or null when allowed (or the
 * resource type is unknown: the handler refuses it on its own).
 */
export function configAuthorizationError(ctx: RequestContext, operation: number, configResourceType: number, resourceName: string): number | null {
  if (!ctx.broker.authorizer) return null;
  const resource = CONFIG_RESOURCE.get(configResourceType);
  if (!resource) return null;
  const name = resource.cluster ? CLUSTER_RESOURCE_NAME : resourceName;
  return authorized(ctx, operation, resource.resourceType, name) ? null : resource.errorCode;
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

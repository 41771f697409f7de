/**
 * Metadata (api key 3), versions 0-12.
 *
 * Behaviour (Kafka's KafkaApis.handleTopicMetadataRequest):
 * - Brokers: every registered broker with the endpoint of the listener the request came
 *   in on; controller id: the broker the metadata store names controller (single node: this one).
 * - Topics: all (null list; v0 sends an empty list for "all") or the ones named (v10+ may
 *   name topics by id). A name that is not a valid topic name gets INVALID_TOPIC_EXCEPTION.
 *   Another unknown name gets UNKNOWN_TOPIC_OR_PARTITION with no partitions, the all-zero
 *   topic id and `isInternal` set for internal names; when `allowAutoTopicCreation` (v4+;
 *   always for v0-v3) and `auto.create.topics.enable` allow it, its creation starts after
 *   this answer is built (Kafka 3.9 in KRaft mode: AutoTopicCreationManager sends
 *   CreateTopics to the controller and answers UNKNOWN_TOPIC_OR_PARTITION, also while the
 *   creation is in flight). Later requests see the whole topic once it exists; clients
 *   retry on UNKNOWN_TOPIC_OR_PARTITION. A creation that fails (a colliding name) is
 *   logged, and the name keeps answering UNKNOWN_TOPIC_OR_PARTITION, as in Kafka.
 * - Partitions: leader, leader epoch (v7+), replicas, ISR, offline replicas (v5+).
 * - A replica on one of this broker's log directories that failed is offline (KRaft's
 *   isReplicaInOfflineDir). If it was the leader, the partition has none: leader -1 and
 *   LEADER_NOT_AVAILABLE, what a KRaft controller makes of it once the broker's heartbeat
 *   reports the directory offline (no other replica to elect on a single node). The ISR
 *   is left as it was (KRaft never empties it).
 * - Authorized operations (v8+): -2147483648 ("not requested") unless asked for; then the
 *   operations the authorizer allows (all of them without an authorizer).
 * - Authorization (Kafka's rules): listing all topics shows only those the principal may
 *   DESCRIBE; a named topic it may not DESCRIBE is TOPIC_AUTHORIZATION_FAILED whether or
 *   not it exists (by id: TOPIC_AUTHORIZATION_FAILED with a null name); a name it may
 *   describe that does not exist is auto-created only with CREATE on the cluster or the
 *   topic, else TOPIC_AUTHORIZATION_FAILED (when auto-creation is off it stays
 *   UNKNOWN_TOPIC_OR_PARTITION).
 *
 * - v10/v11 requests that name a topic by id or with a null name are invalid (ids are
 *   served from v12): every requested topic gets INVALID_REQUEST, as Kafka answers.
 *
 */
import {
  ApiKey,
  ErrorCode,
  ZERO_UUID,
  type MetadataRequest,
  type MetadataResponse,
  type MetadataResponseTopic,
} from '@tributary/protocol';
import type { Handler, RequestContext } from './registry.js';
import type { TopicMetadata } from '../metadata/metadata-store.js';
import { invalidTopicNameReason, isInternalTopic } from '../topics/topic-name.js';
import { controllerIdOf } from '../metadata/controller-election.js';
import { authorized, authorizedOnCluster, authorizedOperations } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';

const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;
/** READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS (bits 3..8, 10, 11). */
const TOPIC_OPERATIONS_ALL = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/** CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, CREATE_TOKENS, DESCRIBE_TOKENS. */
const CLUSTER_OPERATIONS_ALL = (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14);

export const metadataHandler: Handler<'Metadata'> = {
  apiKey: ApiKey.Metadata,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 12,

  async handle(req, ctx) {
    const version = ctx.header.apiVersion;
    const { metadata } = ctx.broker;
    const includeTopicOps = version >= 8 && req.includeTopicAuthorizedOperations === true;
    const allowAutoCreate = (version < 4 || req.allowAutoTopicCreation !== false) && ctx.broker.config.boolean('auto.create.topics.enable');

    const invalid = invalidTopicReference(req, version);
    if (invalid !== null) {
      ctx.logger.debug('Metadata request names topics in a way its version cannot', { reason: invalid });
      return invalidRequestResponse(req);
    }

    const topics: MetadataResponseTopic[] = [];
    const all = req.topics === null || (version === 0 && req.topics.length === 0);
    if (all) {
      for (const t of metadata.topics()) {
        if (authorized(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, t.name)) topics.push(describeTopic(t, ctx, includeTopicOps));
      }
    } else {
      for (const requested of req.topics!) {
        if (requested.name === null || requested.name === undefined) {
          const byId = requested.topicId !== undefined && requested.topicId !== ZERO_UUID ? metadata.topicById(requested.topicId) : undefined;
          if (byId && !authorized(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, byId.name)) topics.push(errorTopic(null, ErrorCode.TOPIC_AUTHORIZATION_FAILED, byId.topicId));
          else if (byId) topics.push(describeTopic(byId, ctx, includeTopicOps));
          else topics.push(errorTopic(null, ErrorCode.UNKNOWN_TOPIC_ID, requested.topicId ?? ZERO_UUID));
          continue;
        }
        const name = requested.name;
        if (!authorized(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name)) {
          topics.push(errorTopic(name, ErrorCode.TOPIC_AUTHORIZATION_FAILED, ZERO_UUID, isInternalTopic(name)));
          continue;
        }
        const existing = metadata.topic(name);
        if (existing) {
          topics.push(describeTopic(existing, ctx, includeTopicOps));
          continue;
        }
        if (allowAutoCreate && invalidTopicNameReason(name) === null
          && !authorizedOnCluster(ctx, AclOperation.CREATE) && !authorized(ctx, AclOperation.CREATE, ResourceType.TOPIC, name)) {
          topics.push(errorTopic(name, ErrorCode.TOPIC_AUTHORIZATION_FAILED, ZERO_UUID, isInternalTopic(name)));
          continue;
        }
        topics.push(unknownTopic(name, allowAutoCreate, ctx));
      }
    }

    const endpoints = brokersFor(ctx);
    return {
      throttleTimeMs: 0,
      brokers: endpoints,
      clusterId: ctx.broker.clusterId,
      controllerId: controllerIdOf(ctx.broker.metadata, ctx.broker.nodeId),
      topics,
      clusterAuthorizedOperations: version >= 8 && version <= 10 && req.includeClusterAuthorizedOperations ? authorizedOperations(ctx, ResourceType.CLUSTER, 'kafka-cluster', CLUSTER_OPERATIONS_ALL) : AUTHORIZED_OPERATIONS_OMITTED,
    };
  },
};

/**
 * Topic ids exist in the request from v10 but are served only from v12, whose response may
 * carry a null topic name: a v10/v11 request with a null name or a topic id is invalid (a
 * v10/v11 response could not even encode the null name).
 */
function invalidTopicReference(req: MetadataRequest, version: number): string | null {
  if (version >= 12 || req.topics === null) return null;
  for (const t of req.topics) {
    if (t.name === null || t.name === undefined) return `Topic name can not be null for version ${version}`;
    if (t.topicId !== undefined && t.topicId !== ZERO_UUID) return `Topic IDs are not supported in requests for version ${version}`;
  }
  return null;
}

/**
 * Kafka's answer to an invalid Metadata request (MetadataRequest.getErrorResponse): no
 * brokers, and every requested topic with INVALID_REQUEST, a null name sent as "".
 */
function invalidRequestResponse(req: MetadataRequest): MetadataResponse {
  return {
    throttleTimeMs: 0,
    brokers: [],
    clusterId: null,
    controllerId: -1,
    topics: (req.topics ?? []).map((t) => errorTopic(t.name ?? '', ErrorCode.INVALID_REQUEST, t.topicId ?? ZERO_UUID)),
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  };
}

/** Registered brokers, each with its endpoint on the listener this request arrived on. */
export function brokersFor(ctx: RequestContext): { nodeId: number; host: string; port: number; rack: string | null }[] {
  const listener = ctx.connection.listenerName;
  const out: { nodeId: number; host: string; port: number; rack: string | null }[] = [];
  for (const b of ctx.broker.metadata.brokers()) {
    const e = b.endpoints.find((x) => x.listener === listener) ?? b.endpoints[0];
    if (e) out.push({ nodeId: b.nodeId, host: e.host, port: e.port, rack: b.rack });
  }
  return out;
}

function describeTopic(t: TopicMetadata, ctx: RequestContext, includeOps: boolean): MetadataResponseTopic {
  const live = new Set(ctx.broker.metadata.brokers().map((b) => b.nodeId));
  return {
    errorCode: ErrorCode.NONE,
    name: t.name,
    topicId: t.topicId,
    isInternal: t.internal,
    partitions: t.partitions.map((p) => {
      const self = ctx.broker.nodeId;
      const selfOffline = p.replicas.includes(self) && ctx.broker.replicaManager?.isLocalReplicaOffline(t.name, p.partition);
      const leader = selfOffline && p.leader === self ? -1 : p.leader;
      return {
        errorCode: leader >= 0 && live.has(leader) ? ErrorCode.NONE : ErrorCode.LEADER_NOT_AVAILABLE,
        partitionIndex: p.partition,
        leaderId: leader,
        leaderEpoch: p.leaderEpoch,
        replicaNodes: [...p.replicas],
        isrNodes: [...p.isr],
        offlineReplicas: p.replicas.filter((r) => !live.has(r) || (r === self && selfOffline)),
      };
    }),
    topicAuthorizedOperations: includeOps ? authorizedOperations(ctx, ResourceType.TOPIC, t.name, TOPIC_OPERATIONS_ALL) : AUTHORIZED_OPERATIONS_OMITTED,
  };
}

function errorTopic(name: string | null, errorCode: number, topicId = ZERO_UUID, isInternal = false): MetadataResponseTopic {
  return { errorCode, name, topicId, isInternal, partitions: [], topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED };
}

/**
 * The answer for a name with no topic (Kafka's getTopicMetadata and
 * AutoTopicCreationManager.createTopics); starts its auto-creation when allowed.
 */
function unknownTopic(name: string, autoCreate: boolean, ctx: RequestContext): MetadataResponseTopic {
  if (invalidTopicNameReason(name) !== null) return errorTopic(name, ErrorCode.INVALID_TOPIC_EXCEPTION, ZERO_UUID, isInternalTopic(name));
  if (autoCreate) {
    // After this answer is built, as Kafka's controller creates the topic after its broker
    // has answered; concurrent requests share one creation (TopicManager.autoCreateTopic).
    setImmediate(() => {
      ctx.broker.topicManager.autoCreateTopic(name).catch((err: unknown) => {
        ctx.logger.error('Auto-creating a topic failed', { topic: name, err });
      });
    });
  }
  return errorTopic(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ZERO_UUID, isInternalTopic(name));
}

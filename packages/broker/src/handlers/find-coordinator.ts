/**
 * FindCoordinator (api key 10), versions 0-6.
 *
 * Behaviour (Kafka's KafkaApis.getCoordinator):
 * - v0-v3 look up one key, v4+ a batch (`coordinatorKeys`), each answered separately.
 * - Key type 0 (group): the leader of the group's `__consumer_offsets` partition
 *   (abs(hash(id)) % offsets.topic.num.partitions), Kafka's getCoordinator.
 * - Key type 1 (transaction): the leader of the id's `__transaction_state` partition
 *   (abs(hash(id)) % transaction.state.log.num.partitions); an empty id is INVALID_REQUEST.
 *   The first such lookup creates the topic, as in Kafka.
 * - Either: COORDINATOR_NOT_AVAILABLE when the partition has no leader (offline) or its leader
 *   is not a live broker; the address is the leader's on the listener the request came in
 *   on (this broker: its advertised endpoint), as Metadata names brokers.
 * - Key type 2 (share, KIP-932): INVALID_REQUEST below v6; from v6 COORDINATOR_NOT_AVAILABLE,
 *   which is Kafka 3.9's answer too (its share coordinator is not built either).
 * - Any other key type: INVALID_REQUEST.
 * - v0-v3 errors carry node id -1, host "" and port -1 (Kafka's Node.noNode), v1+ with an
 *   error message.
 *
 * Deliberate differences from Kafka:
 * - `__consumer_offsets` exists from start-up, so the first group lookup already succeeds;
 *   Kafka answers COORDINATOR_NOT_AVAILABLE while it auto-creates the topic. The first
 *   transaction lookup waits for `__transaction_state` to be created and loaded and then
 *   answers, where Kafka answers COORDINATOR_NOT_AVAILABLE and lets the client retry.
 */
import { ApiKey, ErrorCode, type FindCoordinatorResponseCoordinator } from '@tributary/protocol';
import { coordinatorNode } from '../group/handler-support.js';
import type { Handler, RequestContext } from './registry.js';
import { authorized } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;
const KEY_TYPE_SHARE = 2;
const TRANSACTION_STATE_TOPIC = '__transaction_state';
const CONSUMER_OFFSETS_TOPIC = '__consumer_offsets';
/** FindCoordinator v6 is the first that may ask for a share coordinator (KIP-932). */
const SHARE_KEY_TYPE_VERSION_MIN = 6;

const ERROR_MESSAGES: Record<number, string> = {
  [ErrorCode.COORDINATOR_NOT_AVAILABLE]: 'The coordinator is not available.',
  [ErrorCode.INVALID_REQUEST]: 'This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details.',
};

function lookup(ctx: RequestContext, keyType: number, key: string): FindCoordinatorResponseCoordinator {
  const fail = (errorCode: number, errorMessage = ERROR_MESSAGES[errorCode] ?? null): FindCoordinatorResponseCoordinator => ({ key, nodeId: -1, host: '', port: -1, errorCode, errorMessage });
  // Kafka: DESCRIBE on the group / transactional id the key names.
  if (keyType === KEY_TYPE_GROUP && !authorized(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, key)) return fail(ErrorCode.GROUP_AUTHORIZATION_FAILED);
  if (keyType === KEY_TYPE_TRANSACTION && !authorized(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, key)) return fail(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  if (keyType === KEY_TYPE_SHARE) {
    return fail(ctx.header.apiVersion < SHARE_KEY_TYPE_VERSION_MIN ? ErrorCode.INVALID_REQUEST : ErrorCode.COORDINATOR_NOT_AVAILABLE);
  }
  let node: CoordinatorNode | undefined;
  if (keyType === KEY_TYPE_TRANSACTION) {
    if (key === '') return fail(ErrorCode.INVALID_REQUEST);
    node = leaderNode(ctx, TRANSACTION_STATE_TOPIC, ctx.broker.txnCoordinator.partitionFor(key));
  } else if (keyType === KEY_TYPE_GROUP) {
    node = leaderNode(ctx, CONSUMER_OFFSETS_TOPIC, ctx.broker.groupCoordinator.partitionFor(key));
  } else {
    return fail(ErrorCode.INVALID_REQUEST);
  }
  if (node === undefined) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  return { key, ...node, errorCode: ErrorCode.NONE, errorMessage: null };
}

interface CoordinatorNode {
  nodeId: number;
  host: string;
  port: number;
}

/** The leader of a coordinator partition as clients should reach it; undefined when there is none. */
function leaderNode(ctx: RequestContext, topic: string, partition: number): CoordinatorNode | undefined {
  const leader = ctx.broker.metadata.topic(topic)?.partitions[partition]?.leader;
  if (leader === undefined || leader < 0) return undefined;
  if (leader === ctx.broker.nodeId) return coordinatorNode(ctx);
  const registered = ctx.broker.metadata.brokers().find((b) => b.nodeId === leader);
  if (registered === undefined) return undefined;
  const endpoint = registered.endpoints.find((e) => e.listener === ctx.connection.listenerName) ?? registered.endpoints[0];
  if (endpoint === undefined) return undefined;
  return { nodeId: leader, host: endpoint.host, port: endpoint.port };
}

export const findCoordinatorHandler: Handler<'FindCoordinator'> = {
  apiKey: ApiKey.FindCoordinator,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 6,

  async handle(req, ctx) {
    const keyType = req.keyType ?? KEY_TYPE_GROUP;
    if (keyType === KEY_TYPE_TRANSACTION) {
      // The first lookup creates `__transaction_state` (Kafka does too) and waits for it.
      try {
        await ctx.broker.txnCoordinator.ensureTopic();
      } catch (err) {
        ctx.logger.warn('Creating __transaction_state failed', { err });
      }
    }
    if (ctx.header.apiVersion >= 4) {
      return { throttleTimeMs: 0, coordinators: (req.coordinatorKeys ?? []).map((k) => lookup(ctx, keyType, k)) };
    }
    const c = lookup(ctx, keyType, req.key ?? '');
    return { throttleTimeMs: 0, errorCode: c.errorCode, errorMessage: c.errorMessage, nodeId: c.nodeId, host: c.host, port: c.port };
  },

  errorResponse(req, errorCode, ctx) {
    if (ctx.header.apiVersion >= 4) {
      return {
        throttleTimeMs: 0,
        coordinators: (req.coordinatorKeys ?? []).map((key) => ({ key, nodeId: -1, host: '', port: -1, errorCode, errorMessage: null })),
      };
    }
    return { throttleTimeMs: 0, errorCode, errorMessage: null, nodeId: -1, host: '', port: -1 };
  },
};

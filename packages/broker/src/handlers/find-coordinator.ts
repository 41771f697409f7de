/**
 * FindCoordinator (api key 10), versions 0-6.
 *
 * Behaviour (Kafka's KafkaApis.getCoordinator):
 * - v0-v3 look up one key, v4+ a batch (`coordinatorKeys`), each answered separately.
 * - Key type 0 (group): this broker, which coordinates every partition of
 *   `__consumer_offsets` in a single-node cluster; the address is the one advertised on the
 *   listener the request came in on.
 * - Key type 1 (transaction): the leader of the id's `__transaction_state` partition
 *   (abs(hash(id)) % transaction.state.log.num.partitions); an empty id is INVALID_REQUEST;
 *   COORDINATOR_NOT_AVAILABLE when the partition has no leader here. The first such lookup
 *   creates the topic, as in Kafka.
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
  if (keyType === KEY_TYPE_TRANSACTION) {
    if (key === '') return fail(ErrorCode.INVALID_REQUEST);
    const partition = ctx.broker.txnCoordinator.partitionFor(key);
    const view = ctx.broker.replicaManager.partition(TRANSACTION_STATE_TOPIC, partition);
    // Single node: this broker leads every partition it has; in a cluster, the leader's address.
    if ('errorCode' in view) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const node = coordinatorNode(ctx);
    if (node === undefined) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    return { key, ...node, errorCode: ErrorCode.NONE, errorMessage: null };
  }
  if (keyType === KEY_TYPE_SHARE) {
    return fail(ctx.header.apiVersion < SHARE_KEY_TYPE_VERSION_MIN ? ErrorCode.INVALID_REQUEST : ErrorCode.COORDINATOR_NOT_AVAILABLE);
  }
  if (keyType !== KEY_TYPE_GROUP) return fail(ErrorCode.INVALID_REQUEST);
  const node = coordinatorNode(ctx);
  if (node === undefined) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  return { key, ...node, errorCode: ErrorCode.NONE, errorMessage: null };
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

/**
 * FindCoordinator (api key 10), versions 0-5.
 *
 * Behaviour (Kafka's):
 * - v0-v3 look up one key, v4+ a batch (`coordinatorKeys`), each answered separately.
 * - Key type 0 (group): this broker, which coordinates every partition of
 *   `__consumer_offsets` in a single-node cluster; the address is the one advertised on the
 *   listener the request came in on.
 * - Key type 1 (transaction): COORDINATOR_NOT_AVAILABLE until a transaction coordinator
 *   exists (clients retry).
 * - Any other key type: INVALID_REQUEST.
 * - v0-v3 errors carry node id -1, host "" and port -1 (Kafka's Node.noNode), v1+ with an
 *   error message.
 *
 * Deliberate difference: Kafka answers COORDINATOR_NOT_AVAILABLE while it auto-creates
 * `__consumer_offsets` on the first lookup; the coordinator here exists from start-up, so the
 * first lookup already succeeds.
 */
import { ApiKey, ErrorCode, type FindCoordinatorResponseCoordinator } from '@tributary/protocol';
import { coordinatorNode } from '../group/handler-support.js';
import type { Handler, RequestContext } from './registry.js';

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

const ERROR_MESSAGES: Record<number, string> = {
  [ErrorCode.COORDINATOR_NOT_AVAILABLE]: 'The coordinator is not available.',
  [ErrorCode.INVALID_REQUEST]: 'This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details.',
};

function lookup(ctx: RequestContext, keyType: number, key: string): FindCoordinatorResponseCoordinator {
  const fail = (errorCode: number): FindCoordinatorResponseCoordinator => ({ key, nodeId: -1, host: '', port: -1, errorCode, errorMessage: ERROR_MESSAGES[errorCode] ?? null });
  if (keyType === KEY_TYPE_TRANSACTION) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  if (keyType !== KEY_TYPE_GROUP) return fail(ErrorCode.INVALID_REQUEST);
  const node = coordinatorNode(ctx);
  if (node === undefined) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  return { key, ...node, errorCode: ErrorCode.NONE, errorMessage: null };
}

export const findCoordinatorHandler: Handler<'FindCoordinator'> = {
  apiKey: ApiKey.FindCoordinator,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 5,

  handle(req, ctx) {
    const keyType = req.keyType ?? KEY_TYPE_GROUP;
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

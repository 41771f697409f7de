/**
 * InitProducerId (api key 22), versions 0-5.
 *
 * Behaviour:
 * - No transactional id: an idempotent producer gets a new producer id with epoch 0. Ids come
 *   from the broker's producer-id block (transaction/producer-id-manager.ts), so they never
 *   repeat across restarts. A producer that passes its current id and epoch (v3+, KIP-360) to
 *   recover gets the same id with the epoch bumped; when the epoch would overflow it gets a
 *   new id.
 * - A transactional id: the transaction coordinator (transaction/transaction-coordinator.ts)
 *   answers as Kafka's handleInitProducerId: the id's producer id with its epoch bumped (which
 *   fences any older instance), CONCURRENT_TRANSACTIONS while a transaction of the id is
 *   ending or being fenced (an ongoing one is aborted first), INVALID_TRANSACTION_TIMEOUT
 *   above transaction.max.timeout.ms, NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS, an empty
 *   id INVALID_REQUEST, and PRODUCER_FENCED for a KIP-360 recovery with a stale id or epoch
 *   (INVALID_PRODUCER_EPOCH below v4, as Kafka converts it).
 * - Authorization (Kafka's): a transactional id needs WRITE on it (the per-API table,
 *   security/api-acls.ts: TRANSACTIONAL_ID_AUTHORIZATION_FAILED); an idempotent producer
 *   needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic (KIP-679), else
 *   CLUSTER_AUTHORIZATION_FAILED.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { fencedForVersion, PRODUCER_FENCED_MIN_VERSION } from '../transaction/errors.js';
import type { Handler } from './registry.js';
import { authorizedOnCluster, authorizedOnSome } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';

const MAX_EPOCH = 32766;

export const initProducerIdHandler: Handler<'InitProducerId'> = {
  apiKey: ApiKey.InitProducerId,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 5,

  async handle(req, ctx) {
    const currentId = req.producerId ?? -1;
    const currentEpoch = req.producerEpoch ?? -1;
    if (req.transactionalId !== null) {
      // Kafka: both or neither of producer id and epoch (-1 = neither).
      if ((currentId === -1) !== (currentEpoch === -1)) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, producerId: -1, producerEpoch: -1 };
      const expected = currentId >= 0 ? { producerId: currentId, producerEpoch: currentEpoch } : null;
      const r = await ctx.broker.txnCoordinator.initProducerId(req.transactionalId, req.transactionTimeoutMs, expected);
      return { throttleTimeMs: 0, errorCode: fencedForVersion(r.errorCode, ctx.header.apiVersion, PRODUCER_FENCED_MIN_VERSION.InitProducerId), producerId: r.producerId, producerEpoch: r.producerEpoch };
    }
    if (!authorizedOnCluster(ctx, AclOperation.IDEMPOTENT_WRITE) && !authorizedOnSome(ctx, AclOperation.WRITE, ResourceType.TOPIC)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 };
    }
    if (currentId >= 0 && currentEpoch >= 0 && currentEpoch < MAX_EPOCH) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: currentId, producerEpoch: currentEpoch + 1 };
    }
    const producerId = await ctx.broker.producerIds.next();
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 };
  },
};

/**
 * InitProducerId (api key 22), versions 0-5.
 *
 * Behaviour: an idempotent producer (no transactional id) gets a new producer id with
 * epoch 0. Ids come from the broker's producer-id block (transaction/producer-id-manager.ts),
 * so they never repeat across restarts. A producer that passes its current id and epoch
 * (v3+, KIP-360) to recover gets the same id with the epoch bumped; when the epoch would
 * overflow it gets a new id.
 *
 * Difference from Kafka: transactional ids need the transaction coordinator, which is
 * not built yet (issue #17). COORDINATOR_NOT_AVAILABLE would make clients retry until
 * their timeout, so those requests get TRANSACTIONAL_ID_AUTHORIZATION_FAILED, the code
 * librdkafka, KafkaJS and the Java client all fail a transactional producer on at once;
 * FindCoordinator for a transaction coordinator answers the same (see find-coordinator.ts
 * for why this code). The response has no message field to say more.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler } from './registry.js';

const MAX_EPOCH = 32766;

export const initProducerIdHandler: Handler<'InitProducerId'> = {
  apiKey: ApiKey.InitProducerId,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 5,

  async handle(req, ctx) {
    if (req.transactionalId !== null && req.transactionalId !== '') {
      return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 };
    }
    const currentId = req.producerId ?? -1;
    const currentEpoch = req.producerEpoch ?? -1;
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

/**
 * AddOffsetsToTxn (api key 25), versions 0-4.
 *
 * Behaviour (Kafka's): adds the group's `__consumer_offsets` partition
 * (abs(hash(group)) % offsets.topic.num.partitions) to the transaction, so that the
 * transaction's marker decides the offsets a following TxnOffsetCommit writes there. Errors
 * as AddPartitionsToTxn (PRODUCER_FENCED becomes INVALID_PRODUCER_EPOCH below v2).
 */
import { ApiKey } from '@tributary/protocol';
import { CONSUMER_OFFSETS_TOPIC } from '../transaction/marker-writer.js';
import { fencedForVersion, PRODUCER_FENCED_MIN_VERSION } from '../transaction/errors.js';
import type { Handler } from './registry.js';

export const addOffsetsToTxnHandler: Handler<'AddOffsetsToTxn'> = {
  apiKey: ApiKey.AddOffsetsToTxn,
  name: 'AddOffsetsToTxn',
  minVersion: 0,
  maxVersion: 4,

  async handle(req, ctx) {
    const partition = ctx.broker.groupCoordinator.partitionFor(req.groupId);
    const error = await ctx.broker.txnCoordinator.addPartitions(req.transactionalId, req.producerId, req.producerEpoch, [{ topic: CONSUMER_OFFSETS_TOPIC, partition }]);
    return { throttleTimeMs: 0, errorCode: fencedForVersion(error, ctx.header.apiVersion, PRODUCER_FENCED_MIN_VERSION.AddOffsetsToTxn) };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode };
  },
};

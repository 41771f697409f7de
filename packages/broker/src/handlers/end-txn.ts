/**
 * EndTxn (api key 26), versions 0-5.
 *
 * Behaviour (Kafka's handleEndTransaction): commits or aborts the ongoing transaction. The
 * answer comes once Prepare{Commit,Abort} is durable in `__transaction_state`; the markers
 * and Complete{Commit,Abort} follow in the background, and meanwhile the id answers
 * CONCURRENT_TRANSACTIONS. A retried EndTxn of a completed transaction with the same result
 * gets NONE, the other result INVALID_TXN_STATE; ending with no transaction (Empty) is
 * INVALID_TXN_STATE; a stale epoch PRODUCER_FENCED (INVALID_PRODUCER_EPOCH below v2).
 *
 * v5 is transactions v2 (KIP-890 part 2), as Kafka 4.0 serves it: the coordinator bumps the
 * producer epoch with Prepare{Commit,Abort}, writes the markers with the bumped epoch, and
 * answers the producer id and new epoch, which the producer uses for its next transaction. A
 * retry of an EndTxn whose answer was lost (the old epoch, the same result) gets the same
 * answer; aborting a transaction that added nothing is allowed (the producer cannot know
 * whether its implicit additions were made) and still bumps the epoch.
 *
 * Difference from Kafka 4.0: when the epoch is exhausted (32766) Kafka's v5 EndTxn rotates to
 * a new producer id and answers it; here the epoch is then not bumped (the transaction ends
 * under it) and the producer's next InitProducerId gets a new id.
 */
import { ApiKey } from '@tributary/protocol';
import { fencedForVersion, PRODUCER_FENCED_MIN_VERSION } from '../transaction/errors.js';
import type { Handler } from './registry.js';

/** EndTxn v5 is transactions v2 (KIP-890). */
export const END_TXN_V2_VERSION = 5;

export const endTxnHandler: Handler<'EndTxn'> = {
  apiKey: ApiKey.EndTxn,
  name: 'EndTxn',
  minVersion: 0,
  maxVersion: 5,

  async handle(req, ctx) {
    const version = ctx.header.apiVersion;
    const r = await ctx.broker.txnCoordinator.endTransaction(req.transactionalId, req.producerId, req.producerEpoch, req.committed, version >= END_TXN_V2_VERSION);
    const errorCode = fencedForVersion(r.errorCode, version, PRODUCER_FENCED_MIN_VERSION.EndTxn);
    if (version < END_TXN_V2_VERSION) return { throttleTimeMs: 0, errorCode };
    return { throttleTimeMs: 0, errorCode, producerId: r.producerId, producerEpoch: r.producerEpoch };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 };
  },
};

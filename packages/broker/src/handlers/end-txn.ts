/**
 * EndTxn (api key 26), versions 0-4.
 *
 * Behaviour (Kafka's handleEndTransaction): commits or aborts the ongoing transaction. The
 * answer comes once Prepare{Commit,Abort} is durable in `__transaction_state`; the markers
 * and Complete{Commit,Abort} follow in the background, and meanwhile the id answers
 * CONCURRENT_TRANSACTIONS. A retried EndTxn of a completed transaction with the same result
 * gets NONE, the other result INVALID_TXN_STATE; ending with no transaction (Empty) is
 * INVALID_TXN_STATE; a stale epoch PRODUCER_FENCED (INVALID_PRODUCER_EPOCH below v2).
 *
 * Difference from Kafka 4: EndTxn v5 (transactions v2, KIP-890: an epoch bump per
 * transaction, returned in the response) is built into the coordinator
 * (`endTransaction(..., transactionVersion2)`) but not served: the protocol package's codec
 * stops at v4 (the message specs it is generated from predate v5), so the broker advertises
 * 0-4 and clients use transactions v1.
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
  maxVersion: 4,

  async handle(req, ctx) {
    const version = ctx.header.apiVersion;
    const r = await ctx.broker.txnCoordinator.endTransaction(req.transactionalId, req.producerId, req.producerEpoch, req.committed, version >= END_TXN_V2_VERSION);
    return { throttleTimeMs: 0, errorCode: fencedForVersion(r.errorCode, version, PRODUCER_FENCED_MIN_VERSION.EndTxn) };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode };
  },
};

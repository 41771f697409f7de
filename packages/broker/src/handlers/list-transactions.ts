/**
 * ListTransactions (api key 66), versions 0-1.
 *
 * Behaviour (Kafka's TransactionStateManager.listTransactionStates): every transactional id
 * this coordinator holds, filtered by state names (unknown names are returned in
 * unknown_state_filters and match nothing), by producer ids, and (v1) by duration: only
 * transactions that started more than `duration_filter` ms ago. Dead ids are not listed.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { TxnState, TXN_STATE_NAMES, txnStateByName } from '../transaction/transaction-metadata.js';
import { authorized } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';
import type { Handler } from './registry.js';

export const listTransactionsHandler: Handler<'ListTransactions'> = {
  apiKey: ApiKey.ListTransactions,
  name: 'ListTransactions',
  minVersion: 0,
  maxVersion: 1,

  handle(req, ctx) {
    const unknownStateFilters: string[] = [];
    const states = new Set<TxnState>();
    for (const name of req.stateFilters) {
      const s = txnStateByName(name);
      if (s === undefined) unknownStateFilters.push(name);
      else states.add(s);
    }
    const producerIds = new Set(req.producerIdFilters);
    const durationMs = req.durationFilter ?? -1;
    const now = Date.now();
    const transactionStates = [];
    // Every state filter unknown: nothing can match (Kafka returns an empty list too).
    const stateFiltered = req.stateFilters.length > 0;
    for (const m of ctx.broker.txnCoordinator.all()) {
      if (m.state === TxnState.Dead) continue;
      // Kafka lists only the ids the principal may DESCRIBE.
      if (!authorized(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, m.transactionalId)) continue;
      if (stateFiltered && !states.has(m.state)) continue;
      if (producerIds.size > 0 && !producerIds.has(m.producerId)) continue;
      if (durationMs >= 0 && (m.txnStartTimestampMs < 0 || now - m.txnStartTimestampMs <= durationMs)) continue;
      transactionStates.push({ transactionalId: m.transactionalId, producerId: m.producerId, transactionState: TXN_STATE_NAMES[m.state] });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, unknownStateFilters, transactionStates };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, unknownStateFilters: [], transactionStates: [] };
  },
};

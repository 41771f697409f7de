/**
 * DescribeTransactions (api key 65), version 0.
 *
 * Behaviour (Kafka's TransactionCoordinator.handleDescribeTransactions): per transactional
 * id, its state by Kafka's name (Empty, Ongoing, PrepareCommit, ...), timeout, start time,
 * producer id and epoch, and the partitions of the transaction; TRANSACTIONAL_ID_NOT_FOUND
 * for an id the coordinator does not know, NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS
 * when this broker cannot answer for it.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { TxnState, TXN_STATE_NAMES } from '../transaction/transaction-metadata.js';
import { authorized } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';
import type { Handler } from './registry.js';

export const describeTransactionsHandler: Handler<'DescribeTransactions'> = {
  apiKey: ApiKey.DescribeTransactions,
  name: 'DescribeTransactions',
  minVersion: 0,
  maxVersion: 0,

  handle(req, ctx) {
    const coordinator = ctx.broker.txnCoordinator;
    const none = (transactionalId: string, errorCode: number) => ({ errorCode, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1, topics: [] });
    return {
      throttleTimeMs: 0,
      transactionStates: req.transactionalIds.map((id) => {
        // Kafka: DESCRIBE on the transactional id.
        if (!authorized(ctx, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, id)) return none(id, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        const status = coordinator.coordinatorStatus(id);
        if (status !== ErrorCode.NONE) return none(id, status);
        const m = coordinator.get(id);
        if (m === undefined || m.state === TxnState.Dead) return none(id, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
        return {
          errorCode: ErrorCode.NONE,
          transactionalId: id,
          transactionState: TXN_STATE_NAMES[m.state],
          transactionTimeoutMs: m.txnTimeoutMs,
          transactionStartTimeMs: m.txnStartTimestampMs,
          producerId: m.producerId,
          producerEpoch: m.producerEpoch,
          topics: [...m.partitions].filter(([, s]) => s.size > 0).map(([topic, s]) => ({ topic, partitions: [...s].sort((a, b) => a - b) })),
        };
      }),
    };
  },

  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, transactionStates: req.transactionalIds.map((transactionalId) => ({ errorCode, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1, topics: [] })) };
  },
};

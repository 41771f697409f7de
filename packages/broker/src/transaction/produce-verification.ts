/**
 * KIP-890 part 1, server-side defence against hanging transactions: before a partition
 * leader appends a transactional batch it checks with the transaction coordinator that the
 * partition is in the producer's ongoing transaction (Kafka 3.6+'s
 * transaction.partition.verification.enable, default true; there the leader sends
 * AddPartitionsToTxn verify_only, here the coordinator is asked in-process). A batch that
 * arrives after its transaction ended (a late retry, or a client that skipped
 * AddPartitionsToTxn) would otherwise start a transaction nobody ends and hold the last
 * stable offset back forever.
 *
 * Answers, as Kafka converts the coordinator's for a Produce response: partitions not in the
 * transaction get INVALID_TXN_STATE; a stale epoch INVALID_PRODUCER_EPOCH; a coordinator that
 * cannot answer now (loading, moving, busy) NOT_ENOUGH_REPLICAS, which producers retry.
 */
import { BatchAttributes, BatchLayout, CURRENT_MAGIC, ErrorCode, readBatchHeader, type ProduceRequest } from '@tributary/protocol';
import type { TransactionCoordinator } from './transaction-coordinator.js';

/** Bytes of a v2 batch header; shorter data is left for the append path to refuse. */
const BATCH_HEADER_BYTES = BatchLayout.HEADER_SIZE;

/** A refused partition: the code and (where Kafka sets one) the message of its Produce answer. */
export interface ProduceRefusal {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

const ERROR_NAMES: Record<number, string> = {
  [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]: 'COORDINATOR_LOAD_IN_PROGRESS',
  [ErrorCode.COORDINATOR_NOT_AVAILABLE]: 'COORDINATOR_NOT_AVAILABLE',
  [ErrorCode.NOT_COORDINATOR]: 'NOT_COORDINATOR',
  [ErrorCode.CONCURRENT_TRANSACTIONS]: 'CONCURRENT_TRANSACTIONS',
};

/** Kafka's ReplicaManager / AddPartitionsToTxnManager translation, messages included. */
function produceRefusal(code: number): ProduceRefusal {
  switch (code) {
    case ErrorCode.PRODUCER_FENCED:
      return { errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, errorMessage: null };
    case ErrorCode.INVALID_TXN_STATE:
      return { errorCode: code, errorMessage: 'Partition was not added to the transaction' };
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
    case ErrorCode.COORDINATOR_NOT_AVAILABLE:
    case ErrorCode.NOT_COORDINATOR:
    case ErrorCode.CONCURRENT_TRANSACTIONS:
      return { errorCode: ErrorCode.NOT_ENOUGH_REPLICAS, errorMessage: `Unable to verify the partition has been added to the transaction. Underlying error: ${ERROR_NAMES[code]}` };
    default:
      return { errorCode: code, errorMessage: null };
  }
}

/**
 * A transactional batch in a request without a transactional id: Kafka's KafkaApis refuses the
 * whole request with TRANSACTIONAL_ID_AUTHORIZATION_FAILED (no id to authorize).
 */
export const NO_TRANSACTIONAL_ID = Symbol('NO_TRANSACTIONAL_ID');

/**
 * Refusals for the partitions of a transactional produce that may not be appended, by
 * `topic\0partition`; null when every partition may go on.
 */
export function verifyTransactionalProduce(coordinator: TransactionCoordinator, req: ProduceRequest): Map<string, ProduceRefusal> | typeof NO_TRANSACTIONAL_ID | null {
  const transactionalId = req.transactionalId ?? null;
  let refused: Map<string, ProduceRefusal> | null = null;
  for (const topic of req.topicData) {
    for (const p of topic.partitionData) {
      const records = p.records;
      if (records === null || records.length < BATCH_HEADER_BYTES || records[BatchLayout.MAGIC] !== CURRENT_MAGIC) continue;
      // The hot path of every produce: one byte (the low byte of the attributes) decides.
      if ((records[BatchLayout.ATTRIBUTES + 1]! & BatchAttributes.TRANSACTIONAL) === 0) continue;
      if (transactionalId === null) return NO_TRANSACTIONAL_ID;
      const header = readBatchHeader(records, 0);
      const r = coordinator.verifyPartitions(transactionalId, header.producerId, header.producerEpoch, [{ topic: topic.name, partition: p.index }]);
      const code = 'error' in r ? r.error : r.perPartition[0]!;
      if (code === ErrorCode.NONE) continue;
      (refused ??= new Map()).set(`${topic.name}\u0000${p.index}`, produceRefusal(code));
    }
  }
  return refused;
}

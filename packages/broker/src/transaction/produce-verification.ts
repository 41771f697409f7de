/**
 * KIP-890 part 1, server-side defence against hanging transactions: before a partition
 * leader appends a transactional batch it checks with the transaction coordinator that the
 * partition is in the producer's ongoing transaction (Kafka 3.6+'s
 * transaction.partition.verification.enable, default true): the leader asks the coordinator
 * through add-partitions-manager.ts (in-process when it is this broker, else AddPartitionsToTxn
 * v5 verify_only, batched per coordinator). For transactions v2 (Produce v12+) the question
 * is `add`: the coordinator adds the partition to the transaction (KIP-890 part 2). A batch that
 * arrives after its transaction ended (a late retry, or a client that skipped
 * AddPartitionsToTxn) would otherwise start a transaction nobody ends and hold the last
 * stable offset back forever.
 *
 * Answers, as Kafka converts the coordinator's for a Produce response: partitions not in the
 * transaction get INVALID_TXN_STATE; a stale epoch INVALID_PRODUCER_EPOCH; a coordinator that
 * cannot answer now (loading, moving, busy, unreachable) NOT_ENOUGH_REPLICAS, which producers retry.
 */
import { BatchAttributes, BatchLayout, CURRENT_MAGIC, ErrorCode, readBatchHeader, type ProduceRequest } from '@tributary/protocol';
import type { AddPartitionsToTxnManager, TxnPartitionsAnswer, TxnPartitionsOperation } from './add-partitions-manager.js';
import type { TopicPartitionRef } from './transaction-metadata.js';

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
  [ErrorCode.NETWORK_EXCEPTION]: 'NETWORK_EXCEPTION',
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
    case ErrorCode.NETWORK_EXCEPTION:
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

/** Refusals by `topic\0partition`; null when every partition may go on. */
export type ProduceRefusals = Map<string, ProduceRefusal> | null;

/**
 * Refusals for the partitions of a transactional produce that may not be appended. The
 * transactional partitions of a request are asked about in one question per producer id and
 * epoch; the answer is synchronous when the coordinator is this broker and the operation is
 * `verify` (the common single-broker case costs no extra turn of the event loop), a promise
 * when it is asked over the network or has to write (`add`, transactions v2).
 */
export function verifyTransactionalProduce(manager: AddPartitionsToTxnManager, req: ProduceRequest, operation: TxnPartitionsOperation): ProduceRefusals | typeof NO_TRANSACTIONAL_ID | Promise<ProduceRefusals> {
  const transactionalId = req.transactionalId ?? null;
  let questions: Map<string, { producerId: number; producerEpoch: number; partitions: TopicPartitionRef[] }> | null = null;
  for (const topic of req.topicData) {
    for (const p of topic.partitionData) {
      const records = p.records;
      if (records === null || records.length < BATCH_HEADER_BYTES || records[BatchLayout.MAGIC] !== CURRENT_MAGIC) continue;
      // The hot path of every produce: one byte (the low byte of the attributes) decides.
      if ((records[BatchLayout.ATTRIBUTES + 1]! & BatchAttributes.TRANSACTIONAL) === 0) continue;
      if (transactionalId === null) return NO_TRANSACTIONAL_ID;
      const header = readBatchHeader(records, 0);
      const key = `${header.producerId}:${header.producerEpoch}`;
      let q = (questions ??= new Map()).get(key);
      if (q === undefined) questions.set(key, (q = { producerId: header.producerId, producerEpoch: header.producerEpoch, partitions: [] }));
      q.partitions.push({ topic: topic.name, partition: p.index });
    }
  }
  if (questions === null || transactionalId === null) return null;
  const asked = [...questions.values()].map((q) => ({ q, answer: manager.ask({ transactionalId, producerId: q.producerId, producerEpoch: q.producerEpoch, partitions: q.partitions, operation }) }));
  const build = (answers: readonly TxnPartitionsAnswer[]): ProduceRefusals => {
    let refused: Map<string, ProduceRefusal> | null = null;
    asked.forEach(({ q }, i) => {
      q.partitions.forEach((p, j) => {
        const code = answers[i]![j] ?? ErrorCode.INVALID_TXN_STATE;
        if (code !== ErrorCode.NONE) (refused ??= new Map()).set(`${p.topic}\u0000${p.partition}`, produceRefusal(code));
      });
    });
    return refused;
  };
  if (asked.some((a) => a.answer instanceof Promise)) return Promise.all(asked.map((a) => a.answer)).then(build);
  return build(asked.map((a) => a.answer as TxnPartitionsAnswer));
}

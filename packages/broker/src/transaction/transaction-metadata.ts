/**
 * What the transaction coordinator knows about one transactional id (Kafka's
 * TransactionMetadata), and its record in `__transaction_state`.
 *
 * Record layout (Kafka's TransactionLog, version-prefixed as every coordinator record):
 *
 *   key   = int16 0 | TransactionLogKey   (transactional id)
 *   value = int16 0 | TransactionLogValue (producer id and epoch, timeout, state byte,
 *                                          partitions, last update and start timestamps)
 *   null value = the transactional id expired (tombstone)
 *
 * States and their bytes are Kafka's (TransactionState.id), since tools that read the topic
 * decode them:
 *
 *   Empty(0) -> Ongoing(1) -> PrepareCommit(2) -> CompleteCommit(4)
 *                          -> PrepareAbort(3)  -> CompleteAbort(5)
 *   Complete* / Empty -> Ongoing (next transaction); Dead(6) after expiry;
 *   PrepareEpochFence(7) is a transient state that is never written: the coordinator bumps the
 *   epoch of an ongoing transaction it aborts (timeout, or a new producer instance) and writes
 *   PrepareAbort with the bumped epoch.
 */
import { decodeTransactionLogRecord, encodeTransactionLogRecordKey, encodeTransactionLogRecordValue, ProtocolDecodeError } from '@tributary/protocol';

/** A `__transaction_state` record that does not decode; the loader logs and skips it. */
export class TxnRecordError extends Error {
  readonly code = 'TRIB_ERR_TXN_RECORD';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TxnRecordError';
  }
}

export const TxnState = {
  Empty: 0,
  Ongoing: 1,
  PrepareCommit: 2,
  PrepareAbort: 3,
  CompleteCommit: 4,
  CompleteAbort: 5,
  Dead: 6,
  PrepareEpochFence: 7,
} as const;
export type TxnState = (typeof TxnState)[keyof typeof TxnState];

/** Kafka's names, as DescribeTransactions and ListTransactions report them. */
export const TXN_STATE_NAMES: Record<TxnState, string> = {
  0: 'Empty',
  1: 'Ongoing',
  2: 'PrepareCommit',
  3: 'PrepareAbort',
  4: 'CompleteCommit',
  5: 'CompleteAbort',
  6: 'Dead',
  7: 'PrepareEpochFence',
};

export function txnStateByName(name: string): TxnState | undefined {
  for (const [id, n] of Object.entries(TXN_STATE_NAMES)) if (n === name) return Number(id) as TxnState;
  return undefined;
}

/** RecordBatch.NO_PRODUCER_EPOCH / NO_PRODUCER_ID. */
export const NO_PRODUCER_EPOCH = -1;
export const NO_PRODUCER_ID = -1;

/**
 * Kafka's TransactionMetadata.isEpochExhausted: an epoch of Short.MaxValue - 1 cannot be bumped
 * again (the bump past it is reserved for the coordinator's fencing), so the transactional id
 * gets a new producer id with epoch 0.
 */
export const PRODUCER_EPOCH_EXHAUSTED = 32766;

export function isEpochExhausted(epoch: number): boolean {
  return epoch >= PRODUCER_EPOCH_EXHAUSTED;
}

export interface TopicPartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export interface TxnMetadata {
  readonly transactionalId: string;
  producerId: number;
  /** The producer id before the last change (KIP-360 retries), or -1. Not persisted (Kafka 3.x neither). */
  lastProducerId: number;
  producerEpoch: number;
  /** The epoch before the last bump, or -1: a retried InitProducerId that lost its answer. */
  lastProducerEpoch: number;
  txnTimeoutMs: number;
  state: TxnState;
  /** Partitions of the ongoing (or completing) transaction, `topic` -> partitions. */
  partitions: Map<string, Set<number>>;
  txnStartTimestampMs: number;
  txnLastUpdateTimestampMs: number;
  /** The state being written to the log; any other operation meanwhile gets CONCURRENT_TRANSACTIONS. */
  pendingState: TxnState | null;
  /** The transaction ends with an epoch bump (transactions v2, EndTxn v5; KIP-890). */
  transactionVersion2: boolean;
  /** The coordinator epoch (leader epoch of the `__transaction_state` partition) it was loaded or written under. */
  coordinatorEpoch: number;
}

export function newTxnMetadata(transactionalId: string, producerId: number, txnTimeoutMs: number, nowMs: number, coordinatorEpoch: number): TxnMetadata {
  return {
    transactionalId,
    producerId,
    lastProducerId: NO_PRODUCER_ID,
    producerEpoch: NO_PRODUCER_EPOCH,
    lastProducerEpoch: NO_PRODUCER_EPOCH,
    txnTimeoutMs,
    state: TxnState.Empty,
    partitions: new Map(),
    txnStartTimestampMs: -1,
    txnLastUpdateTimestampMs: nowMs,
    pendingState: null,
    transactionVersion2: false,
    coordinatorEpoch,
  };
}

export function partitionList(m: Pick<TxnMetadata, 'partitions'>): TopicPartitionRef[] {
  const out: TopicPartitionRef[] = [];
  for (const [topic, parts] of m.partitions) for (const partition of parts) out.push({ topic, partition });
  return out;
}

export function hasPartition(m: Pick<TxnMetadata, 'partitions'>, topic: string, partition: number): boolean {
  return m.partitions.get(topic)?.has(partition) === true;
}

export function copyPartitions(partitions: Map<string, Set<number>>): Map<string, Set<number>> {
  return new Map([...partitions].map(([t, s]) => [t, new Set(s)]));
}

/** The record for `m` in its current fields (callers set the state they are writing first). */
export function txnRecord(m: TxnMetadata): { key: Buffer; value: Buffer } {
  const transactionPartitions = [...m.partitions].filter(([, s]) => s.size > 0).map(([topic, s]) => ({ topic, partitionIds: [...s].sort((a, b) => a - b) }));
  return {
    key: encodeTransactionLogRecordKey({ transactionalId: m.transactionalId }),
    value: encodeTransactionLogRecordValue({
      producerId: m.producerId,
      producerEpoch: m.producerEpoch,
      transactionTimeoutMs: m.txnTimeoutMs,
      transactionStatus: m.state,
      // Kafka writes null for Empty and Complete* (no partitions), the list otherwise.
      transactionPartitions: m.state === TxnState.Empty ? null : transactionPartitions,
      transactionLastUpdateTimestampMs: m.txnLastUpdateTimestampMs,
      transactionStartTimestampMs: m.txnStartTimestampMs,
    }),
  };
}

export function tombstone(transactionalId: string): { key: Buffer; value: null } {
  return { key: encodeTransactionLogRecordKey({ transactionalId }), value: null };
}

export type DecodedTxnRecord = { transactionalId: string; metadata: TxnMetadata | null };

/** Decodes one `__transaction_state` record; throws TxnRecordError when it does not decode. */
export function decodeTxnRecord(key: Buffer, value: Buffer | null, coordinatorEpoch: number): DecodedTxnRecord {
  let decoded: ReturnType<typeof decodeTransactionLogRecord>;
  try {
    decoded = decodeTransactionLogRecord(key, value);
  } catch (error) {
    if (!(error instanceof ProtocolDecodeError)) throw error;
    throw new TxnRecordError(`__transaction_state record (key of ${key.length} bytes) does not decode: ${error.message}`, { cause: error });
  }
  const transactionalId = decoded.key.transactionalId;
  const v = decoded.value;
  if (v === null) return { transactionalId, metadata: null };
  if (!(v.transactionStatus >= TxnState.Empty && v.transactionStatus <= TxnState.PrepareEpochFence)) {
    throw new TxnRecordError(`__transaction_state record of ${JSON.stringify(transactionalId)} has unknown state ${v.transactionStatus}`);
  }
  const partitions = new Map<string, Set<number>>();
  for (const p of v.transactionPartitions ?? []) {
    let set = partitions.get(p.topic);
    if (set === undefined) partitions.set(p.topic, (set = new Set()));
    for (const id of p.partitionIds) set.add(id);
  }
  return {
    transactionalId,
    metadata: {
      transactionalId,
      producerId: v.producerId,
      lastProducerId: NO_PRODUCER_ID,
      producerEpoch: v.producerEpoch,
      lastProducerEpoch: NO_PRODUCER_EPOCH,
      txnTimeoutMs: v.transactionTimeoutMs,
      state: v.transactionStatus as TxnState,
      partitions,
      txnStartTimestampMs: v.transactionStartTimestampMs,
      txnLastUpdateTimestampMs: v.transactionLastUpdateTimestampMs,
      pendingState: null,
      transactionVersion2: false,
      coordinatorEpoch,
    },
  };
}

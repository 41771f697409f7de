/**
 * The narrow view of `__consumer_offsets` the group coordinator needs. The broker implements
 * it over the storage package (one log per partition of the internal topic); the coordinator
 * never sees batches, offsets or segments.
 *
 * Contract:
 * - `append` resolves once the records are durable as the log defines it (acks=all on the
 *   internal topic); the coordinator answers a commit or a SyncGroup only after that. It
 *   rejects on failure; a rejection may carry a Kafka `errorCode` (number) property, which the
 *   coordinator maps as Kafka does (for example NOT_LEADER_OR_FOLLOWER -> NOT_COORDINATOR).
 * - Appends to one partition resolve in the order they were called, as a log's appends do.
 * - `replay` calls `onRecord` for every record of the partition from the log start offset to
 *   the log end, in offset order, with `value === null` for tombstones, then resolves.
 *   Records of transactional batches (TxnOffsetCommit) are passed on when their COMMIT marker
 *   is reached and dropped at an ABORT marker, as Kafka materializes them; those whose
 *   transaction is still open at the log end go to `onOpenTxnRecord` with their producer id.
 * - `appendTransactional` writes records in a transactional batch of the producer (Kafka writes
 *   TxnOffsetCommit this way, so that the transaction's marker decides them).
 */
export interface CoordinatorLogRecord {
  key: Buffer;
  value: Buffer | null;
}

export interface CoordinatorLog {
  append(partition: number, records: CoordinatorLogRecord[]): Promise<void>;
  replay(partition: number, onRecord: (key: Buffer, value: Buffer | null) => void, onOpenTxnRecord?: (producerId: number, key: Buffer, value: Buffer | null) => void): Promise<void>;
  appendTransactional?(partition: number, records: CoordinatorLogRecord[], producerId: number, producerEpoch: number): Promise<void>;
}

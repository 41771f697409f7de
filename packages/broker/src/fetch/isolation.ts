/**
 * Fetch isolation (Kafka's FetchIsolation and UnifiedLog.read with TXN_COMMITTED):
 *
 * - a follower (replicaId >= 0) reads up to the log end offset;
 * - a read_uncommitted consumer up to the high watermark;
 * - a read_committed consumer up to the last stable offset: the first offset of the oldest
 *   transaction still open (or whose marker is not replicated yet), at most the high
 *   watermark. Its answer lists the aborted transactions that overlap the batches returned
 *   (`aborted_transactions`, from the segments' `.txnindex`), so the consumer drops their
 *   records when it meets their ABORT markers; a read_uncommitted answer has null there.
 *
 * Every answer of v4+ carries `last_stable_offset`, whatever the isolation.
 *
 * Difference from Kafka: Kafka bounds the aborted-transaction lookup by the offset-index
 * entry past the bytes read (fetchUpperBoundOffset), which can name a few transactions
 * beyond the returned batches; here the bound is the offset after the last batch returned,
 * so the list holds exactly the overlapping ones. Clients use the list only for batches
 * they received, so they behave the same.
 */
import type { FetchResponsePartitionData } from '@tributary/protocol';
import type { Log } from '@tributary/storage';

export const READ_UNCOMMITTED = 0;
export const READ_COMMITTED = 1;

/** The exclusive offset a fetch may read up to. */
export function fetchUpperBound(log: Log, fromReplica: boolean, isolation: number): number {
  if (fromReplica) return log.logEndOffset;
  return isolation === READ_COMMITTED ? log.lastStableOffset : log.highWatermark;
}

/** Kafka's abortedTransactions of a read_committed answer for the batches in [fetchOffset, nextFetchOffset). */
export function abortedTransactionsFor(log: Log, fetchOffset: number, nextFetchOffset: number): FetchResponsePartitionData['abortedTransactions'] {
  if (nextFetchOffset <= fetchOffset) return [];
  return log.collectAbortedTransactions(fetchOffset, nextFetchOffset).map((t) => ({ producerId: t.producerId, firstOffset: t.firstOffset }));
}

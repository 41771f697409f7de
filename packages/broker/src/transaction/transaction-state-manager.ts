/**
 * The transaction coordinator's state (Kafka's TransactionStateManager): the metadata of every
 * transactional id of the `__transaction_state` partitions this broker leads, which
 * partitions those are (loading or owned), writing a state change to the log before it is
 * applied, and the removal of expired transactional ids.
 *
 * Each transactional id belongs to partition `abs(hash(id)) % transaction.state.log.num.partitions`.
 * A change is written first (Kafka's record format, transaction-metadata.ts) and applied only
 * once the append is durable; while it is being written the id has a pending state, and the
 * coordinator answers any other request for it CONCURRENT_TRANSACTIONS.
 */
import { ErrorCode } from '@tributary/protocol';
import type { Logger } from '../logger.js';
import type { CoordinatorLog } from '../group/coordinator-log.js';
import { CoordinatorPartitions, replayCoordinatorPartition } from '../group/coordinator-partitions.js';
import { javaStringHashCode } from '../group/partition-for.js';
import { copyPartitions, decodeTxnRecord, tombstone, TxnState, txnRecord, type TxnMetadata } from './transaction-metadata.js';

export interface TxnStateManagerDeps {
  /** transaction.state.log.num.partitions */
  readonly numPartitions: number;
  /** transactional.id.expiration.ms */
  readonly idExpirationMs: number;
  /** `__transaction_state`, through the replica manager. */
  readonly log: CoordinatorLog;
  /** Partitions of `__transaction_state` this broker leads ([] while the topic does not exist). */
  readonly ownedPartitions: () => number[];
  /** The leader epoch of a `__transaction_state` partition: Kafka's coordinator epoch. */
  readonly coordinatorEpoch: (partition: number) => number;
  /** Whether `__transaction_state` exists, and creating it (Kafka creates it on first use). */
  readonly topicExists: () => boolean;
  readonly createTopic: () => Promise<void>;
  /** A loaded transaction was ending (Prepare*) when the broker stopped: the coordinator finishes it. */
  readonly onPrepared: (m: TxnMetadata) => void;
  readonly logger: Logger;
  readonly now: () => number;
}

export class TransactionStateManager {
  private readonly txns = new Map<string, TxnMetadata>();
  private readonly partitions = new CoordinatorPartitions();
  /** Per partition loading or owned: the load it was last (re)loaded by; a load or write that started under another is stale. */
  private readonly generations = new Map<number, number>();
  private loadCount = 0;
  /** Per owned partition: the leader epoch (coordinator epoch) it was loaded under. */
  private readonly loadedEpochs = new Map<number, number>();
  private readonly log: CoordinatorLog;
  private readonly logger: Logger;
  readonly now: () => number;
  /** Creating and loading `__transaction_state` on first use; undefined until asked. */
  private topicReady: Promise<void> | undefined;
  /** False before start-up and after shutdown: every id answers COORDINATOR_NOT_AVAILABLE. */
  active = false;

  constructor(private readonly deps: TxnStateManagerDeps) {
    this.log = deps.log;
    this.logger = deps.logger;
    this.now = deps.now;
  }

  partitionFor(transactionalId: string): number {
    return (javaStringHashCode(transactionalId) & 0x7fffffff) % this.deps.numPartitions;
  }

  coordinatorEpoch(partition: number): number {
    return this.deps.coordinatorEpoch(partition);
  }

  /**
   * Loads the partitions of `__transaction_state` if the topic exists; otherwise it is created
   * by the first FindCoordinator for a transaction (ensureTopic), as Kafka does, so a broker
   * whose clients never use transactions has no such topic.
   */
  async startup(): Promise<void> {
    this.active = true;
    if (!this.deps.topicExists()) return;
    for (const p of this.deps.ownedPartitions()) await this.loadPartition(p);
    this.topicReady = Promise.resolve();
  }

  /**
   * Loads a partition this broker now leads (Kafka's loadTransactionsForTxnTopicPartition):
   * whatever a previous leadership left in memory is dropped first, the log is replayed (the
   * last record per id wins), and the partition is served from what was read. A load that the
   * leadership overtook (the partition was unloaded, or loaded again under a newer leader
   * epoch, while the log was being read) is discarded, as Kafka keeps a load only while its
   * partition and epoch are still in loadingPartitions: its records may be older than what
   * the coordinators that led meanwhile wrote, and serving them would answer the producer
   * from an earlier transaction (the session-12 INVALID_TXN_STATE).
   */
  async loadPartition(partition: number): Promise<void> {
    const epoch = this.deps.coordinatorEpoch(partition);
    const generation = ++this.loadCount;
    this.generations.set(partition, generation);
    this.loadedEpochs.delete(partition);
    this.partitions.set(partition, 'loading');
    this.dropIds(partition);
    const current = (): boolean => this.generations.get(partition) === generation;
    const loaded = new Map<string, TxnMetadata | null>();
    let summary;
    try {
      summary = await replayCoordinatorPartition(this.log, partition, { topic: '__transaction_state', logger: this.logger }, (key, value) => {
        const r = decodeTxnRecord(key, value, epoch);
        loaded.set(r.transactionalId, r.metadata);
      });
    } catch (error) {
      // A log that cannot be read (its directory failed) leaves the partition not ours to serve.
      if (current()) this.forgetPartition(partition);
      throw error;
    }
    if (!current()) {
      this.logger.info('Discarding a transaction state load the leadership overtook', { partition, coordinatorEpoch: epoch });
      return;
    }
    let count = 0;
    for (const [id, m] of loaded) {
      if (m === null) continue;
      this.txns.set(id, m);
      count += 1;
    }
    this.loadedEpochs.set(partition, epoch);
    this.partitions.set(partition, 'owned');
    if (count > 0 || summary.skipped > 0) this.logger.info('Loaded transaction metadata', { partition, coordinatorEpoch: epoch, transactionalIds: count, skipped: summary.skipped });
    // Transactions that were ending when the previous coordinator stopped: finish them now.
    for (const m of this.txns.values()) {
      if (this.partitionFor(m.transactionalId) !== partition) continue;
      if (m.state === TxnState.PrepareCommit || m.state === TxnState.PrepareAbort) this.deps.onPrepared(m);
    }
  }

  /**
   * Stops coordinating one partition (its leadership moved): its ids are dropped from memory
   * and their requests answered NOT_COORDINATOR; the new leader loads them from the log. A
   * load in progress is discarded when it ends; completions in flight stop at their next
   * step (transaction-coordinator.ts checks the id is still the one it was loaded as), and a
   * state change whose append was in flight is answered NOT_COORDINATOR, not applied.
   */
  unloadPartition(partition: number): void {
    this.forgetPartition(partition);
  }

  private forgetPartition(partition: number): void {
    this.generations.delete(partition);
    this.loadedEpochs.delete(partition);
    this.partitions.set(partition, null);
    this.dropIds(partition);
  }

  private dropIds(partition: number): void {
    for (const [id] of this.txns) if (this.partitionFor(id) === partition) this.txns.delete(id);
  }

  /** Creates `__transaction_state` if needed and loads its partitions; resolves when they are served. */
  ensureTopic(): Promise<void> {
    if (this.topicReady !== undefined) return this.topicReady;
    const ready = (async () => {
      await this.deps.createTopic();
      for (const p of this.deps.ownedPartitions()) if (!this.partitions.has(p)) await this.loadPartition(p);
    })();
    this.topicReady = ready;
    // A failed creation is tried again by the next lookup.
    ready.catch(() => {
      if (this.topicReady === ready) this.topicReady = undefined;
    });
    return ready;
  }

  /** Loaded or loading: a leadership change need not load it again. */
  hasPartition(partition: number): boolean {
    return this.partitions.has(partition);
  }

  /** Partitions loaded or loading. */
  loadedPartitions(): number[] {
    return this.partitions.partitions();
  }

  /** Served, under the partition's current leader epoch (the background jobs write only then). */
  isOwned(partition: number): boolean {
    return this.partitions.isOwned(partition) && this.loadedEpochs.get(partition) === this.deps.coordinatorEpoch(partition);
  }

  /** Adds an id InitProducerId created (its first state change writes it). */
  add(m: TxnMetadata): void {
    this.txns.set(m.transactionalId, m);
  }

  /**
   * NONE, or why this broker cannot answer for the id now. A partition served under a leader
   * epoch that is no longer the partition's was led elsewhere meanwhile (the replica manager
   * reports role changes only, and a broker cut off from the metadata may see just the final
   * leader -> leader state): it is loaded again first, as Kafka's onElection reloads on every
   * new leader epoch, and answers COORDINATOR_LOAD_IN_PROGRESS (retriable) until then.
   */
  coordinatorStatus(transactionalId: string): number {
    const partition = this.partitionFor(transactionalId);
    const status = this.partitions.errorFor(partition, this.active);
    if (status !== ErrorCode.NONE) return status;
    const epoch = this.deps.coordinatorEpoch(partition);
    if (epoch === this.loadedEpochs.get(partition)) return ErrorCode.NONE;
    if (epoch < 0) return ErrorCode.NOT_COORDINATOR;
    this.logger.info('The transaction state partition has a new leader epoch; loading it again', { partition, loadedEpoch: this.loadedEpochs.get(partition), coordinatorEpoch: epoch });
    this.loadPartition(partition).catch((error: unknown) => this.logger.error('Loading a partition of the transaction coordinator failed', { partition, error }));
    return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
  }

  /** The transaction state of an id, for DescribeTransactions / ListTransactions. */
  get(transactionalId: string): TxnMetadata | undefined {
    return this.txns.get(transactionalId);
  }

  all(): IterableIterator<TxnMetadata> {
    return this.txns.values();
  }

  // ------------------------------------------------------------------ writes

  /**
   * Writes `next` (a copy of `m` with the target state) and applies it once durable. The
   * caller has checked there is no pending state; the id holds `pendingState` meanwhile.
   */
  async write(m: TxnMetadata, next: TxnMetadata): Promise<number> {
    const partition = this.partitionFor(m.transactionalId);
    const generation = this.generations.get(partition);
    const coordinatorEpoch = this.loadedEpochs.get(partition);
    // Loaded under an older leader epoch: led elsewhere meanwhile, so `m` may be stale (the
    // next request's coordinatorStatus loads the partition again).
    if (generation === undefined || coordinatorEpoch === undefined || !this.partitions.isOwned(partition) || this.deps.coordinatorEpoch(partition) !== coordinatorEpoch) return ErrorCode.NOT_COORDINATOR;
    // `m` is not (or no longer) what this broker serves for the id: the partition was loaded
    // again since `m` was read. Kafka answers NOT_COORDINATOR for an id gone from its cache.
    if (this.txns.get(m.transactionalId) !== m) return ErrorCode.NOT_COORDINATOR;
    m.pendingState = next.state;
    let error: unknown = null;
    try {
      await this.log.append(partition, [txnRecord(next)]);
    } catch (e) {
      error = e ?? new Error('append failed');
    }
    m.pendingState = null;
    // The partition was unloaded or loaded again while the append waited (Kafka's append
    // callback compares the coordinator epoch): `m` is no longer what this broker serves, and
    // the record, if it stays in the log, is what the current load or the next leader reads.
    if (this.generations.get(partition) !== generation) {
      this.logger.info('The transaction state partition moved during a state write; answering NOT_COORDINATOR', { transactionalId: m.transactionalId, partition });
      return ErrorCode.NOT_COORDINATOR;
    }
    if (error !== null) {
      const code = appendErrorCode(error);
      this.logger.warn('Writing transaction state failed', { transactionalId: m.transactionalId, errorCode: code, error });
      return code;
    }
    // The id may have been removed (expiry) meanwhile; apply to the live object.
    Object.assign(m, next, { pendingState: null, coordinatorEpoch });
    if (!this.txns.has(m.transactionalId)) this.txns.set(m.transactionalId, m);
    return ErrorCode.NONE;
  }

  copy(m: TxnMetadata, changes: Partial<TxnMetadata>): TxnMetadata {
    return { ...m, partitions: copyPartitions(m.partitions), pendingState: null, ...changes, txnLastUpdateTimestampMs: changes.txnLastUpdateTimestampMs ?? this.now() };
  }

  /**
   * Removes transactional ids unused for transactional.id.expiration.ms that are not in a
   * transaction (Empty or Complete*), with a tombstone (Kafka's removeExpiredTransactionalIds).
   */
  async removeExpiredTransactionalIds(): Promise<number> {
    if (!this.active) return 0;
    const now = this.now();
    let removed = 0;
    for (const m of [...this.txns.values()]) {
      if (m.pendingState !== null) continue;
      if (m.state !== TxnState.Empty && m.state !== TxnState.CompleteCommit && m.state !== TxnState.CompleteAbort) continue;
      if (m.txnLastUpdateTimestampMs + this.deps.idExpirationMs > now) continue;
      const partition = this.partitionFor(m.transactionalId);
      if (!this.partitions.isOwned(partition)) continue;
      m.pendingState = TxnState.Dead;
      try {
        await this.log.append(partition, [tombstone(m.transactionalId)]);
        m.state = TxnState.Dead;
        if (this.txns.get(m.transactionalId) === m) this.txns.delete(m.transactionalId);
        removed += 1;
      } catch (error) {
        this.logger.warn('Writing a transactional id tombstone failed', { transactionalId: m.transactionalId, error });
      } finally {
        m.pendingState = null;
      }
    }
    if (removed > 0) this.logger.info('Expired transactional ids', { count: removed });
    return removed;
  }
}

/** Kafka's TransactionStateManager append-error mapping. */
function appendErrorCode(error: unknown): number {
  const code = (error as { errorCode?: unknown } | null)?.errorCode;
  switch (code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    default:
      // An I/O failure without a Kafka code: the client looks for the coordinator again.
      return typeof code === 'number' ? code : ErrorCode.NOT_COORDINATOR;
  }
}

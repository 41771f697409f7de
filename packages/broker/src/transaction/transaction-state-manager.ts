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

  async loadPartition(partition: number): Promise<void> {
    const epoch = this.deps.coordinatorEpoch(partition);
    const loaded = new Map<string, TxnMetadata | null>();
    // A log that cannot be read (its directory failed) leaves the partition not ours to serve.
    let count = 0;
    const { skipped } = await this.partitions.load(partition, async () => {
      const summary = await replayCoordinatorPartition(this.log, partition, { topic: '__transaction_state', logger: this.logger }, (key, value) => {
        const r = decodeTxnRecord(key, value, epoch);
        loaded.set(r.transactionalId, r.metadata);
      });
      for (const [id, m] of loaded) {
        if (m === null) continue;
        this.txns.set(id, m);
        count += 1;
      }
      return summary;
    });
    if (count > 0 || skipped > 0) this.logger.info('Loaded transaction metadata', { partition, transactionalIds: count, skipped });
    // Transactions that were ending when the broker stopped: finish them now.
    for (const m of this.txns.values()) {
      if (this.partitionFor(m.transactionalId) !== partition) continue;
      if (m.state === TxnState.PrepareCommit || m.state === TxnState.PrepareAbort) this.deps.onPrepared(m);
    }
  }

  /**
   * Stops coordinating one partition (its leadership moved): its ids are dropped from memory
   * and their requests answered NOT_COORDINATOR; the new leader loads them from the log.
   * Completions in flight stop at their next write, which the log refuses.
   */
  unloadPartition(partition: number): void {
    this.partitions.set(partition, null);
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

  isOwned(partition: number): boolean {
    return this.partitions.isOwned(partition);
  }

  /** Adds an id InitProducerId created (its first state change writes it). */
  add(m: TxnMetadata): void {
    this.txns.set(m.transactionalId, m);
  }

  /** NONE, or why this broker cannot answer for the id now. */
  coordinatorStatus(transactionalId: string): number {
    return this.partitions.errorFor(this.partitionFor(transactionalId), this.active);
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
    m.pendingState = next.state;
    const partition = this.partitionFor(m.transactionalId);
    const coordinatorEpoch = this.deps.coordinatorEpoch(partition);
    try {
      await this.log.append(partition, [txnRecord(next)]);
    } catch (error) {
      m.pendingState = null;
      const code = appendErrorCode(error);
      this.logger.warn('Writing transaction state failed', { transactionalId: m.transactionalId, errorCode: code, error });
      return code;
    }
    // The id may have been removed (expiry) or replaced meanwhile; apply to the live object.
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

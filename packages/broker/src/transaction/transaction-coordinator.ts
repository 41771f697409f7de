/**
 * The transaction coordinator (Kafka's TransactionCoordinator): the transaction APIs' state
 * machine over the state kept by transaction-state-manager.ts, which writes every change to
 * `__transaction_state` before it is applied. While a change is being written the id has a
 * pending state, and any other request for it is answered CONCURRENT_TRANSACTIONS
 * (retriable), as in Kafka.
 *
 * Start-up replays the partitions this broker leads (the last record per id wins; a tombstone
 * removes it). Transactions found in PrepareCommit/PrepareAbort get their markers written and
 * are completed; Ongoing ones run on and are aborted when they time out.
 *
 * Ending a transaction: EndTxn writes Prepare{Commit,Abort} and answers; then the markers are
 * written (marker-writer.ts) and Complete{Commit,Abort} is written. A transaction older than
 * its timeout is aborted by the coordinator with the producer epoch bumped, so the producer
 * that let it expire is fenced (Kafka's abortTimedOutTransactions). Transactional ids unused for
 * `transactional.id.expiration.ms` (and not in a transaction) are removed with a tombstone.
 *
 * Transactions v2 (KIP-890): an EndTxn marked `transactionVersion2` bumps the producer epoch
 * with the Prepare state and answers the new epoch; markers carry the new epoch.
 */
import { ErrorCode } from '@tributary/protocol';
import type { Logger } from '../logger.js';
import type { CoordinatorLog } from '../group/coordinator-log.js';
import { TransactionStateManager } from './transaction-state-manager.js';
import type { TxnMarkerWriter } from './marker-writer.js';
import {
  hasPartition,
  isEpochExhausted,
  newTxnMetadata,
  NO_PRODUCER_EPOCH,
  partitionList,
  TxnState,
  type TopicPartitionRef,
  type TxnMetadata,
} from './transaction-metadata.js';

export interface TxnCoordinatorConfig {
  /** transaction.state.log.num.partitions */
  readonly numPartitions: number;
  /** transaction.max.timeout.ms */
  readonly maxTimeoutMs: number;
  /** transactional.id.expiration.ms */
  readonly idExpirationMs: number;
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms */
  readonly abortTimedOutIntervalMs: number;
  /** transaction.remove.expired.transaction.cleanup.interval.ms */
  readonly removeExpiredIntervalMs: number;
}

export interface TxnCoordinatorDeps {
  readonly config: TxnCoordinatorConfig;
  /** `__transaction_state`, through the replica manager. */
  readonly log: CoordinatorLog;
  readonly markers: TxnMarkerWriter;
  readonly nextProducerId: () => Promise<number>;
  /** Partitions of `__transaction_state` this broker leads ([] while the topic does not exist). */
  readonly ownedPartitions: () => number[];
  /** Whether `__transaction_state` exists, and creating it (Kafka creates it on first use). */
  readonly topicExists: () => boolean;
  readonly createTopic: () => Promise<void>;
  /** The leader epoch of a `__transaction_state` partition: Kafka's coordinator epoch. */
  readonly coordinatorEpoch: (partition: number) => number;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface InitProducerIdResult {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

export interface EndTxnResult {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

/**
 * Retry delay for a marker that could not be written (storage error, leader moving): Kafka's
 * marker channel retries until the partition is gone; a short fixed delay keeps the
 * transaction's end close behind a recovering partition without spinning.
 */
const MARKER_RETRY_DELAY_MS = 100;

export class TransactionCoordinator {
  private readonly config: TxnCoordinatorConfig;
  private readonly markers: TxnMarkerWriter;
  private readonly deps: TxnCoordinatorDeps;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly state: TransactionStateManager;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Marker writes and completions in flight (awaited by shutdown and tests). */
  private readonly completions = new Set<Promise<void>>();
  private closed = false;

  constructor(deps: TxnCoordinatorDeps) {
    this.deps = deps;
    this.config = deps.config;
    this.markers = deps.markers;
    this.logger = deps.logger;
    this.now = deps.now ?? Date.now;
    this.state = new TransactionStateManager({
      numPartitions: deps.config.numPartitions,
      idExpirationMs: deps.config.idExpirationMs,
      log: deps.log,
      ownedPartitions: deps.ownedPartitions,
      coordinatorEpoch: deps.coordinatorEpoch,
      topicExists: deps.topicExists,
      createTopic: deps.createTopic,
      onPrepared: (m) => this.track(this.completeTransaction(m)),
      logger: deps.logger,
      now: this.now,
    });
  }

  // ------------------------------------------------------------------ lifecycle

  partitionFor(transactionalId: string): number {
    return this.state.partitionFor(transactionalId);
  }

  /** Loads `__transaction_state` (if it exists) and starts the timeout and expiry timers. */
  async startup(): Promise<void> {
    await this.state.startup();
    this.timers.push(setInterval(() => this.abortTimedOutTransactions(), this.config.abortTimedOutIntervalMs).unref());
    this.timers.push(setInterval(() => void this.removeExpiredTransactionalIds(), this.config.removeExpiredIntervalMs).unref());
  }

  loadPartition(partition: number): Promise<void> {
    return this.state.loadPartition(partition);
  }

  unloadPartition(partition: number): void {
    this.state.unloadPartition(partition);
  }

  ensureTopic(): Promise<void> {
    return this.state.ensureTopic();
  }

  /** Loaded or loading (follow-leadership.ts). */
  hasPartition(partition: number): boolean {
    return this.state.hasPartition(partition);
  }

  loadedPartitions(): number[] {
    return this.state.loadedPartitions();
  }

  shutdown(): void {
    this.closed = true;
    this.state.active = false;
    for (const t of this.timers) clearInterval(t);
  }

  /** Resolves when every marker write and completion started so far has finished. */
  async idle(): Promise<void> {
    while (this.completions.size > 0) await Promise.all([...this.completions]);
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((error: unknown) => this.logger.error('Completing a transaction failed', { error })).finally(() => this.completions.delete(tracked));
    this.completions.add(tracked);
  }

  coordinatorStatus(transactionalId: string): number {
    return this.state.coordinatorStatus(transactionalId);
  }

  get(transactionalId: string): TxnMetadata | undefined {
    return this.state.get(transactionalId);
  }

  all(): IterableIterator<TxnMetadata> {
    return this.state.all();
  }

  // ------------------------------------------------------------------ InitProducerId

  /**
   * InitProducerId with a transactional id (Kafka's handleInitProducerId). `expected` is the
   * producer id and epoch a v3+ client passes to recover (KIP-360), or null.
   */
  async initProducerId(transactionalId: string, txnTimeoutMs: number, expected: { producerId: number; producerEpoch: number } | null): Promise<InitProducerIdResult> {
    const fail = (errorCode: number): InitProducerIdResult => ({ errorCode, producerId: -1, producerEpoch: -1 });
    if (transactionalId === '') return fail(ErrorCode.INVALID_REQUEST);
    if (txnTimeoutMs <= 0 || txnTimeoutMs > this.config.maxTimeoutMs) return fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const status = this.coordinatorStatus(transactionalId);
    if (status !== ErrorCode.NONE) return fail(status);
    let m = this.state.get(transactionalId);
    if (m === undefined) {
      const producerId = await this.deps.nextProducerId();
      // Another request may have created it while the id was being allocated.
      m = this.state.get(transactionalId);
      if (m === undefined) {
        m = newTxnMetadata(transactionalId, producerId, txnTimeoutMs, this.state.now(), this.state.coordinatorEpoch(this.state.partitionFor(transactionalId)));
        this.state.add(m);
      }
    }
    if (m.pendingState !== null) return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
    if (expected !== null && !isValidProducerId(m, expected)) return fail(ErrorCode.PRODUCER_FENCED);
    switch (m.state) {
      case TxnState.PrepareAbort:
      case TxnState.PrepareCommit:
      case TxnState.PrepareEpochFence:
        // The transaction is ending; the client retries once it has.
        return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
      case TxnState.Ongoing: {
        // A new instance of the producer: fence the old one by aborting its transaction with
        // a bumped epoch, and let the new one retry (Kafka answers CONCURRENT_TRANSACTIONS).
        const error = await this.fenceAndAbort(m);
        return fail(error === ErrorCode.NONE ? ErrorCode.CONCURRENT_TRANSACTIONS : error);
      }
      case TxnState.Dead:
        return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
      default:
        break;
    }
    // Empty, CompleteCommit, CompleteAbort: bump the epoch, or rotate to a new producer id
    // once the epoch is exhausted (Kafka's prepareIncrementProducerEpoch and
    // prepareProducerIdRotation).
    let next: TxnMetadata;
    if (isEpochExhausted(m.producerEpoch) && (expected === null || expected.producerEpoch === m.producerEpoch)) {
      const producerId = await this.deps.nextProducerId();
      next = this.state.copy(m, { lastProducerId: m.producerId, producerId, lastProducerEpoch: expected !== null ? m.producerEpoch : NO_PRODUCER_EPOCH, producerEpoch: 0 });
    } else if (expected === null) {
      next = this.state.copy(m, { lastProducerEpoch: NO_PRODUCER_EPOCH, producerEpoch: m.producerEpoch + 1 });
    } else if (m.producerEpoch === NO_PRODUCER_EPOCH || expected.producerEpoch === m.producerEpoch) {
      next = this.state.copy(m, { lastProducerEpoch: m.producerEpoch, producerEpoch: m.producerEpoch + 1 });
    } else if (expected.producerEpoch === m.lastProducerEpoch) {
      // A retry of the bump whose answer was lost: the same answer again, no new bump.
      return { errorCode: ErrorCode.NONE, producerId: m.producerId, producerEpoch: m.producerEpoch };
    } else {
      return fail(ErrorCode.PRODUCER_FENCED);
    }
    Object.assign(next, { state: TxnState.Empty, txnTimeoutMs, partitions: new Map(), txnStartTimestampMs: -1, transactionVersion2: false });
    const error = await this.state.write(m, next);
    if (error !== ErrorCode.NONE) return fail(error);
    return { errorCode: ErrorCode.NONE, producerId: m.producerId, producerEpoch: m.producerEpoch };
  }

  // ------------------------------------------------------------------ AddPartitionsToTxn

  /** The error every partition of the request gets, or null when the request may proceed. */
  private checkProducer(transactionalId: string, producerId: number, producerEpoch: number): { error: number } | { m: TxnMetadata } {
    if (transactionalId === '') return { error: ErrorCode.INVALID_REQUEST };
    const status = this.coordinatorStatus(transactionalId);
    if (status !== ErrorCode.NONE) return { error: status };
    const m = this.state.get(transactionalId);
    if (m === undefined || m.state === TxnState.Dead) return { error: ErrorCode.INVALID_PRODUCER_ID_MAPPING };
    if (m.producerId !== producerId) return { error: ErrorCode.INVALID_PRODUCER_ID_MAPPING };
    if (m.producerEpoch !== producerEpoch) return { error: ErrorCode.PRODUCER_FENCED };
    return { m };
  }

  /**
   * AddPartitionsToTxn / AddOffsetsToTxn (Kafka's handleAddPartitionsToTransaction).
   * `transactionVersion2`: the addition is a transactions-v2 one (a partition leader adding a
   * partition implicitly for Produce v12+ / TxnOffsetCommit v5+); a transaction it starts is
   * a v2 transaction, whose EndTxn bumps the epoch.
   */
  async addPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: readonly TopicPartitionRef[], transactionVersion2 = false): Promise<number> {
    const checked = this.checkProducer(transactionalId, producerId, producerEpoch);
    if ('error' in checked) return checked.error;
    const { m } = checked;
    if (m.pendingState !== null) return ErrorCode.CONCURRENT_TRANSACTIONS;
    if (m.state === TxnState.PrepareCommit || m.state === TxnState.PrepareAbort || m.state === TxnState.PrepareEpochFence) return ErrorCode.CONCURRENT_TRANSACTIONS;
    if (m.state === TxnState.Ongoing && partitions.every((p) => hasPartition(m, p.topic, p.partition))) return ErrorCode.NONE;
    const next = this.state.copy(m, {});
    if (m.state !== TxnState.Ongoing) {
      next.partitions = new Map();
      next.txnStartTimestampMs = this.state.now();
      next.transactionVersion2 = transactionVersion2;
    }
    next.state = TxnState.Ongoing;
    for (const p of partitions) {
      let set = next.partitions.get(p.topic);
      if (set === undefined) next.partitions.set(p.topic, (set = new Set()));
      set.add(p.partition);
    }
    return this.state.write(m, next);
  }

  /**
   * AddPartitionsToTxn v4+ with verify_only (KIP-890 part 1), asked by a partition leader
   * before it appends a transactional batch: NONE for partitions in the ongoing transaction of
   * this producer id and epoch, INVALID_TXN_STATE for the others; an error for them all when
   * the producer does not match.
   */
  verifyPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: readonly TopicPartitionRef[]): { error: number } | { perPartition: number[] } {
    const checked = this.checkProducer(transactionalId, producerId, producerEpoch);
    if ('error' in checked) return checked;
    const { m } = checked;
    const ongoing = m.state === TxnState.Ongoing;
    return { perPartition: partitions.map((p) => (ongoing && hasPartition(m, p.topic, p.partition) ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE)) };
  }

  // ------------------------------------------------------------------ EndTxn

  /**
   * EndTxn (Kafka's handleEndTransaction, from a client). `transactionVersion2`: EndTxn v5,
   * which bumps the epoch and answers it.
   */
  async endTransaction(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean, transactionVersion2: boolean): Promise<EndTxnResult> {
    const fail = (errorCode: number): EndTxnResult => ({ errorCode, producerId: -1, producerEpoch: -1 });
    if (transactionalId === '') return fail(ErrorCode.INVALID_REQUEST);
    const status = this.coordinatorStatus(transactionalId);
    if (status !== ErrorCode.NONE) return fail(status);
    const m = this.state.get(transactionalId);
    if (m === undefined || m.state === TxnState.Dead) return fail(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    if (m.producerId !== producerId) return fail(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    const ok = (): EndTxnResult => ({ errorCode: ErrorCode.NONE, producerId: m.producerId, producerEpoch: m.producerEpoch });
    if (m.producerEpoch !== producerEpoch) {
      // v2: a retry of an EndTxn whose answer was lost finds the epoch already bumped by it.
      const retried = transactionVersion2 && producerEpoch === m.producerEpoch - 1 && m.transactionVersion2;
      if (retried && ((commit && (m.state === TxnState.CompleteCommit || m.state === TxnState.PrepareCommit)) || (!commit && (m.state === TxnState.CompleteAbort || m.state === TxnState.PrepareAbort)))) return ok();
      return fail(ErrorCode.PRODUCER_FENCED);
    }
    if (m.pendingState !== null) return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
    switch (m.state) {
      case TxnState.Ongoing:
        break;
      case TxnState.CompleteCommit:
      case TxnState.CompleteAbort:
        // v2: the epoch was bumped by the last EndTxn, so one with the current epoch is a new
        // request, not a retry; an abort of nothing is allowed (KIP-890), a commit is not.
        if (transactionVersion2) {
          if (commit) return fail(ErrorCode.INVALID_TXN_STATE);
          break;
        }
        // v1: a retry of the EndTxn that completed it gets NONE, the other result is invalid.
        return commit === (m.state === TxnState.CompleteCommit) ? ok() : fail(ErrorCode.INVALID_TXN_STATE);
      case TxnState.PrepareCommit:
        return fail(commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE);
      case TxnState.PrepareAbort:
        return fail(commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS);
      case TxnState.Empty:
        // KIP-890: a v2 producer may abort a transaction that added nothing (it cannot know
        // whether its implicit additions were made); it still gets its epoch bump.
        if (!(transactionVersion2 && !commit)) return fail(ErrorCode.INVALID_TXN_STATE);
        break;
      default:
        return fail(ErrorCode.INVALID_TXN_STATE);
    }
    const error = await this.prepareEnd(m, commit, transactionVersion2);
    if (error !== ErrorCode.NONE) return fail(error);
    return ok();
  }

  /** Writes Prepare{Commit,Abort} (epoch bumped for v2) and starts the markers. */
  private async prepareEnd(m: TxnMetadata, commit: boolean, transactionVersion2: boolean): Promise<number> {
    const bump = transactionVersion2 && !isEpochExhausted(m.producerEpoch);
    const next = this.state.copy(m, { state: commit ? TxnState.PrepareCommit : TxnState.PrepareAbort, transactionVersion2 });
    if (bump) Object.assign(next, { lastProducerEpoch: m.producerEpoch, producerEpoch: m.producerEpoch + 1 });
    const error = await this.state.write(m, next);
    if (error === ErrorCode.NONE) this.track(this.completeTransaction(m));
    return error;
  }

  /**
   * Aborts an ongoing transaction on the coordinator's own account (timeout, or a new
   * producer instance): the epoch is bumped first so the producer that owned it is fenced
   * (Kafka's prepareFenceProducerEpoch + endTransaction(isFromClient = false)).
   */
  private async fenceAndAbort(m: TxnMetadata): Promise<number> {
    if (m.pendingState !== null || m.state !== TxnState.Ongoing) return ErrorCode.CONCURRENT_TRANSACTIONS;
    const next = this.state.copy(m, { state: TxnState.PrepareAbort });
    // An exhausted epoch cannot be bumped; the abort then happens under the current one and
    // the producer's next InitProducerId gets a new producer id.
    // Kafka's prepareFenceProducerEpoch forgets the previous epoch: the fenced producer cannot
    // pass for a retry of an InitProducerId with it (KIP-360) and must start over.
    if (!isEpochExhausted(m.producerEpoch)) Object.assign(next, { lastProducerEpoch: NO_PRODUCER_EPOCH, producerEpoch: m.producerEpoch + 1 });
    const error = await this.state.write(m, next);
    if (error === ErrorCode.NONE) this.track(this.completeTransaction(m));
    return error;
  }

  /**
   * Markers to every partition of a Prepare* transaction, then Complete*. Per partition, as
   * Kafka's TransactionMarkerRequestCompletionHandler: NONE, or a topic deleted meanwhile
   * (UNKNOWN_TOPIC_OR_PARTITION with no leader in the metadata: marker-channel.ts) or a format
   * that cannot hold markers, is done; INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED
   * means a newer producer epoch or coordinator owns the partition, so sending stops; anything
   * else (not leader, leader moving, timeout, storage) is retried, against the leader the
   * metadata names at the time. Sending also stops when this broker stops coordinating the id
   * (its `__transaction_state` partition moved): the new coordinator loads the Prepare* state
   * and sends the markers itself.
   */
  private async completeTransaction(m: TxnMetadata): Promise<void> {
    const commit = m.state === TxnState.PrepareCommit;
    const producerId = m.producerId;
    const producerEpoch = m.producerEpoch;
    const txnPartition = this.state.partitionFor(m.transactionalId);
    const stillCoordinating = () => !this.closed && this.state.isOwned(txnPartition) && this.state.get(m.transactionalId) === m;
    let remaining = partitionList(m);
    while (remaining.length > 0) {
      if (!stillCoordinating()) {
        this.logger.info('No longer the coordinator of a transaction; its markers are left to the new one', { transactionalId: m.transactionalId });
        return;
      }
      const results = await this.markers.write({ producerId, producerEpoch, coordinatorEpoch: m.coordinatorEpoch, commit, partitions: remaining });
      const failed: TopicPartitionRef[] = [];
      for (let i = 0; i < results.length; i++) {
        const code = results[i]!;
        if (code === ErrorCode.NONE || code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION || code === ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT || code === ErrorCode.UNSUPPORTED_VERSION) continue;
        if (code === ErrorCode.INVALID_PRODUCER_EPOCH || code === ErrorCode.TRANSACTION_COORDINATOR_FENCED) {
          this.logger.warn('A partition leader fenced the transaction markers; cancelling them', { transactionalId: m.transactionalId, errorCode: code, topic: remaining[i]!.topic, partition: remaining[i]!.partition });
          return;
        }
        failed.push(remaining[i]!);
      }
      if (failed.length > 0) {
        this.logger.debug('Writing transaction markers failed; retrying', { transactionalId: m.transactionalId, partitions: failed.length });
        await new Promise((resolve) => setTimeout(resolve, MARKER_RETRY_DELAY_MS));
      }
      remaining = failed;
    }
    // Kafka keeps the partitions out of the Complete record.
    for (;;) {
      if (!stillCoordinating()) return;
      if (m.state !== (commit ? TxnState.PrepareCommit : TxnState.PrepareAbort) || m.producerEpoch !== producerEpoch) return;
      if (m.pendingState === null) break;
      await new Promise((resolve) => setTimeout(resolve, MARKER_RETRY_DELAY_MS));
    }
    const next = this.state.copy(m, { state: commit ? TxnState.CompleteCommit : TxnState.CompleteAbort, partitions: new Map() });
    // A coordinator that lost the partition stops here: the new one loads Prepare* and ends it.
    while (stillCoordinating()) {
      const error = await this.state.write(m, next);
      if (error === ErrorCode.NONE) return;
      // Until Complete* is written the id answers CONCURRENT_TRANSACTIONS; keep trying.
      await new Promise((resolve) => setTimeout(resolve, MARKER_RETRY_DELAY_MS));
    }
  }

  // ------------------------------------------------------------------ background

  /** Aborts every ongoing transaction older than its timeout; returns how many it started. */
  abortTimedOutTransactions(): number {
    if (!this.state.active) return 0;
    const now = this.state.now();
    let started = 0;
    for (const m of this.state.all()) {
      if (m.state !== TxnState.Ongoing || m.pendingState !== null) continue;
      if (!this.state.isOwned(this.state.partitionFor(m.transactionalId))) continue;
      if (m.txnStartTimestampMs + m.txnTimeoutMs > now) continue;
      this.logger.info('Aborting a transaction that timed out', { transactionalId: m.transactionalId, producerId: m.producerId, producerEpoch: m.producerEpoch, timeoutMs: m.txnTimeoutMs });
      started += 1;
      this.track(
        this.fenceAndAbort(m).then((error) => {
          if (error !== ErrorCode.NONE) this.logger.warn('Aborting a timed-out transaction failed; will retry', { transactionalId: m.transactionalId, errorCode: error });
        }),
      );
    }
    return started;
  }

  removeExpiredTransactionalIds(): Promise<number> {
    return this.state.removeExpiredTransactionalIds();
  }
}

/**
 * Kafka's isValidProducerId for KIP-360 recovery: fence unless the metadata was just created
 * (no epoch yet), the expected producer id is the current one (its epoch is checked by the
 * bump), or it is the previous one with an exhausted epoch (a retry after a new id was given).
 */
function isValidProducerId(m: TxnMetadata, expected: { producerId: number; producerEpoch: number }): boolean {
  return m.producerEpoch === NO_PRODUCER_EPOCH || expected.producerId === m.producerId || (expected.producerId === m.lastProducerId && isEpochExhausted(expected.producerEpoch));
}

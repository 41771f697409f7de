/**
 * One partition replica on this broker: Kafka's Partition (core/.../cluster/Partition.scala).
 * It owns the log, the leader epoch and role (leader or follower, as the metadata says), the
 * ISR, the high watermark's advance, the append queue, the idempotent-producer checks (state in the storage log), the
 * fetches waiting for data and the acks=all produces waiting for the ISR.
 *
 * Leader:
 * - appends from producers (origin client: Kafka's LogValidator checks) and from the group
 *   coordinator (origin coordinator: the batch is the broker's own, so only its integrity
 *   and size are checked, as Kafka's AppendOrigin.COORDINATOR skips the producer checks);
 * - keeps each follower's fetch state (log end offset, last caught-up time) from its
 *   Fetch requests; the high watermark is the smallest log end offset over the ISR and never
 *   moves back (Kafka's maybeIncrementLeaderHW);
 * - expands the ISR when a follower's fetch offset reaches the high watermark and the start
 *   of the current leader epoch, and shrinks it (ReplicaManager's periodic check) when a
 *   follower has not caught up for replica.lag.time.max.ms. The new ISR is written with
 *   MetadataStore.updatePartition (compare-and-swap on the partition epoch, like Kafka's
 *   AlterPartition); on a stale epoch the change is dropped and the next check retries
 *   against the state the metadata now holds.
 * - acks=all: the answer waits until the high watermark passes the batch (Kafka's
 *   DelayedProduce), or the request's timeout (REQUEST_TIMED_OUT). min.insync.replicas is
 *   checked before the append (NOT_ENOUGH_REPLICAS) and again when the high watermark passes
 *   the batch (NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below it meanwhile).
 *
 * Follower: the log receives the leader's batches with their offsets (appendAsFollower)
 * and its high watermark is min(leader's high watermark, own log end offset).
 *
 * Ordering: a Produce request may wait for validation (decompression runs off-thread),
 * and requests on one connection are processed concurrently, so each partition has an
 * append queue. A request takes its place in the queue synchronously, in arrival order,
 * before its first await; the append itself then happens in that order whatever order
 * validations finish in.
 */
import {
  BatchLayout,
  ErrorCode,
  assertAtMost,
  batchCrcMatches,
  batchFrameSize,
  setMaxTimestamp,
  validateBatchSync,
  type BatchValidation,
  type BatchValidationOptions,
} from '@tributary/protocol';
import { LogManager, RecentAppends, StorageError, StorageErrorCode, systemClock, type Clock, type Log, type AppendResult, type RecentAppendsBudget } from '@tributary/storage';
import type { Logger } from '../logger.js';
import { MetadataError, type MetadataStore, type PartitionState, type TopicMetadata } from '../metadata/metadata-store.js';
import { recordLeaderEpochStart, truncateOnBecomingFollower } from './follower-truncation.js';
import { isIsrEligible } from './isr-eligibility.js';
import { needsRecompression, targetCompressionOf, timestampLimits, validateForAppend } from './log-validator.js';

/** The outcome of appending one partition's records, as the Produce response reports it. */
export interface PartitionAppendResult {
  errorCode: number;
  errorMessage: string | null;
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
  recordErrors: { batchIndex: number; batchIndexErrorMessage: string | null }[];
}

export interface AppendRequest {
  readonly topic: string;
  readonly partition: number;
  readonly records: Buffer | null;
  readonly acks: number;
  readonly produceVersion: number;
  readonly nowMs: number;
  /** How long an acks=all answer may wait for the ISR (Produce timeout_ms); unbounded when absent. */
  readonly timeoutMs?: number;
  /**
   * Set by appendRecordsToLeader when it returns a wait (for the ISR, or an fdatasync) for a
   * batch it has already validated and written: that wait never reads `records` again, so
   * the request's frame may go back to the pool (replica/written-appends.ts).
   */
  written?: boolean;
}

export interface PartitionDeps {
  readonly nodeId: number;
  readonly metadata: MetadataStore;
  readonly logManager: LogManager;
  readonly logger: Logger;
  /** Wall-clock time for the follower lag bookkeeping; the system clock unless a simulation injects its own (test/sim). */
  readonly clock?: Clock;
  /**
   * The leader epoch this broker's previous incarnation may have led in (the state found at
   * start named it leader): this replica does not lead in it or below, as Kafka's restarted
   * broker stays fenced until the controller has elected again with a new epoch
   * (controller/partition-change.ts fenceIncarnation). Undefined: no such epoch.
   */
  readonly previousIncarnationEpoch?: number;
  /**
   * The broker-wide bound on what leaders keep of their latest appends for their followers
   * (storage recent-appends.ts); without it follower fetches are read from the files.
   */
  readonly recentAppendsBudget?: RecentAppendsBudget;
}

/**
 * What one leader keeps of its latest appends for its followers: Kafka's follower fetches
 * up to replica.fetch.max.bytes (1 MiB) per partition, so a follower less than one fetch
 * behind the log end (the steady state of an in-sync follower) is served from memory.
 */
export const RECENT_APPENDS_PARTITION_BYTES = 1024 * 1024;

/**
 * Refusals Kafka reports without a message or log start offset: its "unknown append info"
 * (ReplicaManager.appendToLocalLog), and zstd below Produce v7, which Kafka refuses in
 * KafkaApis before the replica manager (ProduceRequest.validateRecords).
 */
const UNKNOWN_APPEND_INFO_ERRORS = new Set<number>([ErrorCode.CORRUPT_MESSAGE, ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.RECORD_LIST_TOO_LARGE, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE]);

const TIMESTAMP_TYPE_CODE = { CreateTime: 0, LogAppendTime: 1 } as const;

/** What the leader knows of one follower, from its Fetch requests (Kafka's Replica). */
export interface FollowerState {
  /** The follower's log end offset: its last fetch offset; -1 until it has fetched in this leader epoch. */
  logEndOffset: number;
  /** When the follower last was caught up to the leader's log end offset (ms). */
  lastCaughtUpTimeMs: number;
  lastFetchTimeMs: number;
  /** The leader's log end offset at the follower's previous fetch. */
  lastFetchLeaderLogEndOffset: number;
}

/** An acks=all produce waiting for the high watermark to pass `requiredOffset` (Kafka's DelayedProduce). */
interface DelayedProduce {
  readonly requiredOffset: number;
  /** performance.now() ms at which it answers REQUEST_TIMED_OUT; Infinity without a timeout. */
  readonly deadlineMs: number;
  readonly complete: (errorCode: number) => void;
}

export type PartitionRole = 'leader' | 'follower' | 'none';

export class Partition {
  readonly topic: string;
  readonly partition: number;
  readonly log: Log;
  private readonly deps: PartitionDeps;
  private topicMeta: TopicMetadata;
  private partitionState: PartitionState;
  private currentRole: PartitionRole = 'none';
  /** The log end offset when this broker became leader in the current epoch (Kafka's leaderEpochStartOffsetOpt). */
  private leaderEpochStartOffset = 0;
  /** The tail of the append queue; undefined while no append waits. */
  private appendTail: Promise<void> | undefined;
  /** Fetches waiting for data on this partition, woken by appends and high watermark moves (consumers). */
  private readonly waiters = new Set<() => void>();
  /**
   * Follower fetches waiting here: they read up to the log end offset, so a high watermark
   * move gives them nothing to read (Kafka's DelayedFetch for a follower counts bytes up to
   * the log end only). Woken by appends and role changes, not by the high watermark: each
   * such wake was a re-read of every partition of the fetch and a new wait, several times
   * per acks=all produce.
   */
  private readonly logEndWaiters = new Set<() => void>();
  private readonly followers = new Map<number, FollowerState>();
  private delayedProduces: DelayedProduce[] = [];
  /**
   * One timer per partition for the delayed produces' timeouts (Kafka's purgatory has one
   * timing wheel), armed for the earliest deadline, rather than a setTimeout and a
   * clearTimeout per produce per partition on the acks=all path. While no produce waits it
   * stays armed but unref'd (it keeps no process alive, and firing finds nothing to do).
   */
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryAtMs = Infinity;
  /** An ISR change written to the metadata and not yet answered (Kafka's pending AlterPartition). */
  private isrChangeInFlight = false;
  /**
   * Replicas this leader has asked to add to the ISR and not yet seen in a partition state
   * (Kafka's PendingExpandIsr). They count towards the high watermark at once, as in Kafka's
   * maximalIsr: the store may have committed the expansion before this broker hears of it,
   * and the controller may then elect the new member, which must hold everything committed.
   */
  private pendingIsrAdditions: number[] = [];
  /**
   * The last append to this log found the disk full (ENOSPC) and no append has succeeded
   * since. While it holds, a produced batch that fails the idempotence checks is answered
   * KAFKA_STORAGE_ERROR, as Kafka answers every append to a log whose directory failed: see
   * appendValidated.
   */
  private appendFoundDiskFull = false;
  private closed = false;

  constructor(deps: PartitionDeps, log: Log, topic: TopicMetadata, state: PartitionState) {
    this.deps = deps;
    this.log = log;
    this.topic = log.topic;
    this.partition = log.partition;
    this.topicMeta = topic;
    this.partitionState = state;
  }

  get state(): PartitionState {
    return this.partitionState;
  }

  /** PartitionDeps.previousIncarnationEpoch: this replica does not lead in it or below. */
  get previousIncarnationEpoch(): number | undefined {
    return this.deps.previousIncarnationEpoch;
  }

  /** The state names this broker leader in an epoch its previous incarnation may have led in: not led. */
  get awaitingNewLeaderEpoch(): boolean {
    const fenced = this.deps.previousIncarnationEpoch;
    return fenced !== undefined && this.partitionState.leader === this.deps.nodeId && this.partitionState.leaderEpoch <= fenced;
  }

  get topicMetadata(): TopicMetadata {
    return this.topicMeta;
  }

  get role(): PartitionRole {
    return this.currentRole;
  }

  get isLeader(): boolean {
    return this.currentRole === 'leader';
  }

  get leaderEpoch(): number {
    return this.partitionState.leaderEpoch;
  }

  get isr(): readonly number[] {
    return this.partitionState.isr;
  }

  /** The leader's view of a follower (tests and the ISR check). */
  followerState(replicaId: number): Readonly<FollowerState> | undefined {
    return this.followers.get(replicaId);
  }

  private nowMs(): number {
    return (this.deps.clock ?? systemClock).now();
  }

  // ------------------------------------------------------------------ roles

  /**
   * Applies the partition's state from the metadata. Returns the role change, if any, for
   * the replica manager to start or stop fetching.
   */
  update(topic: TopicMetadata, state: PartitionState): { from: PartitionRole; to: PartitionRole; epochChanged: boolean } {
    const before = this.partitionState;
    const from = this.currentRole;
    this.topicMeta = topic;
    this.partitionState = state;
    const self = this.deps.nodeId;
    const fenced = state.leader === self && this.deps.previousIncarnationEpoch !== undefined && state.leaderEpoch <= this.deps.previousIncarnationEpoch;
    const to: PartitionRole = fenced ? 'none' : state.leader === self ? 'leader' : state.replicas.includes(self) && state.leader >= 0 ? 'follower' : 'none';
    const epochChanged = before.leaderEpoch !== state.leaderEpoch;
    // A newer state says what the ISR is: any pending expansion was committed or lost.
    if (state.partitionEpoch !== before.partitionEpoch) this.pendingIsrAdditions = [];
    if (to === 'leader' && (from !== 'leader' || epochChanged)) this.makeLeader();
    else if (to === 'follower' && (from !== 'follower' || epochChanged)) this.makeFollower();
    else if (to === 'none' && from !== 'none') this.stepDown();
    this.currentRole = to;
    this.keepRecentAppends();
    if (to === 'leader') {
      // The ISR or the replicas may have changed (our own write coming back, the controller's
      // reassignment): replicas added are tracked from their first fetch, removed ones dropped.
      for (const id of [...this.followers.keys()]) if (!state.replicas.includes(id)) this.followers.delete(id);
      for (const id of state.replicas) {
        if (id !== self && !this.followers.has(id)) this.followers.set(id, { logEndOffset: -1, lastCaughtUpTimeMs: state.isr.includes(id) ? this.nowMs() : 0, lastFetchTimeMs: 0, lastFetchLeaderLogEndOffset: -1 });
      }
      this.maybeIncrementHighWatermark();
      this.checkDelayedProduces();
    }
    return { from, to, epochChanged };
  }

  /**
   * Kafka's Partition.makeLeader: the followers' states start unknown (their log end offsets
   * are learnt from their next fetch), the ones in the ISR counted as caught up now so the
   * lag check does not drop them at once. A leader whose ISR is itself alone has committed
   * everything it holds, so its high watermark moves to its log end offset: at start-up the
   * checkpointed high watermark lags by up to replica.high.watermark.checkpoint.interval.ms,
   * and after a kill -9 acknowledged records past it would otherwise stay invisible.
   */
  private makeLeader(): void {
    const nowMs = this.nowMs();
    this.followers.clear();
    for (const id of this.partitionState.replicas) {
      if (id === this.deps.nodeId) continue;
      const inSync = this.partitionState.isr.includes(id);
      this.followers.set(id, { logEndOffset: -1, lastCaughtUpTimeMs: inSync ? nowMs : 0, lastFetchTimeMs: 0, lastFetchLeaderLogEndOffset: -1 });
    }
    this.leaderEpochStartOffset = this.log.logEndOffset;
    try {
      recordLeaderEpochStart(this.log, this.partitionState.leaderEpoch);
    } catch (err) {
      this.deps.logger.warn('Recording the leader epoch start failed', { topic: this.topic, partition: this.partition, err: err instanceof Error ? err.message : String(err) });
    }
    this.isrChangeInFlight = false;
  }

  /**
   * Kafka's Partition.makeFollower; the fetcher is started by the replica manager. The log
   * keeps its suffix when it has epochs (the leader's diverging_epoch answer decides what
   * goes, follower-truncation.ts); without any it truncates to its high watermark.
   */
  private makeFollower(): void {
    this.followers.clear();
    this.failDelayedProduces(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    try {
      truncateOnBecomingFollower(this.log);
    } catch (err) {
      // A failed truncation has taken the log directory offline (storage logged it); the
      // fetcher skips an offline log, so nothing is appended above a divergent suffix.
      this.deps.logger.warn('Truncation on becoming follower failed', { topic: this.topic, partition: this.partition, err: err instanceof Error ? err.message : String(err) });
    }
    this.wake();
  }

  private stepDown(): void {
    this.followers.clear();
    this.failDelayedProduces(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    this.wake();
  }

  // ------------------------------------------------------------------ high watermark

  /**
   * Kafka's maybeIncrementLeaderHW: the high watermark is the smallest log end offset over
   * the ISR (a follower not heard from in this epoch holds it where it is). It never moves
   * back. Returns true when it moved; waiting fetches and acks=all produces are then woken.
   */
  maybeIncrementHighWatermark(): boolean {
    if (this.currentRole !== 'leader' || this.log.isClosed) return false;
    let hw = this.log.logEndOffset;
    for (const id of this.maximalIsr()) {
      if (id === this.deps.nodeId) continue;
      const f = this.followers.get(id);
      hw = Math.min(hw, f === undefined || f.logEndOffset < 0 ? this.log.highWatermark : f.logEndOffset);
    }
    if (hw <= this.log.highWatermark) return false;
    advanceHighWatermark(this.log, hw);
    this.wakeSet(this.waiters);
    this.checkDelayedProduces();
    return true;
  }

  // ------------------------------------------------------------------ leader: followers

  /**
   * A follower's Fetch at `fetchOffset` (Kafka's updateFollowerFetchState): records its log
   * end offset and caught-up time, maybe adds it to the ISR, maybe advances the high
   * watermark. Fetches from brokers that are not replicas are not tracked.
   */
  updateFollowerFetchState(replicaId: number, fetchOffset: number, nowMs: number): void {
    if (this.currentRole !== 'leader') return;
    const f = this.followers.get(replicaId);
    if (f === undefined) return;
    const leaderEnd = this.log.logEndOffset;
    // Caught up now if at the leader's end; else caught up as of the previous fetch if this
    // fetch reaches what the leader's end was then (Kafka's Replica.updateFetchStateOrThrow).
    if (fetchOffset >= leaderEnd) f.lastCaughtUpTimeMs = Math.max(f.lastCaughtUpTimeMs, nowMs);
    else if (fetchOffset >= f.lastFetchLeaderLogEndOffset) f.lastCaughtUpTimeMs = Math.max(f.lastCaughtUpTimeMs, f.lastFetchTimeMs);
    const moved = f.logEndOffset !== fetchOffset;
    f.logEndOffset = fetchOffset;
    f.lastFetchLeaderLogEndOffset = leaderEnd;
    f.lastFetchTimeMs = nowMs;
    const expanding = this.maybeExpandIsr(replicaId, f);
    // The high watermark and the kept appends depend on the followers' log end offsets
    // only (every other input recomputes them itself: appends, ISR changes), so a fetch at
    // an unchanged offset (a caught-up follower's fetch of an idle partition, most of the
    // partitions of every follower fetch) leaves them as they are.
    if (!moved && !expanding) return;
    this.maybeIncrementHighWatermark();
    this.releaseFetchedAppends();
  }

  /**
   * A leader with followers keeps its latest appends in memory for their fetches (storage
   * recent-appends.ts); any other role reads from the files and frees what was kept.
   */
  private keepRecentAppends(): void {
    const budget = this.deps.recentAppendsBudget;
    const wanted = budget !== undefined && this.currentRole === 'leader' && !this.closed && this.partitionState.replicas.length > 1;
    const current = this.log.recentAppends;
    if (!wanted) this.log.keepRecentAppends(undefined);
    else if (current === undefined) this.log.keepRecentAppends(new RecentAppends(budget, RECENT_APPENDS_PARTITION_BYTES));
  }

  /** Drops the kept appends every ISR follower has fetched (a follower not heard from yet keeps them). */
  private releaseFetchedAppends(): void {
    const recent = this.log.recentAppends;
    if (recent === undefined || recent.sizeInBytes === 0) return;
    let fetched = Infinity;
    for (const id of this.partitionState.isr) {
      if (id === this.deps.nodeId) continue;
      const f = this.followers.get(id);
      if (f === undefined || f.logEndOffset < 0) return;
      if (f.logEndOffset < fetched) fetched = f.logEndOffset;
    }
    if (fetched !== Infinity) recent.releaseBelow(fetched);
  }

  /** Kafka's isFollowerInSync: at or past the high watermark and the current epoch's start. True when it asked to expand. */
  private maybeExpandIsr(replicaId: number, f: FollowerState): boolean {
    const state = this.partitionState;
    if (state.isr.includes(replicaId) || !state.replicas.includes(replicaId)) return false;
    if (f.logEndOffset < this.log.highWatermark || f.logEndOffset < this.leaderEpochStartOffset) return false;
    if (!isIsrEligible(this.deps.metadata, replicaId)) return false;
    if (this.isrChangeInFlight) return false;
    this.deps.logger.info('Expanding the ISR: a follower caught up', { topic: this.topic, partition: this.partition, replicaId, fetchOffset: f.logEndOffset });
    if (!this.pendingIsrAdditions.includes(replicaId)) this.pendingIsrAdditions.push(replicaId);
    this.alterIsr([...state.isr, replicaId], 'expand');
    return true;
  }

  /** The ISR for the high watermark: the current one and any expansion in flight (Kafka's maximalIsr). */
  private maximalIsr(): readonly number[] {
    const isr = this.partitionState.isr;
    if (this.pendingIsrAdditions.length === 0) return isr;
    return [...isr, ...this.pendingIsrAdditions.filter((id) => !isr.includes(id))];
  }

  /**
   * Kafka's maybeShrinkIsr: followers in the ISR that have not caught up to the leader's log
   * end offset within `lagTimeMs` leave it. The ISR never loses the leader itself.
   */
  maybeShrinkIsr(nowMs: number, lagTimeMs: number): void {
    if (this.currentRole !== 'leader') return;
    const state = this.partitionState;
    const outOfSync = state.isr.filter((id) => {
      if (id === this.deps.nodeId) return false;
      const f = this.followers.get(id);
      return f === undefined || nowMs - f.lastCaughtUpTimeMs > lagTimeMs;
    });
    if (outOfSync.length === 0) return;
    this.deps.logger.info('Shrinking the ISR: followers have not caught up', { topic: this.topic, partition: this.partition, outOfSync, lagTimeMs });
    this.alterIsr(state.isr.filter((id) => !outOfSync.includes(id)), 'shrink');
  }

  /**
   * Writes a new ISR (Kafka's AlterPartition, here a compare-and-swap in the metadata store).
   * One change at a time; on a stale partition epoch the change is dropped: the metadata
   * store has applied the newer state (update() saw it) and the next check decides again.
   */
  private alterIsr(isr: number[], why: 'expand' | 'shrink'): void {
    if (this.isrChangeInFlight || this.closed) return;
    this.isrChangeInFlight = true;
    const state = this.partitionState;
    this.deps.metadata.updatePartition({ topic: this.topic, partition: this.partition, expectedPartitionEpoch: state.partitionEpoch, isr }).then(
      () => {
        this.isrChangeInFlight = false;
      },
      (err: unknown) => {
        this.isrChangeInFlight = false;
        const stale = err instanceof MetadataError && err.code === 'TRIB_ERR_STALE_PARTITION_EPOCH';
        // Refused for certain: nothing was committed, so the expansion stops counting. (After a
        // timeout the outcome is unknown: it counts until a partition state says.)
        if (stale && why === 'expand') {
          this.pendingIsrAdditions = [];
          // A member fewer may let the high watermark move (a pending one that lagged held
          // it): recomputed now, as a fetch at an unchanged offset no longer does it.
          this.maybeIncrementHighWatermark();
        }
        if (stale) this.deps.logger.info('ISR change lost to a newer partition state; will decide again', { topic: this.topic, partition: this.partition, why });
        else this.deps.logger.warn('Writing the ISR failed', { topic: this.topic, partition: this.partition, why, err });
      },
    );
  }

  // ------------------------------------------------------------------ follower

  /**
   * Appends the leader's batches with their offsets, then takes the leader's high watermark
   * as far as this log reaches (Kafka's ReplicaFetcherThread.processPartitionData).
   */
  appendAsFollower(records: Buffer, leaderHighWatermark: number): AppendResult | undefined {
    let appended: AppendResult | undefined;
    const whole = verifiedBatches(records);
    if (typeof whole === 'string') {
      throw Object.assign(new Error(`Fetched data for ${this.log.topicPartition} refused: ${whole}`), { errorCode: ErrorCode.CORRUPT_MESSAGE });
    }
    if (whole > 0) appended = this.log.appendAsFollower(whole === records.length ? records : records.subarray(0, whole));
    this.updateFollowerHighWatermark(leaderHighWatermark);
    return appended;
  }

  updateFollowerHighWatermark(leaderHighWatermark: number): void {
    const hw = Math.min(leaderHighWatermark, this.log.logEndOffset);
    if (hw > this.log.highWatermark) {
      this.log.updateHighWatermark(hw);
      this.wake();
    }
  }

  // ------------------------------------------------------------------ appends

  /**
   * Appends one partition's produced records: the whole produce path for it. Never throws
   * for bad client data; I/O failures surface as KAFKA_STORAGE_ERROR.
   *
   * The common case answers synchronously: nothing is queued ahead and the batch is
   * uncompressed, so it is validated, appended and (unless acks=all waits for followers or
   * an fdatasync) answered in one go, without a promise.
   */
  appendRecordsToLeader(req: AppendRequest): PartitionAppendResult | Promise<PartitionAppendResult> {
    if (this.topicMeta.internal) return failure(ErrorCode.INVALID_TOPIC_EXCEPTION, `Cannot append to internal topic ${req.topic}`);
    const records = req.records;
    if (records === null || records.length === 0) return failure(ErrorCode.INVALID_RECORD, 'Produce request has no records for the partition');
    const log = this.log;
    const config = log.config;
    if (req.acks === -1 && this.partitionState.isr.length < config.minInsyncReplicas) {
      // Kafka refuses before appending (Partition.appendRecordsToLeader), so a retry
      // cannot duplicate the records; like Kafka, without an error message.
      return failure(ErrorCode.NOT_ENOUGH_REPLICAS, null, [], log.logStartOffset);
    }
    const options = this.validationOptions(req);
    const target = targetCompressionOf(config);
    let validated: BatchValidation | undefined;
    if (this.appendTail === undefined) {
      validated = validateBatchSync(records, 0, options);
      if (validated !== undefined && !needsRecompression(validated, target)) {
        const answered = this.afterAppend(req, this.appendValidated(req, validated, records));
        // Written (or refused) by now: a wait for the ISR no longer needs the request's bytes.
        if (answered instanceof Promise) req.written = true;
        return answered;
      }
    }
    // Validation (and recompression into the topic's codec) may start at once: it is pure.
    // The append waits for its turn.
    const validation = validateForAppend(records, options, target, config.maxMessageBytes, validated);
    return this.inTurn(async () => {
      const result = await validation;
      return this.appendValidated(req, result.validation, result.records);
    }).then((result) => this.afterAppend(req, result));
  }

  /**
   * Appends a batch the group coordinator built (origin coordinator), through the same queue,
   * high watermark and acks=all wait as produced records; `timeoutMs` is
   * offsets.commit.timeout.ms. Rejects with an Error carrying the Kafka `errorCode`.
   */
  async appendAsCoordinator(batch: Buffer, timeoutMs: number): Promise<void> {
    const req: AppendRequest = { topic: this.topic, partition: this.partition, records: batch, acks: -1, produceVersion: -1, nowMs: Date.now(), timeoutMs };
    const result = await this.inTurn(async () => {
      if (this.currentRole !== 'leader') return failure(ErrorCode.NOT_LEADER_OR_FOLLOWER, null);
      if (this.partitionState.isr.length < this.log.config.minInsyncReplicas) return failure(ErrorCode.NOT_ENOUGH_REPLICAS, null);
      const validation = validateBatchSync(batch, 0, { origin: 'replication', maxBatchBytes: this.log.config.maxMessageBytes });
      if (validation === undefined) return failure(ErrorCode.CORRUPT_MESSAGE, 'coordinator batch needs asynchronous validation');
      return this.appendValidated(req, validation, batch);
    }).then((r) => this.afterAppend(req, r));
    if (result.errorCode !== ErrorCode.NONE) {
      throw Object.assign(new Error(`Append to ${this.topic}-${this.partition} failed: ${result.errorMessage ?? result.errorCode}`), { errorCode: result.errorCode });
    }
  }

  /**
   * Appends a transaction marker (COMMIT or ABORT control batch) as leader, for the
   * transaction coordinator (Kafka's WriteTxnMarkers, origin COORDINATOR). It takes its turn
   * in the append queue, behind any produce still being validated, so a marker never
   * overtakes its transaction's data; the log checks the producer and coordinator epochs
   * (INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED). Answered like an acks=all
   * produce: once the ISR has it (and fdatasync'ed when the topic asks for durable acks).
   */
  appendTxnMarker(marker: { producerId: number; producerEpoch: number; coordinatorEpoch: number; commit: boolean }, timeoutMs: number): Promise<PartitionAppendResult> {
    const req: AppendRequest = { topic: this.topic, partition: this.partition, records: null, acks: -1, produceVersion: -1, nowMs: Date.now(), timeoutMs };
    return this.inTurn(async () => {
      if (this.currentRole !== 'leader') return failure(ErrorCode.NOT_LEADER_OR_FOLLOWER, null);
      // Kafka refuses an acks=all append below min.insync.replicas before writing, markers
      // included: written first, each retry of the coordinator would add another marker.
      if (this.partitionState.isr.length < this.log.config.minInsyncReplicas) return failure(ErrorCode.NOT_ENOUGH_REPLICAS, null);
      let written;
      try {
        written = this.log.appendEndTxnMarker({ ...marker, leaderEpoch: this.partitionState.leaderEpoch });
      } catch (err) {
        return this.storageFailure('Append', req, err);
      }
      if (written.kind === 'error') return failure(written.errorCode, written.message);
      this.appended();
      const a = written.append;
      return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: a.baseOffset, logAppendTimeMs: -1, logStartOffset: a.logStartOffset, recordErrors: [] };
    }).then((r) => this.afterAppend(req, r));
  }

  /** Runs `append` after every append queued before it; the queue empties itself. */
  private inTurn(append: () => Promise<PartitionAppendResult>): Promise<PartitionAppendResult> {
    const previous = this.appendTail ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.appendTail = mine;
    return (async () => {
      try {
        await previous;
        return await append();
      } finally {
        release();
        if (this.appendTail === mine) this.appendTail = undefined;
      }
    })();
  }

  /** The checks of Kafka's LogValidator for this topic (see log-validator.ts). */
  private validationOptions(req: AppendRequest): BatchValidationOptions {
    const config = this.log.config;
    const limits = timestampLimits(config);
    const options: BatchValidationOptions = {
      maxBatchBytes: config.maxMessageBytes,
      origin: 'client',
      produceVersion: req.produceVersion,
      compacted: config.cleanupPolicy.includes('compact'),
      timestampType: TIMESTAMP_TYPE_CODE[config.messageTimestampType],
      nowMs: req.nowMs,
      topicPartition: this.log.topicPartition,
    };
    if (limits.beforeMaxMs !== undefined) options.timestampBeforeMaxMs = limits.beforeMaxMs;
    if (limits.afterMaxMs !== undefined) options.timestampAfterMaxMs = limits.afterMaxMs;
    return options;
  }

  /** `records` is what to append: the produced batch, or that batch rebuilt in the topic's codec. */
  private appendValidated(req: AppendRequest, validation: BatchValidation, records: Buffer): PartitionAppendResult {
    const log = this.log;
    if (!validation.ok) {
      this.deps.logger.debug('Produce batch refused', { topic: req.topic, partition: req.partition, errorCode: validation.errorCode, reason: validation.message });
      // Kafka answers these with its "unknown append info": no message, logStartOffset -1.
      if (UNKNOWN_APPEND_INFO_ERRORS.has(validation.errorCode)) return failure(validation.errorCode, null);
      if (validation.recordErrors !== undefined) {
        // Kafka's RecordValidationException: the only refusal it answers with a message.
        const recordErrors = validation.recordErrors.map((e) => ({ batchIndex: e.batchIndex, batchIndexErrorMessage: e.message }));
        return failure(validation.errorCode, validation.message, recordErrors, log.logStartOffset);
      }
      return failure(validation.errorCode, null, [], log.logStartOffset);
    }
    const header = validation.header;
    if (header.size !== req.records!.length) {
      // Kafka refuses this in KafkaApis (ProduceRequest.validateRecords): no message, no log start offset.
      this.deps.logger.debug('Produce batch refused', { topic: req.topic, partition: req.partition, reason: `${req.records!.length} bytes with a first batch of ${header.size}: more than one batch` });
      return failure(ErrorCode.INVALID_RECORD, null);
    }
    if (this.currentRole !== 'leader') return failure(ErrorCode.NOT_LEADER_OR_FOLLOWER, null);
    // Kafka checks sequences for client appends only (origin COORDINATOR writes with no sequence).
    if (header.producerId >= 0 && req.produceVersion >= 0) {
      // Producer state lives in the log (storage's ProducerStateManager); the log updates it on append.
      const check = log.producerState.checkAppend(header.producerId, header.producerEpoch, header.baseSequence, header.lastOffsetDelta, header.isTransactional);
      if (check.kind === 'duplicate') {
        // Kafka answers a duplicate with the original offsets and the batch's timestamp as log_append_time.
        return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: check.firstOffset, logAppendTimeMs: check.timestamp, logStartOffset: log.logStartOffset, recordErrors: [] };
      }
      if (check.kind === 'error') {
        if (this.appendFoundDiskFull) {
          // The disk is full and a batch ahead of this one was refused, unwritten; the client
          // retries that one. Kafka takes the directory offline at the first ENOSPC, so the
          // batches pipelined behind it get KAFKA_STORAGE_ERROR, never OUT_OF_ORDER_SEQUENCE_NUMBER
          // (issue #16, seed 1301): librdkafka answers that sequence error by bumping its
          // producer epoch and resending every unacknowledged record, of every partition,
          // under new sequences, so a record another partition had appended but not
          // acknowledged (its leader moved) was appended again by the new leader.
          this.deps.logger.debug('Produce batch refused: disk full', { topic: req.topic, partition: req.partition, reason: check.message });
          return failure(ErrorCode.KAFKA_STORAGE_ERROR, 'No space left in the log directory; nothing was written, retry once space is freed', [], -1);
        }
        return failure(check.errorCode, check.message, [], log.logStartOffset);
      }
    }
    if (log.config.messageTimestampType === 'CreateTime') {
      // Kafka keeps the batch's maxTimestamp equal to its largest record timestamp.
      setMaxTimestamp(records, 0, 0, validation.maxTimestamp);
    }
    let appended: AppendResult;
    try {
      appended = log.append(records, { leaderEpoch: this.partitionState.leaderEpoch, logAppendTimeMs: req.nowMs });
    } catch (err) {
      if (err instanceof StorageError && err.code === StorageErrorCode.NO_SPACE) this.appendFoundDiskFull = true;
      return this.storageFailure('Append', req, err);
    }
    this.appendFoundDiskFull = false;
    this.appended();
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      baseOffset: appended.baseOffset,
      logAppendTimeMs: appended.logAppendTimeMs,
      logStartOffset: appended.logStartOffset,
      recordErrors: [],
    };
  }

  /** After a local append as leader: the high watermark may move (ISR of one), and fetches (followers' too) wake. */
  private appended(): void {
    this.maybeIncrementHighWatermark();
    this.wake();
  }

  /**
   * acks=all: the answer waits until the high watermark passes the batch (at once when the
   * ISR is this broker alone) and, with flush.durable.acks, for fdatasync.
   */
  private afterAppend(req: AppendRequest, result: PartitionAppendResult): PartitionAppendResult | Promise<PartitionAppendResult> {
    if (result.errorCode !== ErrorCode.NONE || req.acks !== -1) return result;
    const log = this.log;
    const requiredOffset = this.requiredOffsetOf(req, result);
    const replicated = this.waitForHighWatermark(requiredOffset, req.timeoutMs);
    const durable = log.config.flushDurableAcks;
    if (replicated === ErrorCode.NONE && !durable) return result;
    if (typeof replicated === 'number' && replicated !== ErrorCode.NONE) return withError(result, replicated);
    // The usual acks=all case: only the ISR to wait for, one reaction rather than a Promise.all.
    if (!durable) return (replicated as Promise<number>).then((errorCode) => (errorCode === ErrorCode.NONE ? result : withError(result, errorCode)));
    const flushed = durable
      ? log.waitForFlush(requiredOffset).then(
          () => undefined,
          (err: unknown) => this.storageFailure('Flush', req, err),
        )
      : Promise.resolve(undefined);
    return Promise.all([replicated, flushed]).then(([errorCode, flushFailure]) => {
      if (errorCode !== ErrorCode.NONE) return withError(result, errorCode);
      return flushFailure ?? result;
    });
  }

  /**
   * The offset the high watermark must reach before an acks=all answer: one past the
   * batch's last offset (Kafka's DelayedProduce requiredOffset, lastOffset + 1). A duplicate
   * is answered with its original batch's offsets and waits for that batch only, not for
   * what was appended after it: with a follower behind, waiting for the log end made a
   * resent batch that Kafka answers at once wait for records of other producers, up to
   * REQUEST_TIMED_OUT. `req.records` is one validated v2 batch here (legacy sets are
   * converted before), and a duplicate has the original's offset count; a marker (no
   * records) waits for the log end, which it just became.
   */
  private requiredOffsetOf(req: AppendRequest, result: PartitionAppendResult): number {
    const records = req.records;
    if (records === null || result.baseOffset < 0 || records.length < BatchLayout.HEADER_SIZE) return this.log.logEndOffset;
    return result.baseOffset + records.readInt32BE(BatchLayout.LAST_OFFSET_DELTA) + 1;
  }

  /**
   * Kafka's checkEnoughReplicasReachOffset: NONE once the high watermark reaches
   * `requiredOffset` with at least min.insync.replicas in the ISR, else
   * NOT_ENOUGH_REPLICAS_AFTER_APPEND; REQUEST_TIMED_OUT after `timeoutMs`. A number when known now.
   */
  private waitForHighWatermark(requiredOffset: number, timeoutMs: number | undefined): number | Promise<number> {
    const now = this.checkReplicated(requiredOffset);
    if (now !== undefined) return now;
    return new Promise<number>((resolve) => {
      const deadlineMs = timeoutMs === undefined ? Infinity : performance.now() + Math.max(0, timeoutMs);
      this.delayedProduces.push({ requiredOffset, deadlineMs, complete: resolve });
      if (deadlineMs < this.expiryAtMs) this.armExpiry(deadlineMs);
      else if (this.delayedProduces.length === 1) this.expiryTimer?.ref();
    });
  }

  private armExpiry(atMs: number): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryAtMs = atMs;
    this.expiryTimer = setTimeout(() => this.expireDelayedProduces(), Math.max(0, Math.ceil(atMs - performance.now())));
  }

  /** The timer fired: produces past their deadline answer REQUEST_TIMED_OUT; it is armed again for the next deadline. */
  private expireDelayedProduces(): void {
    this.expiryTimer = undefined;
    this.expiryAtMs = Infinity;
    const nowMs = performance.now();
    const waiting: DelayedProduce[] = [];
    const expired: DelayedProduce[] = [];
    let nextMs = Infinity;
    for (const d of this.delayedProduces) {
      if (d.deadlineMs <= nowMs) {
        expired.push(d);
      } else {
        waiting.push(d);
        if (d.deadlineMs < nextMs) nextMs = d.deadlineMs;
      }
    }
    this.delayedProduces = waiting;
    if (nextMs !== Infinity) this.armExpiry(nextMs);
    for (const d of expired) d.complete(ErrorCode.REQUEST_TIMED_OUT);
  }

  private checkReplicated(requiredOffset: number): number | undefined {
    if (this.currentRole !== 'leader') return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    if (this.log.highWatermark < requiredOffset) return undefined;
    return this.partitionState.isr.length < this.log.config.minInsyncReplicas ? ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND : ErrorCode.NONE;
  }

  /**
   * Answers the delayed acks=all produces the high watermark (or a role or ISR change) has
   * decided, after the list holds only the others. Runs at every high watermark move of a
   * replicated partition: each produce is checked once.
   */
  private checkDelayedProduces(): void {
    const delayed = this.delayedProduces;
    if (delayed.length === 0) return;
    const outcomes = delayed.map((d) => this.checkReplicated(d.requiredOffset));
    const waiting = delayed.filter((_, i) => outcomes[i] === undefined);
    if (waiting.length === delayed.length) return;
    this.delayedProduces = waiting;
    if (waiting.length === 0) this.expiryTimer?.unref();
    for (let i = 0; i < delayed.length; i++) {
      const outcome = outcomes[i];
      if (outcome !== undefined) delayed[i]!.complete(outcome);
    }
  }

  private failDelayedProduces(errorCode: number): void {
    const all = this.delayedProduces;
    this.delayedProduces = [];
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.expiryAtMs = Infinity;
    for (const d of all) d.complete(errorCode);
  }

  /**
   * KAFKA_STORAGE_ERROR (retriable) for a failed append or flush, never a success: after a
   * failed write or fdatasync nothing that depended on it is acknowledged. The storage layer
   * has already logged the one line that matters (directory offline, or disk full, rate
   * limited), so a failing request adds a debug line, not a stack per request.
   */
  private storageFailure(what: string, req: AppendRequest, err: unknown): PartitionAppendResult {
    const { logger, logManager } = this.deps;
    if (err instanceof StorageError && err.code === StorageErrorCode.NO_SPACE) {
      logManager.warnNoSpace(logManager.logDirOf(this.log), err.message);
      logger.debug(`${what} refused: disk full`, { topic: req.topic, partition: req.partition });
      return failure(ErrorCode.KAFKA_STORAGE_ERROR, 'No space left in the log directory; nothing was written, retry once space is freed', [], -1);
    }
    if (err instanceof StorageError && (err.code === StorageErrorCode.LOG_DIR_OFFLINE || err.code === StorageErrorCode.LOG_CLOSED)) {
      logger.debug(`${what} refused: log offline`, { topic: req.topic, partition: req.partition, reason: err.message });
      return failure(ErrorCode.KAFKA_STORAGE_ERROR, `The log directory of ${req.topic}-${req.partition} is offline`, [], -1);
    }
    logger.error(`${what} failed`, { topic: req.topic, partition: req.partition, err });
    return failure(ErrorCode.KAFKA_STORAGE_ERROR, 'The broker could not write to its log directory', [], -1);
  }

  // ------------------------------------------------------------------ fetch waiters

  /** `untilLogEnd`: a follower's fetch, which a high watermark move does not wake. */
  addWaiter(wake: () => void, untilLogEnd = false): void {
    (untilLogEnd ? this.logEndWaiters : this.waiters).add(wake);
  }

  removeWaiter(wake: () => void): void {
    this.waiters.delete(wake);
    this.logEndWaiters.delete(wake);
  }

  /** Wakes every fetch waiting on this partition. */
  wake(): void {
    this.wakeSet(this.waiters);
    this.wakeSet(this.logEndWaiters);
  }

  private wakeSet(set: Set<() => void>): void {
    if (set.size === 0) return;
    const waiting = [...set];
    set.clear();
    for (const wake of waiting) wake();
  }

  /** The partition is gone (topic deleted) or the broker is stopping: every waiter answers now. */
  close(): void {
    this.closed = true;
    this.currentRole = 'none';
    this.log.keepRecentAppends(undefined);
    this.failDelayedProduces(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    this.wake();
  }
}

/**
 * The length of the whole batches at the front of a follower fetch's records, each with a
 * matching CRC (Kafka checks every batch's CRC whatever the append's origin), or why not. A
 * partial batch at the end is dropped, as Kafka's fetchers do: a leader may cut the last
 * batch at the fetch size.
 */
function verifiedBatches(buf: Buffer): number | string {
  let at = 0;
  while (buf.length - at >= BatchLayout.HEADER_SIZE) {
    const size = batchFrameSize(buf, at, buf.length);
    if (typeof size === 'string') return `batch at byte ${at}: ${size}`;
    if (at + size > buf.length) break;
    if (!batchCrcMatches(buf, at, size)) return `batch at byte ${at} fails its CRC`;
    at += size;
  }
  return at;
}

function withError(result: PartitionAppendResult, errorCode: number): PartitionAppendResult {
  return { ...result, errorCode, errorMessage: null };
}

export function failure(
  errorCode: number,
  errorMessage: string | null,
  recordErrors: PartitionAppendResult['recordErrors'] = [],
  logStartOffset = -1,
): PartitionAppendResult {
  return { errorCode, errorMessage, baseOffset: -1, logAppendTimeMs: -1, logStartOffset, recordErrors };
}

/**
 * Moves a leader's high watermark to `offset`. It never goes back: only truncation lowers
 * it, inside storage. Storage asserts log start <= high watermark <= log end.
 */
export function advanceHighWatermark(log: Pick<Log, 'highWatermark' | 'updateHighWatermark'>, offset: number): void {
  const previous = log.highWatermark;
  assertAtMost(previous, log.updateHighWatermark(offset), 'a leader high watermark never moves back');
}

/**
 * One simulated broker holding a replica of the partition. What runs here is the project's
 * REAL replication code over a real log on disk:
 *
 * - storage: LogManager.open (recovery after a crash included), Log, LeaderEpochCache,
 *   the high-watermark checkpoint, all with the simulation's clock;
 * - replica/partition.ts: Partition.update (makeLeader / makeFollower, truncation on
 *   becoming follower), appendRecordsToLeader with acks=all, updateFollowerFetchState,
 *   maybeIncrementHighWatermark, ISR expand / shrink through MetadataStore.updatePartition,
 *   appendAsFollower;
 * - replica/follower-truncation.ts (truncateOnDivergingEpoch, lastFetchedEpochOf),
 *   replica/leader-epochs.ts (divergingEpoch, checkCurrentLeaderEpoch, notLeaderError),
 *   replica/follower-fetch.ts (followerFetched).
 *
 * What is a model, because it is welded to sockets or timers: the two ends of a follower
 * Fetch. `leaderRead` mirrors handlers/fetch.ts readOne (replica path) and its long-poll
 * loop; `fetchOnce` / `onFetchAnswer` mirror replica/replica-fetcher.ts buildRequest and
 * process (one request in flight per follower, replica.fetch.backoff.ms after an error,
 * handleOutOfRange). The replica manager's part is applyState: Partition.update on each
 * watched state, fetching while follower. Periodic duties are events: lease keep-alives,
 * the ISR shrink check every replica.lag.time.max.ms / 2 (ReplicaManager), the
 * high-watermark checkpoint every replica.high.watermark.checkpoint.interval.ms.
 */
import { ErrorCode } from '@tributary/protocol';
import { LogManager, StorageError, type Log } from '@tributary/storage';
import { createLogger } from '../../src/logger.js';
import type { MetadataStore, PartitionChange, PartitionState, TopicMetadata } from '../../src/metadata/metadata-store.js';
import { Partition, type PartitionAppendResult } from '../../src/replica/partition.js';
import { followerFetched } from '../../src/replica/follower-fetch.js';
import { lastFetchedEpochOf, truncateOnDivergingEpoch } from '../../src/replica/follower-truncation.js';
import { checkCurrentLeaderEpoch, divergingEpoch, notLeaderError } from '../../src/replica/leader-epochs.js';
import { CONTROLLER_ID } from './controller-model.js';
import type { World } from './world.js';

export const TOPIC = 'sim';

export interface FetchRequestModel {
  readonly replicaId: number;
  readonly currentLeaderEpoch: number;
  readonly fetchOffset: number;
  readonly lastFetchedEpoch: number;
}

export interface FetchAnswerModel {
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly records: Buffer;
  readonly divergingEpoch?: { epoch: number; endOffset: number };
}

export class SimBroker {
  logManager: LogManager | undefined;
  partition: Partition | undefined;
  private fetchSeq = 0;
  private fetchInFlight = 0;
  private fetchDelayedUntilMs = 0;
  private fetchScheduled = false;

  constructor(
    readonly id: number,
    private readonly dataDir: string,
    private readonly world: World,
  ) {}

  get up(): boolean {
    return this.partition !== undefined;
  }

  get log(): Log | undefined {
    return this.partition?.log;
  }

  get incarnation(): number {
    return this.world.net.incarnation(this.id);
  }

  /** Start (or restart after a crash): open the log directory as the broker does, then follow the metadata. */
  async start(state: PartitionState): Promise<void> {
    const { world } = this;
    const logger = createLogger({ level: 'info', sink: (line) => world.trace(`broker ${this.id} log: ${line.replace(/^\S+ \S+ /, '')}`) });
    this.logManager = await LogManager.open({
      dataDir: this.dataDir,
      clock: world.sched,
      schedulers: false,
      cleanerInline: true,
      defaults: { minInsyncReplicas: world.config.minInsyncReplicas, segmentBytes: world.config.segmentBytes },
      logger: { info: () => undefined, warn: (msg) => world.trace(`broker ${this.id} storage warn: ${msg}`) },
    });
    const existing = this.logManager.getLog(TOPIC, 0);
    const log = existing ?? this.logManager.createLog(TOPIC, 0);
    // ReplicaManager.ensureLog with fenceRestartedLeadership (a cluster broker): a log found on
    // disk whose state names this broker leader is not led in that epoch.
    const restarted = existing !== undefined && state.leader === this.id;
    // brokers(): the registrations a leader's ISR-eligibility check (KIP-841) reads; here the
    // controller's live set, seen without the watch's delay.
    const metadata = {
      updatePartition: (change: PartitionChange) => this.alterPartition(change),
      brokers: () => [...world.controller.liveBrokers].map((nodeId) => ({ nodeId, endpoints: [], rack: null })),
    } as unknown as MetadataStore;
    this.partition = new Partition({ nodeId: this.id, metadata, logManager: this.logManager, logger, clock: world.sched, ...(restarted ? { previousIncarnationEpoch: state.leaderEpoch } : {}) }, log, world.topicOf(state), state);
    world.net.nodeUp(this.id);
    world.trace(`broker ${this.id} up: log end ${log.logEndOffset} hw ${log.highWatermark} epochs ${JSON.stringify(log.leaderEpochCache.epochEntries())}`);
    this.applyState(state);
    const inc = this.incarnation;
    this.every(inc, world.config.heartbeatMs, 'heartbeat', () => {
      world.net.send(this.id, CONTROLLER_ID, 'heartbeat', () => world.controller.heartbeat(this.id, inc, world.sched.now()));
    });
    this.every(inc, Math.max(1, Math.floor(world.config.replicaLagTimeMaxMs / 2)), 'isr-check', () => {
      this.partition?.maybeShrinkIsr(world.sched.now(), world.config.replicaLagTimeMaxMs);
    });
    this.every(inc, world.config.highWatermarkCheckpointMs, 'hw-checkpoint', () => this.logManager?.checkpointHighWatermarks());
  }

  /** kill -9: the process state is gone; what was written to files stays (the page cache survives a process crash). */
  crash(): void {
    this.world.net.nodeDown(this.id);
    this.logManager?.abandon();
    this.logManager = undefined;
    this.partition = undefined;
    this.fetchInFlight = 0;
    this.fetchScheduled = false;
    this.fetchDelayedUntilMs = 0;
  }

  private every(inc: number, periodMs: number, label: string, run: () => void): void {
    const tick = (): void => {
      if (this.incarnation !== inc || !this.up) return;
      run();
      this.world.net.inProcess(this.id, periodMs, `${label} ${this.id}`, tick);
    };
    this.world.net.inProcess(this.id, this.world.rng.int(periodMs), `${label} ${this.id}`, tick);
  }

  // ------------------------------------------------------------------ metadata

  /** The replica manager's applyState for a state from the watch (or read at start). */
  applyState(state: PartitionState): void {
    const p = this.partition;
    if (p === undefined) return;
    // The watch delivers states in order; one read at start-up may be newer than some still on the way.
    if (state.partitionEpoch < p.state.partitionEpoch) return;
    const { from, to, epochChanged } = p.update(this.world.topicOf(state), state);
    if (from !== to || epochChanged) this.world.trace(`broker ${this.id}: ${from} -> ${to} in epoch ${state.leaderEpoch} (log end ${p.log.logEndOffset}, hw ${p.log.highWatermark})`);
    if (to === 'leader' && (from !== 'leader' || epochChanged)) this.world.checker.onBecameLeader(this);
    if (to === 'follower' && (from !== 'follower' || epochChanged)) {
      // The replica manager moves the partition to the new leader's fetcher: an answer still on its way from the old one is dropped.
      this.fetchInFlight = 0;
      this.fetchDelayedUntilMs = 0;
    }
    if (to === 'follower') this.scheduleFetch(0);
  }

  /** MetadataStore.updatePartition as seen from this broker: a request to the controller that may be lost or time out. */
  private alterPartition(change: PartitionChange): Promise<PartitionState> {
    const { world } = this;
    return new Promise<PartitionState>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        fn();
      };
      world.trace(`broker ${this.id}: AlterPartition isr [${change.isr?.join(',')}] at partition epoch ${change.expectedPartitionEpoch}`);
      world.net.send(this.id, CONTROLLER_ID, 'alter-partition', () => {
        let answer: { state: PartitionState } | { err: unknown };
        try {
          answer = { state: world.controller.updatePartition(change, this.id) };
        } catch (err) {
          answer = { err };
        }
        world.net.send(CONTROLLER_ID, this.id, 'alter-partition-answer', () => settle(() => ('state' in answer ? resolve(answer.state) : reject(answer.err))));
      });
      // An etcd request that gets no answer fails after the client's timeout (not a stale epoch: the leader logs it and retries at its next check).
      world.net.inProcess(this.id, world.config.metadataRequestTimeoutMs, `alter-partition-timeout ${this.id}`, () =>
        settle(() => reject(timedOut())),
      );
    });
  }

  // ------------------------------------------------------------------ leader: produce and fetch

  /** A Produce request for the partition: ReplicaManager.partitionOf then Partition.appendRecordsToLeader. */
  produce(records: Buffer, answer: (r: PartitionAppendResult, leaderEpoch: number) => void): void {
    const p = this.partition;
    // ReplicaManager.partitionOf: a restarted replica does not lead its previous incarnation's epoch.
    if (p === undefined || p.state.leader !== this.id || p.awaitingNewLeaderEpoch) {
      answer({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, errorMessage: null, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [] }, -1);
      return;
    }
    const inc = this.incarnation;
    const result = p.appendRecordsToLeader({ topic: TOPIC, partition: 0, records, acks: -1, produceVersion: 9, nowMs: this.world.sched.now() });
    if (!(result instanceof Promise)) {
      answer(result, p.leaderEpoch);
      return;
    }
    void result.then((r) => {
      // A crashed process answers nothing.
      if (this.incarnation === inc && this.up) answer(r, p.leaderEpoch);
    });
  }

  /** handlers/fetch.ts: a follower's Fetch, with the long poll (replica.fetch.wait.max.ms, fetch.min.bytes 1). */
  onFetch(req: FetchRequestModel, answer: (a: FetchAnswerModel) => void): void {
    const { world } = this;
    const first = this.leaderRead(req);
    if (first.log === undefined || first.answer.errorCode !== ErrorCode.NONE || first.answer.divergingEpoch !== undefined || first.answer.records.length > 0) {
      answer(first.answer);
      return;
    }
    const p = this.partition!;
    const inc = this.incarnation;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      p.removeWaiter(wake);
      if (this.incarnation !== inc || this.partition !== p) return;
      answer(this.leaderRead(req).answer);
    };
    // ReplicaManager.waitForData: a wake-up re-reads on a later turn, not inside the append that woke it.
    const wake = (): void => world.net.inProcess(this.id, 0, `fetch-wake ${this.id}`, finish);
    p.addWaiter(wake);
    world.net.inProcess(this.id, world.config.replicaFetchWaitMaxMs, `fetch-wait-expired ${this.id}`, finish);
  }

  /** handlers/fetch.ts readOne, the replica path (fromReplica, READ_UNCOMMITTED, upper bound the log end offset). */
  private leaderRead(req: FetchRequestModel): { answer: FetchAnswerModel; log: Log | undefined } {
    const p = this.partition;
    const none = { errorCode: ErrorCode.NONE, highWatermark: -1, logStartOffset: -1, records: Buffer.alloc(0) };
    if (p === undefined) return { answer: { ...none, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }, log: undefined };
    const state = p.state;
    if (state.leader !== this.id || p.awaitingNewLeaderEpoch || p.log.isClosed) return { answer: { ...none, errorCode: p.awaitingNewLeaderEpoch ? ErrorCode.NOT_LEADER_OR_FOLLOWER : notLeaderError(req.currentLeaderEpoch, state, this.id) }, log: undefined };
    const log = p.log;
    const diverging = divergingEpoch(log, state.leaderEpoch, req.lastFetchedEpoch, req.fetchOffset);
    if (diverging === null && (req.currentLeaderEpoch < 0 || req.currentLeaderEpoch === state.leaderEpoch)) {
      followerFetched(p, req.replicaId, req.fetchOffset, this.world.sched.now());
    }
    const base = { ...none, highWatermark: log.highWatermark, logStartOffset: log.logStartOffset };
    const fenced = checkCurrentLeaderEpoch(req.currentLeaderEpoch, state);
    if (fenced !== ErrorCode.NONE) return { answer: { ...base, errorCode: fenced }, log };
    if (diverging === 'out_of_range') return { answer: { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE }, log };
    if (diverging !== null) return { answer: { ...base, divergingEpoch: { epoch: diverging.epoch, endOffset: diverging.endOffset } }, log };
    const read = log.read(req.fetchOffset, this.world.config.replicaFetchMaxBytes, { maxOffset: log.logEndOffset, minOneBatch: true });
    if (read.kind === 'offset_out_of_range') return { answer: { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE }, log };
    const records = read.records.length === 0 ? Buffer.alloc(0) : read.records.length === 1 ? read.records[0]! : Buffer.concat(read.records);
    return { answer: { ...base, records }, log };
  }

  // ------------------------------------------------------------------ follower: the fetcher

  scheduleFetch(delayMs: number): void {
    if (this.fetchScheduled || this.fetchInFlight !== 0) return;
    this.fetchScheduled = true;
    const inc = this.incarnation;
    this.world.net.inProcess(this.id, delayMs, `fetcher ${this.id}`, () => {
      if (this.incarnation !== inc) return;
      this.fetchScheduled = false;
      this.fetchOnce();
    });
  }

  /** ReplicaFetcher.buildRequest for the one partition: fetch from the log end with the latest epoch. */
  private fetchOnce(): void {
    const { world } = this;
    const p = this.partition;
    if (p === undefined || p.role !== 'follower' || this.fetchInFlight !== 0) return;
    const now = world.sched.now();
    if (now < this.fetchDelayedUntilMs) {
      this.scheduleFetch(this.fetchDelayedUntilMs - now);
      return;
    }
    const log = p.log;
    if (log.isClosed || log.isOffline) return;
    const leaderId = p.state.leader;
    const req: FetchRequestModel = { replicaId: this.id, currentLeaderEpoch: p.leaderEpoch, fetchOffset: log.logEndOffset, lastFetchedEpoch: lastFetchedEpochOf(log) };
    const seq = ++this.fetchSeq;
    this.fetchInFlight = seq;
    world.net.send(this.id, leaderId, 'fetch', () => {
      world.brokers.get(leaderId)!.onFetch(req, (a) => world.net.send(leaderId, this.id, 'fetch-answer', () => this.onFetchAnswer(seq, p, req, a)));
    });
    // replica.socket.timeout.ms: an answer that does not come is given up on, and the fetcher reconnects.
    world.net.inProcess(this.id, world.config.replicaFetchWaitMaxMs + world.config.replicaSocketTimeoutMs, `fetch-timeout ${this.id}`, () => {
      if (this.fetchInFlight !== seq) return;
      this.fetchInFlight = 0;
      this.fetchDelayedUntilMs = world.sched.now() + world.config.replicaFetchBackoffMs;
      this.scheduleFetch(0);
    });
  }

  /** ReplicaFetcher.process for the one partition. */
  private onFetchAnswer(seq: number, p: Partition, req: FetchRequestModel, a: FetchAnswerModel): void {
    const { world } = this;
    if (this.fetchInFlight !== seq) return;
    this.fetchInFlight = 0;
    try {
      // Moved to another leader or epoch, or the log changed meanwhile: drop the answer.
      if (this.partition !== p || p.leaderEpoch !== req.currentLeaderEpoch || p.role !== 'follower' || p.log.logEndOffset !== req.fetchOffset) return;
      const log = p.log;
      switch (a.errorCode) {
        case ErrorCode.NONE:
          if (a.divergingEpoch !== undefined) {
            const before = log.logEndOffset;
            const state = truncateOnDivergingEpoch(log, a.divergingEpoch, req.fetchOffset);
            world.trace(`broker ${this.id}: diverging epoch ${a.divergingEpoch.epoch} end ${a.divergingEpoch.endOffset}: log end ${before} -> ${log.logEndOffset} (completed ${state.truncationCompleted})`);
            break;
          }
          p.appendAsFollower(a.records, a.highWatermark);
          break;
        case ErrorCode.OFFSET_OUT_OF_RANGE:
          // ReplicaFetcher.handleOutOfRange.
          if (a.highWatermark >= 0 && log.logEndOffset > a.highWatermark) {
            world.trace(`broker ${this.id}: out of range, truncating ${log.logEndOffset} -> leader hw ${a.highWatermark}`);
            log.truncateTo(a.highWatermark);
          } else if (a.logStartOffset > log.logEndOffset) {
            log.truncateFullyAndStartAt(a.logStartOffset);
          }
          break;
        default:
          this.fetchDelayedUntilMs = world.sched.now() + world.config.replicaFetchBackoffMs;
      }
    } catch (err) {
      if (!(err instanceof StorageError)) world.trace(`broker ${this.id}: follower append failed: ${err instanceof Error ? err.message : String(err)}`);
      this.fetchDelayedUntilMs = world.sched.now() + world.config.replicaFetchBackoffMs;
    } finally {
      this.scheduleFetch(0);
    }
  }
}

/** A failed etcd request; without a stack, whose line numbers would differ between callers and break a trace's replay. */
function timedOut(): Error {
  const err = new Error('simulated etcd request timed out');
  err.stack = err.message;
  return err;
}

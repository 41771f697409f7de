/**
 * The replica manager maps this broker's topic-partitions to their Partition objects
 * (replica/partition.ts, which owns everything per partition: log, role, ISR, high
 * watermark, append queue, producer state, waiters) and keeps them in step with the
 * metadata store: it creates the logs of the partitions this broker replicates (in steps,
 * see LOG_CREATION_STEP), tells each partition its leader, epoch and ISR on every change
 * (makeLeader / makeFollower), starts and stops the follower fetchers, and runs the leader's
 * periodic ISR check (replica.lag.time.max.ms). Kafka's ReplicaManager, without the
 * request handling: Produce and Fetch call into the partition.
 */
import { ErrorCode } from '@tributary/protocol';
import { LogManager, RecentAppendsBudget, type Log } from '@tributary/storage';
import type { Logger } from '../logger.js';
import type { MetadataChange, MetadataStore, PartitionState, TopicMetadata } from '../metadata/metadata-store.js';
import { Partition, failure, type AppendRequest, type PartitionAppendResult } from './partition.js';

export { advanceHighWatermark, type AppendRequest, type PartitionAppendResult } from './partition.js';

/** What writing one transaction marker came to. */
export interface TxnMarkerResult {
  errorCode: number;
  errorMessage: string | null;
  /** The marker's offset, -1 when nothing was appended. */
  offset: number;
}

/**
 * How long a marker waits for the ISR: Kafka's coordinator sends WriteTxnMarkers with
 * request.timeout.ms (30 s default) and retries on failure; the coordinator here retries too.
 */
const TXN_MARKER_TIMEOUT_MS = 30_000;

export interface ReplicaManagerDeps {
  readonly logManager: LogManager;
  readonly metadata: MetadataStore;
  readonly nodeId: number;
  readonly logger: Logger;
  /**
   * A broker in a cluster: a partition whose log was on disk at start and whose state names
   * this broker leader is not led in that epoch (Partition previousIncarnationEpoch); the
   * controller elects again for the new incarnation. A single node is its own controller
   * and leads at once.
   */
  readonly fenceRestartedLeadership?: boolean;
}

export interface PartitionView {
  readonly topic: TopicMetadata;
  readonly state: PartitionState;
  readonly log: Log;
  readonly partition: Partition;
}

/** Told when this broker becomes (true) or stops being (false) leader of a partition. */
export type LeadershipListener = (topic: string, partition: number, isLeader: boolean) => void;

/** Hooks the follower fetchers plug into (replica-fetcher.ts); absent, followers do not fetch. */
export interface FollowerHooks {
  /** The partition now follows `state.leader` in `state.leaderEpoch`. */
  startFollowing(partition: Partition): void;
  /** The partition no longer follows (leader now, gone, or out of the replica list). */
  stopFollowing(partition: Partition): void;
  close(): void;
}

/**
 * Logs created per turn of the event loop, whatever the number of topics they belong to.
 * Creating a log is a mkdir and an open, 0.05-2 ms each on the machines measured, so a
 * 10,000-partition topic created in one go held every other client for 1-13 s, and 2,000
 * topics of 5 partitions (each topic under any per-topic step) for 2-13 s. The first step
 * runs at once, so a topic of up to this many partitions (and internal topics, whatever
 * their size) is ready when the metadata change has been applied, as long as no larger
 * creation is queued ahead of it.
 */
export const LOG_CREATION_STEP = 100;

/**
 * Time one turn of the event loop may spend creating logs (besides the count above): at
 * 0.5-2 ms per log on a loaded machine, 100 logs alone held the loop for up to 200 ms. The
 * first step of a topic created while nothing is queued is exempt, so that a lone topic of
 * up to LOG_CREATION_STEP partitions is still complete when its creation is answered.
 */
export const LOG_CREATION_TURN_MS = 25;

/**
 * The bytes of latest appends all leaders on this broker keep in memory for their
 * followers (storage recent-appends.ts): 64 one-MiB partitions' worth, a quarter of
 * queued.max.response.bytes' default. Past it, follower fetches read from the files.
 */
export const RECENT_APPENDS_BROKER_BYTES = 64 * 1024 * 1024;

/** A partition waiting for its log, with the topic as it was when the log was asked for. */
interface PendingLog {
  readonly topic: TopicMetadata;
  readonly partition: PartitionState;
}

export class ReplicaManager {
  readonly logManager: LogManager;
  private readonly metadata: MetadataStore;
  private readonly nodeId: number;
  private readonly logger: Logger;
  /** This broker's replicas, by `topic\0partition`. */
  private readonly partitions = new Map<string, Partition>();
  /** Partitions in the metadata whose logs are still being created (`topicId:partition`). */
  private readonly creating = new Set<string>();
  /** One queue for every topic's pending logs, oldest first; `creationHead` is its front. */
  private creationQueue: PendingLog[] = [];
  private creationHead = 0;
  /** Logs this turn may still create; reset by the next turn's step. */
  private creationBudget = LOG_CREATION_STEP;
  /** When this turn must stop creating logs (performance.now()); set by its first creation. */
  private creationDeadlineMs: number | undefined;
  private creationTurnScheduled = false;
  private closed = false;
  private readonly unsubscribe: () => void;
  private followerHooks: FollowerHooks | undefined;
  private readonly leadershipListeners = new Set<LeadershipListener>();
  private isrTimer: NodeJS.Timeout | undefined;
  private readonly fenceRestartedLeadership: boolean;
  /** What every leader's kept appends may hold together (partition.ts keepRecentAppends). */
  readonly recentAppendsBudget = new RecentAppendsBudget(RECENT_APPENDS_BROKER_BYTES);

  constructor(deps: ReplicaManagerDeps) {
    this.fenceRestartedLeadership = deps.fenceRestartedLeadership === true;
    this.logManager = deps.logManager;
    this.metadata = deps.metadata;
    this.nodeId = deps.nodeId;
    this.logger = deps.logger;
    this.reconcile();
    this.unsubscribe = this.metadata.subscribe((change) => this.onMetadataChange(change));
  }

  /** What runs the follower fetchers, once replication started (tests and benchmarks read their counters). */
  get replicaFetchers(): FollowerHooks | undefined {
    return this.followerHooks;
  }

  /**
   * Starts the replication duties: `hooks` run the follower fetchers (the partitions already
   * following start now), and every `replicaLagTimeMaxMs / 2` the leader checks its ISRs, as
   * Kafka's isr-expiration task does.
   */
  startReplication(hooks: FollowerHooks, replicaLagTimeMaxMs: number): void {
    this.followerHooks = hooks;
    for (const p of this.partitions.values()) if (p.role === 'follower') hooks.startFollowing(p);
    this.isrTimer = setInterval(() => this.maybeShrinkIsr(Date.now(), replicaLagTimeMaxMs), Math.max(1, Math.floor(replicaLagTimeMaxMs / 2)));
    this.isrTimer.unref();
  }

  /** The leader's periodic ISR check over every partition it leads. */
  maybeShrinkIsr(nowMs: number, replicaLagTimeMaxMs: number): void {
    for (const p of this.partitions.values()) {
      try {
        p.maybeShrinkIsr(nowMs, replicaLagTimeMaxMs);
      } catch (err) {
        this.logger.error('ISR check failed', { topic: p.topic, partition: p.partition, err });
      }
    }
  }

  /**
   * Makes the logs match the metadata: a log for every partition this node replicates.
   * A topic's typed LogConfig is not this class's business: the LogManager holds it, and
   * config/dynamic-config.ts (subscribed to the metadata before this class) keeps it
   * current, so a log created here picks up its topic's config from the LogManager.
   */
  private reconcile(): void {
    for (const topic of this.metadata.topics()) {
      for (const p of topic.partitions) {
        if (p.replicas.includes(this.nodeId)) this.ensureLog(topic, p);
      }
    }
    for (const log of this.logManager.allLogs()) {
      const topic = this.metadata.topic(log.topic);
      if (topic === undefined || topic.partitions[log.partition] === undefined) {
        // Kafka (KRaft) deletes such "stray" logs; keeping them costs only disk and leaves
        // an operator a chance to look, so they are reported rather than removed.
        this.logger.warn('Log directory has no topic in the metadata; leaving it alone', { topic: log.topic, partition: log.partition, dir: log.dir });
      }
    }
  }

  /**
   * Creates the logs of a topic's partitions that this node replicates and does not have
   * yet, through one queue shared by all topics: at most LOG_CREATION_STEP logs per turn of
   * the event loop, so that a topic of thousands of partitions, or thousands of topics
   * created by one request, do not stall every connection while their directories are
   * made. Until its log exists, a partition answers NOT_LEADER_OR_FOLLOWER (retriable:
   * clients refresh metadata and retry), as a Kafka broker does before it has become the
   * leader.
   */
  private createLogsInSteps(topic: TopicMetadata): void {
    const missing = topic.partitions.filter((p) => p.replicas.includes(this.nodeId) && this.logManager.getLog(topic.name, p.partition) === undefined);
    if (topic.internal) {
      // The group coordinator loads __consumer_offsets right after creating it: all at once.
      if (missing.length > 0) this.creationDeadlineMs ??= performance.now() + LOG_CREATION_TURN_MS;
      for (const p of missing) this.createPendingLog({ topic, partition: p });
      this.creationBudget -= missing.length;
      this.scheduleCreationTurn();
      return;
    }
    const lone = this.creationHead === this.creationQueue.length && this.creationBudget === LOG_CREATION_STEP;
    for (const p of missing) {
      this.creating.add(creationKey(topic, p.partition));
      this.creationQueue.push({ topic, partition: p });
    }
    this.drainCreations(lone);
  }

  /**
   * Creates queued logs while this turn's budget (count and time) lasts; the next turn
   * continues. `untimed`: the first step of a lone topic, bounded by the count only.
   * A turn that has created nothing yet (its budget untouched) always creates one log,
   * whatever the clock says: on a loaded machine the deadline can pass before the first
   * creation (the process descheduled for more than LOG_CREATION_TURN_MS, or other work
   * in the same turn), and a turn that only re-armed setImmediate would spin the event
   * loop without progress.
   */
  private drainCreations(untimed = false): void {
    const queue = this.creationQueue;
    if (this.creationHead < queue.length) this.creationDeadlineMs ??= performance.now() + LOG_CREATION_TURN_MS;
    while (this.creationBudget > 0 && this.creationHead < queue.length
      && (untimed || this.creationBudget === LOG_CREATION_STEP || performance.now() < this.creationDeadlineMs!)) {
      const pending = queue[this.creationHead]!;
      this.creationHead++;
      if (this.createPendingLog(pending)) this.creationBudget--;
    }
    if (this.creationHead === queue.length) {
      this.creationQueue = [];
      this.creationHead = 0;
    } else if (this.creationHead >= 4096 && this.creationHead * 2 >= queue.length) {
      // Drop the consumed front now and then, so the queue does not hold every entry.
      this.creationQueue = queue.slice(this.creationHead);
      this.creationHead = 0;
    }
    this.scheduleCreationTurn();
  }

  /** Once this turn has started creating, the next turn restores the budget and continues. */
  private scheduleCreationTurn(): void {
    if (this.creationTurnScheduled || this.closed) return;
    if (this.creationDeadlineMs === undefined && this.creationBudget >= LOG_CREATION_STEP && this.creationHead >= this.creationQueue.length) return;
    this.creationTurnScheduled = true;
    setImmediate(() => {
      this.creationTurnScheduled = false;
      this.creationBudget = LOG_CREATION_STEP;
      this.creationDeadlineMs = undefined;
      if (!this.closed && this.creationHead < this.creationQueue.length) this.drainCreations();
    });
  }

  /** Creates one pending log unless its topic is gone; true when a log was created. */
  private createPendingLog({ topic, partition: p }: PendingLog): boolean {
    this.creating.delete(creationKey(topic, p.partition));
    const current = this.metadata.topic(topic.name);
    // Deleted (or deleted and created again) in the meantime: that change owns it now.
    if (this.closed || current === undefined || current.topicId !== topic.topicId) return false;
    try {
      this.ensureLog(current, current.partitions[p.partition] ?? p);
    } catch (err) {
      this.logger.error('Creating a log failed', { topic: topic.name, partition: p.partition, err });
    }
    return true;
  }

  /** The log and its Partition, which takes the role the metadata gives this broker. */
  private ensureLog(topic: TopicMetadata, p: PartitionState): Log {
    const existing = this.logManager.getLog(topic.name, p.partition);
    const log = existing ?? this.logManager.createLog(topic.name, p.partition);
    const key = partitionKey(topic.name, p.partition);
    let partition = this.partitions.get(key);
    if (partition === undefined || partition.log !== log) {
      const restarted = this.fenceRestartedLeadership && existing !== undefined && partition === undefined && p.leader === this.nodeId;
      partition = new Partition({ nodeId: this.nodeId, metadata: this.metadata, logManager: this.logManager, logger: this.logger, recentAppendsBudget: this.recentAppendsBudget, ...(restarted ? { previousIncarnationEpoch: p.leaderEpoch } : {}) }, log, topic, p);
      this.partitions.set(key, partition);
    }
    this.applyState(partition, topic, p);
    return log;
  }

  /**
   * Stops fetching for every follower replica here while the broker stays registered: a
   * follower that is alive but does not fetch, as a paused or stuck process. Tests of the
   * leader's replica.lag.time.max.ms rule use it (a clean stop leaves the ISR at once through
   * the controller). A later leader or epoch change starts fetching again.
   */
  pauseFetching(): void {
    for (const p of this.partitions.values()) if (p.role === 'follower') this.followerHooks?.stopFollowing(p);
  }

  /** Tells a partition its state from the metadata and starts or stops its fetching. */
  private applyState(partition: Partition, topic: TopicMetadata, state: PartitionState): void {
    const { from, to, epochChanged } = partition.update(topic, state);
    const hooks = this.followerHooks;
    if (hooks !== undefined) {
      if (from === 'follower' && (to !== 'follower' || epochChanged)) hooks.stopFollowing(partition);
      if (to === 'follower' && (from !== 'follower' || epochChanged)) hooks.startFollowing(partition);
    }
    if ((from === 'leader') !== (to === 'leader')) this.notifyLeadership(partition, to === 'leader');
  }

  /**
   * Calls `listener` whenever this broker becomes or stops being leader of a partition (the
   * coordinators load and unload their internal partitions this way, as Kafka's
   * onLeadershipChange callbacks). Returns a function that removes it.
   */
  onLeadershipChange(listener: LeadershipListener): () => void {
    this.leadershipListeners.add(listener);
    return () => this.leadershipListeners.delete(listener);
  }

  private notifyLeadership(partition: Partition, isLeader: boolean): void {
    for (const listener of this.leadershipListeners) {
      try {
        listener(partition.topic, partition.partition, isLeader);
      } catch (err) {
        this.logger.error('Leadership listener failed', { topic: partition.topic, partition: partition.partition, err });
      }
    }
  }

  private onMetadataChange(change: MetadataChange): void {
    try {
      switch (change.type) {
        case 'topic-created':
        case 'partitions-created':
          this.createLogsInSteps(change.topic);
          break;
        case 'partition-changed': {
          const { topic, after } = change;
          const partition = this.partitions.get(partitionKey(topic.name, after.partition));
          if (partition !== undefined) this.applyState(partition, topic, after);
          else if (after.replicas.includes(this.nodeId) && !this.creating.has(creationKey(topic, after.partition))) {
            // Reassigned here: a new replica (the controller's reassignment adds it).
            this.ensureLog(topic, after);
          }
          break;
        }
        case 'topic-deleted': {
          const doomed: { topic: string; partition: number }[] = [];
          for (const p of change.topic.partitions) {
            this.forget(change.topic.name, p.partition);
            const log = this.logManager.getLog(change.topic.name, p.partition);
            if (log === undefined) continue;
            doomed.push({ topic: change.topic.name, partition: p.partition });
          }
          this.logManager.deleteLogs(doomed).catch((err) => {
            this.logger.error('Deleting the logs of a topic failed', { topic: change.topic.name, partitions: doomed.length, err });
          });
          break;
        }
        default:
          break;
      }
    } catch (err) {
      this.logger.error('Applying a metadata change to the logs failed', { change: change.type, err });
    }
  }

  private forget(topic: string, partitionIndex: number): void {
    const key = partitionKey(topic, partitionIndex);
    const partition = this.partitions.get(key);
    if (partition === undefined) return;
    this.partitions.delete(key);
    if (partition.role === 'follower') this.followerHooks?.stopFollowing(partition);
    if (partition.role === 'leader') this.notifyLeadership(partition, false);
    partition.close();
  }

  /** This broker's replica of a partition, whatever its role. */
  getPartition(topic: string, partition: number): Partition | undefined {
    return this.partitions.get(partitionKey(topic, partition));
  }

  /** A topic as the metadata has it. */
  metadataTopic(name: string): TopicMetadata | undefined {
    return this.metadata.topic(name);
  }

  /** Every replica on this broker. */
  allPartitions(): IterableIterator<Partition> {
    return this.partitions.values();
  }

  /**
   * Writes a COMMIT or ABORT marker for `producerId` into a partition this broker leads
   * (the transaction coordinator's marker writer and WriteTxnMarkers): Partition.appendTxnMarker.
   * Errors are Kafka's per-partition codes: UNKNOWN_TOPIC_OR_PARTITION / NOT_LEADER_OR_FOLLOWER,
   * INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED, NOT_ENOUGH_REPLICAS, KAFKA_STORAGE_ERROR.
   */
  async appendTxnMarker(topic: string, partition: number, producerId: number, producerEpoch: number, coordinatorEpoch: number, commit: boolean): Promise<TxnMarkerResult> {
    const view = this.partition(topic, partition);
    if ('errorCode' in view) return { errorCode: view.errorCode, errorMessage: null, offset: -1 };
    const r = await view.partition.appendTxnMarker({ producerId, producerEpoch, coordinatorEpoch, commit }, TXN_MARKER_TIMEOUT_MS);
    return { errorCode: r.errorCode, errorMessage: r.errorMessage, offset: r.baseOffset };
  }

  /** The partition if it exists and this broker leads it. */
  partition(topicName: string, partition: number): PartitionView | { errorCode: number } {
    const topic = this.metadata.topic(topicName);
    if (topic === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    return this.partitionOf(topic, partition);
  }

  partitionOf(topic: TopicMetadata, partition: number): PartitionView | { errorCode: number } {
    const state = topic.partitions[partition];
    if (state === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    if (state.leader !== this.nodeId) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    const log = this.logManager.getLog(topic.name, partition);
    if (log === undefined && this.creating.has(creationKey(topic, partition))) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    if (log === undefined || log.isClosed) return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR };
    const p = this.partitions.get(partitionKey(topic.name, partition));
    if (p === undefined || p.log !== log) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    // Restarted: not led in its previous incarnation's epoch (restart-fence.ts).
    if (p.awaitingNewLeaderEpoch) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    return { topic, state, log, partition: p };
  }

  /** Appends one partition's produced records (Partition.appendRecordsToLeader). */
  append(req: AppendRequest): PartitionAppendResult | Promise<PartitionAppendResult> {
    const view = this.partition(req.topic, req.partition);
    if ('errorCode' in view) return failure(view.errorCode, null);
    return view.partition.appendRecordsToLeader(req);
  }

  /**
   * True when this broker's replica of the partition is on a log directory that failed
   * (Metadata lists it in offline_replicas and, as leader, answers no leader).
   */
  isLocalReplicaOffline(topicName: string, partition: number): boolean {
    return this.logManager.getLog(topicName, partition)?.isOffline === true;
  }

  /** Wakes the fetches waiting on logs that went offline, so they answer now rather than at maxWaitMs. */
  wakeOffline(): void {
    for (const p of this.partitions.values()) if (p.log.isOffline) p.wake();
  }

  private partitionOfLog(log: Log): Partition | undefined {
    const p = this.partitions.get(partitionKey(log.topic, log.partition));
    return p !== undefined && p.log === log ? p : undefined;
  }

  /**
   * After a local append to a log as leader outside Partition's append path: the high
   * watermark may move and waiting fetches wake. (Kept for callers that append directly.)
   */
  appended(log: Log): void {
    const p = this.partitionOfLog(log);
    if (p === undefined) return;
    p.maybeIncrementHighWatermark();
    p.wake();
  }

  /** Wakes every fetch waiting on this log. */
  wake(log: Log): void {
    this.partitionOfLog(log)?.wake();
  }

  /**
   * Resolves when any of the partitions gets new data or a new high watermark, or after
   * `timeoutMs`, whichever is first. Used by Fetch's long poll, with the partitions its read
   * reached (a follower's fetch names every partition the leader leads, so no per-log
   * lookup here). `untilLogEnd` (a follower's fetch) waits for new data only: it reads to
   * the log end, so the high watermark gives it nothing.
   */
  waitForData(partitions: readonly Partition[], timeoutMs: number, untilLogEnd = false): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const wake = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const p of partitions) p.removeWaiter(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      for (const p of partitions) p.addWaiter(wake, untilLogEnd);
    });
  }

  close(): void {
    this.closed = true;
    this.creating.clear();
    this.creationQueue = [];
    this.creationHead = 0;
    this.unsubscribe();
    if (this.isrTimer !== undefined) clearInterval(this.isrTimer);
    this.followerHooks?.close();
    for (const p of this.partitions.values()) p.close();
  }
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}

/** By topic id: a topic deleted and created again under its name is another topic. */
function creationKey(topic: TopicMetadata, partition: number): string {
  return `${topic.topicId}:${partition}`;
}

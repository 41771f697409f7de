/**
 * Follower fetchers: Kafka's ReplicaFetcherManager and ReplicaFetcherThread.
 *
 * One fetcher per leader broker (num.replica.fetchers = 1): a loop over one connection to
 * the leader's inter-broker endpoint (network/inter-broker-client.ts: the listener named
 * by inter.broker.listener.name, else Kafka's default, with that listener's TLS and
 * SASL settings; the leader checks CLUSTER_ACTION for the principal it authenticates), sending sessionless Fetch v12 requests with replica_id = this
 * broker, isolation READ_UNCOMMITTED and, per partition, the follower's log end offset and
 * current leader epoch. The leader answers up to its log end offset; the follower appends
 * the batches with the leader's offsets (Log.appendAsFollower) and takes
 * min(leader's high watermark, own log end offset) as its high watermark. A diverging_epoch
 * answer truncates the follower's log where Kafka's rules say (follower-truncation.ts) and
 * the next fetch goes on from there.
 *
 * Errors: a connection or protocol failure closes the connection and retries after
 * replica.fetch.backoff.ms; a partition error (not leader, fenced or unknown epoch, unknown
 * partition, storage) holds that partition back for replica.fetch.backoff.ms, until the
 * metadata tells the partition its new leader (the manager then moves it to that leader's
 * fetcher). OFFSET_OUT_OF_RANGE: a follower past the leader's high watermark truncates to it;
 * one below the leader's log start offset restarts its log there (Kafka's
 * handleOutOfRangeError, approximated without asking the leader's log end offset).
 *
 * Differences from Kafka: no fetch sessions between brokers (every request lists every
 * partition: fine for the partition counts of a test cluster, to be added for large ones);
 * Fetch v12 (names, no topic ids); truncation is by Fetch's diverging_epoch only (Kafka 2.7+ with Fetch v12: no
 * OffsetForLeaderEpoch round trip, which Kafka keeps for older inter-broker protocols).
 */
import { ErrorCode, type FetchRequest, type FetchResponse } from '@tributary/protocol';
import { StorageError } from '@tributary/storage';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logger.js';
import type { BrokerRegistration, MetadataStore } from '../metadata/metadata-store.js';
import { connectToBroker, interBrokerSecurity, interBrokerSecurityConfigured, type BrokerConnection, type InterBrokerSecurity } from '../network/inter-broker-client.js';
import { framePool } from '../network/frame-pool.js';
import { lastFetchedEpochOf, truncateOnDivergingEpoch } from './follower-truncation.js';
import type { Partition } from './partition.js';
import type { FollowerHooks, ReplicaManager } from './replica-manager.js';

/** Fetch v12: the last version naming topics (v13+ use topic ids) and with replica_id at the top level. */
export const REPLICA_FETCH_VERSION = 12;

/** Kafka's replica.socket.timeout.ms default: a request unanswered this long (past its wait) is abandoned. */
const SOCKET_TIMEOUT_MS = 30_000;

/** How long a fetcher with no partition sleeps before looking again (an added partition wakes it at once). */
const IDLE_SLEEP_MS = 60_000;

/**
 * How often a fetcher whose partitions are all backing off looks again: backoffs end at
 * different times, so it looks at most this long after the first ends.
 */
const BACKOFF_POLL_MS = 100;

/** A follower fetch's client id, as Kafka's ReplicaFetcherThread names itself. */
const CLIENT_ID_PREFIX = 'broker-';

export interface ReplicaFetcherConfig {
  readonly nodeId: number;
  readonly metadata: MetadataStore;
  readonly logger: Logger;
  readonly fetchMaxBytes: number;
  readonly responseMaxBytes: number;
  readonly minBytes: number;
  readonly maxWaitMs: number;
  readonly backoffMs: number;
  /** Opens a connection to the leader (connectToBroker on the inter-broker listener). */
  readonly connect: (leader: BrokerRegistration, clientId: string) => Promise<BrokerConnection>;
}

/** Wires the fetchers and the ISR check into the replica manager from the broker's config. */
export function startReplication(replicaManager: ReplicaManager, deps: { nodeId: number; metadata: MetadataStore; config: BrokerConfig; logger: Logger }): ReplicaFetcherManager {
  const { config } = deps;
  // Built now so TLS or SASL settings that cannot work stop the broker at start-up when
  // inter-broker security is configured; otherwise they fail only the fetchers' connections.
  let security: InterBrokerSecurity | Error;
  try {
    security = interBrokerSecurity(config);
  } catch (err) {
    if (interBrokerSecurityConfigured(config) || !(err instanceof Error)) throw err;
    security = err;
  }
  const manager = new ReplicaFetcherManager({
    nodeId: deps.nodeId,
    metadata: deps.metadata,
    logger: deps.logger,
    fetchMaxBytes: config.number('replica.fetch.max.bytes'),
    responseMaxBytes: config.number('replica.fetch.response.max.bytes'),
    minBytes: config.number('replica.fetch.min.bytes'),
    maxWaitMs: config.number('replica.fetch.wait.max.ms'),
    backoffMs: config.number('replica.fetch.backoff.ms'),
    connect: (leader, clientId) => (security instanceof Error ? Promise.reject(security) : connectToBroker(leader, { config, security, clientId })),
  });
  replicaManager.startReplication(manager, config.number('replica.lag.time.max.ms'));
  return manager;
}

export class ReplicaFetcherManager implements FollowerHooks {
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  /** Which leader's fetcher each following partition is in. */
  private readonly assigned = new Map<Partition, number>();
  private closed = false;

  constructor(private readonly config: ReplicaFetcherConfig) {}

  startFollowing(partition: Partition): void {
    if (this.closed) return;
    this.stopFollowing(partition);
    const leader = partition.state.leader;
    if (leader < 0 || leader === this.config.nodeId) return;
    let fetcher = this.fetchers.get(leader);
    if (fetcher === undefined) {
      fetcher = new ReplicaFetcher(leader, this.config);
      this.fetchers.set(leader, fetcher);
    }
    this.assigned.set(partition, leader);
    fetcher.add(partition);
  }

  stopFollowing(partition: Partition): void {
    const leader = this.assigned.get(partition);
    if (leader === undefined) return;
    this.assigned.delete(partition);
    const fetcher = this.fetchers.get(leader);
    if (fetcher === undefined) return;
    fetcher.remove(partition);
    if (fetcher.isEmpty) {
      this.fetchers.delete(leader);
      fetcher.shutdown();
    }
  }

  /** The fetcher of a leader (tests). */
  fetcherFor(leader: number): ReplicaFetcher | undefined {
    return this.fetchers.get(leader);
  }

  close(): void {
    this.closed = true;
    for (const f of this.fetchers.values()) f.shutdown();
    this.fetchers.clear();
    this.assigned.clear();
  }
}

interface FetchEntry {
  readonly partition: Partition;
  /** The leader epoch the partition follows in; a fetch answered for another is ignored. */
  readonly leaderEpoch: number;
  /** Held back until then after a partition error (performance.now() ms: monotonic, as Kafka's DelayedItem). */
  delayedUntilMs: number;
}

/** Fetches every partition led by one broker over one connection (Kafka's ReplicaFetcherThread). */
export class ReplicaFetcher {
  private readonly entries = new Map<string, FetchEntry>();
  private connection: BrokerConnection | undefined;
  /** The last connection failure logged at warn level (the same one again is logged at debug). */
  private lastConnectFailure: string | undefined;
  private stopped = false;
  private idle: (() => void) | undefined;
  private readonly running: Promise<void>;

  constructor(
    readonly leaderId: number,
    private readonly config: ReplicaFetcherConfig,
  ) {
    this.running = this.run();
  }

  get isEmpty(): boolean {
    return this.entries.size === 0;
  }

  add(partition: Partition): void {
    this.entries.set(`${partition.topic}\0${partition.partition}`, { partition, leaderEpoch: partition.leaderEpoch, delayedUntilMs: 0 });
    this.idle?.();
  }

  remove(partition: Partition): void {
    const key = `${partition.topic}\0${partition.partition}`;
    if (this.entries.get(key)?.partition === partition) this.entries.delete(key);
  }

  shutdown(): Promise<void> {
    this.stopped = true;
    this.connection?.close();
    this.idle?.();
    return this.running;
  }

  private async run(): Promise<void> {
    const { logger, backoffMs } = this.config;
    while (!this.stopped) {
      const request = this.buildRequest(performance.now());
      if (request === undefined) {
        // Nothing to fetch now: wait for a partition to be added or a backoff to end.
        await this.sleep(this.entries.size === 0 ? IDLE_SLEEP_MS : Math.max(1, Math.min(backoffMs, BACKOFF_POLL_MS)));
        continue;
      }
      try {
        if (this.connection === undefined) {
          let opened: BrokerConnection;
          try {
            opened = await this.config.connect(this.leader(), `${CLIENT_ID_PREFIX}${this.config.nodeId}-fetcher`);
          } catch (err) {
            // A refused TLS handshake or SASL login will not fix itself: say so once at warn
            // level (Kafka: "Connection to node N failed authentication"), then at debug.
            const reason = err instanceof Error ? err.message : String(err);
            if (reason !== this.lastConnectFailure && !this.stopped) logger.warn('Follower cannot connect to the leader; retrying after backoff', { leader: this.leaderId, reason });
            this.lastConnectFailure = reason;
            throw err;
          }
          this.lastConnectFailure = undefined;
          if (this.stopped) {
            opened.close();
            break;
          }
          this.connection = opened;
        }
        let frame: Buffer | undefined;
        const response = await this.connection.request('Fetch', REPLICA_FETCH_VERSION, request.body, this.config.maxWaitMs + SOCKET_TIMEOUT_MS, (f) => {
          frame = f;
        });
        if (this.stopped) break;
        this.process(request.sent, response);
        // Every batch is written (appendAsFollower writes with writeSync and keeps no view of
        // the records), so the response's memory goes back to the frame pool for the next one.
        if (frame !== undefined) framePool.give(frame);
      } catch (err) {
        if (this.stopped) break;
        logger.debug('Follower fetch failed; retrying after backoff', { leader: this.leaderId, err: err instanceof Error ? err.message : String(err) });
        this.connection?.close();
        this.connection = undefined;
        await this.sleep(backoffMs);
      }
    }
    this.connection?.close();
    this.connection = undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        if (self.idle === done) self.idle = undefined;
        resolve();
      }
      this.idle = done;
    });
  }

  private leader(): BrokerRegistration {
    const broker = this.config.metadata.brokers().find((b) => b.nodeId === this.leaderId);
    if (broker === undefined) throw new Error(`leader ${this.leaderId} is not registered`);
    return broker;
  }

  private buildRequest(nowMs: number): { body: FetchRequest; sent: Map<string, { entry: FetchEntry; fetchOffset: number }> } | undefined {
    const byTopic = new Map<string, FetchRequest['topics'][number]>();
    const sent = new Map<string, { entry: FetchEntry; fetchOffset: number }>();
    for (const [key, entry] of this.entries) {
      const { partition } = entry;
      const log = partition.log;
      if (entry.delayedUntilMs > nowMs || log.isClosed || log.isOffline || partition.role !== 'follower') continue;
      let topic = byTopic.get(partition.topic);
      if (topic === undefined) {
        topic = { topic: partition.topic, partitions: [] };
        byTopic.set(partition.topic, topic);
      }
      topic.partitions.push({
        partition: partition.partition,
        currentLeaderEpoch: entry.leaderEpoch,
        fetchOffset: log.logEndOffset,
        lastFetchedEpoch: lastFetchedEpochOf(log),
        logStartOffset: log.logStartOffset,
        partitionMaxBytes: this.config.fetchMaxBytes,
      });
      sent.set(key, { entry, fetchOffset: log.logEndOffset });
    }
    if (sent.size === 0) return undefined;
    const body: FetchRequest = {
      replicaId: this.config.nodeId,
      maxWaitMs: this.config.maxWaitMs,
      minBytes: this.config.minBytes,
      maxBytes: this.config.responseMaxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...byTopic.values()],
      forgottenTopicsData: [],
      rackId: '',
    };
    return { body, sent };
  }

  private process(sent: Map<string, { entry: FetchEntry; fetchOffset: number }>, response: FetchResponse): void {
    const { logger, backoffMs } = this.config;
    if (response.errorCode !== ErrorCode.NONE) throw new Error(`Fetch answered error ${response.errorCode}`);
    for (const topic of response.responses) {
      for (const data of topic.partitions) {
        const key = `${topic.topic ?? ''}\0${data.partitionIndex}`;
        const request = sent.get(key);
        if (request === undefined) continue;
        const { entry, fetchOffset } = request;
        const { partition } = entry;
        // Removed, moved to another leader or epoch, or the log changed meanwhile: drop the answer.
        if (this.entries.get(key) !== entry || partition.leaderEpoch !== entry.leaderEpoch || partition.role !== 'follower') continue;
        if (partition.log.logEndOffset !== fetchOffset) continue;
        try {
          switch (data.errorCode) {
            case ErrorCode.NONE:
              if (isDiverging(data.divergingEpoch)) {
                this.truncateOnDivergingEpoch(partition, data.divergingEpoch, fetchOffset);
                break;
              }
              partition.appendAsFollower(data.records ?? Buffer.alloc(0), data.highWatermark);
              if ((data.records?.length ?? 0) > 0) {
                // To the back of the order, as Kafka's PartitionStates.updateAndMoveToEnd: only
                // the first partition with data may get a batch larger than its limit (KIP-74),
                // so a fixed order could starve a partition holding one behind a busy one.
                this.entries.delete(key);
                this.entries.set(key, entry);
              }
              break;
            case ErrorCode.OFFSET_OUT_OF_RANGE:
              this.handleOutOfRange(partition, data.highWatermark, data.logStartOffset ?? -1);
              break;
            default:
              logger.debug('Follower fetch of a partition refused; backing off', { leader: this.leaderId, topic: partition.topic, partition: partition.partition, errorCode: data.errorCode });
              entry.delayedUntilMs = performance.now() + backoffMs;
          }
        } catch (err) {
          // A storage failure has already been logged by storage; a bad batch from the leader is.
          if (!(err instanceof StorageError)) logger.warn('Follower append failed', { leader: this.leaderId, topic: partition.topic, partition: partition.partition, err });
          else logger.debug('Follower append failed', { leader: this.leaderId, topic: partition.topic, partition: partition.partition, reason: err.message });
          entry.delayedUntilMs = performance.now() + backoffMs;
        }
      }
    }
  }

  /** The leader says this log diverges from its own (Fetch v12+): truncate, then fetch again with the new latest epoch. */
  private truncateOnDivergingEpoch(partition: Partition, diverging: { epoch: number; endOffset: number }, fetchOffset: number): void {
    const log = partition.log;
    const before = log.logEndOffset;
    const lastFetchedEpoch = lastFetchedEpochOf(log);
    const state = truncateOnDivergingEpoch(log, diverging, fetchOffset);
    this.config.logger.info('Follower log diverges from the leader\'s; truncated', {
      topic: partition.topic,
      partition: partition.partition,
      leader: this.leaderId,
      lastFetchedEpoch,
      divergingEpoch: diverging.epoch,
      divergingEndOffset: diverging.endOffset,
      logEndOffsetBefore: before,
      logEndOffset: log.logEndOffset,
      truncationCompleted: state.truncationCompleted,
    });
  }

  private handleOutOfRange(partition: Partition, leaderHighWatermark: number, leaderLogStartOffset: number): void {
    const log = partition.log;
    if (leaderHighWatermark >= 0 && log.logEndOffset > leaderHighWatermark) {
      this.config.logger.info('Follower ahead of the leader; truncating to its high watermark', { topic: partition.topic, partition: partition.partition, logEndOffset: log.logEndOffset, leaderHighWatermark });
      log.truncateTo(leaderHighWatermark);
    } else if (leaderLogStartOffset > log.logEndOffset) {
      this.config.logger.info('Follower behind the leader\'s log start; restarting the log there', { topic: partition.topic, partition: partition.partition, logEndOffset: log.logEndOffset, leaderLogStartOffset });
      log.truncateFullyAndStartAt(leaderLogStartOffset);
    }
  }
}

/** A diverging_epoch is present when both its fields are set (absent: the decoder's -1 defaults). */
function isDiverging(d: { epoch: number; endOffset: number } | undefined): d is { epoch: number; endOffset: number } {
  return d !== undefined && d.epoch >= 0 && d.endOffset >= 0;
}

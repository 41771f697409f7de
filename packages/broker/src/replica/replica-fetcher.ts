/**
 * Follower fetchers: Kafka's ReplicaFetcherManager and ReplicaFetcherThread.
 *
 * One fetcher per leader broker (num.replica.fetchers = 1): a loop over one connection to
 * the leader's inter-broker endpoint (network/inter-broker-client.ts: the listener named
 * by inter.broker.listener.name, else Kafka's default, with that listener's TLS and
 * SASL settings; the leader checks CLUSTER_ACTION for the principal it authenticates),
 * sending Fetch v12 requests with replica_id = this broker, isolation READ_UNCOMMITTED and,
 * per partition, the follower's log end offset, log start offset and current leader epoch.
 * The requests use an incremental fetch session (KIP-227, follower-fetch-session.ts, as
 * Kafka's ReplicaFetcherThread with its FetchSessionHandler): the first lists every
 * partition, later ones only those whose fetch state changed (in a steady stream, the ones
 * that just received records) and the removed ones; the leader answers only partitions with
 * something new, so idle partitions (most of __consumer_offsets) are neither encoded nor
 * decoded each round trip (the leader still looks at each, as Kafka's does, to record the
 * follower's position and to answer any change). The leader answers up to its log end
 * offset; the follower appends the batches with the leader's offsets (Log.appendAsFollower)
 * and takes min(leader's high watermark, own log end offset) as its high watermark. A diverging_epoch
 * answer truncates the follower's log where Kafka's rules say (follower-truncation.ts) and
 * the next fetch goes on from there.
 *
 * Errors: a connection or protocol failure closes the connection and retries after
 * replica.fetch.backoff.ms with a full request (a new session); FETCH_SESSION_ID_NOT_FOUND
 * or INVALID_FETCH_SESSION_EPOCH (a restarted leader, an evicted session) retries at once
 * with a full request; a partition error (not leader, fenced or unknown epoch, unknown
 * partition, storage) holds that partition back for replica.fetch.backoff.ms, until the
 * metadata tells the partition its new leader (the manager then moves it to that leader's
 * fetcher). OFFSET_OUT_OF_RANGE: a follower past the leader's high watermark truncates to it;
 * one below the leader's log start offset restarts its log there (Kafka's
 * handleOutOfRangeError, approximated without asking the leader's log end offset).
 *
 * Differences from Kafka: Fetch v12 (names, no topic ids); truncation is by Fetch's
 * diverging_epoch only (Kafka 2.7+ with Fetch v12: no OffsetForLeaderEpoch round trip,
 * which Kafka keeps for older inter-broker protocols).
 */
import { ErrorCode, type FetchRequest, type FetchResponse, type FetchResponsePartitionData } from '@tributary/protocol';
import { StorageError } from '@tributary/storage';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logger.js';
import type { BrokerRegistration, MetadataStore } from '../metadata/metadata-store.js';
import { connectToBroker, interBrokerSecurity, interBrokerSecurityConfigured, type BrokerConnection, type InterBrokerSecurity } from '../network/inter-broker-client.js';
import { framePool } from '../network/frame-pool.js';
import { FollowerFetchSession, INITIAL_SESSION_EPOCH, type FollowerFetchPartition } from './follower-fetch-session.js';
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

  /** Every fetcher (tests and benchmarks). */
  get allFetchers(): readonly ReplicaFetcher[] {
    return [...this.fetchers.values()];
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
  /** Its key in the fetcher (topic and partition). */
  readonly key: string;
  /** The leader epoch the partition follows in; a fetch answered for another is ignored. */
  readonly leaderEpoch: number;
  /** Held back until then after a partition error (performance.now() ms: monotonic, as Kafka's DelayedItem). */
  delayedUntilMs: number;
  /** The fetch state last put in a request, reused while it does not change (no allocation per round trip). */
  lastSent: SentPartition | undefined;
  /** Its state in the fetcher's `ready` map (what the session holds once built), undefined when not there. */
  inReady: SentPartition | undefined;
}

/** A partition a request fetches: its fetch state (as sent, or as the session holds it) and its entry then. */
interface SentPartition extends FollowerFetchPartition {
  readonly entry: FetchEntry;
  /** The entry's key in the fetcher (topic and partition). */
  readonly key: string;
}

/** Counts of what a fetcher sent and got (tests and benchmarks read them). */
export interface ReplicaFetcherStats {
  /** Fetch requests sent. */
  requests: number;
  /** Of those, full ones (opening a session, or sessionless when the leader keeps none). */
  fullRequests: number;
  /** Partitions listed in the requests, all together. */
  partitionsSent: number;
  /** Responses answered FETCH_SESSION_ID_NOT_FOUND or INVALID_FETCH_SESSION_EPOCH. */
  sessionErrors: number;
}

/** Pairs each topic with its items, in the order topics first appear. */
function byTopic<T>(parts: readonly FollowerFetchPartition[], item: (p: FollowerFetchPartition) => T): [string, T[]][] {
  const out = new Map<string, T[]>();
  for (const p of parts) {
    const list = out.get(p.topic);
    if (list === undefined) out.set(p.topic, [item(p)]);
    else list.push(item(p));
  }
  return [...out];
}

/** Fetches every partition led by one broker over one connection (Kafka's ReplicaFetcherThread). */
export class ReplicaFetcher {
  private readonly entries = new Map<string, FetchEntry>();
  /** The incremental fetch session with the leader (one per fetcher, as Kafka's per-thread FetchSessionHandler). */
  private readonly session = new FollowerFetchSession();
  /**
   * The partitions ready to fetch as of the last request built (after the build the
   * session holds exactly these), kept from one request to the next: a round trip changes
   * only the entries of `changed`, so neither this map nor the session is rebuilt over every
   * idle partition. Rebuilt whole, in fetch order, for a full request.
   */
  private ready = new Map<string, SentPartition>();
  /** Keys whose readiness or fetch state changed since the last request built. */
  private readonly changed = new Set<string>();
  readonly stats: ReplicaFetcherStats = { requests: 0, fullRequests: 0, partitionsSent: 0, sessionErrors: 0 };
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

  /** The leader's id for this fetcher's session, 0 while it has none (tests). */
  get sessionId(): number {
    return this.session.id;
  }

  get isEmpty(): boolean {
    return this.entries.size === 0;
  }

  add(partition: Partition): void {
    const key = `${partition.topic}\0${partition.partition}`;
    this.entries.set(key, { partition, key, leaderEpoch: partition.leaderEpoch, delayedUntilMs: 0, lastSent: undefined, inReady: undefined });
    this.changed.add(key);
    this.idle?.();
  }

  remove(partition: Partition): void {
    const key = `${partition.topic}\0${partition.partition}`;
    if (this.entries.get(key)?.partition === partition) {
      this.entries.delete(key);
      // Out of `ready` at the next build: the request in flight may still be answered for it.
      this.changed.add(key);
    }
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
        this.process(request.sent, request.full, response);
        // Every batch is written (appendAsFollower writes with writeSync and keeps no view of
        // the records), so the response's memory goes back to the frame pool for the next one.
        if (frame !== undefined) framePool.give(frame);
      } catch (err) {
        if (this.stopped) break;
        this.session.handleError();
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

  /**
   * The next request: every partition ready to fetch goes into `next`; the session decides
   * which of them the request lists (all for a full request, the changed ones otherwise).
   */
  private buildRequest(nowMs: number): { body: FetchRequest; sent: Map<string, SentPartition>; full: boolean } | undefined {
    const full = this.session.nextEpoch === INITIAL_SESSION_EPOCH;
    // A full request lists the partitions in the fetch order (busy ones move to the back): a fresh map.
    if (full) this.ready = new Map();
    const next = this.ready;
    const changed = this.changed;
    // Partitions removed since the last build, or replaced by a new entry (put back below if ready).
    for (const key of changed) {
      if (this.entries.get(key)?.inReady === undefined) next.delete(key);
    }
    const maxBytes = this.config.fetchMaxBytes;
    for (const entry of this.entries.values()) {
      const { partition, key } = entry;
      const log = partition.log;
      if (entry.delayedUntilMs > nowMs || log.isClosed || log.isOffline || partition.role !== 'follower') {
        if (entry.inReady !== undefined) {
          next.delete(key);
          entry.inReady = undefined;
          changed.add(key);
        }
        continue;
      }
      const fetchOffset = log.logEndOffset;
      const logStartOffset = log.logStartOffset;
      const lastFetchedEpoch = lastFetchedEpochOf(log);
      let state = entry.lastSent;
      if (state === undefined || state.fetchOffset !== fetchOffset || state.logStartOffset !== logStartOffset || state.lastFetchedEpoch !== lastFetchedEpoch || state.partitionMaxBytes !== maxBytes) {
        state = { entry, key, topic: partition.topic, partition: partition.partition, fetchOffset, logStartOffset, partitionMaxBytes: maxBytes, currentLeaderEpoch: entry.leaderEpoch, lastFetchedEpoch };
        entry.lastSent = state;
      }
      if (full) {
        next.set(key, state);
        entry.inReady = state;
      } else if (entry.inReady !== state) {
        next.set(key, state);
        entry.inReady = state;
        changed.add(key);
      }
    }
    const sent = next;
    // Kafka sends a request while the session has partitions or some to forget.
    if (next.size === 0 && this.session.size === 0) {
      changed.clear();
      return undefined;
    }
    const data = this.session.build(next, full ? undefined : changed);
    changed.clear();
    if (next.size === 0 && data.toForget.length === 0) return undefined;
    const body: FetchRequest = {
      replicaId: this.config.nodeId,
      maxWaitMs: this.config.maxWaitMs,
      minBytes: this.config.minBytes,
      maxBytes: this.config.responseMaxBytes,
      isolationLevel: 0,
      sessionId: data.sessionId,
      sessionEpoch: data.sessionEpoch,
      topics: byTopic(data.toSend, (p) => ({
        partition: p.partition,
        currentLeaderEpoch: p.currentLeaderEpoch,
        fetchOffset: p.fetchOffset,
        lastFetchedEpoch: p.lastFetchedEpoch,
        logStartOffset: p.logStartOffset,
        partitionMaxBytes: p.partitionMaxBytes,
      })).map(([topic, partitions]) => ({ topic, partitions })),
      forgottenTopicsData: byTopic(data.toForget, (p) => p.partition).map(([topic, partitions]) => ({ topic, partitions })),
      rackId: '',
    };
    this.stats.requests++;
    if (data.full) this.stats.fullRequests++;
    this.stats.partitionsSent += data.toSend.length;
    return { body, sent, full: data.full };
  }

  /**
   * Applies a response to the partitions it names. A session error (the leader lost or
   * moved past the session) makes the next request full, with no backoff, as Kafka's
   * fetcher does; a response naming a partition outside the session, or a full one missing
   * one, is not used and the next request opens a new session.
   */
  private process(sent: Map<string, SentPartition>, full: boolean, response: FetchResponse): void {
    const { logger, backoffMs } = this.config;
    const errorCode = response.errorCode ?? ErrorCode.NONE;
    if (errorCode !== ErrorCode.NONE) {
      this.session.handleResponse(errorCode, response.sessionId ?? 0, false);
      if (errorCode === ErrorCode.FETCH_SESSION_ID_NOT_FOUND || errorCode === ErrorCode.INVALID_FETCH_SESSION_EPOCH) {
        this.stats.sessionErrors++;
        logger.info('Leader cannot continue the fetch session; the next fetch opens a new one', { leader: this.leaderId, errorCode });
        return;
      }
      throw new Error(`Fetch answered error ${errorCode}`);
    }
    const answered: [SentPartition, FetchResponsePartitionData][] = [];
    let unexpected = false;
    for (const topic of response.responses) {
      for (const data of topic.partitions) {
        const request = sent.get(`${topic.topic ?? ''}\0${data.partitionIndex}`);
        if (request === undefined) unexpected = true;
        else answered.push([request, data]);
      }
    }
    if (full && answered.length !== sent.size) unexpected = true;
    if (!this.session.handleResponse(ErrorCode.NONE, response.sessionId ?? 0, unexpected)) {
      logger.info('Fetch response does not match the fetch session; the next fetch opens a new one', { leader: this.leaderId, full, answered: answered.length, sessionPartitions: sent.size });
      return;
    }
    for (const [request, data] of answered) {
      const { entry, fetchOffset } = request;
      const { partition } = entry;
      const key = request.key;
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

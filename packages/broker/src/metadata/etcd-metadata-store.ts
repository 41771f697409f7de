/**
 * MetadataStore kept in etcd, for a cluster of brokers. Same contract as the local store
 * (metadata-store.ts): reads are synchronous from an in-memory cache; a write resolves once
 * etcd has committed it AND this store's watch has applied it to the cache and called the
 * listeners; partition changes are compare-and-swap; refusals are MetadataErrors with the
 * same codes. It is also the broker's ClusterMembership (controller-election.ts):
 * registration under a lease, the controller election and lease-loss fencing.
 *
 * Key layout, everything under `etcd.prefix` (P, ends with '/'; one cluster per prefix):
 *   P cluster-id                 Kafka Uuid text; created once (txn: create_revision == 0)
 *   P topics/<name>              {"topicId","configs","internal","partitionCount"}
 *   P partitions/<name>/<n>      PartitionState JSON (one key per partition: CAS per partition)
 *   P topic-ids/<id>             topic name; makes topic ids unique inside the creation txn
 *   P broker-configs/<id|default>  {"key":"value",...} overrides; absent = none
 *   P acls                          [AclBinding,...] every ACL binding; absent = none
 *   P client-quotas                ClientQuotaEntry[] (quota/); absent = none
 *   P brokers/<id>               BrokerRegistration JSON, attached to the broker's lease
 *   P controller                 {"nodeId"} attached to the controller's lease
 * Topic names cannot contain '/' (Kafka allows [a-zA-Z0-9._-]), so the layout is unambiguous.
 *
 * Cache (etcd-metadata-cache.ts): start-up reads every key under P (one range at revision
 * R), then watches P from R+1. Each watch response is applied as a batch of key changes;
 * the cache diffs the derived views (topics, broker configs, brokers) before and after and
 * the store emits the MetadataChange events. Events at or below the applied revision are dropped (after a
 * reconnect etcd may send one twice). If the watch fails for good (compacted revision), the
 * store reads everything again and applies the difference the same way. A watch that stalls
 * silently (a paused member) is caught by gRPC keepalive, and failing that by a watchdog
 * that compares etcd's changes with the applied revision every 5 s (checkWatch).
 *
 * Writes: topic creation is one txn (compare each topics/<name> and topic-ids/<id> absent,
 * then put the topic, its id and every partition), so it needs 2 + partitions operations;
 * etcd refuses more than `--max-txn-ops` (128 by default) in one txn, so a cluster that
 * creates large topics raises it (docs/operations.md). A partition change compares the
 * partition key's mod_revision with the one the cached (expected) epoch came from. Config
 * changes compare the key's mod_revision and retry on a conflict (they merge, not replace).
 * Every etcd call has a deadline (`etcd.request.timeout.ms`): without quorum, writes fail
 * with TRIB_ERR_METADATA_UNAVAILABLE (the outcome is then unknown, as Kafka's
 * REQUEST_TIMED_OUT) while reads keep answering from the cache.
 *
 * Registration and fencing. registerBroker puts brokers/<id> under a lease of TTL
 * ceil(broker.session.timeout.ms / 1000) s, kept alive every TTL/3 by etcd3. etcd deletes the
 * key when the lease expires; every broker's watch then emits broker-unregistered. Timing
 * argument: etcd can only expire the lease TTL after it last renewed it, and it renewed it
 * no earlier than the moment we SENT the keepalive that it answered. So with S = the send
 * time of the last answered keepalive (or of the grant), nobody can see this broker's key
 * disappear before S + TTL (an etcd leader change only extends leases). The store fences
 * itself at S + TTL - margin (`etcd.lease.fence.margin.ms`), measured on this process's
 * monotonic clock: it sets `fenced`, tells its listeners (the controller duties stop) and
 * abandons the lease. The margin must cover the timer's own lateness (an event-loop stall)
 * and clock-rate drift; a stall longer than the margin can still let a fenced broker act
 * late, as a GC pause can in Kafka. Once fenced, the store grants a new lease and registers
 * again; `fenced` clears when that has committed.
 *
 * What fencing does NOT do (the decision of issue #15, docs/reliability.md): the broker keeps
 * leading its partitions, as a KRaft broker whose heartbeats lapsed does, until its cache
 * shows a newer leader epoch. Acknowledged acks=all writes stay safe without it: the ISR
 * changes only by compare-and-set here, the high watermark needs every ISR member's fetch,
 * and the followers of a newly elected leader stop fetching from the old one, so an old
 * leader cut off from etcd can acknowledge nothing with acks=all. What a fenced broker does
 * not do is write: updatePartition is refused while fenced (no ISR shrink or expand, no
 * controller change), and it does not campaign. Stepping down instead would make every
 * partition unavailable whenever etcd loses quorum, which is what 3 etcd members are there
 * to ride out.
 *
 * Controller election: the controller key is created with `create_revision == 0` under
 * the candidate's lease, the same shape as etcd's election recipe and ZooKeeper's
 * /controller ephemeral node, but held by the broker's own registration lease rather than
 * a second one, so fencing the broker also ends its controllership. When the key goes
 * (resign on close, lease expiry), every registered, unfenced broker tries to create it.
 */
import type { AclBinding } from '../security/authorizer.js';
import { sameBinding } from '../security/authorizer.js';
import type { ClientQuotaChange, ClientQuotaEntry } from './metadata-store.js';
import { applyClientQuotaChanges } from '../quota/client-quota-entity.js';
import type { ComparatorBuilder, Etcd3, IKeyValue, IOperation, ITxnResponse, Lease, Watcher } from 'etcd3';
import type {
  BrokerRegistration, ConfigChanges, MetadataChange, MetadataListener, MetadataStore, NewTopic,
  PartitionChange, PartitionState, TopicMetadata,
} from './metadata-store.js';
import { MetadataError } from './metadata-store.js';
import type { ClusterMembership } from './controller-election.js';
import { applyChanges as applyConfigChanges } from './local-metadata-store.js';
import { checkPartition, newPartition, planNewTopics } from './topic-plan.js';
import { cachedKv, EtcdMetadataCache, isControllerValue, K, parseJson, storedTopic } from './etcd-metadata-cache.js';
import type { CachedKv } from './etcd-metadata-cache.js';
import { isKafkaUuid } from './kafka-uuid.js';
import type { Logger } from '../logger.js';

export interface EtcdMetadataStoreOptions {
  /** etcd client URLs, e.g. ['http://127.0.0.1:2379']. */
  readonly endpoints: readonly string[];
  /** Key prefix of this cluster; a '/' is appended when missing. */
  readonly prefix: string;
  /** Used only when the cluster has no id yet (the first broker creates it). */
  readonly proposedClusterId: string;
  /** broker.session.timeout.ms: the registration lease's TTL (rounded up to seconds). */
  readonly sessionTimeoutMs: number;
  /** Fence this long before the lease could expire. Must be below sessionTimeoutMs. */
  readonly fenceMarginMs: number;
  /** Deadline of each etcd call; without quorum, writes fail after this. */
  readonly requestTimeoutMs: number;
  readonly logger?: Logger | undefined;
  /** How often the watchdog compares etcd with the applied revision (tests shorten it). */
  readonly watchStallCheckMs?: number | undefined;
}

/**
 * gRPC keepalive: a paused (SIGSTOPped) etcd member keeps its TCP connection open and would
 * freeze the watch silently; pings every 5 s, declared dead 2 s after an unanswered one, make
 * the client reconnect to another member (MACHINE-NOTES "etcd").
 */
const GRPC_OPTIONS = {
  'grpc.keepalive_time_ms': 5000,
  'grpc.keepalive_timeout_ms': 2000,
  'grpc.keepalive_permit_without_calls': 1,
} as const;
/**
 * Longest pause between attempts to reconnect a watch stream (etcd3 defaults to 30 s). etcd3
 * schedules each attempt on a timer that nothing can cancel, not even closing the client, so
 * a store closed while etcd is unreachable would keep its process alive until the pending
 * attempt fires; with this bound it lets go within a second. Trying once a second against a
 * lost etcd costs one connection attempt, and a watch resumes that much sooner when it is back.
 */
const WATCH_RECONNECT_DELAY_MAX_MS = 1000;
/** The first reconnect pause (then doubled up to the maximum), as etcd3's default backoff. */
const WATCH_RECONNECT_DELAY_MIN_MS = 128;
/** How many times a config change is retried when another writer changed the same key. */
const CONFIG_CAS_ATTEMPTS_MAX = 10;
/** How often the store checks that its watch is not stalled (checkWatch). */
const WATCH_STALL_CHECK_MS = 5000;
/** [key relative to the prefix, what to compare, the value it must equal]. */
type Compare = readonly [string, 'Create' | 'Mod', number];

/** Pause between attempts to register again after losing the lease, or to campaign. */
const RETRY_DELAY_MS = 500;
/** How often a registration waits to see an older registration of its node id expire. */
const REGISTRATION_POLL_MS = 100;

export class EtcdMetadataStore implements MetadataStore, ClusterMembership {
  readonly clusterId: string;
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly options: EtcdMetadataStoreOptions;
  private readonly logger: Logger | undefined;
  private readonly cache: EtcdMetadataCache;
  private readonly cacheWaiters: { ready: () => boolean; resolve: () => void }[] = [];
  private readonly listeners = new Set<MetadataListener>();
  private readonly controllerListeners = new Set<(controllerId: number) => void>();
  private readonly fencedListeners = new Set<(fenced: boolean) => void>();
  private watcher: Watcher | null = null;
  /**
   * Every watcher this store attached to an etcd3 client and has not cancelled, the one being
   * created included. etcd3's watch manager keeps reconnecting any watcher still attached,
   * every second for ever, even once its client is closed (each attempt fails with "client
   * already closed" and schedules the next): so close() cancels every one of them, not only
   * the current one.
   */
  private readonly attachedWatchers = new Set<Watcher>();
  /** Rejects the creation of a watch still waiting for etcd, when the store closes. */
  private abortWatchCreation: ((err: Error) => void) | null = null;
  /**
   * The watch has a client (gRPC channels) of its own: etcd3 multiplexes every watch of a
   * client on one stream, so a stalled stream is only escaped by closing its client.
   */
  private watchClient: Etcd3;
  private readonly newClient: () => Etcd3;
  private reloading = false;
  private checkingWatch = false;
  /** appliedRevision when newer keys were first seen in etcd but not yet through the watch. */
  private stalledAt: number | null = null;
  private readonly watchdog: NodeJS.Timeout;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** When an etcd call last failed for want of a quorum or a member (close skips etcd then). */
  private unavailableAtMs = -Infinity;

  // --- session (lease) state
  /** Registrations this store made; registered again on a new lease. */
  private readonly ownRegistrations = new Map<number, BrokerRegistration>();
  private lease: Lease | null = null;
  private leaseId: string | null = null;
  /** Leases this store held before, so a re-registration may replace their keys. */
  private readonly formerLeaseIds = new Set<string>();
  private renewSentAtMs = 0;
  private readonly keepaliveSentAtMs: number[] = [];
  private fenceTimer: NodeJS.Timeout | null = null;
  private fencedNow = false;
  private reregistering = false;
  private campaigning = false;
  /** Set by resignController(): this broker is shutting down and never campaigns again. */
  private withdrawn = false;
  private campaignTimer: NodeJS.Timeout | null = null;
  private lastController = { id: -1, mine: false };

  private constructor(client: Etcd3, newClient: () => Etcd3, clusterId: string, options: EtcdMetadataStoreOptions) {
    this.client = client;
    this.newClient = newClient;
    this.watchClient = newClient();
    this.watchdog = setInterval(() => void this.checkWatch(), options.watchStallCheckMs ?? WATCH_STALL_CHECK_MS);
    this.watchdog.unref();
    this.clusterId = clusterId;
    this.options = options;
    this.prefix = options.prefix.endsWith('/') ? options.prefix : `${options.prefix}/`;
    this.logger = options.logger;
    this.cache = new EtcdMetadataCache(options.logger);
  }

  /** Connects, creates or reads the cluster id, loads the cache and starts the watch. */
  static async open(options: EtcdMetadataStoreOptions): Promise<EtcdMetadataStore> {
    if (options.endpoints.length === 0) throw new MetadataError('TRIB_ERR_INVALID_METADATA', 'etcd.endpoints is empty');
    if (!(options.fenceMarginMs > 0 && options.fenceMarginMs < options.sessionTimeoutMs)) {
      throw new MetadataError('TRIB_ERR_INVALID_METADATA', `etcd.lease.fence.margin.ms (${options.fenceMarginMs}) must be above 0 and below broker.session.timeout.ms (${options.sessionTimeoutMs})`);
    }
    // Loaded here, not at the top: a single broker (no etcd) never loads gRPC, which keeps
    // `npm start` fast; the bundle keeps etcd3 external for the same reason.
    const { Etcd3 } = await import('etcd3');
    const newClient = (): Etcd3 => new Etcd3({
      hosts: [...options.endpoints],
      grpcOptions: { ...GRPC_OPTIONS },
      dialTimeout: options.requestTimeoutMs,
      faultHandling: { watchBackoff: watchReconnectBackoff(WATCH_RECONNECT_DELAY_MIN_MS) },
    });
    const client = newClient();
    const prefix = options.prefix.endsWith('/') ? options.prefix : `${options.prefix}/`;
    try {
      const key = prefix + K.clusterId;
      const clusterId = await withDeadline(options.requestTimeoutMs, `create or read the cluster id at ${key}`, (async () => {
        await client.if(key, 'Create', '==', 0).then(client.put(key).value(options.proposedClusterId)).commit();
        return client.get(key).string();
      })());
      if (clusterId === null || !isKafkaUuid(clusterId)) throw new MetadataError('TRIB_ERR_INVALID_METADATA', `etcd key ${key} holds ${JSON.stringify(clusterId)}, not a Kafka Uuid`);
      const store = new EtcdMetadataStore(client, newClient, clusterId, options);
      try {
        await store.loadAndWatch();
      } catch (err) {
        await store.close();
        throw err;
      }
      return store;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  // --- reads (from the cache)

  topics(): readonly TopicMetadata[] { return [...this.cache.byName.values()]; }
  topic(name: string): TopicMetadata | undefined { return this.cache.byName.get(name); }
  topicById(topicId: string): TopicMetadata | undefined { return this.cache.byId.get(topicId); }
  brokers(): readonly BrokerRegistration[] { return [...this.cache.liveBrokers.values()].sort((a, b) => a.nodeId - b.nodeId); }
  brokerConfigs(nodeId: number | null): Readonly<Record<string, string>> {
    return { ...(this.cache.brokerConfigMap.get(K.brokerConfig(nodeId)) ?? {}) };
  }

  // --- ClusterMembership

  get fenced(): boolean { return this.fencedNow; }
  controllerId(): number { return this.currentController().id; }
  get isController(): boolean { return this.currentController().mine && !this.fencedNow; }
  onControllerChange(listener: (controllerId: number) => void): () => void {
    this.controllerListeners.add(listener);
    return () => { this.controllerListeners.delete(listener); };
  }
  onFencedChange(listener: (fenced: boolean) => void): () => void {
    this.fencedListeners.add(listener);
    return () => { this.fencedListeners.delete(listener); };
  }
  async resignController(): Promise<void> {
    this.withdrawn = true;
    if (this.campaignTimer) clearTimeout(this.campaignTimer);
    await this.resign();
  }

  // --- writes

  async createTopic(spec: NewTopic): Promise<TopicMetadata> {
    return (await this.createTopics([spec]))[0]!;
  }

  async createTopics(specs: readonly NewTopic[]): Promise<TopicMetadata[]> {
    this.checkOpen();
    const topics = planNewTopics(specs, this.cache, {
      checkName: (name) => {
        if (name.includes('/')) throw new MetadataError('TRIB_ERR_INVALID_METADATA', `Topic name '${name}' contains '/'`);
      },
    });
    if (topics.length === 0) return [];
    const compares: Compare[] = [];
    const puts = [];
    for (const topic of topics) {
      compares.push([K.topic(topic.name), 'Create', 0], [K.topicId(topic.topicId), 'Create', 0]);
      puts.push(this.client.put(this.key(K.topic(topic.name))).value(JSON.stringify(storedTopic(topic))));
      puts.push(this.client.put(this.key(K.topicId(topic.topicId))).value(topic.name));
      for (const p of topic.partitions) puts.push(this.client.put(this.key(K.partition(topic.name, p.partition))).value(JSON.stringify(p)));
    }
    if (!await this.cas('create topics', compares, puts)) {
      const taken = topics.find((t) => this.cache.byName.has(t.name));
      if (taken) throw new MetadataError('TRIB_ERR_TOPIC_EXISTS', `Topic '${taken.name}' already exists.`);
      throw new MetadataError('TRIB_ERR_INVALID_METADATA', `Topic id of one of ${topics.map((t) => `'${t.name}'`).join(', ')} is already used`);
    }
    return topics.map((t) => this.cache.byName.get(t.name) ?? t);
  }

  async deleteTopic(name: string): Promise<TopicMetadata> {
    this.checkOpen();
    const topic = this.requireTopic(name);
    const kv = this.cache.raw.get(K.topic(name))!;
    const c = this.client;
    const done = await this.cas(`delete topic '${name}'`, [[K.topic(name), 'Mod', kv.modRevision]], [
      c.delete().key(this.key(K.topic(name))),
      c.delete().prefix(this.key(K.partitions(name))),
      c.delete().key(this.key(K.topicId(topic.topicId))),
    ]);
    if (!done) {
      // Changed meanwhile (a config or partition count); delete what is there now.
      if (!this.cache.byName.has(name)) throw new MetadataError('TRIB_ERR_UNKNOWN_TOPIC', `Topic '${name}' does not exist`);
      return this.deleteTopic(name);
    }
    return topic;
  }

  async createPartitions(name: string, partitions: NewTopic['partitions']): Promise<TopicMetadata> {
    this.checkOpen();
    const current = this.requireTopic(name);
    if (partitions.length === 0) throw new MetadataError('TRIB_ERR_INVALID_METADATA', `No partitions to add to '${name}'`);
    const added = partitions.map((p, i) => newPartition(name, current.partitions.length + i, p));
    const next: TopicMetadata = { ...current, partitions: [...current.partitions, ...added] };
    const kv = this.cache.raw.get(K.topic(name))!;
    const c = this.client;
    const done = await this.cas(`create partitions of '${name}'`, [[K.topic(name), 'Mod', kv.modRevision]], [
      c.put(this.key(K.topic(name))).value(JSON.stringify(storedTopic(next))),
      ...added.map((p) => c.put(this.key(K.partition(name, p.partition))).value(JSON.stringify(p))),
    ]);
    if (!done) {
      const now = this.requireTopic(name);
      if (now.partitions.length !== current.partitions.length) {
        throw new MetadataError('TRIB_ERR_INVALID_METADATA', `Topic '${name}' now has ${now.partitions.length} partitions, not ${current.partitions.length}: another change added partitions`);
      }
      return this.createPartitions(name, partitions);
    }
    return this.cache.byName.get(name) ?? next;
  }

  async updatePartition(change: PartitionChange): Promise<PartitionState> {
    this.checkOpen();
    // A fenced broker may already be replaced as leader and is no longer controller: a
    // partition change it computed comes from a view others may have moved past (header).
    if (this.fencedNow) {
      throw new MetadataError('TRIB_ERR_UNAVAILABLE', `Partition ${change.topic}-${change.partition} not changed: this broker is fenced (its etcd lease may have expired) and makes no partition changes until it has registered again`);
    }
    const topic = this.requireTopic(change.topic);
    const before = topic.partitions[change.partition];
    if (before === undefined) {
      throw new MetadataError('TRIB_ERR_UNKNOWN_PARTITION', `Partition ${change.topic}-${change.partition} does not exist (the topic has ${topic.partitions.length})`);
    }
    const stale = (epoch: number): MetadataError => new MetadataError('TRIB_ERR_STALE_PARTITION_EPOCH',
      `Partition ${change.topic}-${change.partition} is at partition epoch ${epoch}, the change expected ${change.expectedPartitionEpoch}`);
    if (before.partitionEpoch !== change.expectedPartitionEpoch) throw stale(before.partitionEpoch);
    // A reassignment in progress is part of the partition state, as in the local store: without
    // it a reassignment through etcd never completed (the removed replicas stayed for good).
    const addingReplicas = [...(change.addingReplicas ?? before.addingReplicas ?? [])];
    const removingReplicas = [...(change.removingReplicas ?? before.removingReplicas ?? [])];
    const after: PartitionState = {
      partition: before.partition,
      replicas: [...(change.replicas ?? before.replicas)],
      leader: change.leader ?? before.leader,
      leaderEpoch: change.bumpLeaderEpoch ? before.leaderEpoch + 1 : before.leaderEpoch,
      isr: [...(change.isr ?? before.isr)],
      partitionEpoch: before.partitionEpoch + 1,
      ...(addingReplicas.length > 0 ? { addingReplicas } : {}),
      ...(removingReplicas.length > 0 ? { removingReplicas } : {}),
    };
    checkPartition(change.topic, after);
    const key = K.partition(change.topic, change.partition);
    const kv = this.cache.raw.get(key)!;
    const done = await this.cas(`update partition ${change.topic}-${change.partition}`, [[key, 'Mod', kv.modRevision]],
      [this.client.put(this.key(key)).value(JSON.stringify(after))]);
    if (!done) {
      const now = this.cache.byName.get(change.topic)?.partitions[change.partition];
      if (now === undefined) throw new MetadataError('TRIB_ERR_UNKNOWN_TOPIC', `Topic '${change.topic}' was deleted`);
      throw stale(now.partitionEpoch);
    }
    return after;
  }

  async alterTopicConfigs(name: string, changes: ConfigChanges): Promise<TopicMetadata> {
    this.checkOpen();
    for (let attempt = 1; ; attempt++) {
      const current = this.requireTopic(name);
      const next: TopicMetadata = { ...current, configs: applyConfigChanges(current.configs, changes) };
      const kv = this.cache.raw.get(K.topic(name))!;
      const done = await this.cas(`alter configs of topic '${name}'`, [[K.topic(name), 'Mod', kv.modRevision]],
        [this.client.put(this.key(K.topic(name))).value(JSON.stringify(storedTopic(next)))]);
      if (done) return this.cache.byName.get(name) ?? next;
      if (attempt >= CONFIG_CAS_ATTEMPTS_MAX) throw new MetadataError('TRIB_ERR_UNAVAILABLE', `Topic '${name}' changed ${attempt} times while its configs were being altered; try again`);
    }
  }

  acls(): readonly AclBinding[] { return this.cache.acls; }

  /** One key holds every binding: a compare-and-swap on its revision, retried like broker configs. */
  async alterAcls(add: readonly AclBinding[], remove: readonly AclBinding[]): Promise<void> {
    this.checkOpen();
    if (add.length === 0 && remove.length === 0) return;
    for (let attempt = 1; ; attempt++) {
      const kv = this.cache.raw.get(K.acls);
      const next = this.cache.acls.filter((acl) => !remove.some((r) => sameBinding(r, acl)));
      for (const acl of add) if (!next.some((b) => sameBinding(b, acl))) next.push(acl);
      const guard: Compare = kv === undefined ? [K.acls, 'Create', 0] : [K.acls, 'Mod', kv.modRevision];
      const op = next.length > 0 ? this.client.put(this.key(K.acls)).value(JSON.stringify(next)) : this.client.delete().key(this.key(K.acls));
      if (await this.cas('alter acls', [guard], [op])) return;
      if (attempt >= CONFIG_CAS_ATTEMPTS_MAX) throw new MetadataError('TRIB_ERR_UNAVAILABLE', `ACLs changed ${attempt} times while being altered; try again`);
    }
  }

  clientQuotas(): readonly ClientQuotaEntry[] {
    return this.cache.clientQuotaEntries;
  }

  /** One key holds every quota: a change is one compare-and-swap on it, retried like configs. */
  async alterClientQuotas(changes: readonly ClientQuotaChange[]): Promise<void> {
    this.checkOpen();
    const key = K.clientQuotas;
    for (let attempt = 1; ; attempt++) {
      const kv = this.cache.raw.get(key);
      const next = applyClientQuotaChanges(this.cache.clientQuotaEntries, changes);
      if (kv === undefined && next.length === 0) return;
      const guard: Compare = kv === undefined ? [key, 'Create', 0] : [key, 'Mod', kv.modRevision];
      const op = next.length > 0 ? this.client.put(this.key(key)).value(JSON.stringify(next)) : this.client.delete().key(this.key(key));
      if (await this.cas('alter client quotas', [guard], [op])) return;
      if (attempt >= CONFIG_CAS_ATTEMPTS_MAX) throw new MetadataError('TRIB_ERR_UNAVAILABLE', `Client quotas changed ${attempt} times while being altered; try again`);
    }
  }

  async alterBrokerConfigs(nodeId: number | null, changes: ConfigChanges): Promise<void> {
    this.checkOpen();
    const key = K.brokerConfig(nodeId);
    for (let attempt = 1; ; attempt++) {
      const kv = this.cache.raw.get(key);
      const next = applyConfigChanges(this.cache.brokerConfigMap.get(key) ?? {}, changes);
      if (kv === undefined && Object.keys(next).length === 0) return; // nothing stored, nothing to remove
      const guard: Compare = kv === undefined ? [key, 'Create', 0] : [key, 'Mod', kv.modRevision];
      const op = Object.keys(next).length > 0 ? this.client.put(this.key(key)).value(JSON.stringify(next)) : this.client.delete().key(this.key(key));
      if (await this.cas(`alter broker configs ${key}`, [guard], [op])) return;
      if (attempt >= CONFIG_CAS_ATTEMPTS_MAX) throw new MetadataError('TRIB_ERR_UNAVAILABLE', `Broker configs ${key} changed ${attempt} times while being altered; try again`);
    }
  }

  async registerBroker(broker: BrokerRegistration): Promise<void> {
    this.checkOpen();
    this.ownRegistrations.set(broker.nodeId, broker);
    if (this.leaseId === null) await this.startSession();
    await this.putRegistration(broker, this.leaseId!);
    this.campaign();
  }

  async unregisterBroker(nodeId: number): Promise<void> {
    this.checkOpen();
    this.ownRegistrations.delete(nodeId);
    const kv = this.cache.raw.get(K.broker(nodeId));
    if (kv === undefined) return;
    const mine = kv.lease === this.leaseId || this.formerLeaseIds.has(kv.lease);
    if (!mine && this.leaseId !== null) return; // another process's registration under the same id
    await this.cas(`unregister broker ${nodeId}`, [[K.broker(nodeId), 'Mod', kv.modRevision]], [this.client.delete().key(this.key(K.broker(nodeId)))]);
    if (this.ownRegistrations.size === 0) await this.resign();
  }

  subscribe(listener: MetadataListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /**
   * Resigns the controller, revokes the lease (etcd deletes the registrations), disconnects.
   * With etcd unreachable it gives up after one request timeout: the lease then expires by
   * itself within broker.session.timeout.ms. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    // Just failed to reach etcd (e.g. the broker's unregistration): do not wait on it again.
    let reachable = !this.fencedNow && performance.now() - this.unavailableAtMs > this.options.requestTimeoutMs;
    if (reachable) {
      try {
        await this.resign();
      } catch (err) {
        reachable = false;
        this.logger?.warn('Could not resign the controller election on close; the lease expiry will', { err: String(err) });
      }
    }
    this.closed = true;
    clearInterval(this.watchdog);
    this.clearSessionTimers();
    if (this.campaignTimer) clearTimeout(this.campaignTimer);
    const lease = this.lease;
    this.lease = null;
    if (lease && reachable) {
      try {
        await withDeadline(this.options.requestTimeoutMs, 'revoke the lease', lease.revoke());
      } catch (err) {
        lease.release();
        this.logger?.warn('Could not revoke the broker lease on close; it expires by itself', { err: String(err) });
      }
    } else {
      lease?.release();
    }
    // Cancelled first: etcd3's watch manager only lets go of its stream (and its reconnect
    // timers) once it has no watcher left. That includes a watch still being created (by a
    // reload under way), which is not this.watcher yet.
    this.watcher = null;
    this.abortWatchCreation?.(new MetadataError('TRIB_ERR_METADATA_CLOSED', 'The metadata store closed while its etcd watch was being created'));
    const cancels = [...this.attachedWatchers].map((watcher) => this.release(watcher));
    try {
      await withDeadline(this.options.requestTimeoutMs, 'cancel the watch', Promise.all(cancels));
    } catch { /* the clients are closed below anyway, which ends a cancel still waiting */ }
    this.client.close();
    this.watchClient.close();
    this.listeners.clear();
    this.controllerListeners.clear();
    this.fencedListeners.clear();
    for (const w of this.cacheWaiters.splice(0)) w.resolve();
  }


  // --- cache: load, watch, apply

  private async loadAndWatch(): Promise<void> {
    const res = await withDeadline(this.options.requestTimeoutMs, `read ${this.prefix}`, this.client.getAll().prefix(this.prefix).exec());
    const revision = Number(res.header.revision);
    const keys = new Map<string, CachedKv | null>();
    for (const kv of res.kvs) keys.set(this.relative(kv), cachedKv(kv));
    for (const key of this.cache.raw.keys()) if (!keys.has(key)) keys.set(key, null);
    this.applyBatch(keys, revision);
    if (this.closed) return;
    // The Watcher itself, not create()'s promise of it: the watcher is attached (and etcd3
    // reconnects it) from this moment, so the store must hold it to cancel it, even if its
    // creation is given up on or the store closes first.
    const watcher = this.watchClient.watch().prefix(this.prefix).startRevision(String(revision + 1)).watcher();
    this.attachedWatchers.add(watcher);
    // An 'error' emitted with no listener would throw out of etcd3's stream handler.
    watcher.on('error', () => undefined);
    const created = new Promise<void>((resolve, reject) => {
      watcher.once('connected', () => resolve());
      watcher.once('error', reject);
      this.abortWatchCreation = reject;
    });
    try {
      await withDeadline(this.options.requestTimeoutMs, `watch ${this.prefix}`, created);
    } catch (err) {
      // Given up on, it may still be created: cancelled now, or etcd3 would keep it (and its
      // reconnect timers, which hold the process) for as long as the client lives and after.
      void this.release(watcher);
      throw err;
    } finally {
      this.abortWatchCreation = null;
    }
    this.watcher = watcher;
    watcher.on('data', (response) => {
      if (this.watcher !== watcher) return; // replaced by a reload
      const byRevision = new Map<number, Map<string, CachedKv | null>>();
      for (const event of response.events) {
        const rev = Number(event.kv.mod_revision);
        if (rev <= this.cache.appliedRevision) continue; // a repeat after a reconnect
        let batch = byRevision.get(rev);
        if (!batch) byRevision.set(rev, batch = new Map());
        batch.set(this.relative(event.kv), event.type === 'Delete' ? null : cachedKv(event.kv));
      }
      try {
        for (const [rev, batch] of [...byRevision].sort((a, b) => a[0] - b[0])) this.applyBatch(batch, rev);
      } catch (err) {
        // etcd3 rethrows a throwing 'data' handler outside any promise, which would end the
        // process: a bug here is logged loudly instead, and the cache reloaded from scratch.
        this.logger?.error('Applying an etcd watch response failed; reloading the metadata cache', { err: String((err as Error)?.stack ?? err) });
        if (this.watcher === watcher) this.watcher = null;
        void this.release(watcher);
        void this.reload();
      }
    });
    watcher.on('error', (err) => {
      // The watch cannot resume (e.g. its revision was compacted): read everything again.
      if (this.watcher !== watcher) return; // already replaced (or the store closed)
      this.logger?.warn('etcd watch failed; reloading the metadata cache', { err: String(err) });
      this.watcher = null;
      void this.release(watcher);
      void this.reload();
    });
    watcher.on('disconnected', (err) => this.logger?.warn('etcd watch disconnected; it resumes from its revision', { err: String(err) }));
  }

  /**
   * Cancels a watcher this store attached, once (a second cancel of a watch etcd already
   * ended would send etcd a cancel for an id it no longer knows). Never rejects.
   */
  private release(watcher: Watcher): Promise<void> {
    if (!this.attachedWatchers.delete(watcher)) return Promise.resolve();
    return watcher.cancel().catch(() => undefined);
  }

  /**
   * Reads everything again and watches from there, applying the difference; with
   * `freshClient`, first replaces the watch's client (a stalled stream cannot be resumed).
   */
  private async reload(freshClient = false): Promise<void> {
    if (this.reloading) return;
    this.reloading = true;
    try {
      // Cancelled, not just dropped: a watcher left attached keeps etcd3 reconnecting it.
      this.watcher = null;
      for (const previous of this.attachedWatchers) void this.release(previous);
      if (freshClient) {
        const stalled = this.watchClient;
        this.watchClient = this.newClient();
        stalled.close();
      }
      while (!this.closed) {
        try {
          await this.loadAndWatch();
          return;
        } catch (err) {
          if (this.closed) return;
          this.logger?.warn('Reloading the metadata cache from etcd failed; retrying', { err: String(err) });
          await sleep(RETRY_DELAY_MS);
        }
      }
    } finally {
      this.reloading = false;
    }
  }

  /**
   * The watch's own keepalive catches a dead connection, but a stream can also stall where
   * no ping helps (reconnected to a paused member, whose kernel still accepts connections).
   * So every WATCH_STALL_CHECK_MS the store asks etcd how many of its keys changed after the
   * revision it has applied; keys seen changed twice in a row with no progress in between
   * mean the watch is stuck, and it is recreated on a fresh client. (Deletions are not
   * counted, but any later change is.)
   */
  private async checkWatch(): Promise<void> {
    if (this.closed || this.reloading || this.checkingWatch || this.watcher === null) return;
    this.checkingWatch = true;
    try {
      const applied = this.cache.appliedRevision;
      // The keys themselves, not count(): etcd applies min_mod_revision to the keys it returns
      // but not to a count_only answer, which counts every key under the prefix; a quiet
      // cluster then looked stalled every two checks, forever (seen on etcd 3.4).
      const newer = (await withDeadline(this.options.requestTimeoutMs, 'list the keys changed after the applied revision',
        this.client.getAll().prefix(this.prefix).minModRevision(applied + 1).keys())).length;
      if (newer === 0 || this.cache.appliedRevision > applied) {
        this.stalledAt = null;
      } else if (this.stalledAt === null || this.stalledAt !== applied) {
        this.stalledAt = applied; // one interval of grace: the watch may be just behind
      } else {
        this.stalledAt = null;
        this.logger?.warn('The etcd watch is stalled (etcd has changes it has not delivered); recreating it', { appliedRevision: applied, changedKeys: newer });
        void this.reload(true);
      }
    } catch {
      // etcd unreachable: nothing to compare with; the next check tries again.
    } finally {
      this.checkingWatch = false;
    }
  }

  /** Applies one revision's key changes to the cache, emits their events, wakes waiting writes. */
  private applyBatch(changes: ReadonlyMap<string, CachedKv | null>, revision: number): void {
    // This store's registration under its current lease deleted: the lease expired in etcd
    // without the store noticing (however that came about), and every other broker now
    // treats this one as dead (out of every ISR, never added back). Kafka's broker learns
    // it is fenced from its heartbeat's answer and registers again; so does this store.
    // (A registration under an older lease going is the expected end of a previous session.)
    const lostOwn = this.leaseId !== null && [...this.ownRegistrations.keys()].some((nodeId) => {
      const key = K.broker(nodeId);
      return changes.has(key) && changes.get(key) === null && this.cache.raw.get(key)?.lease === this.leaseId;
    });
    const applied = this.cache.apply(changes, revision);
    for (const event of applied.events) this.emit(event);
    if (lostOwn) this.fence('its registration was deleted in etcd (its lease expired there)');
    if (applied.controllerTouched || applied.brokersTouched) this.controllerMaybeChanged();
    if (applied.controllerTouched && !this.cache.raw.has(K.controller)) this.campaign();
    for (let i = this.cacheWaiters.length - 1; i >= 0; i--) {
      const w = this.cacheWaiters[i]!;
      if (w.ready()) {
        this.cacheWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** Resolves once `ready()` holds for the cache (checked after every applied batch). */
  private waitFor(what: string, ready: () => boolean): Promise<void> {
    if (ready() || this.closed) return Promise.resolve();
    return withDeadline(this.options.requestTimeoutMs, what, new Promise<void>((resolve) => {
      this.cacheWaiters.push({ ready, resolve });
    }));
  }

  // --- session: lease, registration, fencing, election

  private async startSession(): Promise<void> {
    const ttlS = Math.max(1, Math.ceil(this.options.sessionTimeoutMs / 1000));
    const lease = this.client.lease(ttlS, { autoKeepAlive: true });
    const sentAtMs = performance.now();
    let id: string;
    try {
      id = await withDeadline(this.options.requestTimeoutMs, 'grant a lease', lease.grant());
    } catch (err) {
      lease.release();
      throw err;
    }
    if (this.closed) {
      lease.revoke().catch(() => undefined);
      throw new MetadataError('TRIB_ERR_METADATA_CLOSED', 'The metadata store is closed');
    }
    this.lease = lease;
    this.leaseId = id;
    this.keepaliveSentAtMs.length = 0;
    this.renewed(sentAtMs);
    lease.on('keepaliveFired', () => { if (this.lease === lease) this.keepaliveSentAtMs.push(performance.now()); });
    lease.on('keepaliveSucceeded', () => {
      if (this.lease !== lease) return;
      // Answers come back in order on the one stream: this one answers the oldest send.
      this.renewed(this.keepaliveSentAtMs.shift() ?? performance.now());
    });
    lease.on('keepaliveFailed', () => { if (this.lease === lease) this.keepaliveSentAtMs.length = 0; });
    lease.on('lost', (err) => {
      if (this.lease !== lease) return;
      this.logger?.warn('The broker lease is lost', { err: String(err) });
      this.fence('the lease is lost');
    });
  }

  /** The lease was renewed by a keepalive sent at `sentAtMs`: re-arm the fence timer. */
  private renewed(sentAtMs: number): void {
    this.renewSentAtMs = Math.max(this.renewSentAtMs, sentAtMs);
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
    const delayMs = this.fencePointMs() - performance.now();
    this.fenceTimer = setTimeout(() => this.fence(`no keepalive answered for ${Math.round(performance.now() - this.renewSentAtMs)} ms`), Math.max(0, delayMs));
    this.fenceTimer.unref();
  }

  /** S + TTL - margin (header): when the lease, last renewed by a keepalive sent at S, may be gone. */
  private fencePointMs(): number {
    const ttlMs = Math.max(1, Math.ceil(this.options.sessionTimeoutMs / 1000)) * 1000;
    return this.renewSentAtMs + ttlMs - this.options.fenceMarginMs;
  }

  private clearSessionTimers(): void {
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
    this.fenceTimer = null;
  }

  /** Stops acting on a lease that may expire, then registers again on a fresh one. */
  private fence(reason: string): void {
    if (this.closed || this.fencedNow) return;
    this.clearSessionTimers();
    const wasController = this.isController;
    this.fencedNow = true;
    this.logger?.warn('Fenced: this broker may no longer be registered in etcd; it stops acting as controller and changing partitions, and keeps leading until it sees a newer leader epoch', { reason });
    if (this.lease) this.lease.release();
    if (this.leaseId !== null) this.formerLeaseIds.add(this.leaseId);
    this.lease = null;
    this.leaseId = null;
    for (const listener of this.fencedListeners) safely(() => listener(true), this.logger);
    if (wasController) this.controllerMaybeChanged(true);
    void this.registerAgain();
  }

  private async registerAgain(): Promise<void> {
    if (this.reregistering) return;
    this.reregistering = true;
    try {
      while (!this.closed && this.fencedNow) {
        try {
          await this.startSession();
          const lease = this.lease!;
          for (const broker of this.ownRegistrations.values()) await this.putRegistration(broker, this.leaseId!);
          // The registration may have waited long (an older registration to expire, etcd
          // without quorum) while this lease went unrenewed: its 'lost' and its fence timer
          // then fired while the store was fenced already and did nothing. etcd3 renews a
          // lease it declared lost no more, so the key just put under it would expire within
          // a TTL with this store believing itself registered, and no other broker would add
          // it to an ISR again (seed 1202). Such a registration is not one: start over.
          if (this.lease !== lease || lease.revoked() || performance.now() >= this.fencePointMs()) {
            throw new MetadataError('TRIB_ERR_UNAVAILABLE', `The lease ${this.leaseId} was lost, or went unrenewed past its fence point, while registering again`);
          }
          this.fencedNow = false;
          this.logger?.info('Registered again in etcd after being fenced', { leaseId: this.leaseId });
          for (const listener of this.fencedListeners) safely(() => listener(false), this.logger);
          this.controllerMaybeChanged();
          this.campaign();
        } catch (err) {
          if (this.lease) {
            this.lease.release();
            // Registrations may have been put under it: they are this store's own to replace.
            this.formerLeaseIds.add(this.leaseId!);
            this.lease = null;
            this.leaseId = null;
            this.clearSessionTimers();
          }
          this.logger?.warn('Registering again in etcd failed; retrying', { err: String(err) });
          await sleep(RETRY_DELAY_MS);
        }
      }
    } finally {
      this.reregistering = false;
    }
  }

  /**
   * Puts brokers/<id> under `leaseId`. A registration still held by another lease (a
   * previous process of this node that was killed, or this store before it was fenced) is
   * waited out until its lease expires, so the other brokers always see a lost broker go
   * and come back; one that outlives a full session belongs to a live process with the
   * same node id, which Kafka refuses too.
   */
  private async putRegistration(broker: BrokerRegistration, leaseId: string): Promise<void> {
    const key = K.broker(broker.nodeId);
    const deadline = performance.now() + this.options.sessionTimeoutMs + this.options.requestTimeoutMs;
    for (;;) {
      this.checkOpen();
      const kv = this.cache.raw.get(key);
      if (kv !== undefined && kv.lease !== leaseId) {
        if (performance.now() > deadline) {
          throw new MetadataError('TRIB_ERR_INVALID_METADATA', `Broker ${broker.nodeId} is registered by another live process (lease ${kv.lease}); node ids must be unique`);
        }
        await sleep(REGISTRATION_POLL_MS);
        continue;
      }
      const guard: Compare = kv === undefined ? [key, 'Create', 0] : [key, 'Mod', kv.modRevision];
      if (await this.cas(`register broker ${broker.nodeId}`, [guard], [this.client.put(this.key(key)).value(JSON.stringify(broker)).lease(leaseId)])) return;
    }
  }

  private currentController(): { id: number; mine: boolean } {
    const kv = this.cache.raw.get(K.controller);
    const value = parseJson(kv, isControllerValue);
    if (!kv || !value) return { id: -1, mine: false };
    return { id: value.nodeId, mine: this.leaseId !== null && kv.lease === this.leaseId };
  }

  private controllerMaybeChanged(force = false): void {
    const now = { id: this.controllerId(), mine: this.isController };
    if (!force && now.id === this.lastController.id && now.mine === this.lastController.mine) return;
    this.lastController = now;
    for (const listener of this.controllerListeners) safely(() => listener(now.id), this.logger);
  }

  /** Tries to become the controller when there is none. Never throws. */
  private campaign(): void {
    if (this.closed || this.withdrawn || this.campaigning || this.fencedNow || this.leaseId === null || this.ownRegistrations.size === 0) return;
    if (this.cache.raw.has(K.controller)) return;
    const nodeId = [...this.ownRegistrations.keys()][0]!;
    const leaseId = this.leaseId;
    this.campaigning = true;
    this.cas('campaign for controller', [[K.controller, 'Create', 0]], [this.client.put(this.key(K.controller)).value(JSON.stringify({ nodeId })).lease(leaseId)])
      .then(() => { this.campaigning = false; }, (err: unknown) => {
        this.campaigning = false;
        this.logger?.warn('Controller campaign failed; retrying', { err: String(err) });
        if (this.campaignTimer) clearTimeout(this.campaignTimer);
        this.campaignTimer = setTimeout(() => this.campaign(), RETRY_DELAY_MS);
        this.campaignTimer.unref();
      })
      .finally(() => { if (!this.cache.raw.has(K.controller)) this.campaign(); });
  }

  private async resign(): Promise<void> {
    const kv = this.cache.raw.get(K.controller);
    if (!kv || kv.lease !== this.leaseId || this.leaseId === null) return;
    await this.cas('resign the controller', [[K.controller, 'Mod', kv.modRevision]], [this.client.delete().key(this.key(K.controller))]);
  }

  // --- helpers

  private key(relative: string): string { return this.prefix + relative; }
  private relative(kv: IKeyValue): string { return kv.key.toString('utf8').slice(this.prefix.length); }

  /**
   * One compare-and-swap transaction: when every compare holds, runs `ops` and resolves true
   * once the watch has applied them; else resolves false once the cache shows the state that
   * made a compare fail (so the caller's retry or refusal sees it).
   */
  private async cas(what: string, compares: readonly Compare[], ops: readonly IOperation[]): Promise<boolean> {
    this.checkOpen();
    const c = this.client;
    let txn: ComparatorBuilder | null = null;
    for (const [key, target, value] of compares) {
      txn = txn === null ? c.if(this.key(key), target, '==', value) : txn.and(this.key(key), target, '==', value);
    }
    const gets = compares.map(([key]) => c.get(this.key(key)));
    let res: ITxnResponse;
    try {
      res = await withDeadline(this.options.requestTimeoutMs, what, txn!.then(...ops).else(...gets).commit());
    } catch (err) {
      const text = String((err as Error)?.message ?? err);
      if (/too many operations/i.test(text)) {
        throw new MetadataError('TRIB_ERR_INVALID_METADATA', `etcd refused to ${what}: ${text} (raise etcd's --max-txn-ops; docs/operations.md)`, { cause: err });
      }
      this.unavailableAtMs = performance.now();
      if (err instanceof MetadataError) throw err;
      throw new MetadataError('TRIB_ERR_UNAVAILABLE', `etcd could not ${what}: ${text}`, { cause: err });
    }
    this.unavailableAtMs = -Infinity;
    if (res.succeeded) {
      // Our own write: its events carry exactly this revision, and they arrive by the watch.
      await this.waitFor(`see revision ${res.header.revision} of '${what}' through the watch (the write is committed)`,
        () => this.cache.appliedRevision >= Number(res.header.revision));
      return true;
    }
    // The failing state: each compared key as etcd has it now. (The header revision cannot be
    // waited for: it counts writes outside this prefix too, which the watch never sees.)
    const seen = compares.map(([key], i) => ({ key, kv: res.responses[i]?.response_range?.kvs[0] }));
    await this.waitFor(`see the change that made '${what}' fail`, () => seen.every(({ key, kv }) =>
      kv === undefined ? (!this.cache.raw.has(key) || this.cache.raw.get(key)!.modRevision > Number(res.header.revision)) : this.cache.appliedRevision >= Number(kv.mod_revision)));
    return false;
  }

  private checkOpen(): void {
    if (this.closed) throw new MetadataError('TRIB_ERR_METADATA_CLOSED', 'The metadata store is closed');
  }

  private requireTopic(name: string): TopicMetadata {
    const topic = this.cache.byName.get(name);
    if (!topic) throw new MetadataError('TRIB_ERR_UNKNOWN_TOPIC', `Topic '${name}' does not exist`);
    return topic;
  }

  private emit(change: MetadataChange): void {
    for (const listener of this.listeners) safely(() => listener(change), this.logger, change.type);
  }
}

function safely(fn: () => void, logger: Logger | undefined, what = 'listener'): void {
  try {
    fn();
  } catch (err) {
    // A listener bug must not undo or block a durable change; it is logged loudly.
    logger?.error('Metadata listener threw', { change: what, err });
  }
}

/**
 * etcd3's watch backoff (cockatiel's IBackoff shape: a duration and the next one): doubling
 * from `delayMs`, bounded by WATCH_RECONNECT_DELAY_MAX_MS, each with up to half of it taken
 * off at random so brokers that lost etcd together do not reconnect in step.
 */
interface WatchBackoff {
  readonly duration: number;
  next(): WatchBackoff;
}

function watchReconnectBackoff(delayMs: number): WatchBackoff {
  return {
    duration: Math.round(delayMs * (1 - Math.random() / 2)),
    next: () => watchReconnectBackoff(Math.min(WATCH_RECONNECT_DELAY_MAX_MS, delayMs * 2)),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Rejects with TRIB_ERR_UNAVAILABLE after `timeoutMs`; the operation itself may still complete. */
function withDeadline<T>(timeoutMs: number, what: string, promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new MetadataError('TRIB_ERR_UNAVAILABLE',
      `etcd did not ${what} within ${timeoutMs} ms (no quorum, or no member reachable); the outcome is unknown`)), timeoutMs);
    promise.then((value) => { clearTimeout(timer); resolve(value); }, (err: unknown) => { clearTimeout(timer); reject(err); });
  });
}

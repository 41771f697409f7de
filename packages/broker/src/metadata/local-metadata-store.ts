/**
 * MetadataStore for a single broker with no other process: state lives in memory and
 * every change is appended to the metadata log (metadata-log.ts) and fsynced before the
 * promise resolves. Start-up replays the log; when the log has grown to several times the
 * size of a fresh snapshot it is rewritten as one snapshot record.
 *
 * Records (the "type" field of each line):
 *   cluster        { clusterId }                         first record of a new log
 *   snapshot       { clusterId, topics, brokerConfigs }  whole state (after compaction)
 *   topic          { topic: TopicMetadata }              create, or replace after a change
 *   partition      { topic: name, state: PartitionState } one partition's new state
 *   topic-delete   { name }
 *   broker-config  { nodeId: number | null, changes }     null values delete a key
 *   scram          { changes: ScramCredentialChange[] }   SCRAM credentials set or deleted
 *   acls           { add: AclBinding[], remove: AclBinding[] } ACL bindings created / deleted
 *   client-quota   { changes: ClientQuotaChange[] }      client quota keys set or removed
 * The snapshot also carries `scram` (user -> credentials), `acls` and `clientQuotas`
 * (ClientQuotaEntry[]) when there are any.
 * Unknown record types are a start-up error: a newer Tributary wrote this log.
 *
 * Broker registrations are deliberately not persisted: they describe live processes (in
 * etcd they hang on a lease), and this broker registers itself on every start.
 *
 * Partition states carry `addingReplicas`/`removingReplicas` only while a reassignment is
 * in progress; a state without them (every record written before they existed) reads as [].
 *
 * Controller: the longest-registered live broker (registration order; registering again,
 * as a controlled shutdown does, keeps the place). Several in-process brokers sharing one
 * store therefore elect one controller, and the next one takes over when it unregisters.
 */
import { join } from 'node:path';
import type {
  BrokerRegistration, ConfigChanges, MetadataChange, MetadataListener, MetadataStore, NewTopic,
  PartitionChange, PartitionState, ScramCredentialChange, StoredScramCredential, TopicMetadata,
  ClientQuotaChange, ClientQuotaEntry,
} from './metadata-store.js';
import { applyClientQuotaChanges, entityKey } from '../quota/client-quota-entity.js';
import { MetadataError } from './metadata-store.js';
import type { MetadataRecord } from './metadata-log.js';
import { METADATA_DIR, METADATA_LOG_FILE, MetadataLogWriter, readMetadataLog } from './metadata-log.js';
import type { AclBinding } from '../security/authorizer.js';
import { sameBinding } from '../security/authorizer.js';
import type { Logger } from '../logger.js';
import { checkPartition, newPartition, planNewTopics } from './topic-plan.js';

// Where these lived before topic-plan.ts; kept so existing imports of them still resolve.
export { checkPartition, newPartition } from './topic-plan.js';

export interface LocalMetadataStoreOptions {
  /** The broker's data directory; the log goes to `<dataDir>/__cluster_metadata/`. */
  readonly dataDir: string;
  /** From meta.properties; a log written for another cluster id is refused. */
  readonly clusterId: string;
  readonly logger?: Logger;
  /** Compact when the log exceeds max(this, 4 x snapshot size). Default 1 MiB. */
  readonly compactionBytesMin?: number;
}

const COMPACTION_BYTES_MIN_DEFAULT = 1 << 20;
/** The log is compacted when it is this many times larger than its last snapshot. */
const COMPACTION_GROWTH_FACTOR = 4;

export class LocalMetadataStore implements MetadataStore {
  readonly clusterId: string;
  private readonly byName = new Map<string, TopicMetadata>();
  private readonly byId = new Map<string, TopicMetadata>();
  /** '' = cluster-wide default, else the node id as text. */
  private readonly brokerConfigOverrides = new Map<string, Record<string, string>>();
  /** SCRAM credentials: user -> mechanism type -> credential. */
  private readonly scram = new Map<string, Map<number, StoredScramCredential>>();
  /** A new array on every change (the authorizer indexes by identity). */
  private aclBindings: readonly AclBinding[] = [];
  /** Client quotas by entityKey(); `quotaEntries` is its snapshot, replaced on each change. */
  private readonly quotas = new Map<string, ClientQuotaEntry>();
  private quotaEntries: readonly ClientQuotaEntry[] = [];
  private readonly liveBrokers = new Map<number, BrokerRegistration>();
  private readonly listeners = new Set<MetadataListener>();
  private writer: MetadataLogWriter | null;
  private snapshotBytes = 0;
  private readonly compactionBytesMin: number;
  private readonly logger: Logger | undefined;

  private constructor(options: LocalMetadataStoreOptions, writer: MetadataLogWriter) {
    this.clusterId = options.clusterId;
    this.writer = writer;
    this.logger = options.logger;
    this.compactionBytesMin = options.compactionBytesMin ?? COMPACTION_BYTES_MIN_DEFAULT;
  }

  /** Replays the log (cutting off a torn tail) and opens it for appends. */
  static async open(options: LocalMetadataStoreOptions): Promise<LocalMetadataStore> {
    const path = join(options.dataDir, METADATA_DIR, METADATA_LOG_FILE);
    const contents = readMetadataLog(path);
    if (contents.tornBytes > 0) {
      options.logger?.warn('Cut off a torn tail of the metadata log (a write interrupted by a crash; it was never acknowledged)', { path, tornBytes: contents.tornBytes, validBytes: contents.validBytes });
    }
    const store = new LocalMetadataStore(options, MetadataLogWriter.open(path, contents.validBytes));
    try {
      for (const record of contents.records) store.replay(record, path);
      if (contents.records.length === 0) store.writer!.append([{ type: 'cluster', clusterId: options.clusterId }]);
    } catch (err) {
      store.writer!.close();
      throw err;
    }
    store.snapshotBytes = contents.validBytes;
    options.logger?.debug('Metadata log replayed', { path, records: contents.records.length, topics: store.byName.size });
    return store;
  }

  // --- reads

  topics(): readonly TopicMetadata[] { return [...this.byName.values()]; }
  topic(name: string): TopicMetadata | undefined { return this.byName.get(name); }
  topicById(topicId: string): TopicMetadata | undefined { return this.byId.get(topicId); }
  brokers(): readonly BrokerRegistration[] { return [...this.liveBrokers.values()].sort((a, b) => a.nodeId - b.nodeId); }
  brokerConfigs(nodeId: number | null): Readonly<Record<string, string>> {
    return { ...(this.brokerConfigOverrides.get(nodeId === null ? '' : String(nodeId)) ?? {}) };
  }

  scramCredentials(user: string): readonly StoredScramCredential[] {
    return [...(this.scram.get(user)?.values() ?? [])];
  }

  scramUsers(): readonly string[] {
    return [...this.scram.keys()].sort();
  }

  acls(): readonly AclBinding[] {
    return this.aclBindings;
  }

  clientQuotas(): readonly ClientQuotaEntry[] {
    return this.quotaEntries;
  }

  // --- writes

  async alterAcls(add: readonly AclBinding[], remove: readonly AclBinding[]): Promise<void> {
    if (add.length > 0 || remove.length > 0) this.commit([{ type: 'acls', add, remove }]);
  }

  async alterClientQuotas(changes: readonly ClientQuotaChange[]): Promise<void> {
    if (changes.length > 0) this.commit([{ type: 'client-quota', changes }]);
  }

  async alterScramCredentials(changes: readonly ScramCredentialChange[]): Promise<void> {
    if (changes.length > 0) this.commit([{ type: 'scram', changes }]);
  }

  async createTopic(spec: NewTopic): Promise<TopicMetadata> {
    return (await this.createTopics([spec]))[0]!;
  }

  async createTopics(specs: readonly NewTopic[]): Promise<TopicMetadata[]> {
    const topics = planNewTopics(specs, { byName: this.byName, byId: this.byId });
    if (topics.length === 0) return [];
    this.commit(topics.map((topic) => ({ type: 'topic', topic })));
    for (const topic of topics) this.emit({ type: 'topic-created', topic });
    return topics;
  }

  async deleteTopic(name: string): Promise<TopicMetadata> {
    const topic = this.requireTopic(name);
    this.commit([{ type: 'topic-delete', name }]);
    this.emit({ type: 'topic-deleted', topic });
    return topic;
  }

  async createPartitions(name: string, partitions: NewTopic['partitions']): Promise<TopicMetadata> {
    const current = this.requireTopic(name);
    if (partitions.length === 0) throw new MetadataError('TRIB_ERR_INVALID_METADATA', `No partitions to add to '${name}'`);
    const added = partitions.map((p, i) => newPartition(name, current.partitions.length + i, p));
    const topic: TopicMetadata = { ...current, partitions: [...current.partitions, ...added] };
    this.commit([{ type: 'topic', topic }]);
    this.emit({ type: 'partitions-created', topic, partitions: added.map((p) => p.partition) });
    return topic;
  }

  async updatePartition(change: PartitionChange): Promise<PartitionState> {
    const topic = this.requireTopic(change.topic);
    const before = topic.partitions[change.partition];
    if (before === undefined) {
      throw new MetadataError('TRIB_ERR_UNKNOWN_PARTITION', `Partition ${change.topic}-${change.partition} does not exist (the topic has ${topic.partitions.length})`);
    }
    if (before.partitionEpoch !== change.expectedPartitionEpoch) {
      throw new MetadataError('TRIB_ERR_STALE_PARTITION_EPOCH',
        `Partition ${change.topic}-${change.partition} is at partition epoch ${before.partitionEpoch}, the change expected ${change.expectedPartitionEpoch}`);
    }
    const addingReplicas = [...(change.addingReplicas ?? before.addingReplicas ?? [])];
    const removingReplicas = [...(change.removingReplicas ?? before.removingReplicas ?? [])];
    const after: PartitionState = {
      partition: before.partition,
      replicas: [...(change.replicas ?? before.replicas)],
      leader: change.leader ?? before.leader,
      leaderEpoch: change.bumpLeaderEpoch ? before.leaderEpoch + 1 : before.leaderEpoch,
      isr: [...(change.isr ?? before.isr)],
      partitionEpoch: before.partitionEpoch + 1,
      // Only written while a reassignment is in progress, so logs stay as before otherwise.
      ...(addingReplicas.length > 0 ? { addingReplicas } : {}),
      ...(removingReplicas.length > 0 ? { removingReplicas } : {}),
    };
    checkPartition(change.topic, after);
    this.commit([{ type: 'partition', topic: change.topic, state: after }]);
    this.emit({ type: 'partition-changed', topic: this.byName.get(change.topic)!, before, after });
    return after;
  }

  async alterTopicConfigs(name: string, changes: ConfigChanges): Promise<TopicMetadata> {
    const current = this.requireTopic(name);
    const topic: TopicMetadata = { ...current, configs: applyChanges(current.configs, changes) };
    this.commit([{ type: 'topic', topic }]);
    this.emit({ type: 'topic-config-changed', topic, changes });
    return topic;
  }

  async alterBrokerConfigs(nodeId: number | null, changes: ConfigChanges): Promise<void> {
    this.commit([{ type: 'broker-config', nodeId, changes }]);
    this.emit({ type: 'broker-config-changed', nodeId, changes });
  }

  async registerBroker(broker: BrokerRegistration): Promise<void> {
    this.liveBrokers.set(broker.nodeId, broker);
    this.emit({ type: 'broker-registered', broker });
  }

  async unregisterBroker(nodeId: number): Promise<void> {
    if (this.liveBrokers.delete(nodeId)) this.emit({ type: 'broker-unregistered', nodeId });
  }

  controllerId(): number {
    for (const nodeId of this.liveBrokers.keys()) return nodeId;
    return -1;
  }

  subscribe(listener: MetadataListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  async close(): Promise<void> {
    this.writer?.close();
    this.writer = null;
    this.listeners.clear();
  }

  // --- internals

  /** Makes `records` durable, then applies them; compacts the log when it has grown. */
  private commit(records: MetadataRecord[]): void {
    if (this.writer === null) throw new MetadataError('TRIB_ERR_METADATA_CLOSED', 'The metadata store is closed');
    this.writer.append(records);
    for (const record of records) this.apply(record);
    if (this.writer.sizeBytes > Math.max(this.compactionBytesMin, COMPACTION_GROWTH_FACTOR * this.snapshotBytes)) this.compact();
  }

  private compact(): void {
    const snapshot: MetadataRecord = {
      type: 'snapshot',
      clusterId: this.clusterId,
      topics: [...this.byName.values()],
      brokerConfigs: Object.fromEntries(this.brokerConfigOverrides),
      ...(this.aclBindings.length > 0 ? { acls: this.aclBindings } : {}),
      ...(this.scram.size > 0 ? { scram: Object.fromEntries([...this.scram].map(([user, m]) => [user, [...m.values()]])) } : {}),
      ...(this.quotas.size > 0 ? { clientQuotas: this.quotaEntries } : {}),
    };
    const before = this.writer!.sizeBytes;
    this.writer!.rewrite([snapshot]);
    this.snapshotBytes = this.writer!.sizeBytes;
    this.logger?.info('Compacted the metadata log', { bytesBefore: before, bytesAfter: this.snapshotBytes });
  }

  private replay(record: MetadataRecord, path: string): void {
    if ((record.type === 'cluster' || record.type === 'snapshot') && record['clusterId'] !== this.clusterId) {
      throw new MetadataError('TRIB_ERR_INVALID_METADATA',
        `Metadata log ${path} belongs to cluster ${String(record['clusterId'])}, but meta.properties says ${this.clusterId}`);
    }
    try {
      this.apply(record);
    } catch (err) {
      throw new MetadataError('TRIB_ERR_METADATA_LOG_CORRUPT', `Cannot replay metadata record of type ${JSON.stringify(record.type)} from ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Applies a record that is already durable. Shared by commit and replay. */
  private apply(record: MetadataRecord): void {
    switch (record.type) {
      case 'cluster':
        return;
      case 'snapshot': {
        this.byName.clear();
        this.byId.clear();
        this.brokerConfigOverrides.clear();
        for (const topic of record['topics'] as TopicMetadata[]) this.putTopic(topic);
        for (const [key, configs] of Object.entries(record['brokerConfigs'] as Record<string, Record<string, string>>)) {
          this.brokerConfigOverrides.set(key, { ...configs });
        }
        this.aclBindings = [...((record['acls'] ?? []) as AclBinding[])];
        this.scram.clear();
        for (const [user, credentials] of Object.entries((record['scram'] ?? {}) as Record<string, StoredScramCredential[]>)) {
          this.scram.set(user, new Map(credentials.map((c) => [c.mechanism, c])));
        }
        this.quotas.clear();
        for (const entry of (record['clientQuotas'] ?? []) as ClientQuotaEntry[]) this.quotas.set(entityKey(entry.entity), entry);
        this.quotaEntries = [...this.quotas.values()];
        return;
      }
      case 'topic':
        this.putTopic(record['topic'] as TopicMetadata);
        return;
      case 'partition': {
        const name = record['topic'] as string;
        const state = record['state'] as PartitionState;
        const topic = this.byName.get(name);
        if (!topic || topic.partitions[state.partition] === undefined) throw new Error(`partition ${name}-${state.partition} does not exist`);
        const partitions = [...topic.partitions];
        partitions[state.partition] = state;
        this.putTopic({ ...topic, partitions });
        return;
      }
      case 'topic-delete': {
        const topic = this.byName.get(record['name'] as string);
        if (!topic) throw new Error(`topic ${String(record['name'])} does not exist`);
        this.byName.delete(topic.name);
        this.byId.delete(topic.topicId);
        return;
      }
      case 'broker-config': {
        const nodeId = record['nodeId'] as number | null;
        const key = nodeId === null ? '' : String(nodeId);
        const next = applyChanges(this.brokerConfigOverrides.get(key) ?? {}, record['changes'] as ConfigChanges);
        if (Object.keys(next).length === 0) this.brokerConfigOverrides.delete(key);
        else this.brokerConfigOverrides.set(key, next);
        return;
      }
      case 'scram': {
        for (const change of record['changes'] as ScramCredentialChange[]) {
          const byMechanism = this.scram.get(change.user) ?? new Map<number, StoredScramCredential>();
          if (change.credential === null) byMechanism.delete(change.mechanism);
          else byMechanism.set(change.mechanism, change.credential);
          if (byMechanism.size === 0) this.scram.delete(change.user);
          else this.scram.set(change.user, byMechanism);
        }
        return;
      }
      case 'acls': {
        const remove = record['remove'] as AclBinding[];
        const next = this.aclBindings.filter((acl) => !remove.some((r) => sameBinding(r, acl)));
        for (const acl of record['add'] as AclBinding[]) if (!next.some((b) => sameBinding(b, acl))) next.push(acl);
        this.aclBindings = next;
        return;
      }
      case 'client-quota': {
        this.quotaEntries = applyClientQuotaChanges(this.quotaEntries, record['changes'] as ClientQuotaChange[]);
        this.quotas.clear();
        for (const entry of this.quotaEntries) this.quotas.set(entityKey(entry.entity), entry);
        return;
      }
      default:
        throw new Error(`unknown record type ${JSON.stringify(record.type)} (written by a newer version?)`);
    }
  }

  private putTopic(topic: TopicMetadata): void {
    const previous = this.byName.get(topic.name);
    if (previous && previous.topicId !== topic.topicId) this.byId.delete(previous.topicId);
    this.byName.set(topic.name, topic);
    this.byId.set(topic.topicId, topic);
  }

  private requireTopic(name: string): TopicMetadata {
    const topic = this.byName.get(name);
    if (!topic) throw new MetadataError('TRIB_ERR_UNKNOWN_TOPIC', `Topic '${name}' does not exist`);
    return topic;
  }

  private emit(change: MetadataChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        // A listener bug must not undo or block a durable change; it is logged loudly.
        this.logger?.error('Metadata listener threw', { change: change.type, err });
      }
    }
  }
}

export function applyChanges(current: Readonly<Record<string, string>>, changes: ConfigChanges): Record<string, string> {
  const next = { ...current };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}

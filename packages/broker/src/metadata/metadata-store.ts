/**
 * Where a broker keeps cluster metadata: topics (ids, partitions, replicas, leaders,
 * leader epochs, ISR), per-topic and broker config overrides, the cluster id and the
 * live brokers. Two implementations sit behind this interface: LocalMetadataStore (a
 * fsynced log in the data directory, single node) and EtcdMetadataStore (a cluster).
 *
 * Contract shared by both:
 * - Reads are synchronous and served from memory (the etcd store keeps a watched
 *   cache), so request handlers never wait on the store to read.
 * - A write resolves only once it is durable (fsynced locally / committed in etcd) and
 *   has been applied to the in-memory view; listeners see it before the promise resolves.
 * - Changes to partition state are compare-and-swap on the partition epoch, so two
 *   writers (controller, leader shrinking ISR) cannot overwrite each other silently.
 * - Expected refusals (topic exists, unknown topic, stale epoch) reject with
 *   MetadataError carrying a stable code and the Kafka error code to answer with.
 */
import type { AclBinding } from '../security/authorizer.js';
import type { ClientQuotaEntry, QuotaEntityPart } from '../quota/client-quota-entity.js';

export type { ClientQuotaEntry, QuotaEntityPart };

export interface PartitionState {
  readonly partition: number;
  /** Replica broker ids; the first is the preferred leader. */
  readonly replicas: readonly number[];
  /** Leader broker id, or -1 when the partition has no leader. */
  readonly leader: number;
  /** Bumped on every leader change; fences stale leaders and followers. */
  readonly leaderEpoch: number;
  /** In-sync replicas. */
  readonly isr: readonly number[];
  /** Bumped on every change of this record (KRaft's partition epoch); the CAS token. */
  readonly partitionEpoch: number;
  /**
   * During a reassignment (KRaft's PartitionRecord fields): replicas being added and being
   * removed; `replicas` is then the union, target replicas first. Absent means [] (records
   * written before reassignment existed have neither).
   */
  readonly addingReplicas?: readonly number[];
  readonly removingReplicas?: readonly number[];
}

export interface TopicMetadata {
  readonly name: string;
  /** Kafka Uuid text (22 characters). */
  readonly topicId: string;
  /** Indexed by partition number; partitions are 0..n-1 without gaps. */
  readonly partitions: readonly PartitionState[];
  /** Per-topic overrides as strings, as AlterConfigs stores them. */
  readonly configs: Readonly<Record<string, string>>;
  /** True for __consumer_offsets and __transaction_state. */
  readonly internal: boolean;
}

export interface BrokerEndpoint {
  readonly listener: string;
  readonly host: string;
  readonly port: number;
  readonly securityProtocol: string;
}

export interface BrokerRegistration {
  readonly nodeId: number;
  readonly endpoints: readonly BrokerEndpoint[];
  readonly rack: string | null;
  /**
   * Set when the broker asks to shut down (KRaft: BrokerHeartbeat wantShutDown): the
   * controller moves leadership off it and takes it out of every ISR, and no new replica
   * is placed on it. It is registered again with the flag set (same place in the store).
   */
  readonly inControlledShutdown?: boolean;
  /**
   * Kafka's incarnation id: new each time the broker process starts. The controller fences
   * a registration under a new one (controller/controller.ts). Absent from older registrations.
   */
  readonly incarnationId?: string;
}

export interface NewTopic {
  readonly name: string;
  /** Generated when omitted. */
  readonly topicId?: string;
  readonly partitions: readonly Pick<PartitionState, 'replicas' | 'leader' | 'isr'>[];
  readonly configs?: Readonly<Record<string, string>>;
  readonly internal?: boolean;
}

/** A partition change; `expectedPartitionEpoch` must equal the current epoch. */
export interface PartitionChange {
  readonly topic: string;
  readonly partition: number;
  readonly expectedPartitionEpoch: number;
  readonly replicas?: readonly number[];
  readonly leader?: number;
  readonly isr?: readonly number[];
  /** When true the leader epoch is bumped (a leader change); else it is kept. */
  readonly bumpLeaderEpoch?: boolean;
  /** Reassignment state; omitted = unchanged. */
  readonly addingReplicas?: readonly number[];
  readonly removingReplicas?: readonly number[];
}

/**
 * One user's SCRAM credential for one mechanism (Kafka's UserScramCredentialRecord):
 * never the password, only what the server needs to verify a proof. Byte fields are base64.
 */
export interface StoredScramCredential {
  /** Kafka's ScramMechanism type: 1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512. */
  readonly mechanism: number;
  readonly salt: string;
  readonly storedKey: string;
  readonly serverKey: string;
  readonly iterations: number;
}

/** An AlterUserScramCredentials change: `credential` null deletes the user's mechanism. */
export interface ScramCredentialChange {
  readonly user: string;
  readonly mechanism: number;
  readonly credential: StoredScramCredential | null;
}

/** One quota key set (value) or removed (null) on one entity (Kafka's QuotaRecord). */
export interface ClientQuotaChange {
  readonly entity: readonly QuotaEntityPart[];
  readonly key: string;
  readonly value: number | null;
}

/** `null` values delete the override. */
export type ConfigChanges = Readonly<Record<string, string | null>>;

export type MetadataChange =
  | { readonly type: 'topic-created'; readonly topic: TopicMetadata }
  | { readonly type: 'topic-deleted'; readonly topic: TopicMetadata }
  | { readonly type: 'partitions-created'; readonly topic: TopicMetadata; readonly partitions: readonly number[] }
  | { readonly type: 'partition-changed'; readonly topic: TopicMetadata; readonly before: PartitionState; readonly after: PartitionState }
  | { readonly type: 'topic-config-changed'; readonly topic: TopicMetadata; readonly changes: ConfigChanges }
  | { readonly type: 'broker-config-changed'; readonly nodeId: number | null; readonly changes: ConfigChanges }
  | { readonly type: 'broker-registered'; readonly broker: BrokerRegistration }
  | { readonly type: 'broker-unregistered'; readonly nodeId: number };

export type MetadataListener = (change: MetadataChange) => void;

export interface MetadataStore {
  readonly clusterId: string;

  topics(): readonly TopicMetadata[];
  topic(name: string): TopicMetadata | undefined;
  topicById(topicId: string): TopicMetadata | undefined;

  createTopic(topic: NewTopic): Promise<TopicMetadata>;
  /**
   * Creates several topics atomically (Kafka's controller writes one CreateTopics as one
   * batch of records): one durable write, then one `topic-created` event per topic, in
   * order. Any invalid spec (existing name, ...) fails the whole call and writes nothing.
   */
  createTopics(topics: readonly NewTopic[]): Promise<TopicMetadata[]>;
  deleteTopic(name: string): Promise<TopicMetadata>;
  /** Adds partitions numbered after the existing ones. */
  createPartitions(name: string, partitions: NewTopic['partitions']): Promise<TopicMetadata>;
  updatePartition(change: PartitionChange): Promise<PartitionState>;
  alterTopicConfigs(name: string, changes: ConfigChanges): Promise<TopicMetadata>;

  /** Broker config overrides: `nodeId` null = the cluster-wide default. */
  brokerConfigs(nodeId: number | null): Readonly<Record<string, string>>;
  alterBrokerConfigs(nodeId: number | null, changes: ConfigChanges): Promise<void>;

  /** Live brokers: registrations are not persisted (in etcd they hang on a lease). */
  brokers(): readonly BrokerRegistration[];
  registerBroker(broker: BrokerRegistration): Promise<void>;
  unregisterBroker(nodeId: number): Promise<void>;
  /**
   * The broker that runs the controller duties (controller/), or -1 when none is known.
   * Optional: a store without it makes every broker name itself (single node).
   */
  controllerId?(): number;

  /**
   * SCRAM credentials (DescribeUserScramCredentials / AlterUserScramCredentials, SASL/SCRAM).
   * Optional so that a store without them still compiles; the broker answers the SCRAM APIs
   * with an error and SCRAM logins fail when a store lacks them.
   * Reads are synchronous, like every read here; a change is applied atomically.
   */
  scramCredentials?(user: string): readonly StoredScramCredential[];
  scramUsers?(): readonly string[];
  alterScramCredentials?(changes: readonly ScramCredentialChange[]): Promise<void>;

  /**
   * ACL bindings (CreateAcls / DescribeAcls / DeleteAcls, the authorizer). Optional like the
   * SCRAM methods: without them the ACL APIs answer SECURITY_DISABLED. `acls()` returns the
   * same array until a change, so the authorizer can keep an index keyed by it. Adding a
   * binding that exists, or removing one that does not, is no change (as in Kafka).
   */
  acls?(): readonly AclBinding[];
  alterAcls?(add: readonly AclBinding[], remove: readonly AclBinding[]): Promise<void>;

  /**
   * Client quotas (DescribeClientQuotas / AlterClientQuotas, quota/): every entity with
   * its quota values. Optional like SCRAM: without them the quota APIs answer an error and
   * no client is throttled. `clientQuotas()` returns the same array until a change, so
   * callers may cache what they derive from it by identity.
   */
  clientQuotas?(): readonly ClientQuotaEntry[];
  /** Applies the changes atomically; a null value removes the key (Kafka's QuotaRecord). */
  alterClientQuotas?(changes: readonly ClientQuotaChange[]): Promise<void>;

  /** Returns a function that removes the listener. Listeners must not throw. */
  subscribe(listener: MetadataListener): () => void;
  close(): Promise<void>;
}

export type MetadataErrorCode =
  | 'TRIB_ERR_TOPIC_EXISTS'
  | 'TRIB_ERR_UNKNOWN_TOPIC'
  | 'TRIB_ERR_UNKNOWN_PARTITION'
  | 'TRIB_ERR_STALE_PARTITION_EPOCH'
  | 'TRIB_ERR_INVALID_METADATA'
  | 'TRIB_ERR_METADATA_CLOSED'
  /** The etcd store could not reach a quorum in time; the write's outcome is unknown. */
  | 'TRIB_ERR_UNAVAILABLE'
  | 'TRIB_ERR_METADATA_LOG_CORRUPT';

/** Kafka error codes the handlers answer with for each refusal. */
export const METADATA_ERROR_KAFKA_CODE: Readonly<Record<MetadataErrorCode, number>> = {
  TRIB_ERR_TOPIC_EXISTS: 36, // TOPIC_ALREADY_EXISTS
  TRIB_ERR_UNKNOWN_TOPIC: 3, // UNKNOWN_TOPIC_OR_PARTITION
  TRIB_ERR_UNKNOWN_PARTITION: 3,
  TRIB_ERR_STALE_PARTITION_EPOCH: 95, // INVALID_UPDATE_VERSION, what AlterPartition answers for a stale partition epoch
  TRIB_ERR_INVALID_METADATA: 42, // INVALID_REQUEST
  TRIB_ERR_METADATA_CLOSED: -1,
  TRIB_ERR_UNAVAILABLE: 7, // REQUEST_TIMED_OUT, what Kafka answers when the controller cannot commit in time
  TRIB_ERR_METADATA_LOG_CORRUPT: -1,
};

export class MetadataError extends Error {
  readonly code: MetadataErrorCode;
  readonly kafkaErrorCode: number;
  constructor(code: MetadataErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MetadataError';
    this.code = code;
    this.kafkaErrorCode = METADATA_ERROR_KAFKA_CODE[code];
  }
}

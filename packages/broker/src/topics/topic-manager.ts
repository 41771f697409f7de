/**
 * Creating, deleting and growing topics: Kafka's controller-side rules for CreateTopics,
 * DeleteTopics and CreatePartitions (ReplicationControlManager), plus topic auto-creation
 * and the internal topics the coordinators need.
 *
 * Only metadata is written here. The replica manager reacts to the metadata store's change
 * events (which run before a write resolves) by creating or deleting the partition logs,
 * so when a method here resolves the logs exist too.
 *
 * Outcomes a client caused (bad name, topic exists, replication factor too high...) are
 * returned as a Kafka error code with Kafka's message; nothing here throws for them. The
 * order of the checks follows Kafka, because it decides which error a request with several
 * problems gets: name, existence, collision, configs, then partitions and replicas.
 *
 * New partitions start with leader = first replica, leader epoch 0, ISR = all replicas:
 * every replica is on a live broker (placement and manual assignments only use live
 * brokers), and an empty log is trivially in sync.
 *
 * Deliberate differences from Kafka:
 * - This broker counts as live even before its registration lands in the metadata store,
 *   so the coordinators can create their topics during start-up.
 * - Internal topics may be deleted, as in Kafka's KRaft mode; only `__cluster_metadata`
 *   may not be created.
 */
import { ErrorCode } from '@tributary/protocol';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logger.js';
import { ZERO_UUID } from '../metadata/kafka-uuid.js';
import type { MetadataStore, NewTopic, PartitionState, TopicMetadata } from '../metadata/metadata-store.js';
import { MetadataError } from '../metadata/metadata-store.js';
import { placeReplicas } from './replica-placement.js';
import { nullTopicConfigsMessage, topicConfigsError } from './topic-config-validation.js';
import {
  CLUSTER_METADATA_TOPIC_NAME, GROUP_METADATA_TOPIC_NAME, TRANSACTION_STATE_TOPIC_NAME,
  hasCollisionChars, invalidTopicNameReason, isInternalTopic, unifyCollisionChars,
} from './topic-name.js';

/**
 * Kafka's controller refuses one operation that would write more than this many metadata
 * records (QuorumController.MAX_RECORDS_PER_USER_OP) with POLICY_VIOLATION. It also keeps a
 * request for 2^31 partitions from allocating the broker to death.
 */
export const USER_OPERATION_RECORDS_MAX = 10_000;
const EXCESSIVE_BATCH_MESSAGE = 'Unable to perform excessively large batch operation.';

export interface TopicManagerDeps {
  readonly metadata: MetadataStore;
  readonly nodeId: number;
  /** The current effective config (it changes with dynamic broker configs). */
  readonly config: () => BrokerConfig;
  readonly logger: Logger;
}

export interface CreateTopicRequest {
  readonly name: string;
  /** -1 = num.partitions (or the assignment count when assignments are given). */
  readonly numPartitions: number;
  /** -1 = default.replication.factor (or the assignment size). */
  readonly replicationFactor: number;
  readonly assignments?: readonly { readonly partitionIndex: number; readonly brokerIds: readonly number[] }[];
  readonly configs?: Readonly<Record<string, string | null>>;
  readonly validateOnly?: boolean;
}

export interface TopicOperationResult {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export interface CreateTopicResult extends TopicOperationResult {
  /** The created topic; with validateOnly, what would be created (topic id all zeros). */
  readonly topic?: TopicMetadata;
}

/** An internal topic could not be created (the coordinators cannot start without it). */
export class TopicManagerError extends Error {
  readonly code = 'TRIB_ERR_INTERNAL_TOPIC' as const;
  readonly kafkaErrorCode: number;
  constructor(message: string, kafkaErrorCode: number) {
    super(message);
    this.name = 'TopicManagerError';
    this.kafkaErrorCode = kafkaErrorCode;
  }
}

type Plan = { readonly ok: true; readonly topic: NewTopic } | { readonly ok: false; readonly errorCode: number; readonly errorMessage: string };

const fail = (errorCode: number, errorMessage: string): { ok: false; errorCode: number; errorMessage: string } => ({ ok: false, errorCode, errorMessage });

export class TopicManager {
  private readonly metadata: MetadataStore;
  private readonly nodeId: number;
  private readonly config: () => BrokerConfig;
  private readonly logger: Logger;
  /** Auto-creations in flight by name: concurrent Metadata requests share one creation. */
  private readonly creating = new Map<string, Promise<CreateTopicResult>>();

  constructor(deps: TopicManagerDeps) {
    this.metadata = deps.metadata;
    this.nodeId = deps.nodeId;
    this.config = deps.config;
    this.logger = deps.logger;
  }

  /** CreateTopics semantics for one topic; with validateOnly nothing is written. */
  async createTopic(req: CreateTopicRequest): Promise<CreateTopicResult> {
    const plan = this.plan(req);
    if (!plan.ok) return { errorCode: plan.errorCode, errorMessage: plan.errorMessage };
    if (req.validateOnly) return { errorCode: ErrorCode.NONE, errorMessage: null, topic: preview(plan.topic) };
    try {
      const topic = await this.metadata.createTopic(plan.topic);
      this.logger.info('Created topic', {
        topic: topic.name, topicId: topic.topicId, partitions: topic.partitions.length,
        replicationFactor: topic.partitions[0]!.replicas.length, configs: topic.configs,
      });
      return { errorCode: ErrorCode.NONE, errorMessage: null, topic };
    } catch (err) {
      if (err instanceof MetadataError) return { errorCode: err.kafkaErrorCode, errorMessage: err.message };
      throw err;
    }
  }

  /**
   * Auto-creation for Metadata/FindCoordinator: num.partitions and
   * default.replication.factor, or the internal topic's own settings for internal names.
   * An existing topic (created concurrently) counts as success.
   */
  async autoCreateTopic(name: string): Promise<{ errorCode: number; topic?: TopicMetadata }> {
    const existing = this.metadata.topic(name);
    if (existing) return { errorCode: ErrorCode.NONE, topic: existing };
    const result = await this.once(name, () => {
      const req = name === GROUP_METADATA_TOPIC_NAME || name === TRANSACTION_STATE_TOPIC_NAME
        ? this.internalTopicRequest(name)
        : { name, numPartitions: -1, replicationFactor: -1 };
      return this.createTopic(req);
    });
    if (result.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) {
      const topic = this.metadata.topic(name);
      if (topic) return { errorCode: ErrorCode.NONE, topic };
    }
    if (result.errorCode !== ErrorCode.NONE) {
      this.logger.warn('Auto-creation of a topic failed', { topic: name, errorCode: result.errorCode, reason: result.errorMessage });
    }
    return result.topic ? { errorCode: result.errorCode, topic: result.topic } : { errorCode: result.errorCode };
  }

  /**
   * The internal topic, created on first use: offsets.topic.num.partitions (or
   * transaction.state.log.num.partitions) partitions, the configured replication factor
   * capped to the live brokers (so a single broker works), compacted.
   */
  async ensureInternalTopic(name: '__consumer_offsets' | '__transaction_state'): Promise<TopicMetadata> {
    const existing = this.metadata.topic(name);
    if (existing) return existing;
    const result = await this.once(name, () => this.createTopic(this.internalTopicRequest(name)));
    const topic = result.topic ?? this.metadata.topic(name);
    if (topic) return topic;
    throw new TopicManagerError(`Cannot create internal topic ${name}: ${result.errorMessage ?? `error code ${result.errorCode}`}`, result.errorCode);
  }

  /** DeleteTopics semantics for one topic, by name. */
  async deleteTopic(name: string): Promise<TopicOperationResult> {
    if (!this.config().boolean('delete.topic.enable')) {
      return { errorCode: ErrorCode.TOPIC_DELETION_DISABLED, errorMessage: 'Topic deletion is disabled.' };
    }
    if (!this.metadata.topic(name)) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'This server does not host this topic-partition.' };
    try {
      const topic = await this.metadata.deleteTopic(name);
      this.logger.info('Deleted topic', { topic: name, topicId: topic.topicId, partitions: topic.partitions.length });
      return { errorCode: ErrorCode.NONE, errorMessage: null };
    } catch (err) {
      if (err instanceof MetadataError) return { errorCode: err.kafkaErrorCode, errorMessage: err.message };
      throw err;
    }
  }

  /**
   * CreatePartitions semantics: grow `name` to `count` partitions, placing the new ones
   * automatically or on `assignments` (one replica list per new partition).
   */
  async createPartitions(name: string, count: number, assignments: number[][] | null, validateOnly: boolean): Promise<TopicOperationResult> {
    const topic = this.metadata.topic(name);
    if (!topic) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'This server does not host this topic-partition.' };
    const current = topic.partitions.length;
    if (count === current) return { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `Topic already has ${current} partition(s).` };
    if (count < current) {
      return { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `The topic ${name} currently has ${current} partition(s); ${count} would not be an increase.` };
    }
    const additional = count - current;
    if (assignments !== null && assignments.length !== additional) {
      return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: `Attempted to add ${additional} additional partition(s), but only ${assignments.length} assignment(s) were specified.` };
    }
    if (additional > USER_OPERATION_RECORDS_MAX) return { errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: EXCESSIVE_BATCH_MESSAGE };
    const replicationFactor = topic.partitions[0]!.replicas.length;
    const live = this.liveBrokerIds();
    let replicaLists: number[][];
    if (assignments !== null) {
      for (const replicas of assignments) {
        const problem = manualAssignmentError(replicas, replicationFactor, live);
        if (problem !== null) return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: problem };
      }
      replicaLists = assignments.map((r) => [...r]);
    } else {
      const placed = placeReplicas(name, [...live], current, additional, replicationFactor);
      if (!placed.ok) return { errorCode: ErrorCode.INVALID_REPLICATION_FACTOR, errorMessage: `Unable to replicate the partition ${replicationFactor} time(s): ${placed.message}` };
      replicaLists = placed.assignments;
    }
    if (validateOnly) return { errorCode: ErrorCode.NONE, errorMessage: null };
    try {
      await this.metadata.createPartitions(name, replicaLists.map(newPartition));
      this.logger.info('Created partitions', { topic: name, from: current, to: count });
      return { errorCode: ErrorCode.NONE, errorMessage: null };
    } catch (err) {
      if (err instanceof MetadataError) return { errorCode: err.kafkaErrorCode, errorMessage: err.message };
      throw err;
    }
  }

  // --- internals

  /** Validates a creation and works out the partitions; writes nothing. */
  private plan(req: CreateTopicRequest): Plan {
    const { name } = req;
    if (name === CLUSTER_METADATA_TOPIC_NAME) return fail(ErrorCode.INVALID_REQUEST, `Creation of internal topic ${CLUSTER_METADATA_TOPIC_NAME} is prohibited.`);
    const invalid = invalidTopicNameReason(name);
    if (invalid !== null) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, invalid);
    if (this.metadata.topic(name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
    if (hasCollisionChars(name)) {
      const unified = unifyCollisionChars(name);
      const colliding = this.metadata.topics().find((t) => unifyCollisionChars(t.name) === unified);
      if (colliding) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${name}' collides with existing topic: ${colliding.name}`);
    }

    const configs: Record<string, string> = {};
    const nullKeys: string[] = [];
    for (const [key, value] of Object.entries(req.configs ?? {})) {
      if (value === null) nullKeys.push(key);
      else configs[key] = value;
    }
    if (nullKeys.length > 0) return fail(ErrorCode.INVALID_CONFIG, nullTopicConfigsMessage(nullKeys));
    const configProblem = topicConfigsError(configs);
    if (configProblem !== null) return fail(ErrorCode.INVALID_CONFIG, configProblem);

    const replicaLists = this.replicaLists(req);
    if (!replicaLists.ok) return replicaLists;
    if (1 + Object.keys(configs).length + replicaLists.lists.length > USER_OPERATION_RECORDS_MAX) {
      return fail(ErrorCode.POLICY_VIOLATION, EXCESSIVE_BATCH_MESSAGE);
    }
    return { ok: true, topic: { name, partitions: replicaLists.lists.map(newPartition), configs, internal: isInternalTopic(name) } };
  }

  private replicaLists(req: CreateTopicRequest): { ok: true; lists: number[][] } | { ok: false; errorCode: number; errorMessage: string } {
    const live = this.liveBrokerIds();
    const assignments = req.assignments ?? [];
    if (assignments.length > 0) {
      if (req.replicationFactor !== -1) return fail(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but replication factor was not set to -1.');
      if (req.numPartitions !== -1) return fail(ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but numPartitions was not set to -1.');
      const byIndex = new Map<number, number[]>();
      let replicationFactor: number | undefined;
      for (const a of assignments) {
        if (byIndex.has(a.partitionIndex)) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Found multiple manual partition assignments for partition ${a.partitionIndex}`);
        const problem = manualAssignmentError(a.brokerIds, replicationFactor, live);
        if (problem !== null) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, problem);
        replicationFactor = a.brokerIds.length;
        byIndex.set(a.partitionIndex, [...a.brokerIds]);
      }
      const lists: number[][] = [];
      for (let i = 0; i < byIndex.size; i++) {
        const replicas = byIndex.get(i);
        if (replicas === undefined) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'partitions should be a consecutive 0-based integer sequence');
        lists.push(replicas);
      }
      return { ok: true, lists };
    }
    if (req.replicationFactor < -1 || req.replicationFactor === 0) {
      return fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0, or -1 to use the default value.');
    }
    if (req.numPartitions < -1 || req.numPartitions === 0) {
      return fail(ErrorCode.INVALID_PARTITIONS, 'Number of partitions was set to an invalid non-positive value.');
    }
    const config = this.config();
    const numPartitions = req.numPartitions === -1 ? config.number('num.partitions') : req.numPartitions;
    const replicationFactor = req.replicationFactor === -1 ? config.number('default.replication.factor') : req.replicationFactor;
    // Checked before placement so a request for 2^31 partitions allocates nothing.
    if (numPartitions >= USER_OPERATION_RECORDS_MAX) return fail(ErrorCode.POLICY_VIOLATION, EXCESSIVE_BATCH_MESSAGE);
    const placed = placeReplicas(req.name, [...live], 0, numPartitions, replicationFactor);
    if (!placed.ok) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `Unable to replicate the partition ${replicationFactor} time(s): ${placed.message}`);
    return { ok: true, lists: placed.assignments };
  }

  private internalTopicRequest(name: '__consumer_offsets' | '__transaction_state'): CreateTopicRequest {
    const config = this.config();
    const live = this.liveBrokerIds().size;
    if (name === GROUP_METADATA_TOPIC_NAME) {
      return {
        name,
        numPartitions: config.number('offsets.topic.num.partitions'),
        replicationFactor: Math.min(config.number('offsets.topic.replication.factor'), live),
        configs: {
          'cleanup.policy': 'compact',
          'compression.type': 'producer',
          'segment.bytes': String(config.number('offsets.topic.segment.bytes')),
        },
      };
    }
    const replicationFactor = Math.min(config.number('transaction.state.log.replication.factor'), live);
    return {
      name,
      numPartitions: config.number('transaction.state.log.num.partitions'),
      replicationFactor,
      configs: {
        'unclean.leader.election.enable': 'false',
        'compression.type': 'uncompressed',
        'cleanup.policy': 'compact',
        'min.insync.replicas': String(Math.min(config.number('transaction.state.log.min.isr'), replicationFactor)),
        'segment.bytes': String(config.number('transaction.state.log.segment.bytes')),
      },
    };
  }

  /** Registered brokers plus this one (alive by definition, registered or not yet). */
  private liveBrokerIds(): Set<number> {
    const ids = new Set(this.metadata.brokers().map((b) => b.nodeId));
    ids.add(this.nodeId);
    return ids;
  }

  private once(name: string, create: () => Promise<CreateTopicResult>): Promise<CreateTopicResult> {
    const pending = this.creating.get(name);
    if (pending) return pending;
    const promise = create().finally(() => this.creating.delete(name));
    this.creating.set(name, promise);
    return promise;
  }
}

/** Kafka's checks of one manually assigned replica list; the message, or null when valid. */
function manualAssignmentError(replicas: readonly number[], replicationFactor: number | undefined, live: ReadonlySet<number>): string | null {
  if (replicas.length === 0) return 'The manual partition assignment includes an empty replica list.';
  const sorted = [...replicas].sort((a, b) => a - b);
  let previous: number | undefined;
  for (const id of sorted) {
    if (!live.has(id)) return `The manual partition assignment includes broker ${id}, but no such broker is registered.`;
    if (id === previous) return `The manual partition assignment includes the broker ${id} more than once.`;
    previous = id;
  }
  if (replicationFactor !== undefined && sorted.length !== replicationFactor) {
    return `The manual partition assignment includes a partition with ${sorted.length} replica(s), but this is not consistent with previous partitions, which have ${replicationFactor} replica(s).`;
  }
  return null;
}

function newPartition(replicas: readonly number[]): Pick<PartitionState, 'replicas' | 'leader' | 'isr'> {
  return { replicas: [...replicas], leader: replicas[0]!, isr: [...replicas] };
}

/** What a validateOnly creation would produce: the real shape, an all-zero topic id. */
function preview(topic: NewTopic): TopicMetadata {
  return {
    name: topic.name,
    topicId: ZERO_UUID,
    partitions: topic.partitions.map((p, partition) => ({ partition, replicas: p.replicas, leader: p.leader, leaderEpoch: 0, isr: p.isr, partitionEpoch: 0 })),
    configs: { ...(topic.configs ?? {}) },
    internal: topic.internal ?? false,
  };
}

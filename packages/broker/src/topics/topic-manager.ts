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
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ErrorCode } from '@tributary/protocol';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logger.js';
import { ZERO_UUID } from '../metadata/kafka-uuid.js';
import type { MetadataStore, NewTopic, PartitionState, TopicMetadata } from '../metadata/metadata-store.js';
import { MetadataError } from '../metadata/metadata-store.js';
import { placeReplicas, placementRack } from './replica-placement.js';
import type { PlacementBroker } from './replica-placement.js';
import { nullTopicConfigsMessage, topicConfigsError } from './topic-config-validation.js';
import {
  CLUSTER_METADATA_TOPIC_NAME, GROUP_METADATA_TOPIC_NAME, TRANSACTION_STATE_TOPIC_NAME,
  hasCollisionChars, invalidTopicNameReason, isInternalTopic, unifyCollisionChars,
} from './topic-name.js';

/**
 * Kafka's controller refuses one operation (one CreateTopics or CreatePartitions request)
 * that would write more than this many metadata records (QuorumController
 * .MAX_RECORDS_PER_USER_OP): a topic is one record, plus one per config given, plus one per
 * partition. It also bounds the work one request can make the broker do in one go, and
 * keeps a request for 2^31 partitions from allocating the broker to death.
 */
export const USER_OPERATION_RECORDS_MAX = 10_000;
/** Kafka's message for an operation over USER_OPERATION_RECORDS_MAX (EventHandlerExceptionInfo). */
export const EXCESSIVE_BATCH_MESSAGE = 'Unable to perform excessively large batch operation.';

/**
 * Topics of one CreateTopics checked per turn of the event loop: checking is 20-200 us a
 * topic (configs, placement) depending on the machine's load, so a request of thousands
 * of topics is checked in slices that leave room for other clients.
 */
const CREATE_TOPICS_CHECK_SLICE = 250;

/**
 * Topics of one CreateTopics written per metadata write (and per turn of the event loop):
 * writing, applying and announcing a topic costs 0.1-1 ms depending on the machine's load,
 * and 2,000 topics in one write held other clients for most of a second.
 */
export const CREATE_TOPICS_WRITE_SLICE = 100;

export interface TopicManagerDeps {
  readonly metadata: MetadataStore;
  readonly nodeId: number;
  /** The current effective config (it changes with dynamic broker configs). */
  readonly config: () => BrokerConfig;
  readonly logger: Logger;
  /**
   * Internal topics get the configured replication factor capped to the live brokers: true
   * for a single broker (the default RF 3 must not stop `npm start`), false in a cluster,
   * where Kafka waits until enough brokers have registered (COORDINATOR_NOT_AVAILABLE
   * meanwhile) rather than create `__consumer_offsets` on the first broker alone.
   */
  readonly capInternalReplication?: boolean;
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

/**
 * The answer to a whole CreateTopics: one result per topic, in request order, or the whole
 * operation refused (over USER_OPERATION_RECORDS_MAX records), when nothing is created.
 */
export type CreateTopicsOutcome =
  | { readonly refused: false; readonly results: readonly CreateTopicResult[] }
  | { readonly refused: true; readonly errorCode: number; readonly errorMessage: string };

/** Names already taken within one operation: existing topics and the ones planned before. */
interface NameIndex {
  readonly names: Set<string>;
  /** Collision-unified name ('.' and '_' alike) -> the name holding it. */
  readonly unified: Map<string, string>;
}

type Plan = { readonly ok: true; readonly topic: NewTopic; readonly records: number } | { readonly ok: false; readonly errorCode: number; readonly errorMessage: string };

const fail = (errorCode: number, errorMessage: string): { ok: false; errorCode: number; errorMessage: string } => ({ ok: false, errorCode, errorMessage });

export class TopicManager {
  private readonly metadata: MetadataStore;
  private readonly nodeId: number;
  private readonly config: () => BrokerConfig;
  private readonly logger: Logger;
  private readonly capInternalReplication: boolean;
  /** Auto-creations in flight by name: concurrent Metadata requests share one creation. */
  private readonly creating = new Map<string, Promise<CreateTopicResult>>();

  constructor(deps: TopicManagerDeps) {
    this.metadata = deps.metadata;
    this.nodeId = deps.nodeId;
    this.config = deps.config;
    this.logger = deps.logger;
    this.capInternalReplication = deps.capInternalReplication ?? true;
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
   * CreateTopics semantics for one request (names already unique): every topic is checked
   * in order, as if the ones before it existed, then all that pass are written in one
   * metadata write (Kafka's controller commits the request as one atomic batch). When the
   * topics that pass would add up to more than USER_OPERATION_RECORDS_MAX records, the
   * whole operation is refused with POLICY_VIOLATION and nothing is written, validateOnly
   * or not, as in Kafka.
   */
  async createTopics(reqs: readonly CreateTopicRequest[], validateOnly: boolean): Promise<CreateTopicsOutcome> {
    let index = this.nameIndex();
    const plans: Plan[] = [];
    let records = 0;
    for (const req of reqs) {
      if (plans.length > 0 && plans.length % CREATE_TOPICS_CHECK_SLICE === 0) {
        await nextTurn();
        // Topics created by other requests meanwhile count as existing too.
        index = this.withPlanned(plans);
      }
      const plan = this.plan(req, index);
      if (plan.ok) {
        records += plan.records;
        index.names.add(req.name);
        if (hasCollisionChars(req.name)) index.unified.set(unifyCollisionChars(req.name), req.name);
      } else if (plan.errorCode === ErrorCode.POLICY_VIOLATION) {
        records = Infinity;
      }
      if (records > USER_OPERATION_RECORDS_MAX) {
        this.logger.info('CreateTopics refused: too many metadata records for one operation', { topics: reqs.length, recordsMax: USER_OPERATION_RECORDS_MAX });
        return { refused: true, errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: EXCESSIVE_BATCH_MESSAGE };
      }
      plans.push(plan);
    }
    if (validateOnly) {
      return { refused: false, results: plans.map((p) => (p.ok ? { errorCode: ErrorCode.NONE, errorMessage: null, topic: preview(p.topic) } : p)) };
    }
    const results: CreateTopicResult[] = plans.map((p) => (p.ok ? { errorCode: ErrorCode.NONE, errorMessage: null } : p));
    const accepted = plans.flatMap((p, i) => (p.ok ? [i] : []));
    let createdTopics = 0;
    let createdPartitions = 0;
    for (let start = 0; start < accepted.length; start += CREATE_TOPICS_WRITE_SLICE) {
      if (plans.length > CREATE_TOPICS_CHECK_SLICE) await nextTurn();
      // A name another request created while this one was being checked is taken.
      const current = plans.length > CREATE_TOPICS_CHECK_SLICE ? this.nameIndex() : undefined;
      const slice: number[] = [];
      for (const i of accepted.slice(start, start + CREATE_TOPICS_WRITE_SLICE)) {
        const name = (plans[i] as Extract<Plan, { ok: true }>).topic.name;
        const taken = current === undefined ? null : takenReason(current, name);
        if (taken !== null) results[i] = taken;
        else slice.push(i);
      }
      if (slice.length === 0) continue;
      try {
        const topics = await this.metadata.createTopics(slice.map((i) => (plans[i] as Extract<Plan, { ok: true }>).topic));
        topics.forEach((topic, k) => {
          results[slice[k]!] = { errorCode: ErrorCode.NONE, errorMessage: null, topic };
          createdPartitions += topic.partitions.length;
        });
        createdTopics += topics.length;
      } catch (err) {
        if (!(err instanceof MetadataError)) throw err;
        for (const i of accepted.slice(start)) if (results[i]!.errorCode === ErrorCode.NONE) results[i] = { errorCode: err.kafkaErrorCode, errorMessage: err.message };
        break;
      }
    }
    if (createdTopics > 0) this.logger.info('Created topics', { topics: createdTopics, partitions: createdPartitions });
    return { refused: false, results };
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
   * automatically or on `assignments` (one replica list per new partition). `recordsLeft`
   * is what the operation may still write (one record per new partition): a topic that
   * needs more is refused with POLICY_VIOLATION. The result says how many were added.
   */
  async createPartitions(
    name: string, count: number, assignments: number[][] | null, validateOnly: boolean, recordsLeft = USER_OPERATION_RECORDS_MAX,
  ): Promise<TopicOperationResult & { readonly partitionsAdded?: number }> {
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
    if (additional > recordsLeft) return { errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: EXCESSIVE_BATCH_MESSAGE };
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
      const placed = placeReplicas(name, this.placementBrokers(), current, additional, replicationFactor);
      if (!placed.ok) return { errorCode: ErrorCode.INVALID_REPLICATION_FACTOR, errorMessage: `Unable to replicate the partition ${replicationFactor} time(s): ${placed.message}` };
      replicaLists = placed.assignments;
    }
    if (validateOnly) return { errorCode: ErrorCode.NONE, errorMessage: null, partitionsAdded: additional };
    try {
      await this.metadata.createPartitions(name, replicaLists.map(newPartition));
      this.logger.info('Created partitions', { topic: name, from: current, to: count });
      return { errorCode: ErrorCode.NONE, errorMessage: null, partitionsAdded: additional };
    } catch (err) {
      if (err instanceof MetadataError) return { errorCode: err.kafkaErrorCode, errorMessage: err.message };
      throw err;
    }
  }

  // --- internals

  /** The existing topics' names plus those of `plans` that passed. */
  private withPlanned(plans: readonly Plan[]): NameIndex {
    const index = this.nameIndex();
    for (const plan of plans) {
      if (!plan.ok) continue;
      index.names.add(plan.topic.name);
      if (hasCollisionChars(plan.topic.name)) index.unified.set(unifyCollisionChars(plan.topic.name), plan.topic.name);
    }
    return index;
  }

  /** Existing topic names, for checking many creations without a scan per topic. */
  private nameIndex(): NameIndex {
    const index: NameIndex = { names: new Set(), unified: new Map() };
    for (const t of this.metadata.topics()) {
      index.names.add(t.name);
      if (hasCollisionChars(t.name)) index.unified.set(unifyCollisionChars(t.name), t.name);
    }
    return index;
  }

  /**
   * Validates a creation and works out the partitions; writes nothing. `index` holds the
   * names taken (existing and planned in the same operation); without it, the store's.
   */
  private plan(req: CreateTopicRequest, index?: NameIndex): Plan {
    const { name } = req;
    if (name === CLUSTER_METADATA_TOPIC_NAME) return fail(ErrorCode.INVALID_REQUEST, `Creation of internal topic ${CLUSTER_METADATA_TOPIC_NAME} is prohibited.`);
    const invalid = invalidTopicNameReason(name);
    if (invalid !== null) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, invalid);
    if (index ? index.names.has(name) : this.metadata.topic(name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
    if (hasCollisionChars(name)) {
      const unified = unifyCollisionChars(name);
      const colliding = index ? index.unified.get(unified) : this.metadata.topics().find((t) => unifyCollisionChars(t.name) === unified)?.name;
      if (colliding !== undefined) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${name}' collides with existing topic: ${colliding}`);
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
    const records = 1 + Object.keys(configs).length + replicaLists.lists.length;
    if (records > USER_OPERATION_RECORDS_MAX) return fail(ErrorCode.POLICY_VIOLATION, EXCESSIVE_BATCH_MESSAGE);
    return { ok: true, records, topic: { name, partitions: replicaLists.lists.map(newPartition), configs, internal: isInternalTopic(name) } };
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
    const placed = placeReplicas(req.name, this.placementBrokers(), 0, numPartitions, replicationFactor);
    if (!placed.ok) return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `Unable to replicate the partition ${replicationFactor} time(s): ${placed.message}`);
    return { ok: true, lists: placed.assignments };
  }

  private internalTopicRequest(name: '__consumer_offsets' | '__transaction_state'): CreateTopicRequest {
    const config = this.config();
    const live = this.capInternalReplication ? this.liveBrokerIds().size : Number.MAX_SAFE_INTEGER;
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

  /**
   * The brokers new replicas may go to, with their racks (broker.rack, else the advertised
   * host): registered ones not in controlled shutdown (as KRaft places only on unfenced
   * brokers not shutting down), plus this one while it is not registered yet.
   */
  private placementBrokers(): PlacementBroker[] {
    const registered = this.metadata.brokers();
    const usable: PlacementBroker[] = registered.filter((b) => b.inControlledShutdown !== true).map((b) => ({ nodeId: b.nodeId, rack: placementRack(b) }));
    if (!registered.some((b) => b.nodeId === this.nodeId)) usable.push({ nodeId: this.nodeId, rack: this.config().string('broker.rack') });
    return usable;
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

/** Why `name` cannot be created now that `index` is taken, or null. */
function takenReason(index: NameIndex, name: string): CreateTopicResult | null {
  if (index.names.has(name)) return { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, errorMessage: `Topic '${name}' already exists.` };
  const colliding = hasCollisionChars(name) ? index.unified.get(unifyCollisionChars(name)) : undefined;
  if (colliding !== undefined) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: `Topic '${name}' collides with existing topic: ${colliding}` };
  return null;
}

/** Kafka's checks of one manually assigned replica list; the message, or null when valid. */
export function manualAssignmentError(replicas: readonly number[], replicationFactor: number | undefined, live: ReadonlySet<number>): string | null {
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

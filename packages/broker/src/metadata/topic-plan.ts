/**
 * Topic planning shared by both metadata stores (local-metadata-store.ts,
 * etcd-metadata-store.ts): turning CreateTopics specs into the TopicMetadata a store then
 * commits, and the invariants every stored partition satisfies. The checks run before
 * anything is written, so an invalid spec fails the whole creation and writes nothing
 * (MetadataStore.createTopics); each store keeps only its own commit step (an fsynced log
 * record, or one etcd transaction).
 */
import type { NewTopic, PartitionState, TopicMetadata } from './metadata-store.js';
import { MetadataError } from './metadata-store.js';
import { isKafkaUuid, randomKafkaUuid } from './kafka-uuid.js';

/** The topics a store holds now, by name and by topic id. */
export interface TopicIndex {
  readonly byName: ReadonlyMap<string, TopicMetadata>;
  readonly byId: ReadonlyMap<string, TopicMetadata>;
}

export interface TopicPlanOptions {
  /**
   * A store's own rule on names, checked after the existence check; throws a MetadataError.
   * (etcd: no '/', which would break its key layout.)
   */
  readonly checkName?: (name: string) => void;
}

/**
 * The topics `specs` create, in order, each with its topic id (generated when the spec has
 * none) and partitions at epoch 0. Throws a MetadataError, before anything is written, for
 * a name that exists or repeats, a topic id that is not a Kafka Uuid or is taken, or a
 * topic without partitions.
 */
export function planNewTopics(specs: readonly NewTopic[], existing: TopicIndex, options: TopicPlanOptions = {}): TopicMetadata[] {
  const names = new Set<string>();
  const ids = new Set<string>();
  return specs.map((spec) => {
    if (existing.byName.has(spec.name) || names.has(spec.name)) throw new MetadataError('TRIB_ERR_TOPIC_EXISTS', `Topic '${spec.name}' already exists.`);
    options.checkName?.(spec.name);
    const topicId = spec.topicId ?? freshTopicId(existing, ids);
    if (!isKafkaUuid(topicId)) throw new MetadataError('TRIB_ERR_INVALID_METADATA', `Topic id ${JSON.stringify(topicId)} of '${spec.name}' is not a Kafka Uuid`);
    if (existing.byId.has(topicId)) throw new MetadataError('TRIB_ERR_INVALID_METADATA', `Topic id ${topicId} of '${spec.name}' is already used by '${existing.byId.get(topicId)!.name}'`);
    if (ids.has(topicId)) throw new MetadataError('TRIB_ERR_INVALID_METADATA', `Topic id ${topicId} of '${spec.name}' is used twice in one creation`);
    if (spec.partitions.length === 0) throw new MetadataError('TRIB_ERR_INVALID_METADATA', `Topic '${spec.name}' needs at least one partition`);
    names.add(spec.name);
    ids.add(topicId);
    return {
      name: spec.name,
      topicId,
      partitions: spec.partitions.map((p, i) => newPartition(spec.name, i, p)),
      configs: { ...(spec.configs ?? {}) },
      internal: spec.internal ?? spec.name.startsWith('__'),
    };
  });
}

/** A random topic id used neither by an existing topic nor by one planned in the same call. */
function freshTopicId(existing: TopicIndex, reserved: ReadonlySet<string>): string {
  for (;;) {
    const id = randomKafkaUuid();
    if (!existing.byId.has(id) && !reserved.has(id)) return id;
  }
}

export function newPartition(topic: string, partition: number, spec: Pick<PartitionState, 'replicas' | 'leader' | 'isr'>): PartitionState {
  const state: PartitionState = { partition, replicas: [...spec.replicas], leader: spec.leader, leaderEpoch: 0, isr: [...spec.isr], partitionEpoch: 0 };
  checkPartition(topic, state);
  return state;
}

/** Invariants every stored partition satisfies; violations are caller bugs. */
export function checkPartition(topic: string, state: PartitionState): void {
  const where = `${topic}-${state.partition}`;
  const fail = (what: string): never => { throw new MetadataError('TRIB_ERR_INVALID_METADATA', `Invalid state for partition ${where}: ${what}`); };
  if (state.replicas.length === 0) fail('no replicas');
  if (new Set(state.replicas).size !== state.replicas.length) fail(`duplicate replicas ${JSON.stringify(state.replicas)}`);
  if (state.leader !== -1 && !state.replicas.includes(state.leader)) fail(`leader ${state.leader} is not a replica ${JSON.stringify(state.replicas)}`);
  for (const id of state.isr) if (!state.replicas.includes(id)) fail(`ISR member ${id} is not a replica ${JSON.stringify(state.replicas)}`);
  if (state.leader !== -1 && !state.isr.includes(state.leader)) fail(`leader ${state.leader} is not in the ISR ${JSON.stringify(state.isr)}`);
  for (const id of state.addingReplicas ?? []) if (!state.replicas.includes(id)) fail(`adding replica ${id} is not a replica ${JSON.stringify(state.replicas)}`);
  for (const id of state.removingReplicas ?? []) if (!state.replicas.includes(id)) fail(`removing replica ${id} is not a replica ${JSON.stringify(state.replicas)}`);
  for (const id of state.addingReplicas ?? []) if ((state.removingReplicas ?? []).includes(id)) fail(`replica ${id} is both being added and removed`);
}

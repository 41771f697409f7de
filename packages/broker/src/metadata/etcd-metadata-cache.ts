/**
 * The etcd store's in-memory view: every key under the prefix as of `appliedRevision`, and
 * the metadata derived from them (topics by name and id, broker config overrides, live
 * brokers). `apply` takes the key changes of one revision and returns the MetadataChange
 * events they amount to, found by diffing the derived views before and after; the store
 * emits them. No I/O here.
 */
import type { ClientQuotaEntry } from '../quota/client-quota-entity.js';
import type { IKeyValue } from 'etcd3';
import type { BrokerRegistration, MetadataChange, PartitionState, TopicMetadata } from './metadata-store.js';
import type { Logger } from '../logger.js';
import type { AclBinding } from '../security/authorizer.js';

export interface CachedKv {
  readonly value: string;
  readonly modRevision: number;
  readonly lease: string;
}

export interface StoredTopic {
  readonly topicId: string;
  readonly configs: Record<string, string>;
  readonly internal: boolean;
  readonly partitionCount: number;
}

/** The keys, relative to the prefix (layout in etcd-metadata-store.ts). */
export const K = {
  clusterId: 'cluster-id',
  topic: (name: string) => `topics/${name}`,
  partitions: (name: string) => `partitions/${name}/`,
  partition: (name: string, n: number) => `partitions/${name}/${n}`,
  topicId: (id: string) => `topic-ids/${id}`,
  brokerConfig: (nodeId: number | null) => `broker-configs/${nodeId === null ? 'default' : nodeId}`,
  broker: (nodeId: number) => `brokers/${nodeId}`,
  controller: 'controller',
  acls: 'acls',
  /** Every client quota entity and its values, as one ClientQuotaEntry[] (quota/). */
  clientQuotas: 'client-quotas',
} as const;

export interface AppliedBatch {
  readonly events: MetadataChange[];
  /** The controller key changed. */
  readonly controllerTouched: boolean;
  /** A broker registration changed. */
  readonly brokersTouched: boolean;
}

export class EtcdMetadataCache {
  /** Raw keys (relative to the prefix) as of `appliedRevision`. */
  readonly raw = new Map<string, CachedKv>();
  appliedRevision = 0;
  readonly byName = new Map<string, TopicMetadata>();
  readonly byId = new Map<string, TopicMetadata>();
  /** Broker config overrides by key (`broker-configs/<id|default>`). */
  readonly brokerConfigMap = new Map<string, Record<string, string>>();
  readonly liveBrokers = new Map<number, BrokerRegistration>();
  /** ACL bindings (the `acls` key); a new array on every change (the authorizer indexes by identity). */
  acls: readonly AclBinding[] = [];
  /** The `client-quotas` key; a new array on each change (MetadataStore.clientQuotas). */
  clientQuotaEntries: readonly ClientQuotaEntry[] = [];
  private readonly logger: Logger | undefined;

  constructor(logger: Logger | undefined) {
    this.logger = logger;
  }

  /**
   * Applies the key changes of one revision (or of a full reload) and returns what they mean,
   * in the order of the txn's operations.
   */
  apply(changes: ReadonlyMap<string, CachedKv | null>, revision: number): AppliedBatch {
    const topicNames = new Set<string>();
    const configKeys = new Set<string>();
    const brokerIds = new Set<number>();
    let controllerTouched = false;
    for (const [key, kv] of changes) {
      if (kv === null) this.raw.delete(key);
      else this.raw.set(key, kv);
      const [kind, a] = key.split('/');
      if (kind === 'topics' && a) topicNames.add(a);
      else if (kind === 'partitions' && a) topicNames.add(a);
      else if (kind === 'broker-configs' && a) configKeys.add(key);
      else if (kind === 'brokers' && a) brokerIds.add(Number(a));
      else if (key === K.controller) controllerTouched = true;
      else if (key === K.acls) this.acls = parseJson(kv ?? undefined, isArrayOf<AclBinding>) ?? [];
      else if (key === K.clientQuotas) {
        this.clientQuotaEntries = parseJson(kv ?? undefined, isArrayOf<ClientQuotaEntry>) ?? [];
      }
    }
    const events: MetadataChange[] = [];
    // In the order of the txn's operations (a createTopics emits its topics in order).
    for (const name of topicNames) this.refreshTopic(name, events);
    for (const key of configKeys) {
      const before = this.brokerConfigMap.get(key) ?? {};
      const after = parseJson(this.raw.get(key), isStringRecord) ?? {};
      if (Object.keys(after).length > 0) this.brokerConfigMap.set(key, after);
      else this.brokerConfigMap.delete(key);
      const diff = configDiff(before, after);
      const id = key.slice('broker-configs/'.length);
      if (Object.keys(diff).length > 0) events.push({ type: 'broker-config-changed', nodeId: id === 'default' ? null : Number(id), changes: diff });
    }
    for (const nodeId of [...brokerIds].sort((x, y) => x - y)) {
      const after = parseJson(this.raw.get(K.broker(nodeId)), isRegistration);
      if (after) {
        this.liveBrokers.set(nodeId, after);
        events.push({ type: 'broker-registered', broker: after });
      } else if (this.liveBrokers.delete(nodeId)) {
        events.push({ type: 'broker-unregistered', nodeId });
      }
    }
    this.appliedRevision = Math.max(this.appliedRevision, revision);
    return { events, controllerTouched, brokersTouched: brokerIds.size > 0 };
  }

  /** Rebuilds one topic from its raw keys and records what changed. */
  private refreshTopic(name: string, events: MetadataChange[]): void {
    const before = this.byName.get(name);
    const stored = parseJson(this.raw.get(K.topic(name)), isStoredTopic);
    let after: TopicMetadata | undefined;
    if (stored) {
      const partitions: PartitionState[] = [];
      for (let n = 0; n < stored.partitionCount; n++) {
        const p = parseJson(this.raw.get(K.partition(name, n)), isPartitionState);
        if (!p || p.partition !== n) {
          this.logger?.error('Topic in etcd lacks a valid partition key; ignoring the topic', { topic: name, partition: n });
          break;
        }
        partitions.push(p);
      }
      if (partitions.length === stored.partitionCount) {
        after = { name, topicId: stored.topicId, partitions, configs: stored.configs, internal: stored.internal };
      }
    }
    if (before) {
      this.byName.delete(name);
      this.byId.delete(before.topicId);
    }
    if (after) {
      this.byName.set(name, after);
      this.byId.set(after.topicId, after);
    }
    if (!before && after) {
      events.push({ type: 'topic-created', topic: after });
    } else if (before && !after) {
      events.push({ type: 'topic-deleted', topic: before });
    } else if (before && after) {
      if (before.topicId !== after.topicId) {
        events.push({ type: 'topic-deleted', topic: before }, { type: 'topic-created', topic: after });
        return;
      }
      for (const p of before.partitions) {
        const q = after.partitions[p.partition];
        if (q && JSON.stringify(p) !== JSON.stringify(q)) events.push({ type: 'partition-changed', topic: after, before: p, after: q });
      }
      if (after.partitions.length > before.partitions.length) {
        events.push({ type: 'partitions-created', topic: after, partitions: after.partitions.slice(before.partitions.length).map((p) => p.partition) });
      }
      const diff = configDiff(before.configs, after.configs);
      if (Object.keys(diff).length > 0) events.push({ type: 'topic-config-changed', topic: after, changes: diff });
    }
  }
}

export function storedTopic(topic: TopicMetadata): StoredTopic {
  return { topicId: topic.topicId, configs: { ...topic.configs }, internal: topic.internal, partitionCount: topic.partitions.length };
}

export function cachedKv(kv: IKeyValue): CachedKv {
  return { value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision), lease: String(kv.lease ?? '0') };
}

/**
 * The value of a key as T, or undefined when it is absent or not a T. Values come from etcd,
 * which anything with access can write: a malformed one is ignored (its topic or broker is
 * left out of the view), never trusted, so it cannot crash the broker from a watch callback.
 */
/** An array (its elements are checked where they are used: a bad one is skipped there). */
function isArrayOf<T>(v: unknown): v is T[] {
  return Array.isArray(v);
}

export function parseJson<T>(kv: CachedKv | undefined, is: (v: unknown) => v is T): T | undefined {
  if (kv === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(kv.value);
    return is(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isIntArray = (v: unknown): v is number[] => Array.isArray(v) && v.every(isInt);

export function isStringRecord(v: unknown): v is Record<string, string> {
  return isObject(v) && Object.values(v).every((x) => typeof x === 'string');
}

export function isStoredTopic(v: unknown): v is StoredTopic {
  return isObject(v) && typeof v['topicId'] === 'string' && isStringRecord(v['configs']) && typeof v['internal'] === 'boolean'
    && isInt(v['partitionCount']) && (v['partitionCount'] as number) >= 1;
}

export function isPartitionState(v: unknown): v is PartitionState {
  return isObject(v) && isInt(v['partition']) && isIntArray(v['replicas']) && isInt(v['leader']) && isInt(v['leaderEpoch'])
    && isIntArray(v['isr']) && isInt(v['partitionEpoch'])
    && (v['addingReplicas'] === undefined || isIntArray(v['addingReplicas'])) && (v['removingReplicas'] === undefined || isIntArray(v['removingReplicas']));
}

export function isRegistration(v: unknown): v is BrokerRegistration {
  return isObject(v) && isInt(v['nodeId']) && (v['rack'] === null || typeof v['rack'] === 'string') && Array.isArray(v['endpoints'])
    && (v['endpoints'] as unknown[]).every((e) => isObject(e) && typeof e['listener'] === 'string' && typeof e['host'] === 'string'
      && isInt(e['port']) && typeof e['securityProtocol'] === 'string');
}

export function isControllerValue(v: unknown): v is { nodeId: number } {
  return isObject(v) && isInt(v['nodeId']);
}

/** The changes that turn `before` into `after` (null = removed). */
function configDiff(before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>): Record<string, string | null> {
  const diff: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(after)) if (before[k] !== v) diff[k] = v;
  for (const k of Object.keys(before)) if (!(k in after)) diff[k] = null;
  return diff;
}

/**
 * Topic-level config keys and their broker synonyms (Kafka's `ServerTopicConfigSynonyms`).
 *
 * A topic key without a per-topic override takes its value from the broker: the first
 * synonym, in the order listed, that is set in any broker layer, converted to the topic
 * key's unit (`log.retention.hours` -> `retention.ms` multiplies by 3,600,000). That is
 * also the order DescribeConfigs lists synonyms in, which tools like kafka-configs print.
 */
import type { ConfigDef, ConfigValue } from './config-def.js';
import { LONG_MAX_VALUE } from './config-def.js';
import { BROKER_CONFIG_DEF_BY_NAME, DURATION_UNIT_MS } from './broker-configs.js';

export interface TopicConfigDef extends ConfigDef {
  /** Broker keys in priority order; empty when the broker has no synonym. */
  readonly brokerSynonyms: readonly string[];
}

function topicDef(name: string, brokerSynonyms: string[], fallback?: Partial<ConfigDef>): TopicConfigDef {
  // The type, validator and doc come from the first synonym, so they cannot drift apart.
  const first = brokerSynonyms.length > 0 ? BROKER_CONFIG_DEF_BY_NAME.get(brokerSynonyms[0]!) : undefined;
  const base: ConfigDef = {
    name,
    type: fallback?.type ?? first?.type ?? 'string',
    default: fallback?.default !== undefined ? fallback.default : null,
    importance: fallback?.importance ?? first?.importance ?? 'medium',
    dynamic: 'cluster-wide',
    doc: fallback?.doc ?? first?.doc ?? '',
    ...(first?.range ? { range: first.range } : {}),
    ...(first?.validValues ? { validValues: first.validValues } : {}),
    ...(first?.validListValues ? { validListValues: first.validListValues } : {}),
    ...(fallback?.range ? { range: fallback.range } : {}),
    ...(fallback?.validValues ? { validValues: fallback.validValues } : {}),
    ...(first?.tributary ? { tributary: true } : {}),
  };
  return { ...base, brokerSynonyms };
}

export const TOPIC_CONFIG_DEFS: readonly TopicConfigDef[] = [
  topicDef('cleanup.policy', ['log.cleanup.policy']),
  topicDef('compression.type', ['compression.type']),
  topicDef('delete.retention.ms', ['log.cleaner.delete.retention.ms']),
  topicDef('file.delete.delay.ms', ['log.segment.delete.delay.ms']),
  topicDef('flush.messages', ['log.flush.interval.messages']),
  topicDef('flush.ms', ['log.flush.interval.ms', 'log.flush.scheduler.interval.ms']),
  topicDef('flush.durable.acks', ['log.flush.durable.acks']),
  topicDef('index.interval.bytes', ['log.index.interval.bytes']),
  topicDef('max.compaction.lag.ms', ['log.cleaner.max.compaction.lag.ms']),
  topicDef('max.message.bytes', ['message.max.bytes']),
  topicDef('message.timestamp.type', ['log.message.timestamp.type']),
  topicDef('message.timestamp.difference.max.ms', ['log.message.timestamp.difference.max.ms']),
  topicDef('message.timestamp.before.max.ms', ['log.message.timestamp.before.max.ms']),
  topicDef('message.timestamp.after.max.ms', ['log.message.timestamp.after.max.ms']),
  topicDef('min.cleanable.dirty.ratio', ['log.cleaner.min.cleanable.ratio']),
  topicDef('min.compaction.lag.ms', ['log.cleaner.min.compaction.lag.ms']),
  topicDef('min.insync.replicas', ['min.insync.replicas']),
  topicDef('preallocate', ['log.preallocate']),
  topicDef('retention.bytes', ['log.retention.bytes']),
  topicDef('retention.ms', ['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'], { type: 'long' }),
  topicDef('segment.bytes', ['log.segment.bytes']),
  topicDef('segment.index.bytes', ['log.index.size.max.bytes']),
  topicDef('segment.jitter.ms', ['log.roll.jitter.ms', 'log.roll.jitter.hours'], { type: 'long' }),
  topicDef('segment.ms', ['log.roll.ms', 'log.roll.hours'], { type: 'long', range: { min: 1 } }),
  topicDef('unclean.leader.election.enable', ['unclean.leader.election.enable']),
  topicDef('follower.replication.throttled.replicas', [], { type: 'list', default: [], doc: 'Replicas whose follower fetches are throttled.' }),
  topicDef('leader.replication.throttled.replicas', [], { type: 'list', default: [], doc: 'Replicas whose leader responses are throttled.' }),
  topicDef('remote.storage.enable', [], { type: 'boolean', default: false, doc: 'Tiered storage; not supported by Tributary, accepted only as false.' }),
  topicDef('local.retention.ms', [], { type: 'long', default: -2, doc: 'Tiered storage local retention; unused.' }),
  topicDef('local.retention.bytes', [], { type: 'long', default: -2, doc: 'Tiered storage local retention; unused.' }),
  topicDef('message.downconversion.enable', [], { type: 'boolean', default: true, doc: 'Whether consumers on Fetch v0-3 get the v2 batches down-converted to message format v0/v1; false answers them UNSUPPORTED_VERSION.' }),
];

export const TOPIC_CONFIG_DEF_BY_NAME: ReadonlyMap<string, TopicConfigDef> = new Map(TOPIC_CONFIG_DEFS.map((d) => [d.name, d]));

/** Converts a broker synonym's value to the unit of the topic key (hours -> ms, ...). */
export function brokerValueToTopicValue(brokerKey: string, value: ConfigValue): ConfigValue {
  const unitMs = DURATION_UNIT_MS[brokerKey];
  if (unitMs === undefined || typeof value !== 'number') return value;
  if (value < 0) return -1;
  return Math.min(value * unitMs, LONG_MAX_VALUE);
}

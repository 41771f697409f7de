/**
 * Topic-level log configuration: the one table of Kafka's topic config keys (Kafka 3.9's
 * `LogConfig` and `ServerTopicConfigSynonyms`), from which everything else is derived:
 * - the typed `LogConfig` the partition logs run with (camelCase fields);
 * - validation of a topic's overrides (CreateTopics, AlterConfigs, IncrementalAlterConfigs);
 * - the broker's topic config table and the broker keys that are synonyms of topic keys
 *   (`log.retention.hours` for `retention.ms`...), which the broker imports from here.
 *
 * Each key is parsed once, by `parseConfigValue` (config-def.ts), into a typed value.
 * Kafka's "infinite" longs (Long.MAX_VALUE) become Number.MAX_SAFE_INTEGER, which is just
 * as unreachable for milliseconds and message counts.
 *
 * Keys Kafka accepts whose feature Tributary does not have (tiered storage, throttled
 * replicas, message format versions, down-conversion, compression levels) are accepted,
 * validated and described like Kafka does, and otherwise ignored; docs/compatibility.md
 * lists them.
 */
import type { ConfigDef, ConfigType, ConfigValue, DynamicUpdateMode, Importance } from './config-def.js';
import { ConfigError, LONG_MAX_VALUE, formatConfigValue, parseConfigValue } from './config-def.js';

export const TimestampType = { CREATE_TIME: 'CreateTime', LOG_APPEND_TIME: 'LogAppendTime' } as const;
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType];

/** Kafka's topic compression.type values (BrokerCompressionType): `producer` keeps the producer's codec. */
export const COMPRESSION_TYPES = ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'] as const;
export type CompressionType = (typeof COMPRESSION_TYPES)[number];

export type CleanupPolicy = 'delete' | 'compact';

export interface LogConfig {
  /** segment.bytes: roll when the active segment would exceed this size. */
  segmentBytes: number;
  /** segment.ms: roll when the active segment's first timestamp is this old. */
  segmentMs: number;
  /** segment.jitter.ms: random reduction of segment.ms so many partitions do not roll together. */
  segmentJitterMs: number;
  /** segment.index.bytes: size cap of each index file; a full index rolls the segment. */
  segmentIndexBytes: number;
  /** index.interval.bytes: bytes of log between two sparse index entries. */
  indexIntervalBytes: number;
  /** retention.ms: delete segments whose largest timestamp is older; -1 keeps forever. */
  retentionMs: number;
  /** retention.bytes: delete the oldest segments while the log is larger; -1 means no limit. */
  retentionBytes: number;
  /** flush.messages: fsync after this many appended records. */
  flushMessages: number;
  /** flush.ms: fsync when the oldest unflushed data is this old. */
  flushMs: number;
  /** flush.durable.acks (Tributary): an acks=all produce is answered only once fsynced. */
  flushDurableAcks: boolean;
  /** file.delete.delay.ms: how long a `.deleted` segment stays readable before removal. */
  fileDeleteDelayMs: number;
  /** cleanup.policy: delete and/or compact. */
  cleanupPolicy: readonly CleanupPolicy[];
  /** delete.retention.ms: how long tombstones stay in a compacted log. */
  deleteRetentionMs: number;
  /** min.compaction.lag.ms */
  minCompactionLagMs: number;
  /** max.compaction.lag.ms */
  maxCompactionLagMs: number;
  /** min.cleanable.dirty.ratio */
  minCleanableDirtyRatio: number;
  /** compression.type: the codec batches are stored with (`producer` keeps the producer's). */
  compressionType: CompressionType;
  /** compression.gzip.level (accepted, not applied: see docs/compatibility.md). */
  compressionGzipLevel: number;
  /** compression.lz4.level (accepted, not applied). */
  compressionLz4Level: number;
  /** compression.zstd.level (accepted, not applied). */
  compressionZstdLevel: number;
  /** message.timestamp.type */
  messageTimestampType: TimestampType;
  /** message.timestamp.difference.max.ms (deprecated in Kafka 3.6 for the two below). */
  messageTimestampDifferenceMaxMs: number;
  /** message.timestamp.before.max.ms */
  messageTimestampBeforeMaxMs: number;
  /** message.timestamp.after.max.ms */
  messageTimestampAfterMaxMs: number;
  /** max.message.bytes: the largest batch the broker accepts (enforced by the broker). */
  maxMessageBytes: number;
  /** min.insync.replicas: enforced by the broker for acks=all. */
  minInsyncReplicas: number;
  /** unclean.leader.election.enable */
  uncleanLeaderElectionEnable: boolean;
  /** preallocate: stored; segments are not preallocated (see README). */
  preallocate: boolean;
  /** message.format.version: ignored since Kafka 3.0 (every batch is magic 2). */
  messageFormatVersion: string;
  /** message.downconversion.enable: false answers consumers on Fetch v0-3 UNSUPPORTED_VERSION. */
  messageDownconversionEnable: boolean;
  /** leader.replication.throttled.replicas: accepted; replication is not throttled. */
  leaderReplicationThrottledReplicas: readonly string[];
  /** follower.replication.throttled.replicas: accepted; replication is not throttled. */
  followerReplicationThrottledReplicas: readonly string[];
  /** remote.storage.enable: tiered storage does not exist here, so only false is accepted. */
  remoteStorageEnable: boolean;
  /** local.retention.ms (tiered storage; unused). */
  localRetentionMs: number;
  /** local.retention.bytes (tiered storage; unused). */
  localRetentionBytes: number;
  /** remote.log.copy.disable (tiered storage; unused). */
  remoteLogCopyDisable: boolean;
  /** remote.log.delete.on.disable (tiered storage; unused). */
  remoteLogDeleteOnDisable: boolean;
}

/**
 * A broker key that gives a topic key its value when the topic has no override. Its type,
 * default, range and doc are the topic key's unless stated: where Kafka's broker key
 * differs (log.retention.hours is an int of hours with default 168), the entry says so.
 */
export interface BrokerSynonym {
  readonly name: string;
  /** Milliseconds per unit, for broker keys counted in hours or minutes. */
  readonly unitMs?: number;
  readonly type?: ConfigType;
  readonly default?: ConfigValue;
  /** `null` removes the topic key's range (Kafka's broker key has no validator). */
  readonly range?: ConfigDef['range'] | null;
  readonly importance?: Importance;
  readonly dynamic?: DynamicUpdateMode;
  readonly doc?: string;
  /**
   * Described alone (Kafka's DynamicBrokerConfig.brokerConfigSynonyms): set on a key that
   * is only the fallback of the one before it, as log.flush.scheduler.interval.ms is of
   * log.flush.interval.ms, so describing it does not list the keys it stands in for.
   */
  readonly standalone?: true;
}

export interface LogConfigDef extends ConfigDef {
  /** The LogConfig field this key fills. */
  readonly field: keyof LogConfig;
  /** Broker keys in priority order (Kafka's ServerTopicConfigSynonyms); empty when none. */
  readonly brokerSynonyms: readonly BrokerSynonym[];
}

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const LONG_MAX = LONG_MAX_VALUE;

/** A synonym as written in the table (a bare name, or the name with what differs). */
type SynonymSpec = string | BrokerSynonym;
/** The normalized synonym a spec becomes, keeping its literal name and type for BrokerKeyTypes. */
type NormalizedSynonym<X> = X extends string ? { readonly name: X } : X;

/**
 * One row of the table. The generic parameters only carry the literal key names and
 * types to the type level, so the broker's typed accessors can refuse a misspelt key or
 * a key of the wrong type at compile time (see `LogBrokerKeyTypes`).
 */
function key<const N extends string, const T extends ConfigType, const S extends readonly SynonymSpec[]>(
  name: N, field: keyof LogConfig, type: T, defaultValue: ConfigValue, doc: string,
  brokerSynonyms: S, extra: Partial<Pick<ConfigDef, 'range' | 'validValues' | 'validListValues' | 'validator' | 'tributary' | 'importance'>> = {},
): Omit<LogConfigDef, 'name' | 'type' | 'brokerSynonyms'> & { readonly name: N; readonly type: T; readonly brokerSynonyms: readonly NormalizedSynonym<S[number]>[] } {
  return {
    name, field, type, default: defaultValue, importance: extra.importance ?? 'medium', dynamic: 'cluster-wide', doc,
    brokerSynonyms: brokerSynonyms.map((s) => (typeof s === 'string' ? { name: s } : s)) as NormalizedSynonym<S[number]>[],
    ...extra,
  };
}

/** Kafka's ThrottledReplicaListValidator: `*`, or partition:broker pairs. */
function throttledReplicas(name: string) {
  return (value: ConfigValue): string | null => {
    const items = Array.isArray(value) ? value : [];
    if (items.join('') === '*' || items.every((item) => /^(\d+:\d+)?$/.test(item))) return null;
    return `${name} must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...`;
  };
}

/**
 * Kafka's MetadataVersionValidator: a release (`2.8`, `0.10.2`, with any further dotted
 * part ignored, as MetadataVersion.fromVersionString does) or one of its inter-broker
 * protocol steps (`3.0-IV1`). The value is the highest IV of each release up to 3.9.
 */
const METADATA_VERSIONS: Readonly<Record<string, number>> = {
  '0.8.0': -1, '0.8.1': -1, '0.8.2': -1, '0.9.0': -1, '0.10.0': 1, '0.10.1': 2, '0.10.2': 0, '0.11.0': 2,
  '1.0': 0, '1.1': 0, '2.0': 1, '2.1': 2, '2.2': 1, '2.3': 1, '2.4': 1, '2.5': 0, '2.6': 0, '2.7': 2, '2.8': 1,
  '3.0': 1, '3.1': 0, '3.2': 0, '3.3': 3, '3.4': 0, '3.5': 2, '3.6': 2, '3.7': 4, '3.8': 0, '3.9': 0,
};

function metadataVersion(value: ConfigValue): string | null {
  const text = String(value);
  const segments = text.split('.');
  const wanted = text.startsWith('0.') ? 3 : 2;
  const release = wanted >= segments.length ? text : segments.slice(0, wanted).join('.');
  const iv = /^(.*)-IV(\d+)$/.exec(release);
  const maxIv = METADATA_VERSIONS[iv ? iv[1]! : release];
  if (maxIv !== undefined && (!iv || Number(iv[2]) <= maxIv)) return null;
  return `a Kafka version: Version \`${text}\` is not a valid version`;
}

/** Kafka's GzipCompression.LevelValidator (Deflater levels). */
function gzipLevel(value: ConfigValue): string | null {
  return value === -1 || (typeof value === 'number' && value >= 1 && value <= 9) ? null : 'a value between 1 and 9, or -1';
}

/**
 * Every topic config key, Kafka 3.9's defaults and validators, and its broker synonyms in
 * Kafka's priority order. Broker-side importance and update mode are Kafka's
 * (DynamicLogConfig makes the first synonym of each key cluster-wide, except
 * log.message.format.version; the others, such as log.retention.hours, need a restart).
 */
const LOG_CONFIG_TABLE = [
  key('cleanup.policy', 'cleanupPolicy', 'list', ['delete'], 'delete removes old segments by time or size; compact keeps the latest record per key; both may be given.',
    ['log.cleanup.policy'], { validListValues: ['compact', 'delete'],
      // An empty policy would leave a log that is never cleaned: refused, a deliberate difference.
      validator: (v) => (Array.isArray(v) && v.length === 0 ? 'a non-empty list of [compact, delete]' : null) }),
  key('compression.type', 'compressionType', 'string', 'producer', 'Final compression of batches: producer keeps what the producer sent, uncompressed stores them uncompressed.',
    [{ name: 'compression.type', importance: 'high' }], { validValues: COMPRESSION_TYPES }),
  key('compression.gzip.level', 'compressionGzipLevel', 'int', -1, 'Compression level for gzip (accepted; Tributary does not recompress, see docs/compatibility.md).',
    ['compression.gzip.level'], { validator: gzipLevel }),
  key('compression.lz4.level', 'compressionLz4Level', 'int', 9, 'Compression level for lz4 (accepted; not applied).', ['compression.lz4.level'], { range: { min: 1, max: 17 } }),
  key('compression.zstd.level', 'compressionZstdLevel', 'int', 3, 'Compression level for zstd (accepted; not applied).', ['compression.zstd.level'], { range: { min: -131072, max: 22 } }),
  key('delete.retention.ms', 'deleteRetentionMs', 'long', 86400000, 'How long tombstones are kept in compacted topics.', ['log.cleaner.delete.retention.ms'], { range: { min: 0 } }),
  key('file.delete.delay.ms', 'fileDeleteDelayMs', 'long', 60000, 'Delay between removing a segment from the log and deleting its files.',
    [{ name: 'log.segment.delete.delay.ms', importance: 'high' }], { range: { min: 0 } }),
  key('flush.messages', 'flushMessages', 'long', LONG_MAX, 'Messages appended to a partition before it is fsynced.',
    [{ name: 'log.flush.interval.messages', importance: 'high' }], { range: { min: 1 } }),
  key('flush.ms', 'flushMs', 'long', LONG_MAX, 'Maximum time a message stays in the page cache before fsync.', [
    { name: 'log.flush.interval.ms', default: null, range: null, importance: 'high', doc: 'Maximum time a message stays in the page cache before fsync; defaults to log.flush.scheduler.interval.ms.' },
    { name: 'log.flush.scheduler.interval.ms', range: null, importance: 'high', standalone: true, doc: 'How often the flusher checks whether a log needs an fsync.' },
  ], { range: { min: 0 } }),
  key('flush.durable.acks', 'flushDurableAcks', 'boolean', false,
    'Tributary: when true, a produce request with acks=all is acknowledged only after its data is fsynced (group commit across concurrent requests). Protects acknowledged writes against power loss, at a latency cost.',
    [{ name: 'log.flush.durable.acks', importance: 'high' }], { tributary: true }),
  key('follower.replication.throttled.replicas', 'followerReplicationThrottledReplicas', 'list', [], 'Replicas whose follower fetches are throttled (accepted; replication is not throttled).',
    [], { validator: throttledReplicas('follower.replication.throttled.replicas') }),
  key('index.interval.bytes', 'indexIntervalBytes', 'int', 4096, 'Bytes of log between two offset index entries.', ['log.index.interval.bytes'], { range: { min: 0 } }),
  key('leader.replication.throttled.replicas', 'leaderReplicationThrottledReplicas', 'list', [], 'Replicas whose leader responses are throttled (accepted; replication is not throttled).',
    [], { validator: throttledReplicas('leader.replication.throttled.replicas') }),
  key('local.retention.bytes', 'localRetentionBytes', 'long', -2, 'Tiered storage local retention size; unused (no tiered storage).', ['log.local.retention.bytes'], { range: { min: -2 } }),
  key('local.retention.ms', 'localRetentionMs', 'long', -2, 'Tiered storage local retention time; unused (no tiered storage).', ['log.local.retention.ms'], { range: { min: -2 } }),
  key('max.compaction.lag.ms', 'maxCompactionLagMs', 'long', LONG_MAX, 'Maximum time a message stays uncompacted.', ['log.cleaner.max.compaction.lag.ms'], { range: { min: 1 } }),
  key('max.message.bytes', 'maxMessageBytes', 'int', 1048588, 'Largest record batch accepted (after compression).',
    [{ name: 'message.max.bytes', importance: 'high' }], { range: { min: 0 } }),
  key('message.downconversion.enable', 'messageDownconversionEnable', 'boolean', true, 'Whether consumers on Fetch v0-3 get the stored v2 batches down-converted to message format v0/v1; false answers them UNSUPPORTED_VERSION.',
    [{ name: 'log.message.downconversion.enable', importance: 'low' }], { importance: 'low' }),
  key('message.format.version', 'messageFormatVersion', 'string', '3.0-IV1', 'Message format version (ignored since Kafka 3.0: every batch is magic 2).',
    [{ name: 'log.message.format.version', dynamic: 'read-only' }], { validator: metadataVersion }),
  key('message.timestamp.after.max.ms', 'messageTimestampAfterMaxMs', 'long', LONG_MAX, 'Largest allowed future skew of a CreateTime timestamp.', ['log.message.timestamp.after.max.ms'], { range: { min: 0 } }),
  key('message.timestamp.before.max.ms', 'messageTimestampBeforeMaxMs', 'long', LONG_MAX, 'Largest allowed age of a CreateTime timestamp.', ['log.message.timestamp.before.max.ms'], { range: { min: 0 } }),
  key('message.timestamp.difference.max.ms', 'messageTimestampDifferenceMaxMs', 'long', LONG_MAX, 'Deprecated in Kafka 3.6; superseded by the before/after keys.',
    ['log.message.timestamp.difference.max.ms'], { range: { min: 0 } }),
  key('message.timestamp.type', 'messageTimestampType', 'string', 'CreateTime', 'CreateTime keeps producer timestamps; LogAppendTime stamps the broker time.',
    ['log.message.timestamp.type'], { validValues: ['CreateTime', 'LogAppendTime'] }),
  key('min.cleanable.dirty.ratio', 'minCleanableDirtyRatio', 'double', 0.5, 'Dirty ratio that makes a compacted log eligible for cleaning.',
    ['log.cleaner.min.cleanable.ratio'], { range: { min: 0, max: 1 } }),
  key('min.compaction.lag.ms', 'minCompactionLagMs', 'long', 0, 'Minimum time a message stays uncompacted.', ['log.cleaner.min.compaction.lag.ms'], { range: { min: 0 } }),
  key('min.insync.replicas', 'minInsyncReplicas', 'int', 1, 'Minimum in-sync replicas for acks=all to succeed.', [{ name: 'min.insync.replicas', importance: 'high' }], { range: { min: 1 } }),
  key('preallocate', 'preallocate', 'boolean', false, 'Preallocate segment files (accepted; not done, see the storage README).', ['log.preallocate']),
  key('remote.log.copy.disable', 'remoteLogCopyDisable', 'boolean', false, 'Tiered storage: stop copying segments to remote storage; unused.', []),
  key('remote.log.delete.on.disable', 'remoteLogDeleteOnDisable', 'boolean', false, 'Tiered storage: delete remote data when disabled; unused.', []),
  key('remote.storage.enable', 'remoteStorageEnable', 'boolean', false, 'Tiered storage; not supported by Tributary, accepted only as false.', []),
  key('retention.bytes', 'retentionBytes', 'long', -1, 'Size per partition beyond which old segments are deleted; -1 is unlimited.', [{ name: 'log.retention.bytes', importance: 'high' }]),
  key('retention.ms', 'retentionMs', 'long', 604800000, 'Time to keep a segment; -1 keeps forever.', [
    { name: 'log.retention.ms', default: null, range: null, importance: 'high', doc: 'Time to keep a segment; -1 keeps forever. Overrides minutes and hours.' },
    { name: 'log.retention.minutes', unitMs: MINUTE_MS, type: 'int', default: null, range: null, importance: 'high', doc: 'Retention in minutes; overrides log.retention.hours.' },
    { name: 'log.retention.hours', unitMs: HOUR_MS, type: 'int', default: 168, range: null, importance: 'high', doc: 'Retention in hours (7 days).' },
  ], { range: { min: -1 } }),
  key('segment.bytes', 'segmentBytes', 'int', 1073741824, 'Segment size at which a new segment is rolled.', [{ name: 'log.segment.bytes', importance: 'high' }], { range: { min: 14 } }),
  key('segment.index.bytes', 'segmentIndexBytes', 'int', 10485760, 'Maximum size of an offset index; a full index rolls the segment.', ['log.index.size.max.bytes'], { range: { min: 4 } }),
  key('segment.jitter.ms', 'segmentJitterMs', 'long', 0, 'Random jitter subtracted from the roll time.', [
    { name: 'log.roll.jitter.ms', default: null, range: null, importance: 'high', doc: 'Random jitter subtracted from the roll time; overrides log.roll.jitter.hours.' },
    { name: 'log.roll.jitter.hours', unitMs: HOUR_MS, type: 'int', default: 0, range: { min: 0 }, importance: 'high', doc: 'Random jitter in hours subtracted from the roll time.' },
  ], { range: { min: 0 } }),
  key('segment.ms', 'segmentMs', 'long', 604800000, 'Segment age at which a new segment is rolled.', [
    { name: 'log.roll.ms', default: null, range: null, importance: 'high', doc: 'Segment age at which a new segment is rolled; overrides log.roll.hours.' },
    { name: 'log.roll.hours', unitMs: HOUR_MS, type: 'int', default: 168, range: { min: 1 }, importance: 'high', doc: 'Segment age in hours at which a new segment is rolled.' },
  ], { range: { min: 1 } }),
  key('unclean.leader.election.enable', 'uncleanLeaderElectionEnable', 'boolean', false, 'Allow a replica outside the ISR to become leader (may lose data).',
    [{ name: 'unclean.leader.election.enable', importance: 'high' }]),
];

export const LOG_CONFIG_DEFS: readonly LogConfigDef[] = LOG_CONFIG_TABLE;

type SynonymEntry<D> = D extends { readonly type: infer T; readonly brokerSynonyms: readonly (infer X)[] }
  ? X extends { readonly name: infer N extends string } ? [N, X extends { readonly type: infer U extends ConfigType } ? U : T] : never
  : never;

/** Every broker key that is a synonym of a topic key, with its config type (compile time only). */
export type LogBrokerKeyTypes = { readonly [E in SynonymEntry<(typeof LOG_CONFIG_TABLE)[number]> as E[0]]: E[1] };

export const LOG_CONFIG_DEF_BY_NAME: ReadonlyMap<string, LogConfigDef> = new Map(LOG_CONFIG_DEFS.map((d) => [d.name, d]));

function fromValues(base: Readonly<LogConfig> | null, values: ReadonlyMap<string, ConfigValue>): LogConfig {
  const config = { ...(base ?? {}) } as Record<string, unknown>;
  for (const def of LOG_CONFIG_DEFS) {
    if (values.has(def.name)) config[def.field] = freeze(values.get(def.name) ?? null);
    else if (base === null) config[def.field] = freeze(def.default);
  }
  return config as unknown as LogConfig;
}

function freeze(value: ConfigValue): ConfigValue {
  return Array.isArray(value) ? (Object.freeze([...value]) as string[]) : value;
}

/** Kafka's LogConfig defaults, built from the table. */
export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze(fromValues(null, new Map()));

/**
 * Parses and validates a topic's complete set of overrides (Kafka's LogConfig.validate):
 * every key must be a topic key, every value valid for it, and the cross-key rules hold.
 * Throws ConfigError naming the key and value. This is the only place topic overrides are
 * validated; CreateTopics and both AlterConfigs call it through the broker.
 */
export function parseLogConfigOverrides(overrides: Readonly<Record<string, unknown>>): Map<string, ConfigValue> {
  const parsed = parseOverrides(overrides, true);
  if (parsed.get('remote.storage.enable') === true) {
    throw new ConfigError('TRIB_ERR_CONFIG_INVALID', 'Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.', 'remote.storage.enable');
  }
  const minLag = parsed.get('min.compaction.lag.ms');
  const maxLag = parsed.get('max.compaction.lag.ms');
  if (typeof minLag === 'number' && typeof maxLag === 'number' && minLag > maxLag) {
    throw new ConfigError('TRIB_ERR_CONFIG_INVALID', `conflict topic config setting min.compaction.lag.ms (${minLag}) > max.compaction.lag.ms (${maxLag})`, 'min.compaction.lag.ms');
  }
  return parsed;
}

/**
 * Overrides that were validated when they were written (the metadata store's), parsed
 * leniently: a key that is unknown or no longer valid (written by another version) is
 * left out, so the topic keeps the broker's value instead of failing to load.
 */
export function parseStoredLogConfigOverrides(overrides: Readonly<Record<string, unknown>>): Map<string, ConfigValue> {
  return parseOverrides(overrides, false);
}

function parseOverrides(overrides: Readonly<Record<string, unknown>>, strict: boolean): Map<string, ConfigValue> {
  const parsed = new Map<string, ConfigValue>();
  for (const [name, raw] of Object.entries(overrides)) {
    const def = LOG_CONFIG_DEF_BY_NAME.get(name);
    if (!def) {
      if (strict) throw new ConfigError('TRIB_ERR_CONFIG_INVALID', `Unknown topic config name: ${name}`, name);
      continue;
    }
    try {
      parsed.set(name, parseConfigValue(def, raw));
    } catch (err) {
      if (strict || !(err instanceof ConfigError)) throw err;
    }
  }
  return parsed;
}

/** `base` (the broker's defaults for every topic) with parsed overrides applied. */
export function withLogConfigOverrides(base: Readonly<LogConfig>, overrides: ReadonlyMap<string, ConfigValue>): LogConfig {
  return fromValues(base, overrides);
}

/** A complete LogConfig from typed values by topic key; keys not given take `base`'s value. */
export function logConfigOf(values: ReadonlyMap<string, ConfigValue>, base: Readonly<LogConfig> = DEFAULT_LOG_CONFIG): LogConfig {
  return fromValues(base, values);
}

/** Converts a broker synonym's value to the unit of its topic key (hours -> ms, ...). */
export function brokerValueToTopicValue(synonym: BrokerSynonym, value: ConfigValue): ConfigValue {
  if (synonym.unitMs === undefined || typeof value !== 'number') return value;
  if (value < 0) return -1;
  return Math.min(value * synonym.unitMs, LONG_MAX);
}

/**
 * Builds a LogConfig from Kafka-style string properties layered over `base` (Kafka's
 * defaults unless given): tests and tools that hold properties as text. Unknown keys are
 * ignored here; the broker validates with parseLogConfigOverrides, which refuses them.
 */
export function fromProperties(props: Readonly<Record<string, string>>, base: Readonly<LogConfig> = DEFAULT_LOG_CONFIG): LogConfig {
  const values = new Map<string, ConfigValue>();
  for (const [name, raw] of Object.entries(props)) {
    const def = LOG_CONFIG_DEF_BY_NAME.get(name);
    if (def) values.set(name, parseConfigValue(def, raw));
  }
  return fromValues(base, values);
}

/** Kafka's property map for a config, e.g. for DescribeConfigs. */
export function toProperties(config: Readonly<LogConfig>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const def of LOG_CONFIG_DEFS) out[def.name] = formatConfigValue(def, config[def.field] as ConfigValue) ?? '';
  return out;
}

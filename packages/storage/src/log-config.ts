/**
 * Topic-level log configuration: Kafka's keys, defaults and validation, as camelCase
 * fields. Kafka's "infinite" longs (Long.MAX_VALUE) become Number.MAX_SAFE_INTEGER, which
 * is just as unreachable for milliseconds and message counts.
 */
import { StorageError, StorageErrorCode } from './errors.js';

export const TimestampType = { CREATE_TIME: 'CreateTime', LOG_APPEND_TIME: 'LogAppendTime' } as const;
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType];

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
  /** file.delete.delay.ms: how long a `.deleted` segment stays readable before removal. */
  fileDeleteDelayMs: number;
  /** cleanup.policy: stored and validated; compaction comes later. */
  cleanupPolicy: ReadonlyArray<'delete' | 'compact'>;
  /** message.timestamp.type */
  messageTimestampType: TimestampType;
  /** max.message.bytes: the largest batch the broker accepts (enforced by the broker). */
  maxMessageBytes: number;
  /** min.insync.replicas: stored for the broker. */
  minInsyncReplicas: number;
  /** preallocate: stored; segments are not preallocated (see README). */
  preallocate: boolean;
}

const LONG_MAX = Number.MAX_SAFE_INTEGER;

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segmentBytes: 1073741824,
  segmentMs: 604800000,
  segmentJitterMs: 0,
  segmentIndexBytes: 10485760,
  indexIntervalBytes: 4096,
  retentionMs: 604800000,
  retentionBytes: -1,
  flushMessages: LONG_MAX,
  flushMs: LONG_MAX,
  fileDeleteDelayMs: 60000,
  cleanupPolicy: Object.freeze(['delete'] as const),
  messageTimestampType: TimestampType.CREATE_TIME,
  maxMessageBytes: 1048588,
  minInsyncReplicas: 1,
  preallocate: false,
});

type Kind = 'int' | 'long' | 'policy' | 'tstype' | 'bool';
interface KeySpec { field: keyof LogConfig; kind: Kind; min: number }

/** Kafka's key, the field it maps to, its type and Kafka's lower bound. */
export const LOG_CONFIG_KEYS: Readonly<Record<string, KeySpec>> = Object.freeze({
  'segment.bytes': { field: 'segmentBytes', kind: 'int', min: 14 },
  'segment.ms': { field: 'segmentMs', kind: 'long', min: 1 },
  'segment.jitter.ms': { field: 'segmentJitterMs', kind: 'long', min: 0 },
  'segment.index.bytes': { field: 'segmentIndexBytes', kind: 'int', min: 4 },
  'index.interval.bytes': { field: 'indexIntervalBytes', kind: 'int', min: 0 },
  'retention.ms': { field: 'retentionMs', kind: 'long', min: -1 },
  'retention.bytes': { field: 'retentionBytes', kind: 'long', min: -Infinity },
  'flush.messages': { field: 'flushMessages', kind: 'long', min: 1 },
  'flush.ms': { field: 'flushMs', kind: 'long', min: 0 },
  'file.delete.delay.ms': { field: 'fileDeleteDelayMs', kind: 'long', min: 0 },
  'cleanup.policy': { field: 'cleanupPolicy', kind: 'policy', min: 0 },
  'message.timestamp.type': { field: 'messageTimestampType', kind: 'tstype', min: 0 },
  'max.message.bytes': { field: 'maxMessageBytes', kind: 'int', min: 0 },
  'min.insync.replicas': { field: 'minInsyncReplicas', kind: 'int', min: 1 },
  'preallocate': { field: 'preallocate', kind: 'bool', min: 0 },
});

const INT32_MAX = 2147483647;

function invalid(key: string, value: string, expected: string): StorageError {
  return new StorageError(
    StorageErrorCode.INVALID_CONFIG,
    `Invalid value ${JSON.stringify(value)} for configuration ${key}: expected ${expected}`,
  );
}

function parseValue(key: string, spec: KeySpec, raw: string): LogConfig[keyof LogConfig] {
  const value = raw.trim();
  switch (spec.kind) {
    case 'int':
    case 'long': {
      if (!/^-?\d+$/.test(value)) throw invalid(key, raw, 'an integer');
      const n = Number(value);
      const max = spec.kind === 'int' ? INT32_MAX : LONG_MAX;
      // Kafka's Long.MAX_VALUE (and anything past 2^53) means "never"; clamp it.
      if (spec.kind === 'int' && n > max) throw invalid(key, raw, `an int32 at most ${INT32_MAX}`);
      if (n < spec.min) throw invalid(key, raw, `a value at least ${spec.min}`);
      return Math.min(n, max);
    }
    case 'policy': {
      const parts = value.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
      if (parts.length === 0) throw invalid(key, raw, 'a list of [delete, compact]');
      for (const p of parts) if (p !== 'delete' && p !== 'compact') throw invalid(key, raw, 'a list of [delete, compact]');
      return Object.freeze([...new Set(parts)]) as ReadonlyArray<'delete' | 'compact'>;
    }
    case 'tstype':
      if (value !== TimestampType.CREATE_TIME && value !== TimestampType.LOG_APPEND_TIME) {
        throw invalid(key, raw, 'one of [CreateTime, LogAppendTime]');
      }
      return value;
    case 'bool':
      if (value.toLowerCase() === 'true') return true;
      if (value.toLowerCase() === 'false') return false;
      throw invalid(key, raw, 'true or false');
  }
}

/**
 * Builds a LogConfig from Kafka-style string properties layered over `base` (Kafka's
 * defaults unless given). Unknown keys are ignored here: the broker owns the full list of
 * topic configs and decides whether an unknown key is an error.
 */
export function fromProperties(props: Readonly<Record<string, string>>, base: Readonly<LogConfig> = DEFAULT_LOG_CONFIG): LogConfig {
  const config: LogConfig = { ...base };
  for (const [key, raw] of Object.entries(props)) {
    const spec = LOG_CONFIG_KEYS[key];
    if (spec === undefined) continue;
    (config as unknown as Record<string, unknown>)[spec.field] = parseValue(key, spec, String(raw));
  }
  return config;
}

/** Kafka's property map for a config, e.g. for DescribeConfigs. */
export function toProperties(config: Readonly<LogConfig>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, spec] of Object.entries(LOG_CONFIG_KEYS)) {
    const v = config[spec.field];
    out[key] = Array.isArray(v) ? v.join(',') : v === LONG_MAX ? '9223372036854775807' : String(v);
  }
  return out;
}

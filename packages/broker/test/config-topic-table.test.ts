// The one topic config table (@tributary/storage log-config.ts) as the broker uses it:
// every topic key Kafka 3.9 accepts is accepted with Kafka's validation and default, the
// broker synonyms come from the same table, and the typed LogConfig carries every key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULT_LOG_CONFIG, LOG_CONFIG_DEFS, parseLogConfigOverrides } from '@tributary/storage';
import { BrokerConfig } from '../src/config/broker-config.js';
import { BROKER_CONFIG_DEF_BY_NAME } from '../src/config/broker-configs.js';
import { topicConfigsError } from '../src/topics/topic-config-validation.js';

/** Kafka 3.9's LogConfig keys and defaults as DescribeConfigs prints them (plus Tributary's flush.durable.acks). */
const KAFKA_39_TOPIC_DEFAULTS: Record<string, string> = {
  'cleanup.policy': 'delete', 'compression.gzip.level': '-1', 'compression.lz4.level': '9', 'compression.type': 'producer',
  'compression.zstd.level': '3', 'delete.retention.ms': '86400000', 'file.delete.delay.ms': '60000', 'flush.messages': '9223372036854775807',
  'flush.ms': '9223372036854775807', 'follower.replication.throttled.replicas': '', 'index.interval.bytes': '4096',
  'leader.replication.throttled.replicas': '', 'local.retention.bytes': '-2', 'local.retention.ms': '-2', 'max.compaction.lag.ms': '9223372036854775807',
  'max.message.bytes': '1048588', 'message.downconversion.enable': 'true', 'message.format.version': '3.0-IV1',
  'message.timestamp.after.max.ms': '9223372036854775807', 'message.timestamp.before.max.ms': '9223372036854775807',
  'message.timestamp.difference.max.ms': '9223372036854775807', 'message.timestamp.type': 'CreateTime', 'min.cleanable.dirty.ratio': '0.5',
  'min.compaction.lag.ms': '0', 'min.insync.replicas': '1', 'preallocate': 'false', 'remote.log.copy.disable': 'false',
  'remote.log.delete.on.disable': 'false', 'remote.storage.enable': 'false', 'retention.bytes': '-1', 'retention.ms': '604800000',
  'segment.bytes': '1073741824', 'segment.index.bytes': '10485760', 'segment.jitter.ms': '0', 'segment.ms': '604800000',
  'unclean.leader.election.enable': 'false', 'flush.durable.acks': 'false',
};

test('every Kafka 3.9 topic key is described with Kafka\'s default', () => {
  const described = new Map(BrokerConfig.load([]).describeTopic({}).map((e) => [e.name, e.value]));
  assert.deepEqual([...described.keys()].sort(), Object.keys(KAFKA_39_TOPIC_DEFAULTS).sort());
  for (const [name, value] of Object.entries(KAFKA_39_TOPIC_DEFAULTS)) assert.equal(described.get(name), value, name);
});

test('Kafka 3.9 validation of the accepted-and-ignored keys', () => {
  const ok = {
    'message.format.version': '0.10.2-IV0', 'leader.replication.throttled.replicas': '0:1, 1:2', 'follower.replication.throttled.replicas': '*',
    'compression.gzip.level': '-1', 'compression.lz4.level': '17', 'compression.zstd.level': '-131072', 'local.retention.ms': '-2',
    'message.downconversion.enable': 'false', 'remote.log.copy.disable': 'true', 'remote.log.delete.on.disable': 'true', 'preallocate': 'true',
    'compression.type': 'zstd',
  };
  assert.equal(topicConfigsError(ok), null);
  const refused: [string, string][] = [
    ['message.format.version', '9.9'], ['message.format.version', '3.0-IV9'], ['leader.replication.throttled.replicas', '0-1'],
    ['follower.replication.throttled.replicas', '*,0:1'], ['compression.gzip.level', '0'], ['compression.gzip.level', '10'],
    ['compression.lz4.level', '0'], ['compression.zstd.level', '23'], ['local.retention.ms', '-3'], ['local.retention.bytes', '-3'],
    ['compression.type', 'brotli'], ['compression.type', 'GZIP'], ['message.format.versions', '2.8'],
  ];
  for (const [name, value] of refused) {
    assert.throws(() => parseLogConfigOverrides({ [name]: value }), (e: unknown) => e instanceof ConfigError && e.message.includes(name), `${name}=${value}`);
  }
  assert.equal(topicConfigsError({ 'remote.storage.enable': 'true' }), 'Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.');
});

test('the typed LogConfig carries every key, and broker synonyms are derived from the table', () => {
  for (const def of LOG_CONFIG_DEFS) {
    assert.ok(def.field in DEFAULT_LOG_CONFIG, `${def.name} -> ${def.field}`);
    for (const synonym of def.brokerSynonyms) assert.ok(BROKER_CONFIG_DEF_BY_NAME.has(synonym.name), `${synonym.name} is a broker key`);
  }
  const c = BrokerConfig.load([{ 'compression.type': 'zstd', 'log.retention.minutes': 5, 'log.message.downconversion.enable': false }]);
  const log = c.logConfig({ 'retention.bytes': '100', 'message.format.version': '2.8' });
  assert.deepEqual([log.compressionType, log.retentionMs, log.retentionBytes, log.messageDownconversionEnable, log.messageFormatVersion], ['zstd', 300_000, 100, false, '2.8']);
  assert.equal(c.logConfig({ 'compression.type': 'lz4' }).compressionType, 'lz4');
  // An override that no longer parses (another version's metadata) keeps the broker's value.
  assert.equal(c.logConfig({ 'compression.type': 'brotli' }).compressionType, 'zstd');
  assert.equal(BROKER_CONFIG_DEF_BY_NAME.get('log.retention.hours')!.type, 'int');
  assert.equal(BROKER_CONFIG_DEF_BY_NAME.get('log.roll.hours')!.range?.min, 1);
  assert.equal(BROKER_CONFIG_DEF_BY_NAME.get('log.message.format.version')!.dynamic, 'read-only');
});

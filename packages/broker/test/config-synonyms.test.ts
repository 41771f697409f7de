// DescribeConfigs synonyms and sources, key by key, as Kafka 3.9's ConfigHelper lists them
// (configSynonyms: the synonym family layer by layer - dynamic per-broker, dynamic cluster
// default, static, built-in default - with everything before the key's own first entry
// dropped; a topic override first). Unit tests on BrokerConfig: no sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokerConfig, ConfigSource } from '../src/config/broker-config.js';
import type { ConfigEntry } from '../src/config/broker-config.js';
import { KAFKA_LONG_MAX_TEXT } from '../src/config/config-def.js';

const { TOPIC_CONFIG: TOPIC, DYNAMIC_BROKER_CONFIG: DYN_BROKER, DYNAMIC_DEFAULT_BROKER_CONFIG: DYN_DEFAULT, STATIC_BROKER_CONFIG: STATIC, DEFAULT_CONFIG: DEFAULT } = ConfigSource;

const synonyms = (entry: ConfigEntry) => entry.synonyms.map((s) => [s.name, s.value, s.source]);
const find = (entries: ConfigEntry[], name: string): ConfigEntry => {
  const entry = entries.find((e) => e.name === name);
  assert.ok(entry, `${name} is described`);
  return entry;
};

/** Static: hours for retention, ms for roll, a compact policy, a max message size; then both dynamic layers. */
function layered(): BrokerConfig {
  return BrokerConfig.load([{ 'log.retention.hours': 24, 'log.roll.ms': 3_600_000, 'log.cleanup.policy': 'compact', 'message.max.bytes': 2_000_000 }])
    .withDynamic({ clusterDefault: { 'log.retention.ms': '5000' }, perBroker: { 'message.max.bytes': '3000000' } });
}

test('topic synonyms with nothing set: Kafka drops the DEFAULT_CONFIG entries of coarser-unit keys', () => {
  const topic = BrokerConfig.load([]).describeTopic({});
  const retention = find(topic, 'retention.ms');
  assert.deepEqual([retention.value, retention.source, synonyms(retention)], ['604800000', DEFAULT, []]);
  const segmentMs = find(topic, 'segment.ms');
  assert.deepEqual([segmentMs.value, segmentMs.source, synonyms(segmentMs)], ['604800000', DEFAULT, []]);
  const jitter = find(topic, 'segment.jitter.ms');
  assert.deepEqual([jitter.value, jitter.source, synonyms(jitter)], ['0', DEFAULT, []]);
  const flushMs = find(topic, 'flush.ms');
  assert.deepEqual([flushMs.value, flushMs.source, synonyms(flushMs)], [KAFKA_LONG_MAX_TEXT, DEFAULT, []]);
  const bytes = find(topic, 'retention.bytes');
  assert.deepEqual([bytes.value, bytes.source, synonyms(bytes)], ['-1', DEFAULT, [['log.retention.bytes', '-1', DEFAULT]]]);
  const maxBytes = find(topic, 'max.message.bytes');
  assert.deepEqual(synonyms(maxBytes), [['message.max.bytes', '1048588', DEFAULT]]);
  const remote = find(topic, 'remote.storage.enable');
  assert.deepEqual([remote.value, remote.source, synonyms(remote)], ['false', DEFAULT, []]);
});

test('topic synonyms: only a coarser-unit key set gives the value but no synonyms (Kafka)', () => {
  const topic = BrokerConfig.load([{ 'log.retention.hours': 24, 'log.roll.hours': 2 }]).describeTopic({});
  const retention = find(topic, 'retention.ms');
  assert.deepEqual([retention.value, retention.source, synonyms(retention)], [String(24 * 3_600_000), DEFAULT, []]);
  const segmentMs = find(topic, 'segment.ms');
  assert.deepEqual([segmentMs.value, segmentMs.source, synonyms(segmentMs)], [String(2 * 3_600_000), DEFAULT, []]);
});

test('topic synonyms across every layer, with and without a topic override', () => {
  const c = layered();
  const topic = c.describeTopic({});
  const retention = find(topic, 'retention.ms');
  assert.deepEqual([retention.value, retention.source], ['5000', DYN_DEFAULT]);
  assert.deepEqual(synonyms(retention), [['log.retention.ms', '5000', DYN_DEFAULT], ['log.retention.hours', '24', STATIC], ['log.retention.hours', '168', DEFAULT]]);
  const segmentMs = find(topic, 'segment.ms');
  assert.deepEqual([segmentMs.value, segmentMs.source], ['3600000', STATIC]);
  assert.deepEqual(synonyms(segmentMs), [['log.roll.ms', '3600000', STATIC], ['log.roll.hours', '168', DEFAULT]]);
  const maxBytes = find(topic, 'max.message.bytes');
  assert.deepEqual([maxBytes.value, maxBytes.source], ['3000000', DYN_BROKER]);
  assert.deepEqual(synonyms(maxBytes), [['message.max.bytes', '3000000', DYN_BROKER], ['message.max.bytes', '2000000', STATIC], ['message.max.bytes', '1048588', DEFAULT]]);
  const policy = find(topic, 'cleanup.policy');
  assert.deepEqual([policy.value, policy.source], ['compact', STATIC]);
  assert.deepEqual(synonyms(policy), [['log.cleanup.policy', 'compact', STATIC], ['log.cleanup.policy', 'delete', DEFAULT]]);

  const overridden = c.describeTopic({ 'retention.ms': '99', 'cleanup.policy': 'delete', 'max.message.bytes': '100' });
  assert.deepEqual(synonyms(find(overridden, 'retention.ms')), [
    ['retention.ms', '99', TOPIC], ['log.retention.ms', '5000', DYN_DEFAULT], ['log.retention.hours', '24', STATIC], ['log.retention.hours', '168', DEFAULT],
  ]);
  const overriddenPolicy = find(overridden, 'cleanup.policy');
  assert.deepEqual([overriddenPolicy.value, overriddenPolicy.source], ['delete', TOPIC]);
  assert.deepEqual(synonyms(overriddenPolicy), [['cleanup.policy', 'delete', TOPIC], ['log.cleanup.policy', 'compact', STATIC], ['log.cleanup.policy', 'delete', DEFAULT]]);
  assert.deepEqual(synonyms(find(overridden, 'max.message.bytes'))[0], ['max.message.bytes', '100', TOPIC]);
  const noBrokerKey = c.describeTopic({ 'leader.replication.throttled.replicas': '0:1' });
  assert.deepEqual(synonyms(find(noBrokerKey, 'leader.replication.throttled.replicas')), [['leader.replication.throttled.replicas', '0:1', TOPIC]]);
});

test('broker synonyms: each key its own value, the family dropped up to the key itself', () => {
  const broker = layered().describeBroker();
  const hours = find(broker, 'log.retention.hours');
  assert.deepEqual([hours.value, hours.source], ['24', STATIC]);
  assert.deepEqual(synonyms(hours), [['log.retention.hours', '24', STATIC], ['log.retention.hours', '168', DEFAULT]]);
  const ms = find(broker, 'log.retention.ms');
  assert.deepEqual([ms.value, ms.source], ['5000', DYN_DEFAULT]);
  assert.deepEqual(synonyms(ms), [['log.retention.ms', '5000', DYN_DEFAULT], ['log.retention.hours', '24', STATIC], ['log.retention.hours', '168', DEFAULT]]);
  const minutes = find(broker, 'log.retention.minutes');
  assert.deepEqual([minutes.value, minutes.source, synonyms(minutes)], [null, DEFAULT, []]);
  const flushInterval = find(broker, 'log.flush.interval.ms');
  assert.deepEqual([flushInterval.value, flushInterval.source, synonyms(flushInterval)], [null, DEFAULT, []]);
  const scheduler = find(broker, 'log.flush.scheduler.interval.ms');
  assert.deepEqual(synonyms(scheduler), [['log.flush.scheduler.interval.ms', KAFKA_LONG_MAX_TEXT, DEFAULT]]);
  const maxBytes = find(broker, 'message.max.bytes');
  assert.deepEqual([maxBytes.value, maxBytes.source], ['3000000', DYN_BROKER]);
  assert.deepEqual(synonyms(maxBytes), [['message.max.bytes', '3000000', DYN_BROKER], ['message.max.bytes', '2000000', STATIC], ['message.max.bytes', '1048588', DEFAULT]]);
  const rollHours = find(broker, 'log.roll.hours');
  assert.deepEqual(synonyms(rollHours), [['log.roll.hours', '168', DEFAULT]]);
  const nodeId = find(broker, 'node.id');
  assert.deepEqual(synonyms(nodeId), [['node.id', '-1', DEFAULT]], 'node.id has no synonym in Kafka');
});

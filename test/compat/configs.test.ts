/**
 * Topic and broker configs as real admin clients see them: confluent-kafka-python 1.7
 * (librdkafka 2.0, which always asks for synonyms) and KafkaJS. The broker has
 * log.retention.hours=24 and log.cleanup.policy=compact in its static config; the lists
 * asserted are Kafka 3.9's (ConfigHelper.configSynonyms). The topics are created with
 * keys Kafka 3.9 accepts and Tributary accepts-and-ignores (message.format.version, ...).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { requirePythonModule, runPython, startTestBroker } from './kit.js';

const BROKER_CONFIG = { 'log.retention.hours': 24, 'log.cleanup.policy': 'compact', 'offsets.topic.num.partitions': 1 };

/** Kafka 3.9 topic keys with no effect here, and values Kafka accepts for them. */
const ACCEPTED_AND_IGNORED: Record<string, string> = {
  'message.format.version': '2.8',
  'message.downconversion.enable': 'false',
  'leader.replication.throttled.replicas': '0:1',
  'follower.replication.throttled.replicas': '*',
  'local.retention.ms': '-2',
  'local.retention.bytes': '1000',
  'remote.log.copy.disable': 'false',
  'compression.gzip.level': '5',
  'compression.zstd.level': '-5',
  'preallocate': 'true',
};

const DESCRIBE = String.raw`
import json, sys
from confluent_kafka.admin import AdminClient, NewTopic, ConfigResource
admin = AdminClient({'bootstrap.servers': sys.argv[1]})
configs = json.loads(sys.argv[3])
fs = admin.create_topics([NewTopic(sys.argv[2], 1, 1, config=configs)], operation_timeout=10)
fs[sys.argv[2]].result(15)
bad = admin.create_topics([NewTopic(sys.argv[2] + '-bad', 1, 1, config={'message.format.version': '9.9'})])
try:
    bad[sys.argv[2] + '-bad'].result(15)
    bad_error = None
except Exception as e:
    bad_error = e.args[0].name()
out = {'bad': bad_error}
for kind, name in (('topic', sys.argv[2]), ('broker', sys.argv[4])):
    rtype = ConfigResource.Type.TOPIC if kind == 'topic' else ConfigResource.Type.BROKER
    res = ConfigResource(rtype, name)
    entries = admin.describe_configs([res])[res].result(15)
    out[kind] = {k: {'value': v.value, 'source': int(v.source), 'synonyms': [[s.name, s.value, int(s.source)] for s in v.synonyms.values()]} for k, v in entries.items()}
print(json.dumps(out))
`;

test('confluent-kafka-python: Kafka 3.9 topic keys accepted, described with Kafka\'s synonyms and sources', { timeout: 120_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  const broker = await startTestBroker(t, BROKER_CONFIG);
  const r = await runPython(DESCRIBE, [broker.bootstrap, 'py-configs', JSON.stringify(ACCEPTED_AND_IGNORED), '1'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `python exited ${r.code}: ${r.stderr.toString().slice(-3000)}`);
  const out = JSON.parse(r.stdout.toString('utf8'));
  assert.equal(out.bad, 'INVALID_CONFIG');
  const topic = out.topic;
  for (const [name, value] of Object.entries(ACCEPTED_AND_IGNORED)) {
    assert.deepEqual([topic[name].value, topic[name].source], [value, 1], name);
  }
  // Kafka 3.9's defaults of keys the topic did not set.
  assert.equal(topic['compression.lz4.level'].value, '9');
  assert.equal(topic['remote.storage.enable'].value, 'false');
  assert.equal(topic['remote.log.delete.on.disable'].value, 'false');
  assert.equal(topic['compression.type'].value, 'producer');
  // retention.ms: only log.retention.hours is set, so Kafka lists no synonym (source DEFAULT_CONFIG = 5).
  assert.deepEqual(topic['retention.ms'], { value: String(24 * 3_600_000), source: 5, synonyms: [] });
  assert.deepEqual(topic['segment.ms'], { value: '604800000', source: 5, synonyms: [] });
  assert.deepEqual(topic['retention.bytes'], { value: '-1', source: 5, synonyms: [['log.retention.bytes', '-1', 5]] });
  // confluent-kafka-python keys synonyms by name (a dict), so a name Kafka lists twice
  // shows once, with its last entry; the KafkaJS test below sees the whole list.
  assert.deepEqual(topic['cleanup.policy'], { value: 'compact', source: 4, synonyms: [['log.cleanup.policy', 'delete', 5]] });
  assert.deepEqual(topic['max.message.bytes'], { value: '1048588', source: 5, synonyms: [['message.max.bytes', '1048588', 5]] });
  assert.deepEqual(topic['message.format.version'].synonyms, [['message.format.version', '2.8', 1], ['log.message.format.version', '3.0-IV1', 5]]);
  const brokerEntries = out.broker;
  assert.deepEqual(brokerEntries['log.retention.hours'], { value: '24', source: 4, synonyms: [['log.retention.hours', '168', 5]] });
  assert.deepEqual(brokerEntries['log.retention.ms'], { value: null, source: 5, synonyms: [] });
});

test('KafkaJS: describeConfigs with synonyms lists Kafka\'s synonyms; AlterConfigs accepts Kafka 3.9 keys', { timeout: 60_000 }, async (t) => {
  const broker = await startTestBroker(t, BROKER_CONFIG);
  const kafka = new Kafka({ clientId: 'configs-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'kjs-configs', configEntries: [{ name: 'cleanup.policy', value: 'delete' }] }] });
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'kjs-configs', configEntries: [
    { name: 'cleanup.policy', value: 'delete' }, { name: 'message.format.version', value: '3.0-IV1' }, { name: 'unclean.leader.election.enable', value: 'true' },
  ] }] });
  const described = await admin.describeConfigs({ includeSynonyms: true, resources: [{ type: 2, name: 'kjs-configs', configNames: ['cleanup.policy', 'retention.ms', 'message.format.version'] }] });
  const entries = new Map(described.resources[0]!.configEntries.map((e) => [e.configName, e]));
  assert.deepEqual(entries.get('cleanup.policy')!.configSynonyms.map((s) => [s.configName, s.configValue, s.configSource]), [
    ['cleanup.policy', 'delete', 1], ['log.cleanup.policy', 'compact', 4], ['log.cleanup.policy', 'delete', 5],
  ]);
  assert.deepEqual(entries.get('retention.ms')!.configSynonyms, []);
  assert.equal(entries.get('retention.ms')!.configSource, 5);
  assert.equal(entries.get('message.format.version')!.configValue, '3.0-IV1');
  // Without synonyms the sources stay the same and the lists are empty.
  const plain = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: 'kjs-configs', configNames: ['cleanup.policy', 'retention.ms', 'segment.bytes'] }] });
  assert.deepEqual(plain.resources[0]!.configEntries.map((e) => [e.configName, e.configSource, e.configSynonyms.length]).sort(), [
    ['cleanup.policy', 1, 0], ['retention.ms', 5, 0], ['segment.bytes', 5, 0],
  ]);
  const brokerLevel = await admin.describeConfigs({ includeSynonyms: true, resources: [{ type: 4, name: '1', configNames: ['log.retention.hours', 'log.retention.ms', 'log.cleanup.policy'] }] });
  assert.deepEqual(brokerLevel.resources[0]!.configEntries.map((e) => [e.configName, e.configValue, e.configSource, e.configSynonyms.map((s) => [s.configName, s.configValue, s.configSource])]).sort(), [
    ['log.cleanup.policy', 'compact', 4, [['log.cleanup.policy', 'compact', 4], ['log.cleanup.policy', 'delete', 5]]],
    ['log.retention.hours', '24', 4, [['log.retention.hours', '24', 4], ['log.retention.hours', '168', 5]]],
    ['log.retention.ms', null, 5, []],
  ]);
});

// TopicManager against a real LocalMetadataStore (no sockets): Kafka's name rules and
// error codes for CreateTopics/DeleteTopics/CreatePartitions, the order in which they are
// checked, validateOnly, placement, auto-creation and internal topics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@tributary/protocol';
import { BrokerConfig } from '../src/config/broker-config.js';
import { silentLogger } from '../src/logger.js';
import { LocalMetadataStore } from '../src/metadata/local-metadata-store.js';
import { TopicManager, USER_OPERATION_RECORDS_MAX } from '../src/topics/topic-manager.js';
import { invalidTopicNameReason } from '../src/topics/topic-name.js';
import { placeReplicas } from '../src/topics/replica-placement.js';

async function setup(t: { after(fn: () => unknown): void }, options: { brokers?: number[]; config?: Record<string, unknown> } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'trib-topics-'));
  const metadata = await LocalMetadataStore.open({ dataDir: dir, clusterId: 'AAAAAAAAAAAAAAAAAAAAAQ' });
  for (const nodeId of options.brokers ?? [1]) {
    await metadata.registerBroker({ nodeId, endpoints: [{ listener: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + nodeId, securityProtocol: 'PLAINTEXT' }], rack: null });
  }
  let config = BrokerConfig.load([{ 'node.id': 1, 'log.dirs': dir, ...(options.config ?? {}) }]);
  const manager = new TopicManager({ metadata, nodeId: 1, config: () => config, logger: silentLogger });
  t.after(async () => { await metadata.close(); rmSync(dir, { recursive: true, force: true }); });
  return { metadata, manager, setConfig: (raw: Record<string, unknown>) => { config = BrokerConfig.load([{ 'node.id': 1, 'log.dirs': dir, ...raw }]); } };
}

test('topic names: Kafka rules and messages', () => {
  assert.equal(invalidTopicNameReason('orders'), null);
  assert.equal(invalidTopicNameReason('a.b_c-D9'), null);
  assert.equal(invalidTopicNameReason('x'.repeat(249)), null);
  assert.equal(invalidTopicNameReason(''), 'Topic name is invalid: the empty string is not allowed');
  assert.equal(invalidTopicNameReason('.'), "Topic name is invalid: '.' is not allowed");
  assert.equal(invalidTopicNameReason('..'), "Topic name is invalid: '..' is not allowed");
  assert.match(invalidTopicNameReason('x'.repeat(250))!, /longer than the max allowed length 249$/);
  assert.equal(invalidTopicNameReason('a b'), "Topic name is invalid: 'a b' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'");
  assert.notEqual(invalidTopicNameReason('café'), null);
  assert.notEqual(invalidTopicNameReason('a/b'), null);
});

test('createTopic: defaults, leader = first replica, epoch 0, ISR = replicas', async (t) => {
  const { manager, metadata } = await setup(t, { config: { 'num.partitions': 3 } });
  const result = await manager.createTopic({ name: 'orders', numPartitions: -1, replicationFactor: -1 });
  assert.equal(result.errorCode, ErrorCode.NONE);
  assert.equal(result.errorMessage, null);
  const topic = metadata.topic('orders')!;
  assert.equal(topic.partitions.length, 3);
  assert.equal(topic.internal, false);
  assert.equal(result.topic!.topicId, topic.topicId);
  for (const p of topic.partitions) {
    assert.deepEqual(p.replicas, [1]);
    assert.equal(p.leader, 1);
    assert.equal(p.leaderEpoch, 0);
    assert.deepEqual(p.isr, [1]);
  }
});

test('createTopic: every refusal with Kafka code and message', async (t) => {
  const { manager, metadata } = await setup(t);
  await manager.createTopic({ name: 'a_b', numPartitions: 1, replicationFactor: 1 });
  const cases: [Parameters<TopicManager['createTopic']>[0], number, string | RegExp][] = [
    [{ name: '', numPartitions: 1, replicationFactor: 1 }, ErrorCode.INVALID_TOPIC_EXCEPTION, 'Topic name is invalid: the empty string is not allowed'],
    [{ name: 'bad name', numPartitions: 1, replicationFactor: 1 }, ErrorCode.INVALID_TOPIC_EXCEPTION, /contains one or more characters/],
    [{ name: '__cluster_metadata', numPartitions: 1, replicationFactor: 1 }, ErrorCode.INVALID_REQUEST, 'Creation of internal topic __cluster_metadata is prohibited.'],
    [{ name: 'a_b', numPartitions: 1, replicationFactor: 1 }, ErrorCode.TOPIC_ALREADY_EXISTS, "Topic 'a_b' already exists."],
    [{ name: 'a.b', numPartitions: 1, replicationFactor: 1 }, ErrorCode.INVALID_TOPIC_EXCEPTION, "Topic 'a.b' collides with existing topic: a_b"],
    [{ name: 't', numPartitions: 0, replicationFactor: 1 }, ErrorCode.INVALID_PARTITIONS, 'Number of partitions was set to an invalid non-positive value.'],
    [{ name: 't', numPartitions: -2, replicationFactor: 1 }, ErrorCode.INVALID_PARTITIONS, /non-positive/],
    [{ name: 't', numPartitions: 1, replicationFactor: 0 }, ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0, or -1 to use the default value.'],
    [{ name: 't', numPartitions: 1, replicationFactor: 3 }, ErrorCode.INVALID_REPLICATION_FACTOR,
      'Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 1 broker(s) are registered.'],
    [{ name: 't', numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': 'soon' } }, ErrorCode.INVALID_CONFIG, /retention\.ms/],
    [{ name: 't', numPartitions: 1, replicationFactor: 1, configs: { 'no.such.key': '1' } }, ErrorCode.INVALID_CONFIG, 'Unknown topic config name: no.such.key'],
    [{ name: 't', numPartitions: 1, replicationFactor: 1, configs: { 'cleanup.policy': null } }, ErrorCode.INVALID_CONFIG, 'Null value not supported for topic configs: cleanup.policy'],
    [{ name: 't', numPartitions: 1, replicationFactor: 1, configs: { 'remote.storage.enable': 'true' } }, ErrorCode.INVALID_CONFIG, /Tiered Storage/],
    [{ name: 't', numPartitions: 1, replicationFactor: 1, configs: { 'min.compaction.lag.ms': '10', 'max.compaction.lag.ms': '5' } }, ErrorCode.INVALID_CONFIG, /conflict topic config/],
    [{ name: 't', numPartitions: 2_000_000_000, replicationFactor: 1 }, ErrorCode.POLICY_VIOLATION, 'Unable to perform excessively large batch operation.'],
    [{ name: 't', numPartitions: 3, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1] }] }, ErrorCode.INVALID_REQUEST, /numPartitions was not set to -1/],
    [{ name: 't', numPartitions: -1, replicationFactor: 1, assignments: [{ partitionIndex: 0, brokerIds: [1] }] }, ErrorCode.INVALID_REQUEST, /replication factor was not set to -1/],
    [{ name: 't', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [2] }] }, ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'The manual partition assignment includes broker 2, but no such broker is registered.'],
    [{ name: 't', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [] }] }, ErrorCode.INVALID_REPLICA_ASSIGNMENT, /empty replica list/],
    [{ name: 't', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1, 1] }] }, ErrorCode.INVALID_REPLICA_ASSIGNMENT, /broker 1 more than once/],
    [{ name: 't', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 1, brokerIds: [1] }] }, ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'partitions should be a consecutive 0-based integer sequence'],
    [{ name: 't', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1] }, { partitionIndex: 0, brokerIds: [1] }] }, ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'Found multiple manual partition assignments for partition 0'],
  ];
  for (const [req, code, message] of cases) {
    const result = await manager.createTopic(req);
    assert.equal(result.errorCode, code, `${JSON.stringify(req)}: ${result.errorMessage}`);
    if (typeof message === 'string') assert.equal(result.errorMessage, message);
    else assert.match(result.errorMessage!, message);
  }
  assert.deepEqual(metadata.topics().map((t) => t.name), ['a_b'], 'nothing else was created');
});

test('createTopic: the first failing check wins, in Kafka order', async (t) => {
  const { manager } = await setup(t);
  await manager.createTopic({ name: 'dup', numPartitions: 1, replicationFactor: 1 });
  // Exists beats bad configs and bad counts; bad configs beat bad counts.
  assert.equal((await manager.createTopic({ name: 'dup', numPartitions: 0, replicationFactor: 9, configs: { x: '1' } })).errorCode, ErrorCode.TOPIC_ALREADY_EXISTS);
  assert.equal((await manager.createTopic({ name: 'new', numPartitions: 0, replicationFactor: 9, configs: { x: '1' } })).errorCode, ErrorCode.INVALID_CONFIG);
  // Sign checks (factor, then count) come before placement against the live brokers.
  assert.equal((await manager.createTopic({ name: 'new', numPartitions: 0, replicationFactor: 0 })).errorCode, ErrorCode.INVALID_REPLICATION_FACTOR);
  assert.equal((await manager.createTopic({ name: 'new', numPartitions: 0, replicationFactor: 9 })).errorCode, ErrorCode.INVALID_PARTITIONS);
  assert.equal((await manager.createTopic({ name: 'new', numPartitions: 1, replicationFactor: 9 })).errorCode, ErrorCode.INVALID_REPLICATION_FACTOR);
});

test('createTopic validateOnly writes nothing but answers the would-be topic', async (t) => {
  const { manager, metadata } = await setup(t);
  const result = await manager.createTopic({ name: 'preview', numPartitions: 4, replicationFactor: 1, configs: { 'retention.ms': '1000' }, validateOnly: true });
  assert.equal(result.errorCode, ErrorCode.NONE);
  assert.equal(result.topic!.partitions.length, 4);
  assert.equal(result.topic!.topicId, 'AAAAAAAAAAAAAAAAAAAAAA');
  assert.deepEqual(result.topic!.configs, { 'retention.ms': '1000' });
  assert.equal(metadata.topic('preview'), undefined);
  assert.equal((await manager.createTopic({ name: 'bad!', numPartitions: 1, replicationFactor: 1, validateOnly: true })).errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
});

test('createTopic with a manual assignment and several brokers', async (t) => {
  const { manager, metadata } = await setup(t, { brokers: [1, 2, 3] });
  const result = await manager.createTopic({ name: 'm', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 1, brokerIds: [3, 1] }, { partitionIndex: 0, brokerIds: [2, 3] }] });
  assert.equal(result.errorCode, ErrorCode.NONE, result.errorMessage ?? '');
  const topic = metadata.topic('m')!;
  assert.deepEqual(topic.partitions.map((p) => [p.replicas, p.leader, p.isr]), [[[2, 3], 2, [2, 3]], [[3, 1], 3, [3, 1]]]);
  const uneven = await manager.createTopic({ name: 'u', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }, { partitionIndex: 1, brokerIds: [3] }] });
  assert.equal(uneven.errorCode, ErrorCode.INVALID_REPLICA_ASSIGNMENT);
  assert.match(uneven.errorMessage!, /1 replica\(s\), but this is not consistent with previous partitions, which have 2/);
  const placed = await manager.createTopic({ name: 'p', numPartitions: 6, replicationFactor: 3 });
  assert.equal(placed.errorCode, ErrorCode.NONE);
  const leaders = metadata.topic('p')!.partitions.map((p) => p.leader);
  for (const id of [1, 2, 3]) assert.equal(leaders.filter((l) => l === id).length, 2, `leaders spread evenly: ${leaders}`);
});

test('placeReplicas: round robin, distinct replicas, Kafka error text', () => {
  const placed = placeReplicas('x', [3, 1, 2], 0, 5, 2);
  assert.ok(placed.ok);
  for (const replicas of placed.assignments) assert.equal(new Set(replicas).size, 2);
  const continued = placeReplicas('x', [1, 2, 3], 5, 1, 2);
  assert.ok(continued.ok);
  const full = placeReplicas('x', [1, 2, 3], 0, 6, 2);
  assert.ok(full.ok);
  assert.deepEqual(continued.assignments[0], full.assignments[5], 'growing a topic continues its stripe');
  const tooMany = placeReplicas('x', [1], 0, 1, 2);
  assert.ok(!tooMany.ok);
  assert.equal(tooMany.message, 'The target replication factor of 2 cannot be reached because only 1 broker(s) are registered.');
});

test('deleteTopic: deletes, unknown topic, delete.topic.enable=false', async (t) => {
  const { manager, metadata, setConfig } = await setup(t);
  await manager.createTopic({ name: 'gone', numPartitions: 1, replicationFactor: 1 });
  assert.deepEqual(await manager.deleteTopic('gone'), { errorCode: ErrorCode.NONE, errorMessage: null });
  assert.equal(metadata.topic('gone'), undefined);
  assert.equal((await manager.deleteTopic('gone')).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  await manager.createTopic({ name: 'kept', numPartitions: 1, replicationFactor: 1 });
  setConfig({ 'delete.topic.enable': false });
  assert.deepEqual(await manager.deleteTopic('kept'), { errorCode: ErrorCode.TOPIC_DELETION_DISABLED, errorMessage: 'Topic deletion is disabled.' });
  assert.ok(metadata.topic('kept'));
});

test('createPartitions: grows, refuses decreases and bad assignments, validateOnly', async (t) => {
  const { manager, metadata } = await setup(t, { brokers: [1, 2] });
  await manager.createTopic({ name: 'g', numPartitions: 2, replicationFactor: 2 });
  assert.deepEqual(await manager.createPartitions('g', 2, null, false), { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: 'Topic already has 2 partition(s).' });
  assert.deepEqual(await manager.createPartitions('g', 1, null, false), { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: 'The topic g currently has 2 partition(s); 1 would not be an increase.' });
  assert.equal((await manager.createPartitions('nope', 3, null, false)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.deepEqual(await manager.createPartitions('g', 4, [[1, 2]], false), {
    errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: 'Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.',
  });
  assert.equal((await manager.createPartitions('g', 3, [[1]], false)).errorCode, ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'replication factor must match');
  assert.equal((await manager.createPartitions('g', 3, [[1, 7]], false)).errorCode, ErrorCode.INVALID_REPLICA_ASSIGNMENT);
  assert.equal((await manager.createPartitions('g', 2 + USER_OPERATION_RECORDS_MAX + 1, null, false)).errorCode, ErrorCode.POLICY_VIOLATION);
  assert.equal((await manager.createPartitions('g', 5, null, true)).errorCode, ErrorCode.NONE);
  assert.equal(metadata.topic('g')!.partitions.length, 2, 'validateOnly changed nothing');
  assert.equal((await manager.createPartitions('g', 4, [[2, 1], [1, 2]], false)).errorCode, ErrorCode.NONE);
  const grown = metadata.topic('g')!;
  assert.deepEqual(grown.partitions.slice(2).map((p) => [p.partition, p.replicas, p.leader, p.leaderEpoch]), [[2, [2, 1], 2, 0], [3, [1, 2], 1, 0]]);
  assert.equal((await manager.createPartitions('g', 6, null, false)).errorCode, ErrorCode.NONE);
  assert.ok(metadata.topic('g')!.partitions.every((p) => p.replicas.length === 2));
});

test('autoCreateTopic: defaults, concurrent callers share one creation, bad names refused', async (t) => {
  const { manager, metadata } = await setup(t, { config: { 'num.partitions': 2 } });
  const results = await Promise.all([manager.autoCreateTopic('auto'), manager.autoCreateTopic('auto'), manager.autoCreateTopic('auto')]);
  for (const r of results) {
    assert.equal(r.errorCode, ErrorCode.NONE);
    assert.equal(r.topic!.topicId, metadata.topic('auto')!.topicId);
  }
  assert.equal(metadata.topic('auto')!.partitions.length, 2);
  assert.equal((await manager.autoCreateTopic('auto')).errorCode, ErrorCode.NONE, 'existing topic is success');
  assert.equal((await manager.autoCreateTopic('no way')).errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
});

test('ensureInternalTopic: internal settings, replication capped to live brokers, idempotent', async (t) => {
  const { manager, metadata } = await setup(t, { config: { 'offsets.topic.num.partitions': 5, 'transaction.state.log.num.partitions': 3 } });
  const [a, b] = await Promise.all([manager.ensureInternalTopic('__consumer_offsets'), manager.ensureInternalTopic('__consumer_offsets')]);
  assert.equal(a.topicId, b.topicId);
  assert.equal(a.internal, true);
  assert.equal(a.partitions.length, 5);
  assert.deepEqual(a.partitions[0]!.replicas, [1], 'offsets.topic.replication.factor 3 capped to the single broker');
  assert.deepEqual(a.configs, { 'cleanup.policy': 'compact', 'compression.type': 'producer', 'segment.bytes': '104857600' });
  const txn = await manager.ensureInternalTopic('__transaction_state');
  assert.equal(txn.partitions.length, 3);
  assert.equal(txn.configs['min.insync.replicas'], '1', 'transaction.state.log.min.isr 2 capped to the replication factor');
  assert.equal(txn.configs['cleanup.policy'], 'compact');
  assert.equal((await manager.ensureInternalTopic('__consumer_offsets')).topicId, a.topicId);
  assert.equal(metadata.topics().length, 2);
});

test('a user topic starting with __ is not internal', async (t) => {
  const { manager, metadata } = await setup(t);
  assert.equal((await manager.createTopic({ name: '__mine', numPartitions: 1, replicationFactor: 1 })).errorCode, ErrorCode.NONE);
  assert.equal(metadata.topic('__mine')!.internal, false);
});

// The admin handlers over a real socket against a broker started in-process on port 0,
// driven with the protocol codecs (test/helpers/raw-client.ts) at several versions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, encodeBatchSync } from '@tributary/protocol';
import type { LogManager } from '@tributary/storage';
import { startBroker } from '../src/broker.js';
import type { RunningBroker } from '../src/broker.js';
import { ConfigSource } from '../src/config/broker-config.js';
import { createLogger } from '../src/logger.js';
import { createTopicsHandler } from '../src/handlers/create-topics.js';
import { deleteTopicsHandler } from '../src/handlers/delete-topics.js';
import { createPartitionsHandler } from '../src/handlers/create-partitions.js';
import { describeConfigsHandler } from '../src/handlers/describe-configs.js';
import { alterConfigsHandler } from '../src/handlers/alter-configs.js';
import { incrementalAlterConfigsHandler } from '../src/handlers/incremental-alter-configs.js';
import { describeClusterHandler, CLUSTER_AUTHORIZED_OPERATIONS_ALL } from '../src/handlers/describe-cluster.js';
import { describeLogDirsHandler } from '../src/handlers/describe-log-dirs.js';
import { deleteRecordsHandler } from '../src/handlers/delete-records.js';
import { describeTopicPartitionsHandler } from '../src/handlers/describe-topic-partitions.js';
import { RawClient } from './helpers/raw-client.js';

const ADMIN_HANDLERS = [
  createTopicsHandler, deleteTopicsHandler, createPartitionsHandler, describeConfigsHandler, alterConfigsHandler,
  incrementalAlterConfigsHandler, describeClusterHandler, describeLogDirsHandler, deleteRecordsHandler, describeTopicPartitionsHandler,
];

/** A broker with the admin handlers (they replace built-in ones with the same api key). */
async function withBroker(t: { after(fn: () => unknown): void }, config: Record<string, string | number | boolean> = {}): Promise<{ broker: RunningBroker; client: RawClient; logs: LogManager }> {
  const dir = mkdtempSync(join(tmpdir(), 'trib-admin-'));
  const broker = await startBroker({ dataDir: dir, port: 0, config: { 'offsets.topic.num.partitions': 1, ...config }, logger: createLogger({ level: 'silent' }), handlers: ADMIN_HANDLERS });
  const logs = broker.services.logManager;
  const client = await RawClient.open(broker.port);
  t.after(async () => { client.close(); await broker.close(); rmSync(dir, { recursive: true, force: true }); });
  return { broker, client, logs };
}

/**
 * Waits for a partition's log. CreateTopics and CreatePartitions answer once the metadata
 * is written, as Kafka does; the replica manager creates the logs afterwards, in steps of
 * the event loop, later still on a loaded machine, so a test must not expect them at once.
 */
async function logEventually(logs: LogManager, topicName: string, partition: number): Promise<void> {
  const deadline = Date.now() + LOG_WAIT_MS;
  while (logs.getLog(topicName, partition) === undefined) {
    assert.ok(Date.now() < deadline, `no log for ${topicName}-${partition} after ${LOG_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
/** Generous: log creation is a few ms per log, but the test machine may be shared and loaded. */
const LOG_WAIT_MS = 30_000;

const topic = (name: string, numPartitions = 1, replicationFactor = 1, configs: { name: string; value: string | null }[] = []) =>
  ({ name, numPartitions, replicationFactor, assignments: [], configs });

test('CreateTopics v0, v4, v5, v7: results, messages, configs, topic ids, validateOnly', async (t) => {
  const { broker, client } = await withBroker(t);
  const v0 = await client.request('CreateTopics', 0, { topics: [topic('v0-topic', 2)], timeoutMs: 1000 });
  assert.deepEqual(v0.topics.map((r) => [r.name, r.errorCode]), [['v0-topic', 0]]);

  const v4 = await client.request('CreateTopics', 4, {
    topics: [topic('ok', 3), topic('bad name'), topic('rf3', 1, 3), topic('v0-topic'), topic('twice'), topic('twice'), topic('cfg', 1, 1, [{ name: 'retention.ms', value: 'x' }])],
    timeoutMs: 1000, validateOnly: false,
  });
  assert.deepEqual(v4.topics.map((r) => [r.name, r.errorCode]), [
    ['ok', 0], ['bad name', ErrorCode.INVALID_TOPIC_EXCEPTION], ['rf3', ErrorCode.INVALID_REPLICATION_FACTOR],
    ['v0-topic', ErrorCode.TOPIC_ALREADY_EXISTS], ['twice', ErrorCode.INVALID_REQUEST], ['cfg', ErrorCode.INVALID_CONFIG],
  ]);
  assert.match(v4.topics[2]!.errorMessage!, /only 1 broker\(s\) are registered/);
  assert.equal(v4.topics[4]!.errorMessage, 'Duplicate topic name.');
  assert.equal(broker.services.metadata.topic('twice'), undefined);

  const v7 = await client.request('CreateTopics', 7, { topics: [topic('with-configs', 2, -1, [{ name: 'cleanup.policy', value: 'compact' }])], timeoutMs: 1000, validateOnly: false });
  const r = v7.topics[0]!;
  assert.equal(r.errorCode, 0);
  assert.equal(r.topicId, broker.services.metadata.topic('with-configs')!.topicId);
  assert.equal(r.numPartitions, 2);
  assert.equal(r.replicationFactor, 1);
  const names = r.configs!.map((c) => c.name);
  assert.deepEqual(names, [...names].sort(), 'configs sorted by name');
  assert.deepEqual(r.configs!.find((c) => c.name === 'cleanup.policy'), { name: 'cleanup.policy', value: 'compact', readOnly: false, configSource: ConfigSource.TOPIC_CONFIG, isSensitive: false });
  assert.equal(r.configs!.find((c) => c.name === 'retention.ms')!.configSource, ConfigSource.DEFAULT_CONFIG);

  const preview = await client.request('CreateTopics', 5, { topics: [topic('dry', 6)], timeoutMs: 1000, validateOnly: true });
  assert.equal(preview.topics[0]!.errorCode, 0);
  assert.equal(preview.topics[0]!.numPartitions, 6);
  assert.equal(broker.services.metadata.topic('dry'), undefined);
  const failed = await client.request('CreateTopics', 7, { topics: [topic('.')], timeoutMs: 1000, validateOnly: false });
  assert.deepEqual([failed.topics[0]!.numPartitions, failed.topics[0]!.replicationFactor, failed.topics[0]!.topicId], [-1, -1, 'AAAAAAAAAAAAAAAAAAAAAA']);
});

test('DeleteTopics v1 by name, v6 by id, errors, and delete.topic.enable=false', async (t) => {
  const { broker, client, logs } = await withBroker(t);
  await client.request('CreateTopics', 4, { topics: [topic('a'), topic('b', 2), topic('c')], timeoutMs: 1000, validateOnly: false });
  await logEventually(logs, 'b', 1);
  const v1 = await client.request('DeleteTopics', 1, { topicNames: ['a', 'missing'], timeoutMs: 1000 });
  assert.deepEqual(v1.responses.map((r) => [r.name, r.errorCode]), [['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], ['a', 0]]);
  const bId = broker.services.metadata.topic('b')!.topicId;
  const v6 = await client.request('DeleteTopics', 6, {
    topics: [{ name: null, topicId: bId }, { name: null, topicId: 'AAAAAAAAAAAAAAAAAAAAAQ' }, { name: 'c', topicId: bId }, { name: null, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
    timeoutMs: 1000,
  });
  const byCode = v6.responses.map((r) => [r.name, r.topicId, r.errorCode, r.errorMessage]);
  assert.deepEqual(byCode, [
    [null, 'AAAAAAAAAAAAAAAAAAAAAQ', ErrorCode.UNKNOWN_TOPIC_ID, 'This server does not host this topic ID.'],
    ['c', bId, ErrorCode.INVALID_REQUEST, 'You may not specify both topic name and topic id.'],
    [null, 'AAAAAAAAAAAAAAAAAAAAAA', ErrorCode.INVALID_REQUEST, 'Neither topic name nor id were specified.'],
    ['b', bId, 0, null],
  ]);
  assert.deepEqual(broker.services.metadata.topics().filter((x) => !x.internal).map((x) => x.name), ['c']);
  assert.equal(logs.getLog('b', 0), undefined, 'logs follow the deletion');
  const dup = await client.request('DeleteTopics', 5, { topicNames: ['c', 'c'], timeoutMs: 1000 });
  assert.deepEqual(dup.responses.map((r) => [r.name, r.errorCode, r.errorMessage]), [['c', ErrorCode.INVALID_REQUEST, 'Duplicate topic name.']]);
});

test('DeleteTopics refused when delete.topic.enable=false (v2 INVALID_REQUEST, v3+ TOPIC_DELETION_DISABLED)', async (t) => {
  const { broker, client } = await withBroker(t, { 'delete.topic.enable': false });
  await client.request('CreateTopics', 4, { topics: [topic('keep')], timeoutMs: 1000, validateOnly: false });
  assert.equal((await client.request('DeleteTopics', 2, { topicNames: ['keep'], timeoutMs: 1000 })).responses[0]!.errorCode, ErrorCode.INVALID_REQUEST);
  assert.equal((await client.request('DeleteTopics', 4, { topicNames: ['keep'], timeoutMs: 1000 })).responses[0]!.errorCode, ErrorCode.TOPIC_DELETION_DISABLED);
  assert.ok(broker.services.metadata.topic('keep'));
});

test('CreatePartitions v0-v3', async (t) => {
  const { broker, client, logs } = await withBroker(t);
  await client.request('CreateTopics', 4, { topics: [topic('grow', 1)], timeoutMs: 1000, validateOnly: false });
  const dry = await client.request('CreatePartitions', 1, { topics: [{ name: 'grow', count: 4, assignments: null }], timeoutMs: 1000, validateOnly: true });
  assert.equal(dry.results[0]!.errorCode, 0);
  assert.equal(broker.services.metadata.topic('grow')!.partitions.length, 1);
  const res = await client.request('CreatePartitions', 3, {
    topics: [{ name: 'grow', count: 3, assignments: [{ brokerIds: [1] }, { brokerIds: [1] }] }, { name: 'nope', count: 2, assignments: null }, { name: 'x', count: 2, assignments: null }, { name: 'x', count: 3, assignments: null }],
    timeoutMs: 1000, validateOnly: false,
  });
  assert.deepEqual(res.results.map((r) => [r.name, r.errorCode]), [['grow', 0], ['nope', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], ['x', ErrorCode.INVALID_REQUEST]]);
  assert.equal(broker.services.metadata.topic('grow')!.partitions.length, 3);
  await logEventually(logs, 'grow', 2);
  const shrink = await client.request('CreatePartitions', 0, { topics: [{ name: 'grow', count: 2, assignments: null }], timeoutMs: 1000, validateOnly: false });
  assert.deepEqual([shrink.results[0]!.errorCode, shrink.results[0]!.errorMessage], [ErrorCode.INVALID_PARTITIONS, 'The topic grow currently has 3 partition(s); 2 would not be an increase.']);
});

test('DescribeConfigs: topics with synonyms, brokers, loggers, errors, v0 isDefault, v4 docs and types', async (t) => {
  const { broker, client } = await withBroker(t, { 'log.retention.hours': 24 });
  await client.request('CreateTopics', 4, { topics: [topic('dc', 1, 1, [{ name: 'segment.bytes', value: '1048576' }])], timeoutMs: 1000, validateOnly: false });
  const v1 = await client.request('DescribeConfigs', 1, {
    resources: [{ resourceType: 2, resourceName: 'dc', configurationKeys: ['segment.bytes', 'retention.ms', 'no.such'] }], includeSynonyms: true,
  });
  const [segment, retention] = [...v1.results[0]!.configs].sort((a, b) => a.name.localeCompare(b.name)).reverse();
  assert.equal(v1.results[0]!.configs.length, 2);
  assert.deepEqual([segment!.name, segment!.value, segment!.configSource], ['segment.bytes', '1048576', ConfigSource.TOPIC_CONFIG]);
  assert.deepEqual(segment!.synonyms!.map((s) => [s.name, s.source]), [['segment.bytes', ConfigSource.TOPIC_CONFIG], ['log.segment.bytes', ConfigSource.DEFAULT_CONFIG]]);
  // Kafka's ConfigHelper drops every synonym before the first log.retention.ms entry: with
  // only log.retention.hours set, retention.ms has the right value but no synonyms, and
  // its source is DEFAULT_CONFIG.
  assert.deepEqual([retention!.value, retention!.configSource], [String(24 * 3600_000), ConfigSource.DEFAULT_CONFIG]);
  assert.deepEqual(retention!.synonyms, []);

  const noSyn = await client.request('DescribeConfigs', 2, { resources: [{ resourceType: 2, resourceName: 'dc', configurationKeys: null }], includeSynonyms: false });
  assert.ok(noSyn.results[0]!.configs.length > 20);
  assert.ok(noSyn.results[0]!.configs.every((c) => c.synonyms!.length === 0));

  const v0 = await client.request('DescribeConfigs', 0, { resources: [{ resourceType: 2, resourceName: 'dc', configurationKeys: ['segment.bytes', 'flush.ms'] }] });
  assert.deepEqual(v0.results[0]!.configs.map((c) => [c.name, c.isDefault]).sort(), [['flush.ms', true], ['segment.bytes', false]]);

  const v4 = await client.request('DescribeConfigs', 4, {
    resources: [
      { resourceType: 4, resourceName: String(broker.nodeId), configurationKeys: ['log.retention.hours', 'node.id', 'num.partitions'] },
      { resourceType: 2, resourceName: 'missing', configurationKeys: null },
      { resourceType: 2, resourceName: 'bad/name', configurationKeys: null },
      { resourceType: 4, resourceName: '42', configurationKeys: null },
      { resourceType: 4, resourceName: '', configurationKeys: null },
      { resourceType: 8, resourceName: String(broker.nodeId), configurationKeys: null },
      { resourceType: 8, resourceName: '', configurationKeys: null },
      { resourceType: 99, resourceName: 'x', configurationKeys: null },
    ],
    includeSynonyms: true, includeDocumentation: true,
  });
  const [own, missing, badName, other, clusterDefault, logger, loggerEmpty, unknownType] = v4.results;
  const hours = own!.configs.find((c) => c.name === 'log.retention.hours')!;
  // Kafka's DynamicLogConfig: only log.retention.ms of the retention keys is dynamic.
  assert.deepEqual([hours.value, hours.configSource, hours.readOnly, hours.configType], ['24', ConfigSource.STATIC_BROKER_CONFIG, true, 3]);
  assert.ok(hours.documentation && hours.documentation.length > 0);
  assert.equal(own!.configs.find((c) => c.name === 'node.id')!.readOnly, true);
  assert.deepEqual([missing!.errorCode, missing!.errorMessage, missing!.configs.length], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null, 0]);
  assert.equal(badName!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
  assert.deepEqual([other!.errorCode, other!.errorMessage], [ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${broker.nodeId} or empty string, but received 42`]);
  assert.deepEqual([clusterDefault!.errorCode, clusterDefault!.configs.length], [0, 0]);
  assert.deepEqual([logger!.errorCode, logger!.configs.length], [0, 0]);
  assert.equal(loggerEmpty!.errorCode, ErrorCode.INVALID_REQUEST);
  assert.equal(unknownType!.errorCode, ErrorCode.INVALID_REQUEST);
});

test('AlterConfigs replaces overrides; IncrementalAlterConfigs SET/DELETE/APPEND/SUBTRACT; broker scopes', async (t) => {
  const { broker, client } = await withBroker(t);
  const md = broker.services.metadata;
  await client.request('CreateTopics', 4, { topics: [topic('ac', 1, 1, [{ name: 'retention.ms', value: '1000' }, { name: 'segment.bytes', value: '1048576' }])], timeoutMs: 1000, validateOnly: false });

  const alter = await client.request('AlterConfigs', 1, { resources: [{ resourceType: 2, resourceName: 'ac', configs: [{ name: 'retention.ms', value: '5000' }] }], validateOnly: false });
  assert.deepEqual(alter.responses.map((r) => [r.errorCode, r.errorMessage]), [[0, null]]);
  assert.deepEqual(md.topic('ac')!.configs, { 'retention.ms': '5000' }, 'segment.bytes override dropped: AlterConfigs replaces');

  const refused = await client.request('AlterConfigs', 2, {
    resources: [
      { resourceType: 2, resourceName: 'ac', configs: [{ name: 'retention.ms', value: 'soon' }] },
      { resourceType: 2, resourceName: 'nope', configs: [{ name: 'retention.ms', value: '1' }] },
      { resourceType: 2, resourceName: 'ac2', configs: [{ name: 'x', value: null }] },
      { resourceType: 4, resourceName: String(broker.nodeId), configs: [{ name: 'log.dirs', value: '/tmp/x' }] },
      { resourceType: 8, resourceName: '1', configs: [] },
    ],
    validateOnly: false,
  });
  assert.deepEqual(refused.responses.map((r) => r.errorCode), [ErrorCode.INVALID_CONFIG, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST]);
  assert.equal(refused.responses[1]!.errorMessage, "The topic 'nope' does not exist.");
  assert.deepEqual(md.topic('ac')!.configs, { 'retention.ms': '5000' });

  const dry = await client.request('AlterConfigs', 0, { resources: [{ resourceType: 2, resourceName: 'ac', configs: [] }], validateOnly: true });
  assert.equal(dry.responses[0]!.errorCode, 0);
  assert.deepEqual(md.topic('ac')!.configs, { 'retention.ms': '5000' });

  const inc = await client.request('IncrementalAlterConfigs', 1, {
    resources: [{ resourceType: 2, resourceName: 'ac', configs: [
      { name: 'cleanup.policy', configOperation: 2, value: 'compact' },
      { name: 'retention.ms', configOperation: 1, value: null },
      { name: 'max.message.bytes', configOperation: 0, value: '2000000' },
    ] }],
    validateOnly: false,
  });
  assert.equal(inc.responses[0]!.errorCode, 0, inc.responses[0]!.errorMessage ?? '');
  assert.deepEqual(md.topic('ac')!.configs, { 'cleanup.policy': 'delete,compact', 'max.message.bytes': '2000000' });
  const sub = await client.request('IncrementalAlterConfigs', 0, { resources: [{ resourceType: 2, resourceName: 'ac', configs: [{ name: 'cleanup.policy', configOperation: 3, value: 'delete' }] }], validateOnly: false });
  assert.equal(sub.responses[0]!.errorCode, 0);
  assert.equal(md.topic('ac')!.configs['cleanup.policy'], 'compact');
  const notList = await client.request('IncrementalAlterConfigs', 0, { resources: [{ resourceType: 2, resourceName: 'ac', configs: [{ name: 'retention.ms', configOperation: 2, value: '1' }] }], validateOnly: false });
  assert.deepEqual([notList.responses[0]!.errorCode, notList.responses[0]!.errorMessage], [ErrorCode.INVALID_CONFIG, "Can't APPEND to key retention.ms because its type is not LIST."]);

  const perBrokerOnly = await client.request('IncrementalAlterConfigs', 1, { resources: [{ resourceType: 4, resourceName: '', configs: [{ name: 'listeners', configOperation: 0, value: 'PLAINTEXT://127.0.0.1:1' }] }], validateOnly: false });
  assert.equal(perBrokerOnly.responses[0]!.errorCode, ErrorCode.INVALID_REQUEST);
  const dupResource = await client.request('IncrementalAlterConfigs', 1, {
    resources: [{ resourceType: 2, resourceName: 'ac', configs: [] }, { resourceType: 2, resourceName: 'ac', configs: [] }], validateOnly: false,
  });
  assert.deepEqual(dupResource.responses.map((r) => r.errorMessage), ['Each resource must appear at most once.', 'Each resource must appear at most once.']);
});

test('dynamic broker configs through IncrementalAlterConfigs become the effective config', async (t) => {
  const { broker, client } = await withBroker(t);
  await client.request('CreateTopics', 4, { topics: [topic('ac')], timeoutMs: 1000, validateOnly: false });
  const own = await client.request('IncrementalAlterConfigs', 1, { resources: [{ resourceType: 4, resourceName: String(broker.nodeId), configs: [{ name: 'log.retention.ms', configOperation: 0, value: '7200000' }] }], validateOnly: false });
  assert.equal(own.responses[0]!.errorCode, 0, own.responses[0]!.errorMessage ?? '');
  assert.deepEqual(broker.services.metadata.brokerConfigs(broker.nodeId), { 'log.retention.ms': '7200000' });
  assert.equal(broker.config.logRetentionMs, 7_200_000);
  const cluster = await client.request('IncrementalAlterConfigs', 1, { resources: [{ resourceType: 4, resourceName: '', configs: [{ name: 'message.max.bytes', configOperation: 0, value: '2097152' }] }], validateOnly: false });
  assert.equal(cluster.responses[0]!.errorCode, 0);
  assert.deepEqual(broker.services.metadata.brokerConfigs(null), { 'message.max.bytes': '2097152' });
  assert.equal(broker.config.number('message.max.bytes'), 2_097_152);
  const described = await client.request('DescribeConfigs', 2, { resources: [{ resourceType: 4, resourceName: '', configurationKeys: null }, { resourceType: 2, resourceName: 'ac', configurationKeys: ['retention.ms'] }], includeSynonyms: true });
  assert.deepEqual(described.results[0]!.configs.map((c) => [c.name, c.value, c.configSource]), [['message.max.bytes', '2097152', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG]]);
  assert.deepEqual([described.results[1]!.configs[0]!.value, described.results[1]!.configs[0]!.configSource], ['7200000', ConfigSource.DYNAMIC_BROKER_CONFIG]);
});

test('DescribeCluster v0/v1', async (t) => {
  const { broker, client } = await withBroker(t);
  const v0 = await client.request('DescribeCluster', 0, { includeClusterAuthorizedOperations: false });
  assert.deepEqual([v0.errorCode, v0.clusterId, v0.controllerId, v0.clusterAuthorizedOperations], [0, broker.clusterId, broker.nodeId, -2147483648]);
  assert.deepEqual(v0.brokers, [{ brokerId: broker.nodeId, host: '127.0.0.1', port: broker.port, rack: null }]);
  const v1 = await client.request('DescribeCluster', 1, { includeClusterAuthorizedOperations: true, endpointType: 1 });
  assert.equal(v1.clusterAuthorizedOperations, CLUSTER_AUTHORIZED_OPERATIONS_ALL);
  const controllers = await client.request('DescribeCluster', 1, { includeClusterAuthorizedOperations: false, endpointType: 2 });
  assert.equal(controllers.errorCode, ErrorCode.MISMATCHED_ENDPOINT_TYPE);
  const unknown = await client.request('DescribeCluster', 1, { includeClusterAuthorizedOperations: false, endpointType: 7 });
  assert.equal(unknown.errorCode, ErrorCode.UNSUPPORTED_ENDPOINT_TYPE);
});

test('DescribeTopicPartitions pages with a cursor', async (t) => {
  const { client } = await withBroker(t);
  await client.request('CreateTopics', 4, { topics: [topic('t-a', 3), topic('t-b', 2), topic('t-c', 1)], timeoutMs: 1000, validateOnly: false });
  // Every topic, in name order: __consumer_offsets (1 partition here) sorts first.
  const first = await client.request('DescribeTopicPartitions', 0, { topics: [], responsePartitionLimit: 5, cursor: null });
  assert.deepEqual(first.topics.map((x) => [x.name, x.isInternal, x.partitions.map((p) => p.partitionIndex)]), [['__consumer_offsets', true, [0]], ['t-a', false, [0, 1, 2]], ['t-b', false, [0]]]);
  assert.deepEqual(first.nextCursor, { topicName: 't-b', partitionIndex: 1 });
  const second = await client.request('DescribeTopicPartitions', 0, { topics: [], responsePartitionLimit: 5, cursor: first.nextCursor });
  assert.deepEqual(second.topics.map((x) => [x.name, x.partitions.map((p) => p.partitionIndex)]), [['t-b', [1]], ['t-c', [0]]]);
  assert.equal(second.nextCursor, null);
  const p = first.topics[1]!.partitions[0]!;
  assert.deepEqual([p.leaderId, p.leaderEpoch, p.replicaNodes, p.isrNodes, p.eligibleLeaderReplicas, p.lastKnownElr, p.offlineReplicas], [1, 0, [1], [1], [], [], []]);
  const exact = await client.request('DescribeTopicPartitions', 0, { topics: [{ name: 't-a' }, { name: 't-c' }, { name: 'zz-missing' }], responsePartitionLimit: 3, cursor: null });
  assert.deepEqual(exact.topics.map((x) => x.name), ['t-a']);
  assert.deepEqual(exact.nextCursor, { topicName: 't-c', partitionIndex: 0 });
  const rest = await client.request('DescribeTopicPartitions', 0, { topics: [{ name: 't-a' }, { name: 't-c' }, { name: 'zz-missing' }], responsePartitionLimit: 3, cursor: exact.nextCursor });
  assert.deepEqual(rest.topics.map((x) => [x.name, x.errorCode]), [['t-c', 0], ['zz-missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]);
  const bad = await client.request('DescribeTopicPartitions', 0, { topics: [{ name: 't-a' }], responsePartitionLimit: 3, cursor: { topicName: 't-b', partitionIndex: 0 } });
  assert.equal(bad.topics[0]!.errorCode, ErrorCode.INVALID_REQUEST);
});

test('DescribeLogDirs and DeleteRecords against real logs', async (t) => {
  const { broker, client, logs } = await withBroker(t);
  await client.request('CreateTopics', 4, { topics: [topic('dr', 2), topic('compacted', 1, 1, [{ name: 'cleanup.policy', value: 'compact' }])], timeoutMs: 1000, validateOnly: false });
  for (const [name, partition] of [['dr', 0], ['dr', 1], ['compacted', 0]] as const) await logEventually(logs, name, partition);
  const log = logs.getLog('dr', 0)!;
  for (let i = 0; i < 3; i++) {
    log.append(encodeBatchSync({ records: [0, 1, 2, 3].map((n) => ({ value: Buffer.from(`v${i}-${n}`) })) }), { leaderEpoch: 0 });
  }
  log.updateHighWatermark(log.logEndOffset);
  assert.equal(log.logEndOffset, 12);

  const dirs = await client.request('DescribeLogDirs', 4, { topics: null });
  assert.equal(dirs.results.length, 1);
  assert.equal(dirs.results[0]!.logDir, broker.dataDir);
  assert.ok(dirs.results[0]!.totalBytes! > 0 && dirs.results[0]!.usableBytes! > 0);
  const dr = dirs.results[0]!.topics.find((x) => x.name === 'dr')!;
  assert.deepEqual(dr.partitions.map((p) => [p.partitionIndex, p.partitionSize > 0, p.offsetLag, p.isFutureKey]), [[0, true, 0, false], [1, false, 0, false]]);
  const some = await client.request('DescribeLogDirs', 1, { topics: [{ topic: 'dr', partitions: [1, 7] }] });
  assert.deepEqual(some.results[0]!.topics.map((x) => [x.name, x.partitions.map((p) => p.partitionIndex)]), [['dr', [1]]]);

  const del = await client.request('DeleteRecords', 2, {
    topics: [
      { name: 'dr', partitions: [{ partitionIndex: 0, offset: 5 }, { partitionIndex: 1, offset: 3 }, { partitionIndex: 9, offset: 0 }] },
      { name: 'compacted', partitions: [{ partitionIndex: 0, offset: 0 }] },
      { name: 'nope', partitions: [{ partitionIndex: 0, offset: 0 }] },
    ],
    timeoutMs: 1000,
  });
  const flat = del.topics.flatMap((x) => x.partitions.map((p) => [x.name, p.partitionIndex, p.lowWatermark, p.errorCode]));
  assert.deepEqual(flat, [
    ['dr', 0, 5, 0], ['dr', 1, -1, ErrorCode.OFFSET_OUT_OF_RANGE], ['dr', 9, -1, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ['compacted', 0, -1, ErrorCode.POLICY_VIOLATION], ['nope', 0, -1, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
  ]);
  assert.equal(log.logStartOffset, 5);
  const toHw = await client.request('DeleteRecords', 0, { topics: [{ name: 'dr', partitions: [{ partitionIndex: 0, offset: -1 }] }], timeoutMs: 1000 });
  assert.deepEqual(toHw.topics[0]!.partitions[0], { partitionIndex: 0, lowWatermark: 12, errorCode: 0 });
  const negative = await client.request('DeleteRecords', 1, { topics: [{ name: 'dr', partitions: [{ partitionIndex: 0, offset: -5 }] }], timeoutMs: 1000 });
  assert.equal(negative.topics[0]!.partitions[0]!.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
});

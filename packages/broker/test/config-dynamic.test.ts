// Dynamic config changes take one path (config/dynamic-config.ts): broker overrides
// (AlterConfigs / IncrementalAlterConfigs on BROKER) and topic overrides both reach the
// broker config, the partition logs' typed LogConfig, and DynamicConfig subscribers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../src/broker.js';
import type { DynamicConfigChange } from '../src/config/dynamic-config.js';
import { createLogger } from '../src/logger.js';
import { RawClient } from './helpers/raw-client.js';

const SET = 0;
const DELETE = 1;

test('broker and topic config changes reach the broker config, the logs and subscribers through one path', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-dyncfg-'));
  const broker = await startBroker({ dataDir: dir, port: 0, config: { 'offsets.topic.num.partitions': 1, 'log.retention.hours': 24 }, logger: createLogger({ level: 'silent' }) });
  const client = await RawClient.open(broker.port);
  t.after(async () => { client.close(); await broker.close(); rmSync(dir, { recursive: true, force: true }); });
  const seen: DynamicConfigChange[] = [];
  broker.services.dynamicConfig.subscribe((change) => seen.push(change));
  const created = await client.request('CreateTopics', 4, {
    topics: [{ name: 'dyn', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [{ name: 'compression.type', value: 'lz4' }] }], timeoutMs: 1000, validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, 0);
  const log = (p: number) => broker.services.logManager.getLog('dyn', p)!;
  assert.equal(log(0).config.retentionMs, 24 * 3_600_000);
  assert.equal(log(1).config.compressionType, 'lz4');
  assert.equal(log(0).config.flushDurableAcks, false);

  const alterBroker = (resourceName: string, configs: { name: string; configOperation: number; value: string | null }[]) =>
    client.request('IncrementalAlterConfigs', 1, { resources: [{ resourceType: 4, resourceName, configs }], validateOnly: false });
  const alterTopic = (configs: { name: string; configOperation: number; value: string | null }[]) =>
    client.request('IncrementalAlterConfigs', 1, { resources: [{ resourceType: 2, resourceName: 'dyn', configs }], validateOnly: false });

  // A cluster-wide default reaches every topic without an override, and the broker config.
  assert.equal((await alterBroker('', [{ name: 'log.retention.ms', configOperation: SET, value: '1234' }])).responses[0]!.errorCode, 0);
  assert.equal(broker.services.config.logRetentionMs, 1234);
  assert.equal(log(0).config.retentionMs, 1234);
  assert.equal(log(1).config.retentionMs, 1234);
  assert.equal(log(1).config.compressionType, 'lz4', 'the topic override survives a broker change');

  // DescribeConfigs on the cluster default lists only that layer's synonyms.
  const clusterDefault = await client.request('DescribeConfigs', 4, { resources: [{ resourceType: 4, resourceName: '', configurationKeys: null }], includeSynonyms: true, includeDocumentation: false });
  assert.deepEqual(clusterDefault.results[0]!.configs.map((c) => [c.name, c.value, c.configSource, c.synonyms!.map((s) => [s.name, s.value, s.source])]), [
    ['log.retention.ms', '1234', 3, [['log.retention.ms', '1234', 3]]],
  ]);

  // A per-broker override wins over the cluster default.
  await alterBroker(String(broker.nodeId), [{ name: 'log.flush.durable.acks', configOperation: SET, value: 'true' }, { name: 'log.retention.ms', configOperation: SET, value: '4321' }]);
  assert.equal(log(0).config.flushDurableAcks, true);
  assert.equal(log(0).config.retentionMs, 4321);
  // Only the first synonym is dynamic in Kafka: log.retention.minutes needs a restart.
  const readOnly = await alterBroker(String(broker.nodeId), [{ name: 'log.retention.minutes', configOperation: SET, value: '2' }]);
  assert.equal(readOnly.responses[0]!.errorCode, 42);
  await alterBroker(String(broker.nodeId), [{ name: 'log.retention.ms', configOperation: DELETE, value: null }]);

  // A topic override wins over both; deleting it falls back to the broker again.
  await alterTopic([{ name: 'retention.ms', configOperation: SET, value: '99' }]);
  assert.equal(log(0).config.retentionMs, 99);
  await alterTopic([{ name: 'retention.ms', configOperation: DELETE, value: null }]);
  assert.equal(log(0).config.retentionMs, 1234);

  // Kafka 3.9 keys with no effect here are accepted by IncrementalAlterConfigs too, and typed.
  const ignored = await alterTopic([
    { name: 'message.format.version', configOperation: SET, value: '2.8-IV1' }, { name: 'leader.replication.throttled.replicas', configOperation: SET, value: '*' },
    { name: 'local.retention.bytes', configOperation: SET, value: '-2' }, { name: 'compression.zstd.level', configOperation: SET, value: '19' },
  ]);
  assert.deepEqual([ignored.responses[0]!.errorCode, ignored.responses[0]!.errorMessage], [0, null]);
  assert.deepEqual([log(0).config.messageFormatVersion, log(0).config.leaderReplicationThrottledReplicas, log(0).config.compressionZstdLevel], ['2.8-IV1', ['*'], 19]);
  const refused = await alterTopic([{ name: 'follower.replication.throttled.replicas', configOperation: SET, value: 'all' }]);
  assert.equal(refused.responses[0]!.errorCode, 40);
  assert.match(refused.responses[0]!.errorMessage!, /must be the literal '\*' or a list of replicas/);
  await alterTopic(['message.format.version', 'leader.replication.throttled.replicas', 'local.retention.bytes', 'compression.zstd.level'].map((name) => ({ name, configOperation: DELETE, value: null })));

  assert.deepEqual(seen.map((c) => (c.type === 'broker' ? `broker:${c.scope ?? 'default'}` : `topic:${c.topic}`)), [
    'topic:dyn', `broker:default`, `broker:${broker.nodeId}`, `broker:${broker.nodeId}`, 'topic:dyn', 'topic:dyn', 'topic:dyn', 'topic:dyn',
  ]);
  const last = seen.at(-1)!;
  assert.ok(last.type === 'topic' && last.logConfig.retentionMs === 1234);
});

test('AlterConfigs and IncrementalAlterConfigs refuse duplicate resources, duplicate keys and null values alike', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-precheck-'));
  const broker = await startBroker({ dataDir: dir, port: 0, config: { 'offsets.topic.num.partitions': 1 }, logger: createLogger({ level: 'silent' }) });
  const client = await RawClient.open(broker.port);
  t.after(async () => { client.close(); await broker.close(); rmSync(dir, { recursive: true, force: true }); });
  const legacy = await client.request('AlterConfigs', 2, { resources: [
    { resourceType: 2, resourceName: 'a', configs: [{ name: 'retention.ms', value: '1' }, { name: 'retention.ms', value: '2' }] },
    { resourceType: 2, resourceName: 'b', configs: [{ name: 'retention.ms', value: null }, { name: 'segment.ms', value: null }] },
    { resourceType: 2, resourceName: 'c', configs: [] }, { resourceType: 2, resourceName: 'c', configs: [] },
  ], validateOnly: true });
  assert.deepEqual(legacy.responses.map((r) => [r.errorCode, r.errorMessage]), [
    [42, 'Error due to duplicate config keys'], [42, 'Null value not supported for : retention.ms, segment.ms'],
    [42, 'Each resource must appear at most once.'], [42, 'Each resource must appear at most once.'],
  ]);
  const incremental = await client.request('IncrementalAlterConfigs', 1, { resources: [
    { resourceType: 2, resourceName: 'a', configs: [{ name: 'retention.ms', configOperation: SET, value: '1' }, { name: 'retention.ms', configOperation: DELETE, value: null }] },
    { resourceType: 2, resourceName: 'b', configs: [{ name: 'retention.ms', configOperation: SET, value: null }, { name: 'segment.ms', configOperation: DELETE, value: null }] },
  ], validateOnly: true });
  assert.deepEqual(incremental.responses.map((r) => [r.errorCode, r.errorMessage]), [
    [42, 'Error due to duplicate config keys'], [42, 'Null value not supported for : retention.ms'],
  ]);
});

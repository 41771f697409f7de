// KafkaJS's admin client against a broker started in-process: the admin APIs as a real
// client library drives them (version negotiation, error mapping, request shapes).
import { test } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import { startBroker } from '../src/broker.js';
import type { RunningBroker } from '../src/broker.js';
import { createLogger } from '../src/logger.js';
import { createTopicsHandler } from '../src/handlers/create-topics.js';
import { deleteTopicsHandler } from '../src/handlers/delete-topics.js';
import { createPartitionsHandler } from '../src/handlers/create-partitions.js';
import { describeConfigsHandler } from '../src/handlers/describe-configs.js';
import { alterConfigsHandler } from '../src/handlers/alter-configs.js';

const ADMIN_HANDLERS = [createTopicsHandler, deleteTopicsHandler, createPartitionsHandler, describeConfigsHandler, alterConfigsHandler];
/** KafkaJS's ConfigResourceTypes (a CommonJS export that ESM named imports cannot reach). */
const ConfigResourceTypes = { TOPIC: 2, BROKER: 4 } as const;

async function withAdmin(t: { after(fn: () => unknown): void }, config: Record<string, string | number | boolean> = {}): Promise<{ broker: RunningBroker; admin: Admin }> {
  const dir = mkdtempSync(join(tmpdir(), 'trib-kjs-admin-'));
  const broker = await startBroker({ dataDir: dir, port: 0, config: { 'offsets.topic.num.partitions': 1, ...config }, logger: createLogger({ level: 'silent' }), handlers: ADMIN_HANDLERS });
  const kafka = new Kafka({ clientId: 'admin-test', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  await admin.connect();
  t.after(async () => { await admin.disconnect(); await broker.close(); rmSync(dir, { recursive: true, force: true }); });
  return { broker, admin };
}

async function rejectsWith(promise: Promise<unknown>, type: string): Promise<void> {
  await assert.rejects(promise, (err: any) => {
    const types = [err.type, err.cause?.type, ...(err.errors ?? []).map((e: any) => e.type)];
    assert.ok(types.includes(type), `expected ${type}, got ${JSON.stringify(types)}: ${err.message}`);
    return true;
  });
}

test('KafkaJS createTopics, fetchTopicMetadata, createPartitions, deleteTopics', async (t) => {
  const { broker, admin } = await withAdmin(t);
  assert.equal(await admin.createTopics({ topics: [{ topic: 'kjs-orders', numPartitions: 3 }] }), true);
  assert.equal(await admin.createTopics({ topics: [{ topic: 'kjs-orders', numPartitions: 3 }] }), false, 'already exists answers false');
  assert.equal(await admin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: 'kjs-dry', numPartitions: 2 }] }), true);
  assert.equal(broker.services.metadata.topic('kjs-dry'), undefined);
  await rejectsWith(admin.createTopics({ topics: [{ topic: 'bad topic!' }] }), 'INVALID_TOPIC_EXCEPTION');
  await rejectsWith(admin.createTopics({ topics: [{ topic: 'kjs-rf3', replicationFactor: 3 }] }), 'INVALID_REPLICATION_FACTOR');
  await rejectsWith(admin.createTopics({ topics: [{ topic: 'kjs-cfg', configEntries: [{ name: 'retention.ms', value: 'never' }] }] }), 'INVALID_CONFIG');

  const { topics } = await admin.fetchTopicMetadata({ topics: ['kjs-orders'] });
  assert.equal(topics[0]!.partitions.length, 3);
  assert.ok(topics[0]!.partitions.every((p) => p.leader === broker.nodeId));

  await admin.createPartitions({ topicPartitions: [{ topic: 'kjs-orders', count: 5 }] });
  assert.equal(broker.services.metadata.topic('kjs-orders')!.partitions.length, 5);
  await rejectsWith(admin.createPartitions({ topicPartitions: [{ topic: 'kjs-orders', count: 2 }] }), 'INVALID_PARTITIONS');

  assert.ok((await admin.listTopics()).includes('kjs-orders'));
  await admin.deleteTopics({ topics: ['kjs-orders'] });
  assert.equal(broker.services.metadata.topic('kjs-orders'), undefined);
  await assert.rejects(admin.deleteTopics({ topics: ['kjs-orders'] }), /does not host this topic-partition/);
});

test('deleting a 3,000-partition topic leaves the broker responsive, and removes every directory', async (t) => {
  const { broker, admin } = await withAdmin(t);
  await admin.createTopics({ topics: [{ topic: 'kjs-wide', numPartitions: 3000 }, { topic: 'kjs-kept', numPartitions: 2 }] });
  const partitionDirs = () => readdirSync(broker.dataDir).filter((n) => n.startsWith('kjs-wide-'));
  // The logs of a large topic are created in steps after CreateTopics has answered.
  for (let waited = 0; partitionDirs().length < 3000; waited += 50) {
    assert.ok(waited < 60_000, `only ${partitionDirs().length} of 3000 directories after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // The broker runs in this process: its event loop is this one. Deleting the topic must
  // not hold it (it once synced the data dir and rewrote every checkpoint per partition:
  // a 9.5 s stall here, and 20 s for 10,000 partitions).
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  await admin.deleteTopics({ topics: ['kjs-wide'] });
  // Answered while the directories are still being removed.
  const t0 = performance.now();
  const { topics } = await admin.fetchTopicMetadata({ topics: ['kjs-kept'] });
  const metadataMs = performance.now() - t0;
  assert.equal(topics[0]!.partitions.length, 2);
  assert.ok(metadataMs < 1000, `Metadata took ${metadataMs.toFixed(0)} ms during the deletion`);
  for (let waited = 0; partitionDirs().length > 0; waited += 50) {
    assert.ok(waited < 60_000, `${partitionDirs().length} directories still there after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  delay.disable();
  assert.ok(delay.max < 1e9, `the event loop stalled for ${(delay.max / 1e6).toFixed(0)} ms during the deletion`);
  assert.ok(broker.services.logManager.getLog('kjs-kept', 1) !== undefined);
  assert.equal(broker.services.logManager.getLog('kjs-wide', 0), undefined);
});

test('KafkaJS describeConfigs with synonyms and alterConfigs', async (t) => {
  const { broker, admin } = await withAdmin(t, { 'log.retention.hours': 48 });
  await admin.createTopics({ topics: [{ topic: 'kjs-cfg', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
  const described = await admin.describeConfigs({
    includeSynonyms: true,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kjs-cfg', configNames: ['cleanup.policy', 'retention.ms'] }],
  });
  const entries = described.resources[0]!.configEntries;
  const policy = entries.find((e) => e.configName === 'cleanup.policy')!;
  assert.equal(policy.configValue, 'compact');
  assert.equal(policy.isDefault, false);
  assert.deepEqual(policy.configSynonyms.map((s) => [s.configName, s.configSource]), [['cleanup.policy', 1], ['log.cleanup.policy', 5]]);
  const retention = entries.find((e) => e.configName === 'retention.ms')!;
  assert.equal(retention.configValue, String(48 * 3600_000));
  // Kafka answers DEFAULT_CONFIG (5) here: log.retention.hours is not the primary synonym.
  assert.equal(retention.configSource, 5);

  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kjs-cfg', configEntries: [{ name: 'retention.ms', value: '60000' }] }] });
  assert.deepEqual(broker.services.metadata.topic('kjs-cfg')!.configs, { 'retention.ms': '60000' });
  await rejectsWith(
    admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kjs-cfg', configEntries: [{ name: 'no.such.config', value: '1' }] }] }),
    'INVALID_CONFIG',
  );

  const brokerConfigs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.BROKER, name: String(broker.nodeId), configNames: ['log.retention.hours'] }] });
  assert.equal(brokerConfigs.resources[0]!.configEntries[0]!.configValue, '48');
});

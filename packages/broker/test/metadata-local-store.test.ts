// LocalMetadataStore: durable writes, replay after restart, torn tail ignored, mid-file
// corruption refused, compaction, CAS on partition epochs, change events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalMetadataStore } from '../src/metadata/local-metadata-store.js';
import { MetadataError } from '../src/metadata/metadata-store.js';
import type { MetadataChange } from '../src/metadata/metadata-store.js';
import { METADATA_DIR, METADATA_LOG_FILE, encodeMetadataRecord } from '../src/metadata/metadata-log.js';
import { Reader, Writer } from '@tributary/protocol';
import { randomKafkaUuid } from '../src/metadata/kafka-uuid.js';
import { metadataContract } from './metadata-contract.js';

const CLUSTER = 'q1Sh-9_ISia_zwGINzRvyQ';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'trib-md-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const logPath = (dir: string): string => join(dir, METADATA_DIR, METADATA_LOG_FILE);
const p = (replicas: number[]) => ({ replicas, leader: replicas[0]!, isr: replicas });

metadataContract('LocalMetadataStore', async (t) => {
  const store = await LocalMetadataStore.open({ dataDir: tempDir(t), clusterId: CLUSTER });
  t.after(() => store.close());
  return store;
});

test('changes survive a restart (replay) and are emitted to listeners', async (t) => {
  const dir = tempDir(t);
  const store = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER });
  const seen: MetadataChange['type'][] = [];
  store.subscribe((c) => seen.push(c.type));
  const orders = await store.createTopic({ name: 'orders', partitions: [p([1]), p([1])], configs: { 'retention.ms': '1000' } });
  await store.createTopic({ name: 'gone', partitions: [p([1])] });
  await store.createPartitions('orders', [p([1])]);
  const moved = await store.updatePartition({ topic: 'orders', partition: 1, expectedPartitionEpoch: 0, leader: -1, isr: [], bumpLeaderEpoch: true });
  assert.equal(moved.leaderEpoch, 1);
  assert.equal(moved.partitionEpoch, 1);
  await store.alterTopicConfigs('orders', { 'retention.ms': null, 'cleanup.policy': 'compact' });
  await store.deleteTopic('gone');
  await store.alterBrokerConfigs(null, { 'log.retention.ms': '5' });
  await store.alterBrokerConfigs(1, { 'message.max.bytes': '5000' });
  await store.registerBroker({ nodeId: 1, endpoints: [], rack: null });
  assert.deepEqual(seen, ['topic-created', 'topic-created', 'partitions-created', 'partition-changed', 'topic-config-changed', 'topic-deleted', 'broker-config-changed', 'broker-config-changed', 'broker-registered']);
  const before = store.topics();
  await store.close();

  const reopened = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER });
  t.after(() => reopened.close());
  assert.deepEqual(reopened.topics(), before);
  const o = reopened.topic('orders')!;
  assert.equal(o.topicId, orders.topicId);
  assert.equal(reopened.topicById(orders.topicId)!.name, 'orders');
  assert.equal(o.partitions.length, 3);
  assert.deepEqual(o.partitions[1], { partition: 1, replicas: [1], leader: -1, leaderEpoch: 1, isr: [], partitionEpoch: 1 });
  assert.deepEqual(o.configs, { 'cleanup.policy': 'compact' });
  assert.equal(reopened.topic('gone'), undefined);
  assert.deepEqual(reopened.brokerConfigs(null), { 'log.retention.ms': '5' });
  assert.deepEqual(reopened.brokerConfigs(1), { 'message.max.bytes': '5000' });
  assert.deepEqual(reopened.brokers(), [], 'registrations are not persisted');
});

test('refusals carry stable codes and Kafka error codes', async (t) => {
  const dir = tempDir(t);
  const store = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER });
  t.after(() => store.close());
  await store.createTopic({ name: 'a', partitions: [p([1])] });
  const rejects = (promise: Promise<unknown>, code: string, kafka: number) =>
    assert.rejects(promise, (e: unknown) => e instanceof MetadataError && e.code === code && e.kafkaErrorCode === kafka);
  await rejects(store.createTopic({ name: 'a', partitions: [p([1])] }), 'TRIB_ERR_TOPIC_EXISTS', 36);
  await rejects(store.deleteTopic('nope'), 'TRIB_ERR_UNKNOWN_TOPIC', 3);
  await rejects(store.updatePartition({ topic: 'a', partition: 5, expectedPartitionEpoch: 0 }), 'TRIB_ERR_UNKNOWN_PARTITION', 3);
  await store.updatePartition({ topic: 'a', partition: 0, expectedPartitionEpoch: 0, isr: [1] });
  await rejects(store.updatePartition({ topic: 'a', partition: 0, expectedPartitionEpoch: 0, isr: [1] }), 'TRIB_ERR_STALE_PARTITION_EPOCH', 95);
  await rejects(store.createTopic({ name: 'b', partitions: [{ replicas: [1, 1], leader: 1, isr: [1] }] }), 'TRIB_ERR_INVALID_METADATA', 42);
  await rejects(store.createTopic({ name: 'c', partitions: [{ replicas: [1], leader: 2, isr: [1] }] }), 'TRIB_ERR_INVALID_METADATA', 42);
  await rejects(store.createTopic({ name: 'd', partitions: [] }), 'TRIB_ERR_INVALID_METADATA', 42);
});

test('a torn last line (crash mid-write) is cut off and the store keeps working', async (t) => {
  const dir = tempDir(t);
  const store = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER });
  await store.createTopic({ name: 'kept', partitions: [p([1])] });
  await store.close();
  const path = logPath(dir);
  const intact = statSync(path).size;
  // Half of a record, as a crash during write() would leave it.
  const torn = encodeMetadataRecord({ type: 'topic-delete', name: 'kept' });
  appendFileSync(path, torn.slice(0, torn.length / 2));
  const reopened = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER });
  assert.ok(reopened.topic('kept'), 'the unacknowledged delete was not applied');
  assert.equal(statSync(path).size, intact, 'the torn tail was truncated');
  await reopened.createTopic({ name: 'after', partitions: [p([1])] });
  await reopened.close();
  // A complete last line with a bad checksum is a torn write too (sector not written).
  const bad = encodeMetadataRecord({ type: 'topic-delete', name: 'after' }).replace(/^[0-9a-f]{8}/, '00000000');
  appendFileSync(path, bad);
  const third = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER });
  t.after(() => third.close());
  assert.ok(third.topic('after'));
  assert.ok(third.topic('kept'));
});

test('every truncation point of the log replays to a prefix of the changes', async (t) => {
  const dir = tempDir(t);
  const store = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER });
  for (let i = 0; i < 5; i++) await store.createTopic({ name: `t${i}`, partitions: [p([1])] });
  await store.close();
  const full = readFileSync(logPath(dir));
  for (let cut = 0; cut <= full.length; cut += 7) {
    writeFileSync(logPath(dir), full.subarray(0, cut));
    const s = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER });
    const names = s.topics().map((x) => x.name);
    assert.deepEqual(names, ['t0', 't1', 't2', 't3', 't4'].slice(0, names.length));
    await s.close();
  }
});

test('damage in the middle of the log refuses to start', async (t) => {
  const dir = tempDir(t);
  const store = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER });
  await store.createTopic({ name: 'x', partitions: [p([1])] });
  await store.createTopic({ name: 'y', partitions: [p([1])] });
  await store.close();
  const text = readFileSync(logPath(dir), 'utf8').split('\n');
  text[1] = text[1]!.replace('"x"', '"z"'); // checksum no longer matches, valid record follows
  writeFileSync(logPath(dir), text.join('\n'));
  await assert.rejects(LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER }), (e: unknown) => e instanceof MetadataError && e.code === 'TRIB_ERR_METADATA_LOG_CORRUPT');
});

test('a log of another cluster id is refused', async (t) => {
  const dir = tempDir(t);
  await (await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER })).close();
  await assert.rejects(LocalMetadataStore.open({ dataDir: dir, clusterId: randomKafkaUuid() }), /belongs to cluster/);
});

test('the log is compacted into a snapshot when it grows, and replays the same state', async (t) => {
  const dir = tempDir(t);
  const store = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER, compactionBytesMin: 4096 });
  await store.createTopic({ name: 'hot', partitions: [p([1]), p([1])] });
  let epoch = 0;
  for (let i = 0; i < 200; i++) {
    const s = await store.updatePartition({ topic: 'hot', partition: 0, expectedPartitionEpoch: epoch, bumpLeaderEpoch: true });
    epoch = s.partitionEpoch;
  }
  await store.alterBrokerConfigs(null, { 'num.partitions': '3' });
  const state = store.topics();
  await store.close();
  const size = statSync(logPath(dir)).size;
  assert.ok(size < 4 * 4096, `log was compacted (size ${size})`);
  assert.match(readFileSync(logPath(dir), 'utf8'), /"type":"snapshot"/);
  const reopened = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER });
  t.after(() => reopened.close());
  assert.deepEqual(reopened.topics(), state);
  assert.equal(reopened.topic('hot')!.partitions[0]!.leaderEpoch, 200);
  assert.deepEqual(reopened.brokerConfigs(null), { 'num.partitions': '3' });
});

test('a torn tail after truncate to zero bytes starts empty', async (t) => {
  const dir = tempDir(t);
  await (await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER })).close();
  truncateSync(logPath(dir), 3);
  const s = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER });
  t.after(() => s.close());
  assert.deepEqual(s.topics(), []);
});

test('Kafka Uuid text round-trips through the protocol codec', () => {
  for (let i = 0; i < 100; i++) {
    const id = randomKafkaUuid();
    assert.equal(id.length, 22);
    const w = new Writer();
    w.uuid(id);
    const bytes = w.finish();
    assert.equal(bytes.length, 16);
    assert.equal(new Reader(bytes).uuid(), id);
  }
});

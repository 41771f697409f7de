// The MetadataStore contract (metadata-store.ts), as one suite run against every store:
// metadata-local-store.test.ts and metadata-etcd-store.test.ts each call it with a factory.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataError } from '../src/metadata/metadata-store.js';
import type { MetadataChange, MetadataStore } from '../src/metadata/metadata-store.js';
import { randomKafkaUuid } from '../src/metadata/kafka-uuid.js';

/** Opens a fresh, empty store for one test; the factory closes it in t.after. */
export type StoreFactory = (t: TestContext) => Promise<MetadataStore>;

const p = (replicas: number[]) => ({ replicas, leader: replicas[0]!, isr: replicas });

export function metadataContract(name: string, open: StoreFactory): void {
  test(`${name}: every write is visible and its event delivered when the promise resolves`, async (t) => {
    const store = await open(t);
    const seen: MetadataChange[] = [];
    store.subscribe((c) => seen.push(c));
    const orders = await store.createTopic({ name: 'orders', partitions: [p([1]), p([1])], configs: { 'retention.ms': '1000' } });
    assert.equal(seen.at(-1)?.type, 'topic-created');
    assert.equal(store.topic('orders')?.topicId, orders.topicId);
    assert.equal(store.topicById(orders.topicId)?.name, 'orders');
    assert.deepEqual(store.topic('orders')!.partitions[1], { partition: 1, replicas: [1], leader: 1, leaderEpoch: 0, isr: [1], partitionEpoch: 0 });

    await store.createPartitions('orders', [p([1])]);
    assert.equal(store.topic('orders')!.partitions.length, 3);
    const created = seen.at(-1)!;
    assert.equal(created.type, 'partitions-created');
    assert.deepEqual(created.type === 'partitions-created' && created.partitions, [2]);

    const moved = await store.updatePartition({ topic: 'orders', partition: 1, expectedPartitionEpoch: 0, leader: -1, isr: [], bumpLeaderEpoch: true });
    assert.deepEqual(moved, { partition: 1, replicas: [1], leader: -1, leaderEpoch: 1, isr: [], partitionEpoch: 1 });
    assert.deepEqual(store.topic('orders')!.partitions[1], moved);
    const changed = seen.at(-1)!;
    assert.equal(changed.type, 'partition-changed');
    if (changed.type === 'partition-changed') {
      assert.equal(changed.before.partitionEpoch, 0);
      assert.deepEqual(changed.after, moved);
    }

    await store.alterTopicConfigs('orders', { 'retention.ms': null, 'cleanup.policy': 'compact' });
    assert.deepEqual(store.topic('orders')!.configs, { 'cleanup.policy': 'compact' });
    assert.equal(seen.at(-1)?.type, 'topic-config-changed');

    await store.alterBrokerConfigs(null, { 'log.retention.ms': '5' });
    await store.alterBrokerConfigs(7, { 'message.max.bytes': '5000' });
    assert.deepEqual(store.brokerConfigs(null), { 'log.retention.ms': '5' });
    assert.deepEqual(store.brokerConfigs(7), { 'message.max.bytes': '5000' });
    const bc = seen.at(-1)!;
    assert.deepEqual(bc.type === 'broker-config-changed' && [bc.nodeId, bc.changes], [7, { 'message.max.bytes': '5000' }]);
    await store.alterBrokerConfigs(7, { 'message.max.bytes': null });
    assert.deepEqual(store.brokerConfigs(7), {});

    await store.deleteTopic('orders');
    assert.equal(store.topic('orders'), undefined);
    assert.equal(store.topicById(orders.topicId), undefined);
    assert.equal(seen.at(-1)?.type, 'topic-deleted');
    assert.deepEqual(seen.map((c) => c.type), ['topic-created', 'partitions-created', 'partition-changed', 'topic-config-changed',
      'broker-config-changed', 'broker-config-changed', 'broker-config-changed', 'topic-deleted']);
  });

  test(`${name}: ACL bindings are added once, removed exactly, and visible when the promise resolves`, async (t) => {
    const store = await open(t);
    const acl = { resourceType: 2, resourceName: 'orders', patternType: 3, principal: 'User:alice', host: '*', operation: 3, permissionType: 3 };
    const prefixed = { ...acl, resourceName: 'ord', patternType: 4, permissionType: 2 };
    assert.deepEqual(store.acls!(), []);
    await store.alterAcls!([acl, prefixed, acl], []);
    assert.deepEqual(store.acls!(), [acl, prefixed]);
    const before = store.acls!();
    await store.alterAcls!([], [{ ...acl }]);
    assert.deepEqual(store.acls!(), [prefixed]);
    assert.notEqual(store.acls!(), before, 'a change gives a new array');
    await store.alterAcls!([], [prefixed]);
    assert.deepEqual(store.acls!(), []);
  });

  test(`${name}: refusals carry stable codes and Kafka error codes`, async (t) => {
    const store = await open(t);
    await store.createTopic({ name: 'a', partitions: [p([1])] });
    const rejects = (promise: Promise<unknown>, code: string, kafka: number) =>
      assert.rejects(promise, (e: unknown) => e instanceof MetadataError && e.code === code && e.kafkaErrorCode === kafka);
    await rejects(store.createTopic({ name: 'a', partitions: [p([1])] }), 'TRIB_ERR_TOPIC_EXISTS', 36);
    await rejects(store.deleteTopic('nope'), 'TRIB_ERR_UNKNOWN_TOPIC', 3);
    await rejects(store.alterTopicConfigs('nope', { x: '1' }), 'TRIB_ERR_UNKNOWN_TOPIC', 3);
    await rejects(store.createPartitions('nope', [p([1])]), 'TRIB_ERR_UNKNOWN_TOPIC', 3);
    await rejects(store.updatePartition({ topic: 'a', partition: 5, expectedPartitionEpoch: 0 }), 'TRIB_ERR_UNKNOWN_PARTITION', 3);
    await store.updatePartition({ topic: 'a', partition: 0, expectedPartitionEpoch: 0, isr: [1] });
    await rejects(store.updatePartition({ topic: 'a', partition: 0, expectedPartitionEpoch: 0, isr: [1] }), 'TRIB_ERR_STALE_PARTITION_EPOCH', 95);
    await rejects(store.createTopic({ name: 'b', partitions: [{ replicas: [1, 1], leader: 1, isr: [1] }] }), 'TRIB_ERR_INVALID_METADATA', 42);
    await rejects(store.createTopic({ name: 'c', partitions: [{ replicas: [1], leader: 2, isr: [1] }] }), 'TRIB_ERR_INVALID_METADATA', 42);
    await rejects(store.createTopic({ name: 'd', partitions: [] }), 'TRIB_ERR_INVALID_METADATA', 42);
    await rejects(store.updatePartition({ topic: 'a', partition: 0, expectedPartitionEpoch: 1, leader: 3 }), 'TRIB_ERR_INVALID_METADATA', 42);
  });

  test(`${name}: createTopics is atomic: one bad spec writes nothing, a good batch emits one event per topic in order`, async (t) => {
    const store = await open(t);
    await store.createTopic({ name: 'taken', partitions: [p([1])] });
    const seen: string[] = [];
    store.subscribe((c) => { if (c.type === 'topic-created') seen.push(c.topic.name); });
    await assert.rejects(store.createTopics([{ name: 'x1', partitions: [p([1])] }, { name: 'taken', partitions: [p([1])] }]), MetadataError);
    const id = randomKafkaUuid();
    await assert.rejects(store.createTopics([{ name: 'y1', topicId: id, partitions: [p([1])] }, { name: 'y2', topicId: id, partitions: [p([1])] }]), MetadataError);
    assert.equal(store.topic('x1'), undefined);
    assert.equal(store.topic('y1'), undefined);
    assert.deepEqual(seen, []);
    const made = await store.createTopics([{ name: 'z1', partitions: [p([1])] }, { name: 'z2', topicId: id, partitions: [p([1]), p([1])] }, { name: '__internal', partitions: [p([1])] }]);
    assert.deepEqual(made.map((m) => m.name), ['z1', 'z2', '__internal']);
    assert.deepEqual(seen, ['z1', 'z2', '__internal']);
    assert.equal(store.topic('z2')!.topicId, id);
    assert.equal(store.topic('__internal')!.internal, true);
    assert.equal(store.topic('z1')!.internal, false);
  });

  test(`${name}: partition changes are compare-and-swap: of two writers at one epoch, one wins`, async (t) => {
    const store = await open(t);
    await store.createTopic({ name: 'cas', partitions: [p([1, 2, 3])] });
    const results = await Promise.allSettled([
      store.updatePartition({ topic: 'cas', partition: 0, expectedPartitionEpoch: 0, isr: [1, 2] }),
      store.updatePartition({ topic: 'cas', partition: 0, expectedPartitionEpoch: 0, isr: [1, 3] }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((refused.reason as MetadataError).code, 'TRIB_ERR_STALE_PARTITION_EPOCH');
    assert.equal(store.topic('cas')!.partitions[0]!.partitionEpoch, 1);
  });

  test(`${name}: broker registrations list live brokers and emit events`, async (t) => {
    const store = await open(t);
    const seen: string[] = [];
    store.subscribe((c) => {
      if (c.type === 'broker-registered') seen.push(`+${c.broker.nodeId}`);
      if (c.type === 'broker-unregistered') seen.push(`-${c.nodeId}`);
    });
    const reg = { nodeId: 1, endpoints: [{ listener: 'PLAINTEXT', host: '127.0.0.1', port: 9092, securityProtocol: 'PLAINTEXT' }], rack: 'r1' };
    await store.registerBroker(reg);
    assert.deepEqual(store.brokers(), [reg]);
    await store.unregisterBroker(1);
    assert.deepEqual(store.brokers(), []);
    assert.deepEqual(seen, ['+1', '-1']);
  });

  test(`${name}: client quotas are set, replaced and removed atomically, and a new array marks each change`, async (t) => {
    const store = await open(t);
    assert.ok(store.clientQuotas && store.alterClientQuotas, 'the store keeps client quotas');
    assert.deepEqual(store.clientQuotas!(), []);
    const alice = [{ entityType: 'user', entityName: 'alice' }, { entityType: 'client-id', entityName: null }];
    await store.alterClientQuotas!([
      { entity: alice, key: 'producer_byte_rate', value: 1024 },
      { entity: alice, key: 'request_percentage', value: 12.5 },
      { entity: [{ entityType: 'ip', entityName: null }], key: 'connection_creation_rate', value: 5 },
    ]);
    const first = store.clientQuotas!();
    assert.deepEqual(first.map((e) => [e.entity, e.values]), [
      [[{ entityType: 'client-id', entityName: null }, { entityType: 'user', entityName: 'alice' }], { producer_byte_rate: 1024, request_percentage: 12.5 }],
      [[{ entityType: 'ip', entityName: null }], { connection_creation_rate: 5 }],
    ]);
    await store.alterClientQuotas!([
      { entity: [...alice].reverse(), key: 'producer_byte_rate', value: null },
      { entity: [{ entityType: 'ip', entityName: null }], key: 'connection_creation_rate', value: null },
    ]);
    const second = store.clientQuotas!();
    assert.notEqual(second, first);
    assert.deepEqual(second.map((e) => e.values), [{ request_percentage: 12.5 }]);
  });
}

// Coordinators in an in-process 3-broker cluster: FindCoordinator names the leader of the
// key's `__consumer_offsets` / `__transaction_state` partition whichever broker is asked
// (COORDINATOR_NOT_AVAILABLE when it has none), the transaction coordinator loads and unloads
// `__transaction_state` partitions as their leadership moves, and KafkaJS groups and
// transactions bootstrapped on a broker that coordinates nothing work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@tributary/protocol';
import { Kafka, logLevel } from 'kafkajs';
import { RawClient } from './helpers/raw-client.js';
import { TestCluster, waitFor } from './helpers/cluster.js';
import type { TestContext } from './helpers/broker.js';

const TXN_PARTITIONS = 3;
const OFFSETS_PARTITIONS = 3;
const ALL = [1, 2, 3];

/** Every coordinator partition on all three brokers, led by broker 1. */
async function startCluster(t: TestContext): Promise<TestCluster> {
  const cluster = await TestCluster.start(t, 3, { 'transaction.state.log.num.partitions': TXN_PARTITIONS }, { offsetsPartitions: OFFSETS_PARTITIONS });
  await cluster.metadata.createTopic({
    name: '__transaction_state',
    internal: true,
    configs: { 'cleanup.policy': 'compact', 'compression.type': 'uncompressed', 'min.insync.replicas': '2' },
    partitions: Array.from({ length: TXN_PARTITIONS }, () => ({ replicas: ALL, leader: 1, isr: ALL })),
  });
  return cluster;
}

async function client(t: TestContext, cluster: TestCluster, id: number): Promise<RawClient> {
  const c = await RawClient.open(cluster.broker(id).port);
  t.after(() => c.close());
  return c;
}

async function findCoordinator(c: RawClient, keyType: number, key: string): Promise<{ errorCode: number; nodeId: number; port: number }> {
  const r = await c.request('FindCoordinator', 4, { keyType, coordinatorKeys: [key] });
  return r.coordinators![0]!;
}

async function moveLeader(cluster: TestCluster, topic: string, partition: number, leader: number): Promise<void> {
  const state = cluster.metadata.topic(topic)!.partitions[partition]!;
  await cluster.metadata.updatePartition({ topic, partition, expectedPartitionEpoch: state.partitionEpoch, leader, bumpLeaderEpoch: true });
}

test('FindCoordinator names the coordinator partition\'s leader from any broker; leadership moves the transaction coordinator; no leader is COORDINATOR_NOT_AVAILABLE', { timeout: 60_000 }, async (t) => {
  const cluster = await startCluster(t);
  const c = await client(t, cluster, 2);
  const txnPartition = cluster.broker(2).services.txnCoordinator.partitionFor('tx');
  const groupPartition = cluster.broker(2).services.groupCoordinator.partitionFor('g');

  assert.deepEqual(await findCoordinator(c, 0, 'g'), { key: 'g', nodeId: 1, host: cluster.broker(1).host, port: cluster.broker(1).port, errorCode: ErrorCode.NONE, errorMessage: null });
  const v3 = await c.request('FindCoordinator', 3, { key: 'tx', keyType: 1 });
  assert.deepEqual([v3.errorCode, v3.nodeId, v3.port], [ErrorCode.NONE, 1, cluster.broker(1).port]);
  await waitFor('broker 1 loads its __transaction_state partitions', 10_000, () => (cluster.broker(1).services.txnCoordinator.hasPartition(txnPartition) ? true : undefined));
  assert.equal(cluster.broker(3).services.txnCoordinator.hasPartition(txnPartition), false);

  // The transaction coordinator follows leadership: loaded where it moves, unloaded where it left.
  await moveLeader(cluster, '__transaction_state', txnPartition, 3);
  await waitFor('broker 3 loads the partition it now leads', 10_000, () => (cluster.broker(3).services.txnCoordinator.hasPartition(txnPartition) ? true : undefined));
  assert.equal(cluster.broker(1).services.txnCoordinator.hasPartition(txnPartition), false, 'the old leader unloaded it');
  assert.deepEqual([(await findCoordinator(c, 1, 'tx')).nodeId, (await findCoordinator(c, 1, 'tx')).port], [3, cluster.broker(3).port]);
  const onOld = await (await client(t, cluster, 1)).request('InitProducerId', 1, { transactionalId: 'tx', transactionTimeoutMs: 10_000 });
  assert.equal(onOld.errorCode, ErrorCode.NOT_COORDINATOR);
  const onNew = await (await client(t, cluster, 3)).request('InitProducerId', 1, { transactionalId: 'tx', transactionTimeoutMs: 10_000 });
  assert.equal(onNew.errorCode, ErrorCode.NONE);

  // A group's coordinator moves with its __consumer_offsets partition; the broker asked may be it.
  await moveLeader(cluster, '__consumer_offsets', groupPartition, 2);
  assert.equal((await findCoordinator(c, 0, 'g')).nodeId, 2);

  // The transaction partition's only replica stops: no leader, no coordinator.
  const state = cluster.metadata.topic('__transaction_state')!.partitions[txnPartition]!;
  await cluster.metadata.updatePartition({ topic: '__transaction_state', partition: txnPartition, expectedPartitionEpoch: state.partitionEpoch, replicas: [3], isr: [3] });
  await cluster.stopBroker(3);
  await waitFor('the partition offline', 10_000, () => (cluster.leaderOf('__transaction_state', txnPartition) === -1 ? true : undefined));
  const offline = await findCoordinator(c, 1, 'tx');
  assert.deepEqual([offline.errorCode, offline.nodeId], [ErrorCode.COORDINATOR_NOT_AVAILABLE, -1]);
});

test('a KafkaJS consumer group and transactional producer bootstrapped on a broker that coordinates nothing work', { timeout: 90_000 }, async (t) => {
  const cluster = await startCluster(t);
  // The data partition is led by the coordinators' broker too: markers are written locally
  // (markers to other brokers' partitions: test/compat/transactions-cross-broker.test.ts).
  await cluster.metadata.createTopic({ name: 'orders', configs: {}, partitions: [{ replicas: ALL, leader: 1, isr: ALL }] });
  const bootstrap = `${cluster.broker(2).host}:${cluster.broker(2).port}`;
  const kafka = new Kafka({ clientId: 'coordinator-leadership', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });

  const producer = kafka.producer({ transactionalId: 'orders-tx', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  t.after(() => producer.disconnect());
  const committed = await producer.transaction();
  await committed.send({ topic: 'orders', acks: -1, messages: [{ key: 'a', value: 'committed-1' }, { key: 'b', value: 'committed-2' }] });
  await committed.commit();
  const aborted = await producer.transaction();
  await aborted.send({ topic: 'orders', acks: -1, messages: [{ key: 'c', value: 'aborted-1' }] });
  await aborted.abort();
  const last = await producer.transaction();
  await last.send({ topic: 'orders', acks: -1, messages: [{ key: 'd', value: 'committed-3' }] });
  await last.commit();
  const txnPartition = cluster.broker(1).services.txnCoordinator.partitionFor('orders-tx');
  assert.equal(cluster.leaderOf('__transaction_state', txnPartition), 1);

  const consumer = kafka.consumer({ groupId: 'orders-group', readUncommitted: false });
  await consumer.connect();
  t.after(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'orders', fromBeginning: true });
  const seen: string[] = [];
  await consumer.run({
    autoCommit: true,
    autoCommitInterval: 100,
    eachMessage: async ({ message }) => {
      seen.push(message.value!.toString());
    },
  });
  await waitFor('the committed records consumed', 30_000, () => (seen.length >= 3 ? true : undefined));
  await consumer.stop();
  assert.deepEqual(seen, ['committed-1', 'committed-2', 'committed-3'], 'read_committed: the aborted record is not delivered');

  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const offsets = await waitFor('the group\'s offsets committed on its coordinator', 10_000, async () => {
    const o = await admin.fetchOffsets({ groupId: 'orders-group', topics: ['orders'] });
    const p = o[0]!.partitions[0]!;
    return Number(p.offset) > 0 ? p.offset : undefined;
  });
  // KafkaJS commits the offset after the last record it delivered; only the last COMMIT marker follows it.
  assert.equal(Number(offsets), cluster.replica(1, 'orders').log.logEndOffset - 1);
  assert.equal(cluster.leaderOf('__consumer_offsets', cluster.broker(1).services.groupCoordinator.partitionFor('orders-group')), 1);
});

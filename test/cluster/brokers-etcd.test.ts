// Brokers started in-process (startBroker) on one etcd: the cluster id comes from etcd and
// is written to meta.properties, a data directory of another cluster is refused, clients
// see every broker and the elected controller, a clean close hands the controller over at
// once, controller duties run on one broker at a time; and brokers sharing one
// LocalMetadataStore (StartBrokerOptions.metadataStore) form a cluster without etcd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { createLogger, LocalMetadataStore, startBroker } from '@tributary/broker';
import type { RunningBroker } from '@tributary/broker';
import { readMetaProperties, ensureMetaProperties } from '../../packages/broker/src/config/meta-properties.js';
import { startEtcd } from './etcd-kit.js';

const silent = createLogger({ level: 'silent' });

function dataDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'trib-etcd-broker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('brokers on one etcd share the cluster id, see each other, elect one controller and hand it over on close', { timeout: 90_000 }, async (t) => {
  const etcd = await startEtcd(t);
  const duties: number[] = [];
  const brokers: RunningBroker[] = [];
  for (const nodeId of [1, 2, 3]) {
    const broker = await startBroker({
      dataDir: dataDir(t), port: 0, nodeId, logger: silent,
      // offsets.topic.replication.factor 1: these brokers run stub controller duties, so nothing
      // moves leaderships in a controlled shutdown, and a closing broker in the ISR of the 50
      // __consumer_offsets partitions (replication factor 3) waited out the whole bound
      // (CONTROLLED_SHUTDOWN_WAIT_MS_MAX, 30 s) before it stopped; controller-close.test.ts
      // covers the controlled shutdown with the real controller.
      config: { 'etcd.endpoints': etcd.endpoints.join(','), 'etcd.prefix': '/brokers-test', 'broker.session.timeout.ms': 3000, 'etcd.lease.fence.margin.ms': 1000, 'group.initial.rebalance.delay.ms': 0, 'offsets.topic.replication.factor': 1 },
      controllerDuties: (services) => ({ start: () => duties.push(services.nodeId), stop: () => duties.splice(duties.indexOf(services.nodeId), 1) }),
    });
    t.after(() => broker.close());
    brokers.push(broker);
  }
  assert.equal(new Set(brokers.map((b) => b.clusterId)).size, 1, 'one cluster id');
  for (const b of brokers) assert.equal(readMetaProperties(b.dataDir)!.clusterId, b.clusterId, 'meta.properties records the id from etcd');
  await until('one controller, known to all', () => brokers.every((b) => b.services.membership.controllerId() === brokers[0]!.services.membership.controllerId() && b.services.membership.controllerId() !== -1));
  const controller = brokers[0]!.services.membership.controllerId();
  assert.deepEqual(duties, [controller]);

  const kafka = new Kafka({ clientId: 'etcd-brokers', brokers: brokers.map((b) => `${b.host}:${b.port}`), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const cluster = await admin.describeCluster();
  assert.deepEqual(cluster.brokers.map((b) => b.nodeId).sort(), [1, 2, 3]);
  assert.equal(cluster.controller, controller);
  // A topic created through one broker is served by its leaders on the others.
  await admin.createTopics({ topics: [{ topic: 'everywhere', replicaAssignment: [{ partition: 0, replicas: [1] }, { partition: 1, replicas: [2] }, { partition: 2, replicas: [3] }] }] });
  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  for (let partition = 0; partition < 3; partition++) await producer.send({ topic: 'everywhere', messages: [{ partition, value: 'x' }] });
  const offsets = await admin.fetchTopicOffsets('everywhere');
  assert.deepEqual(offsets.map((o) => o.high), ['1', '1', '1']);

  // A clean close resigns: the next controller is elected without waiting for a lease to expire.
  const closedAt = performance.now();
  await brokers[controller - 1]!.close();
  const rest = brokers.filter((b) => b.nodeId !== controller);
  await until('a new controller', () => rest.every((b) => b.services.membership.controllerId() !== -1 && b.services.membership.controllerId() !== controller
    && b.services.membership.controllerId() === rest[0]!.services.membership.controllerId()), 5000);
  t.diagnostic(`new controller after ${Math.round(performance.now() - closedAt)} ms`);
  assert.deepEqual(duties, [rest[0]!.services.membership.controllerId()]);
  assert.deepEqual(rest[0]!.services.metadata.brokers().map((b) => b.nodeId), rest.map((b) => b.nodeId));

  // A data directory of another cluster is refused.
  const foreign = dataDir(t);
  ensureMetaProperties(foreign, { nodeId: 9, clusterId: 'AAAAAAAAAAAAAAAAAAAAAA' });
  await assert.rejects(startBroker({ dataDir: foreign, port: 0, nodeId: 9, logger: silent, config: { 'etcd.endpoints': etcd.endpoints.join(','), 'etcd.prefix': '/brokers-test' } }),
    (e: unknown) => (e as { code?: string }).code === 'TRIB_ERR_CLUSTER_ID_MISMATCH');
});

test('brokers sharing one LocalMetadataStore (StartBrokerOptions.metadataStore) form a cluster without etcd; the store is not closed by them', async (t) => {
  const storeDir = dataDir(t);
  const store = await LocalMetadataStore.open({ dataDir: storeDir, clusterId: 'q1Sh-9_ISia_zwGINzRvyQ' });
  t.after(() => store.close());
  const a = await startBroker({ dataDir: dataDir(t), port: 0, nodeId: 1, logger: silent, metadataStore: store });
  const b = await startBroker({ dataDir: dataDir(t), port: 0, nodeId: 2, logger: silent, metadataStore: store });
  assert.equal(a.clusterId, 'q1Sh-9_ISia_zwGINzRvyQ');
  assert.equal(b.clusterId, a.clusterId);
  assert.deepEqual(store.brokers().map((x) => x.nodeId), [1, 2]);
  await b.close();
  assert.deepEqual(store.brokers().map((x) => x.nodeId), [1]);
  await a.close();
  await store.createTopic({ name: 'still-open', partitions: [{ replicas: [1], leader: 1, isr: [1] }] });
});

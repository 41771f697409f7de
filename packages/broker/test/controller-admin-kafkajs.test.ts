// The controller's admin APIs and duties as real clients see them: in-process brokers
// sharing one LocalMetadataStore (StartBrokerOptions.metadataStore) form a cluster without
// etcd; KafkaJS's admin drives AlterPartitionReassignments / ListPartitionReassignments
// (which it sends to the controller Metadata names), the raw client ElectLeaders (KafkaJS
// has no call for it), and a closing broker's controlled shutdown moves its leadership.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ErrorCode } from '@tributary/protocol';
import { startBroker } from '../src/broker.js';
import type { RunningBroker } from '../src/broker.js';
import { createLogger } from '../src/logger.js';
import { LocalMetadataStore } from '../src/metadata/local-metadata-store.js';
import type { MetadataStore, PartitionState } from '../src/metadata/metadata-store.js';
import { RawClient } from './helpers/raw-client.js';

/** The test context, with clean-ups run last-registered first (brokers before their shared store). */
type T = { after(fn: () => unknown): void };

const cleanups = new WeakMap<object, (() => unknown)[]>();
function onCleanup(t: T, fn: () => unknown): void {
  let stack = cleanups.get(t);
  if (stack === undefined) {
    const fresh: (() => unknown)[] = [];
    stack = fresh;
    cleanups.set(t, fresh);
    t.after(async () => { while (fresh.length > 0) await fresh.pop()!(); });
  }
  stack.push(fn);
}

const BROKER_CONFIG = { 'offsets.topic.num.partitions': 1, 'offsets.topic.replication.factor': 1, 'leader.imbalance.check.interval.seconds': 3600, 'broker.session.timeout.ms': 300 };

async function sharedStore(t: T): Promise<MetadataStore> {
  const dir = mkdtempSync(join(tmpdir(), 'trib-ctl-store-'));
  const store = await LocalMetadataStore.open({ dataDir: dir, clusterId: 'AAAAAAAAAAAAAAAAAAAAAQ' });
  onCleanup(t, async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  // Every broker's group coordinator loads all of __consumer_offsets at start-up and today
  // needs to lead it for that (startMember hands it the leadership); each hosts a replica.
  await store.createTopic({ name: '__consumer_offsets', partitions: [{ replicas: [1, 2, 3], leader: 1, isr: [1, 2, 3] }], configs: { 'cleanup.policy': 'compact' } });
  return store;
}

/** Starts a broker on the shared store; it is closed (idempotently) when the test ends. */
async function startMember(t: T, store: MetadataStore, nodeId: number): Promise<RunningBroker> {
  const dir = mkdtempSync(join(tmpdir(), `trib-ctl-${nodeId}-`));
  const offsets = store.topic('__consumer_offsets')!.partitions[0]!;
  await store.updatePartition({ topic: '__consumer_offsets', partition: 0, expectedPartitionEpoch: offsets.partitionEpoch, leader: nodeId, isr: [...new Set([nodeId, ...offsets.isr])], bumpLeaderEpoch: true });
  const broker = await startBroker({ dataDir: dir, port: 0, nodeId, metadataStore: store, config: BROKER_CONFIG, logger: createLogger({ level: (process.env.CTL_LOG ?? 'silent') as 'silent' }) });
  onCleanup(t, async () => { await broker.close(); rmSync(dir, { recursive: true, force: true }); });
  return broker;
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function kafkaAdmin(t: T, broker: RunningBroker) {
  const kafka = new Kafka({ clientId: 'controller-test', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const admin = kafka.admin();
  onCleanup(t, () => admin.disconnect());
  return admin;
}

const partitionOf = (store: MetadataStore, topic: string, p = 0): PartitionState => store.topic(topic)!.partitions[p]!;

test('KafkaJS alterPartitionReassignments / listPartitionReassignments: start, list, replace, cancel, errors', async (t) => {
  const store = await sharedStore(t);
  const b1 = await startMember(t, store, 1);
  await startMember(t, store, 2);
  await startMember(t, store, 3);
  // Broker 4 is registered but never fetches: a reassignment onto it stays in progress.
  await store.registerBroker({ nodeId: 4, endpoints: [{ listener: 'PLAINTEXT', host: '127.0.0.1', port: 1, securityProtocol: 'PLAINTEXT' }], rack: null });
  onCleanup(t, () => store.unregisterBroker(4));
  await store.createTopic({ name: 'moves', partitions: [{ replicas: [1, 2], leader: 1, isr: [1, 2] }, { replicas: [2, 3], leader: 2, isr: [2, 3] }] });
  const admin = kafkaAdmin(t, b1);
  await admin.connect();

  await admin.alterPartitionReassignments({ topics: [{ topic: 'moves', partitionAssignment: [{ partition: 0, replicas: [4, 2] }] }] });
  let p0 = partitionOf(store, 'moves');
  assert.deepEqual(p0.replicas, [4, 2, 1]);
  assert.equal(p0.leader, 1, 'the leader stays until the reassignment completes');
  const listed = await admin.listPartitionReassignments({});
  assert.deepEqual(listed.topics, [{ name: 'moves', partitions: [{ partition: 0, replicas: [4, 2, 1], addingReplicas: [4], removingReplicas: [1] }] }]);
  const byName = await admin.listPartitionReassignments({ topics: [{ topic: 'moves', partitions: [1] }] });
  assert.deepEqual(byName.topics, [], 'partition 1 is not being reassigned');

  // A reassignment within the ISR completes at once: [2,3] -> [3,2] changes the preferred leader only.
  await admin.alterPartitionReassignments({ topics: [{ topic: 'moves', partitionAssignment: [{ partition: 1, replicas: [3] }] }] });
  const p1 = partitionOf(store, 'moves', 1);
  assert.deepEqual(p1.replicas, [3]);
  assert.equal(p1.leader, 3);
  assert.equal(p1.leaderEpoch, 1);

  // Cancel partition 0 (KafkaJS cannot send a null target; the raw client can): back to
  // brokers 1 and 2, in the merged list's order minus the adding replica, as KRaft reverts.
  const raw = await RawClient.open(b1.port);
  onCleanup(t, () => raw.close());
  const cancel = await raw.request('AlterPartitionReassignments', 0, { timeoutMs: 1000, topics: [{ name: 'moves', partitions: [{ partitionIndex: 0, replicas: null }] }] });
  assert.equal(cancel.responses[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  p0 = partitionOf(store, 'moves');
  assert.deepEqual(p0.replicas, [2, 1]);
  assert.equal(p0.leader, 1);
  assert.equal(p0.addingReplicas, undefined);
  assert.deepEqual((await admin.listPartitionReassignments({})).topics, []);

  // Move partition 0 from [2,1] to [3,2]: broker 3 is added; when the leader has it in
  // the ISR (written here as the leader's ISR expansion would be) the controller drops
  // broker 1, which led, and elects 3's partner in the ISR in target order.
  await admin.alterPartitionReassignments({ topics: [{ topic: 'moves', partitionAssignment: [{ partition: 0, replicas: [3, 2] }] }] });
  p0 = partitionOf(store, 'moves');
  assert.deepEqual([p0.replicas, p0.addingReplicas, p0.removingReplicas, p0.leader], [[3, 2, 1], [3], [1], 1]);
  await store.updatePartition({ topic: 'moves', partition: 0, expectedPartitionEpoch: p0.partitionEpoch, isr: [...p0.isr, 3] });
  await waitFor('the reassignment to complete', () => partitionOf(store, 'moves').addingReplicas === undefined);
  p0 = partitionOf(store, 'moves');
  assert.deepEqual([p0.replicas, p0.leader], [[3, 2], 3]);
  assert.deepEqual([...p0.isr].sort(), [2, 3]);
  assert.deepEqual((await admin.listPartitionReassignments({})).topics, []);
  const md = await admin.fetchTopicMetadata({ topics: ['moves'] });
  assert.deepEqual(md.topics[0]!.partitions.find((p) => p.partitionId === 0)!.replicas, [3, 2]);

  // Errors come back per partition.
  await assert.rejects(
    admin.alterPartitionReassignments({ topics: [{ topic: 'moves', partitionAssignment: [{ partition: 0, replicas: [1, 9] }] }] }),
    (err: any) => JSON.stringify(err.errors ?? err.message).includes('INVALID_REPLICA_ASSIGNMENT') || /INVALID_REPLICA_ASSIGNMENT|assignment/i.test(String(err.message)),
  );
  const res = await raw.request('AlterPartitionReassignments', 0, {
    timeoutMs: 1000,
    topics: [
      { name: 'moves', partitions: [{ partitionIndex: 0, replicas: null }, { partitionIndex: 7, replicas: [1] }, { partitionIndex: 1, replicas: [3, 3] }] },
      { name: 'nope', partitions: [{ partitionIndex: 0, replicas: [1] }] },
    ],
  });
  assert.equal(res.errorCode, ErrorCode.NONE);
  assert.deepEqual(res.responses.map((r) => r.partitions.map((p) => p.errorCode)), [
    [ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.INVALID_REPLICA_ASSIGNMENT],
    [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
  ]);
  assert.equal(res.responses[0]!.partitions[2]!.errorMessage, 'The manual partition assignment includes the broker 3 more than once.');
});

test('ElectLeaders v2 (raw client): preferred, unclean, per-partition errors, all partitions', async (t) => {
  const store = await sharedStore(t);
  const b1 = await startMember(t, store, 1);
  await startMember(t, store, 2);
  await store.createTopic({ name: 'e', partitions: [
    { replicas: [1, 2], leader: 2, isr: [1, 2] }, // preferred 1 does not lead: election needed
    { replicas: [1, 2], leader: 1, isr: [1, 2] }, // already preferred
    { replicas: [3, 1], leader: 1, isr: [1] }, // preferred out of sync (broker 3 is not running, so replication cannot bring it back)
  ] });
  const raw = await RawClient.open(b1.port);
  onCleanup(t, () => raw.close());
  const preferred = await raw.request('ElectLeaders', 2, { electionType: 0, topicPartitions: [{ topic: 'e', partitions: [0, 1, 2, 9] }, { topic: 'none', partitions: [0] }], timeoutMs: 1000 });
  assert.equal(preferred.errorCode, ErrorCode.NONE);
  assert.deepEqual(preferred.replicaElectionResults.map((r) => [r.topic, r.partitionResult.map((p) => [p.partitionId, p.errorCode])]), [
    ['e', [[0, ErrorCode.NONE], [1, ErrorCode.ELECTION_NOT_NEEDED], [2, ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE], [9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
    ['none', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
  ]);
  assert.equal(partitionOf(store, 'e', 0).leader, 1);
  assert.equal(partitionOf(store, 'e', 0).leaderEpoch, 1);

  // Unclean: only a partition without a leader needs one.
  const notNeeded = await raw.request('ElectLeaders', 2, { electionType: 1, topicPartitions: [{ topic: 'e', partitions: [0] }], timeoutMs: 1000 });
  assert.equal(notNeeded.replicaElectionResults[0]!.partitionResult[0]!.errorCode, ErrorCode.ELECTION_NOT_NEEDED);

  // All partitions (null): only the elections that were needed are listed; v0 is preferred.
  await store.updatePartition({ topic: 'e', partition: 1, expectedPartitionEpoch: partitionOf(store, 'e', 1).partitionEpoch, leader: 2, bumpLeaderEpoch: true });
  const all = await raw.request('ElectLeaders', 0, { topicPartitions: null, timeoutMs: 1000 });
  const listed = all.replicaElectionResults.filter((r) => r.topic === 'e').flatMap((r) => r.partitionResult.map((p) => `${r.topic}-${p.partitionId}:${p.errorCode}`));
  assert.deepEqual(listed.sort(), [`e-1:${ErrorCode.NONE}`, `e-2:${ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE}`]);
});

test('ElectLeaders unclean: an offline partition gets an out-of-sync live replica; none live: ELIGIBLE_LEADERS_NOT_AVAILABLE', async (t) => {
  const store = await sharedStore(t);
  const b1 = await startMember(t, store, 1);
  // Broker 5 was the only in-sync replica and is gone: the partition is offline.
  await store.createTopic({ name: 'o', partitions: [{ replicas: [5, 1], leader: -1, isr: [5] }, { replicas: [5, 6], leader: -1, isr: [5] }] });
  const raw = await RawClient.open(b1.port);
  onCleanup(t, () => raw.close());
  const res = await raw.request('ElectLeaders', 1, { electionType: 1, topicPartitions: [{ topic: 'o', partitions: [0, 1] }], timeoutMs: 1000 });
  assert.deepEqual(res.replicaElectionResults[0]!.partitionResult.map((p) => p.errorCode), [ErrorCode.NONE, ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE]);
  assert.equal(partitionOf(store, 'o').leader, 1);
  assert.deepEqual(partitionOf(store, 'o').isr, [1]);
});

test('controlled shutdown: a closing broker hands its leadership to an in-sync replica before it stops; controller id follows', async (t) => {
  const store = await sharedStore(t);
  const b1 = await startMember(t, store, 1);
  const b2 = await startMember(t, store, 2);
  await store.createTopic({ name: 'cs', partitions: [{ replicas: [2, 1], leader: 2, isr: [2, 1] }] });
  const admin = kafkaAdmin(t, b1);
  await admin.connect();
  const describe = await admin.describeCluster();
  assert.equal(describe.controller, 1, 'the longest-registered broker is controller');

  let leaderWhenBrokerStoppedServing: number | undefined;
  const unsubscribe = store.subscribe((change) => {
    if (change.type === 'broker-unregistered' && change.nodeId === 2) leaderWhenBrokerStoppedServing = partitionOf(store, 'cs').leader;
  });
  onCleanup(t, unsubscribe);
  await b2.close();
  assert.equal(leaderWhenBrokerStoppedServing, 1, 'leadership moved before broker 2 unregistered');
  const p = partitionOf(store, 'cs');
  assert.equal(p.leader, 1);
  assert.equal(p.leaderEpoch, 1);
  assert.deepEqual(p.isr, [1]);
  const md = await admin.fetchTopicMetadata({ topics: ['cs'] });
  assert.equal(md.topics[0]!.partitions[0]!.leader, 1);

  // The controller broker leaves: the next one takes over and fails its partitions over.
  const b3 = await startMember(t, store, 3);
  await store.createTopic({ name: 'cs2', partitions: [{ replicas: [1, 3], leader: 1, isr: [1] }] });
  await b1.close();
  assert.equal(store.controllerId!(), 3);
  await waitFor('the partition led by the departed controller to go offline', () => partitionOf(store, 'cs2').leader === -1);
  // (KafkaJS's describeCluster fails on the offline partitions' LEADER_NOT_AVAILABLE, as against Kafka.)
  const raw3 = await RawClient.open(b3.port);
  onCleanup(t, () => raw3.close());
  const cluster = await raw3.request('DescribeCluster', 0, { includeClusterAuthorizedOperations: false });
  assert.equal(cluster.controllerId, 3);
  assert.deepEqual(cluster.brokers.map((b) => b.brokerId), [3]);
});

// Issue #15's must-hold: "A reassignment to a fourth broker completes under load with no
// error seen by clients", and a broker drained the same way.
//
// 3 broker processes on etcd, an RF=3 topic of 3 partitions (min.insync.replicas=2),
// confluent-kafka-python (librdkafka) and KafkaJS producing idempotently with acks=all and a
// KafkaJS group consumer reading. Broker 4 starts; AlterPartitionReassignments (KafkaJS
// admin) moves partition 0 onto it in place of its leader, adds it to partition 1 and
// replaces a follower of partition 2 with it; ListPartitionReassignments shows the
// reassignment in progress, then nothing. Then broker 1 is drained: every partition of
// every topic (`__consumer_offsets` included) that has a replica on it is moved to others.
// Every error a client reported is counted (retriable ones too) and must be zero; every
// acknowledged record is read back at its offset, once, in order.
//
// kafka-python 2.0.2 (Debian) has no AlterPartitionReassignments in its admin client, so
// KafkaJS's is the only client-side admin used here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import { startEtcd } from './etcd-kit.js';
import { createTopic, quietKafka, startBrokers, startWorkload, waitAllRegistered, waitIsr } from './workload.js';
import '../compat/kit.js';

const TOPIC = 'moving';
/** How long a reassignment may take to complete under the test's load. */
const REASSIGNMENT_TIMEOUT_MS = 30_000;

async function ongoing(admin: Admin): Promise<string[]> {
  const res = await admin.listPartitionReassignments({});
  return res.topics.flatMap((t) => t.partitions.map((p) => `${t.topic}-${p.partitionIndex} adding ${JSON.stringify(p.addingReplicas ?? [])} removing ${JSON.stringify(p.removingReplicas ?? [])}`));
}

async function untilNoneOngoing(admin: Admin, what: string): Promise<void> {
  const deadline = Date.now() + REASSIGNMENT_TIMEOUT_MS;
  for (;;) {
    const left = await ongoing(admin);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${what} did not complete in ${REASSIGNMENT_TIMEOUT_MS} ms: ${JSON.stringify(left.slice(0, 5))}`);
    await sleep(200);
  }
}

test('a reassignment onto a fourth broker, and draining a broker, under idempotent acks=all load: clients see no error, nothing lost', { timeout: 400_000 }, async (t) => {
  const etcd = await startEtcd(t);
  // Kafka's default session (9 s): nothing here waits for a failover, and on a loaded machine
  // the fault suite's 3 s session fences brokers whose keepalive answers come late.
  const cluster = await startBrokers(t, { count: 3, etcdEndpoints: etcd.endpoints.join(','), config: { 'broker.session.timeout.ms': 9000, 'etcd.lease.fence.margin.ms': 2000 } });
  await waitAllRegistered(cluster.bootstrap(), 3);
  const admin = quietKafka('reassign-admin', cluster.bootstrap()).admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await createTopic(admin, cluster.bootstrap(), TOPIC, 3, [[1, 2, 3], [2, 3, 1], [3, 1, 2]]);
  const work = await startWorkload(t, cluster.bootstrap(), TOPIC, 3, { python: true });
  await sleep(2000);

  // Broker 4 joins; the clients were given brokers 1-3 and learn of it from metadata.
  await cluster.addBroker(4);
  await waitAllRegistered(cluster.bootstrap(), 4);
  const target = [[4, 2, 3], [2, 3, 1, 4], [3, 1, 4]];
  const startedAtMs = Date.now();
  await admin.alterPartitionReassignments({ topics: [{ topic: TOPIC, partitionAssignment: target.map((replicas, partition) => ({ partition, replicas })) }] });
  // Each broker answers from its own copy of the metadata (etcd watch), so the broker asked
  // may see the change a moment after the one that made it: look a few times.
  let seen: string[] = [];
  for (let i = 0; i < 40 && seen.length === 0; i++) {
    seen = await ongoing(admin);
    if (seen.length === 0) await sleep(50);
  }
  t.diagnostic(`in progress right after AlterPartitionReassignments: ${JSON.stringify(seen)}`);
  assert.ok(seen.length > 0, 'ListPartitionReassignments shows the reassignment in progress');
  await untilNoneOngoing(admin, 'the reassignment onto broker 4');
  const done = await waitIsr(cluster.bootstrap(), TOPIC, (p) => p.isr.length === p.replicas.length, REASSIGNMENT_TIMEOUT_MS);
  t.diagnostic(`reassignment complete after ${Date.now() - startedAtMs} ms: ${JSON.stringify([...done])}`);
  for (const [p, info] of done) assert.deepEqual([...info.replicas].sort(), [...target[p]!].sort(), `partition ${p} has its target replicas`);
  assert.equal(done.get(0)!.leader, 4, 'partition 0 is led by broker 4 (its old leader was removed)');
  await sleep(2000);

  // Drain broker 1: every replica it holds goes to another broker.
  const drainStartedAtMs = Date.now();
  const md = await admin.fetchTopicMetadata({ topics: [TOPIC, '__consumer_offsets'] });
  const moves = md.topics.map((topic) => ({
    topic: topic.name,
    partitionAssignment: topic.partitions.filter((p) => p.replicas.includes(1)).map((p) => {
      const others = p.replicas.filter((id) => id !== 1);
      const spare = [2, 3, 4].find((id) => !others.includes(id));
      return { partition: p.partitionId, replicas: spare !== undefined && others.length < 3 ? [...others, spare] : others };
    }),
  })).filter((m) => m.partitionAssignment.length > 0);
  await admin.alterPartitionReassignments({ topics: moves });
  await untilNoneOngoing(admin, 'draining broker 1');
  const after = await admin.fetchTopicMetadata({ topics: [TOPIC, '__consumer_offsets'] });
  const still = after.topics.flatMap((topic) => topic.partitions.filter((p) => p.replicas.includes(1) || p.leader === 1).map((p) => `${topic.name}-${p.partitionId}`));
  t.diagnostic(`broker 1 drained (${moves.reduce((n, m) => n + m.partitionAssignment.length, 0)} partitions) in ${Date.now() - drainStartedAtMs} ms`);
  assert.deepEqual(still, [], 'no partition has a replica on broker 1');
  await waitIsr(cluster.bootstrap(), TOPIC, (p) => p.isr.length === p.replicas.length, REASSIGNMENT_TIMEOUT_MS);
  await sleep(2000);

  const result = await work.finish(cluster.bootstrap());
  const by = (c: string) => work.acks.filter((a) => a.client === c).length;
  t.diagnostic(`acknowledged ${result.acknowledged} (kafkajs ${by('kafkajs')}, librdkafka ${by('librdkafka')}), found ${result.found}, read ${work.reads.length}; client errors ${work.errors.length}: ${JSON.stringify(work.errors.slice(0, 10))}`);
  assert.ok(by('kafkajs') > 0 && by('librdkafka') > 0, 'both producers were acknowledged');
  assert.deepEqual(result.unread, [], 'the group consumer read every offset up to the end');
  assert.deepEqual(result.lost, []);
  assert.deepEqual(result.duplicated, []);
  assert.deepEqual(result.reordered, []);
  assert.deepEqual(result.divergent, []);
  assert.deepEqual(work.errors, [], 'no client saw an error, retriable ones included');
  await cluster.close();
});

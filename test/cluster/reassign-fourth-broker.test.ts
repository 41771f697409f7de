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
// Every error a client reported is counted (retriable ones too): none may be other than the
// retriable NOT_LEADER_OR_FOLLOWER a leader move causes in Kafka too, or an ISR answer
// (NOT_ENOUGH_REPLICAS, ..._AFTER_APPEND, REQUEST_TIMED_OUT) that KafkaJS retried and that a
// logged ISR change of Kafka's rules explains (a follower lagging past
// replica.lag.time.max.ms, a broker's session ending: a loaded machine causes both), and no
// send or delivery may fail, no client may hit a fatal error; every acknowledged record is
// read back at its offset, once, in order.
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
/** Padding before the workload: PAD_SENDS sends of 10 records of PAD_RECORD_BYTES per partition (~6 MB each). */
const PAD_SENDS = 8;
const PAD_RECORD_BYTES = 80_000;
/** How long a reassignment may take to complete under the test's load. */
const REASSIGNMENT_TIMEOUT_MS = 30_000;
/**
 * The KafkaJS producer's request timeout: above its sends' produce timeout (KafkaJS's
 * default 30 s, how long a broker may hold an acks=all request for the ISR), as Kafka
 * clients' defaults are (Java: request.timeout.ms 30 s; KafkaJS: 30 s). With the workload's
 * 5 s, a loaded machine made KafkaJS abandon and resend produces the broker was rightly
 * holding ("produce timeouts").
 */
const PRODUCER_REQUEST_TIMEOUT_MS = 35_000;
/**
 * Retriable answers KafkaJS retries itself, its send not failing: the ISR below
 * min.insync.replicas (before or after the append), or the broker's own REQUEST_TIMED_OUT.
 * Kafka gives them when a follower has not caught up for replica.lag.time.max.ms (2.5 s
 * here) and leaves the ISR, or a broker's session ends; a loaded 2-core machine causes
 * both. They are let through only when a broker's log shows such a change of this topic's
 * ISR (printed); without one they fail the test.
 */
const ISR_RETRIABLE = /fewer in-sync replicas than required|The request timed out/;

async function ongoing(admin: Admin): Promise<string[]> {
  const res = await admin.listPartitionReassignments({});
  // KafkaJS passes the response through: the fields are the protocol's (name, partitionIndex).
  return res.topics.flatMap((t) => t.partitions.map((p) => `${(t as unknown as { name?: string }).name ?? t.topic}-${p.partitionIndex ?? (p as unknown as { partition?: number }).partition} adding ${JSON.stringify(p.addingReplicas ?? [])} removing ${JSON.stringify(p.removingReplicas ?? [])}`));
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
  // Some megabytes per partition first, so that broker 4 needs several fetches to catch up
  // and the reassignment is seen in progress (with only the workload's few kilobytes it
  // completes within the AlterPartitionReassignments round trip).
  const padder = quietKafka('reassign-pad', cluster.bootstrap()).producer();
  await padder.connect();
  const pad = 'x'.repeat(PAD_RECORD_BYTES);
  for (let partition = 0; partition < 3; partition++) {
    for (let i = 0; i < PAD_SENDS; i++) await padder.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: 10 }, (_, j) => ({ partition, value: `p${partition}${pad}-${i * 10 + j}` })) });
  }
  await padder.disconnect();
  const work = await startWorkload(t, cluster.bootstrap(), TOPIC, 3, { python: true, producerRequestTimeoutMs: PRODUCER_REQUEST_TIMEOUT_MS });
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
    if (seen.length === 0) await sleep(10);
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
  // What clients see is Kafka's: when the leader itself is moved away (partition 0 onto broker
  // 4, the drain of broker 1), a request already sent to it is answered NOT_LEADER_OR_FOLLOWER,
  // and the client refreshes its metadata and retries, as against Kafka (KIP-951 only saves the
  // refresh). KafkaJS logs each such answer; no send failed and no delivery failed.
  //
  // KafkaJS's own rebalance (docs/reliability.md, "ILLEGAL_GENERATION after a drain"): a
  // consumer Fetch answered NOT_LEADER_OR_FOLLOWER makes KafkaJS refresh its metadata and
  // rejoin (ConsumerGroup.recoverFromFetch); its JoinGroup as the group's leader starts a new
  // generation, as Kafka's coordinator does for a leader rejoining a Stable group, and a
  // Heartbeat or OffsetCommit its other fetchers already sent with the old generation is
  // answered ILLEGAL_GENERATION, as Kafka answers it. That answer is let through only after
  // such a fetch error; any other one fails (the coordinator must keep the generation across
  // a move: packages/broker/test/group-coordinator-move.test.ts).
  // KafkaJS logs the answer itself (ERROR: Response Heartbeat/OffsetCommit) and, when it
  // rejoins on it, a WARN "The group is rebalancing, re-joining" carrying the same message.
  const illegalGeneration = (e: string): boolean => /kafkajs-consumer (ERROR: Response (Heartbeat|OffsetCommit)\(|WARN: The group is rebalancing, re-joining ).*generation id is not valid/.test(e);
  const firstFetchMove = work.errors.findIndex((e) => /kafkajs-consumer ERROR: Response Fetch\(.*not the leader for that topic-partition/.test(e));
  const generation = work.errors.filter(illegalGeneration);
  if (generation.length > 0) t.diagnostic(`KafkaJS's own rebalance after a leader move: ${JSON.stringify(generation)}`);
  const unexplained = work.errors.filter((e, i) => illegalGeneration(e) && (firstFetchMove < 0 || i < firstFetchMove));
  assert.deepEqual(unexplained, [], 'ILLEGAL_GENERATION only after KafkaJS rejoined on a NOT_LEADER_OR_FOLLOWER fetch');
  // What the brokers did to this topic's ISRs besides the reassignment: followers that had
  // not caught up (Kafka's replica.lag.time.max.ms rule), brokers whose etcd session broke.
  const isrChanges = cluster.brokers.flatMap((b) => cluster.logOf(b.nodeId).split('\n')
    .filter((l) => (l.includes('Shrinking the ISR') && l.includes(`topic=${TOPIC} `)) || l.includes('Fenced:'))
    .map((l) => `broker ${b.nodeId}: ${l}`));
  const isrRetriable = work.errors.filter((e) => ISR_RETRIABLE.test(e));
  if (isrRetriable.length > 0 || isrChanges.length > 0) t.diagnostic(`ISR changes in the broker logs: ${JSON.stringify(isrChanges.slice(0, 20))}; retriable ISR answers KafkaJS retried: ${JSON.stringify(isrRetriable.slice(0, 10))}`);
  const explainedIsr = (e: string): boolean => ISR_RETRIABLE.test(e) && isrChanges.length > 0;
  const notRetriable = work.errors.filter((e) => !/not the leader for that topic-partition/.test(e) && !illegalGeneration(e) && !explainedIsr(e));
  assert.deepEqual(notRetriable, [], 'no client error other than retriable NOT_LEADER_OR_FOLLOWER at a leader move, or an ISR answer a logged ISR change explains');
  assert.deepEqual(work.errors.filter((e) => e.startsWith('kafkajs send') || e.startsWith('librdkafka')), [], 'no send and no delivery failed');
  await cluster.close();
});

// The safety half of the fencing decision (issue #15, docs/reliability.md "A broker cut off
// from etcd"): a broker whose lease lapsed keeps leading its partitions until it learns of a
// newer leader epoch, and that is safe for acks=all because the ISR changes only by
// compare-and-set in etcd and the high watermark needs every ISR member's fetch.
//
// Broker 1 leads partition 0 and reaches etcd only through a cuttable proxy. The proxy is
// cut: broker 1 fences itself, its lease expires, the controller elects broker 2, and the
// followers follow broker 2. Then an acks=all producer that only knows broker 1 gets no
// acknowledgement for partition 0 (broker 1 still believes it leads, but its followers no
// longer fetch from it and it cannot shrink the ISR), while producers of the new leader
// are acknowledged. The proxy heals: broker 1 becomes a follower, truncates the records it
// appended alone, rejoins the ISR and, as the preferred replica, leads again; read back from
// it, partition 0 holds every acknowledged record at its offset and none of the unacknowledged ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { startEtcd, startProxy } from './etcd-kit.js';
import { createTopic, partitionsSeenBy, quietKafka, startBrokers, waitAllRegistered, waitIsr } from './workload.js';
import '../compat/kit.js';

const TOPIC = 'cut';
/** The produce request's own timeout for the producer that only knows broker 1. */
const CUT_PRODUCE_TIMEOUT_MS = 2000;

test('a leader cut off from etcd acknowledges no acks=all write once replaced, then follows the new leader and truncates', { timeout: 300_000 }, async (t) => {
  const etcd = await startEtcd(t);
  const proxy = await startProxy(t, etcd.endpoints[0]!);
  const cluster = await startBrokers(t, {
    count: 3, etcdEndpoints: etcd.endpoints.join(','), endpointsOf: { 1: proxy.url },
    // Preferred leaders come back within a second, so the healed broker 1 leads partition 0
    // again and the read-back below reads its log.
    // A 6 s session: the fault suite's 3 s fences brokers on a loaded machine whose keepalive
    // answers come late, and this test wants broker 1 alone to lose its lease.
    config: { 'leader.imbalance.check.interval.seconds': 1, 'leader.imbalance.per.broker.percentage': 0, 'broker.session.timeout.ms': 6000, 'etcd.lease.fence.margin.ms': 2000 },
  });
  const all = cluster.bootstrap();
  const others = cluster.brokers.filter((b) => b.nodeId !== 1).map((b) => b.bootstrap);
  await waitAllRegistered(all, 3);
  const admin = quietKafka('cut-admin', others).admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await createTopic(admin, all, TOPIC, 2, [[1, 2, 3], [2, 3, 1]]);

  const acked: { partition: number; offset: number; value: string }[] = [];
  const producer = quietKafka('cut-producer', all).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.after(() => producer.disconnect());
  const send = async (p: typeof producer, partition: number, value: string) => {
    const [meta] = await p.send({ topic: TOPIC, acks: -1, messages: [{ partition, value }] });
    acked.push({ partition, offset: Number(meta!.baseOffset), value });
  };
  for (let i = 0; i < 20; i++) await send(producer, 0, `before-${i}`);

  // The cut: broker 1 keeps serving clients but no longer reaches etcd.
  proxy.cut();
  const cutAtMs = Date.now();
  const moved = await waitIsr(others, TOPIC, (p) => p.replicas[0] !== 1 || (p.leader !== 1 && p.leader !== -1), 30_000);
  const newLeader = moved.get(0)!.leader;
  t.diagnostic(`partition 0 led by broker ${newLeader} ${Date.now() - cutAtMs} ms after the cut; ISR ${JSON.stringify(moved.get(0)!.isr)}`);
  const stale = await partitionsSeenBy(cluster.brokers[0]!, TOPIC);
  assert.equal(stale?.get(0)?.leader, 1, 'broker 1, cut off, still believes it leads partition 0');

  // A producer that only knows broker 1: acks=all, no retries, so every answer is seen.
  const cutOff = new Kafka({ clientId: 'cut-off', brokers: [cluster.brokers[0]!.bootstrap], logLevel: logLevel.NOTHING, requestTimeout: 10_000, retry: { retries: 0 } })
    .producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await cutOff.connect();
  t.after(() => cutOff.disconnect());
  const refusals: string[] = [];
  for (let i = 0; i < 3; i++) {
    try {
      const [meta] = await cutOff.send({ topic: TOPIC, acks: -1, timeout: CUT_PRODUCE_TIMEOUT_MS, messages: [{ partition: 0, value: `cut-${i}` }] });
      assert.fail(`cut-${i} was acknowledged at offset ${meta!.baseOffset} by a leader cut off from etcd and from its followers`);
    } catch (e) {
      if ((e as Error).name === 'AssertionError') throw e;
      refusals.push(`${(e as { type?: string }).type ?? (e as Error).name}: ${(e as Error).message}`);
    }
  }
  t.diagnostic(`the cut-off leader's answers: ${JSON.stringify(refusals)}`);
  assert.ok(refusals.every((r) => /REQUEST_TIMED_OUT|NOT_ENOUGH_REPLICAS|NOT_LEADER|timed out/i.test(r)), 'each refusal is a timeout, NOT_ENOUGH_REPLICAS or NOT_LEADER');
  // Meanwhile the new leader takes writes from a producer that knows the others.
  const fresh = quietKafka('cut-fresh', others).producer({ idempotent: true, maxInFlightRequests: 1 });
  await fresh.connect();
  t.after(() => fresh.disconnect());
  for (let i = 0; i < 20; i++) await send(fresh, 0, `after-${i}`);
  assert.ok(cluster.logOf(1).includes('Fenced: '), 'broker 1 fenced itself');

  // Heal: broker 1 learns the new leader epoch, truncates its unacknowledged suffix, rejoins,
  // and leads again as the preferred replica.
  proxy.heal();
  const healedAtMs = Date.now();
  await waitIsr(all, TOPIC, (p) => p.isr.length === 3 && p.leader === p.replicas[0], 45_000);
  t.diagnostic(`broker 1 back in the ISR and leading partition 0 ${Date.now() - healedAtMs} ms after the heal`);
  // The log reaches its file through a pipe: give the line a moment to arrive.
  const truncated = /Follower log diverges from the leader's; truncated[^\n]*partition=0/;
  for (let i = 0; i < 30 && !truncated.test(cluster.logOf(1)); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(cluster.logOf(1), truncated, 'broker 1 truncated its divergent suffix of partition 0');

  // Read partition 0 back from its leader, broker 1 again.
  const ends = await admin.fetchTopicOffsets(TOPIC);
  const end = Number(ends.find((o) => o.partition === 0)!.high);
  const reader = quietKafka('cut-reader', all).consumer({ groupId: `cut-reader-${Date.now()}` });
  await reader.connect();
  t.after(() => reader.disconnect());
  await reader.subscribe({ topic: TOPIC, fromBeginning: true });
  const log: string[] = [];
  await reader.run({ eachMessage: async ({ partition, message }) => { if (partition === 0) log[Number(message.offset)] = message.value!.toString(); } });
  const deadline = Date.now() + 20_000;
  while (log.filter((v) => v !== undefined).length < end && Date.now() < deadline) await sleep(100);
  await reader.stop();
  assert.equal(log.filter((v) => v !== undefined).length, end, `read every offset of partition 0 below its end ${end}`);
  for (const a of acked.filter((x) => x.partition === 0)) assert.equal(log[a.offset], a.value, `acknowledged ${a.value} is at offset ${a.offset}`);
  assert.deepEqual(log.filter((v) => v.startsWith('cut-')), [], 'none of the unacknowledged writes to the cut-off leader survived');
  assert.equal(end, acked.filter((x) => x.partition === 0).length, 'partition 0 holds exactly the acknowledged records');
  await cluster.close();
});

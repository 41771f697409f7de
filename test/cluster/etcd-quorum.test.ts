// Issue #15's must-hold: "Killing etcd's leader member (3-member etcd) does not stop
// produce/consume on stable partitions; losing etcd quorum stops metadata changes but not
// data flow to current leaders, and recovers when quorum returns."
//
// 3 broker processes on a 3-member etcd, an RF=3 topic with min.insync.replicas=2 and a full
// ISR, a KafkaJS idempotent acks=all producer and a KafkaJS group consumer running
// throughout. (1) SIGKILL the etcd raft leader: no partition goes without an
// acknowledgement for longer than ~1 s, and CreateTopics works once etcd has re-elected.
// (2) SIGKILL 2 of 3 members for longer than the broker session timeout: produce and consume
// to the current leaders go on (every broker fences itself and, by the decision in
// docs/reliability.md, keeps leading), CreateTopics fails with a Kafka error; the members
// come back: CreateTopics works and every broker still has its partitions. Afterwards every
// acknowledged record is read back at its offset, once, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { unavailableWindows } from '../fault/checker.js';
import { startEtcd } from './etcd-kit.js';
import { createTopic, partitionsOf, quietKafka, startBrokers, startWorkload, waitAllRegistered, waitIsr } from './workload.js';
import '../compat/kit.js';

const TOPIC = 'steady';
const PARTITIONS = 3;
/** Longest gap between two acknowledgements of one partition that still counts as "no stop" (the issue's ~1 s). */
const GAP_MS_MAX = 1500;
/** broker.session.timeout.ms here: an etcd leader election (~1-2 s with etcd's default timings) must not fence brokers. */
const SESSION_TIMEOUT_MS = 6000;
/** How long quorum stays lost: the issue asks for >= 10 s, and it must exceed the session timeout. */
const QUORUM_LOSS_MS = Math.max(10_000, SESSION_TIMEOUT_MS + 4000);

test('etcd leader kill and etcd quorum loss: data keeps flowing to current leaders, metadata changes stop and come back', { timeout: 180_000 }, async (t) => {
  const etcd = await startEtcd(t, { members: 3 });
  const cluster = await startBrokers(t, {
    count: 3, etcdEndpoints: etcd.endpoints.join(','),
    config: { 'broker.session.timeout.ms': SESSION_TIMEOUT_MS, 'etcd.lease.fence.margin.ms': 2000, 'etcd.request.timeout.ms': 3000 },
  });
  const bootstrap = cluster.bootstrap();
  await waitAllRegistered(bootstrap, 3);
  const admin = quietKafka('quorum-admin', bootstrap).admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await createTopic(admin, bootstrap, TOPIC, PARTITIONS);
  const before = (await partitionsOf(bootstrap, TOPIC))!;
  const work = await startWorkload(t, bootstrap, TOPIC, PARTITIONS);
  await sleep(2000);

  // (1) The etcd leader dies.
  const leader = await etcd.leaderIndex();
  assert.ok(leader >= 0, 'an etcd leader is known');
  const killedAtMs = Date.now();
  await etcd.kill(leader);
  await sleep(4000);
  const leaderGaps = unavailableWindows(work.acks.filter((a) => a.atMs >= killedAtMs - 2000), GAP_MS_MAX);
  t.diagnostic(`etcd leader m${leader} killed; gaps > ${GAP_MS_MAX} ms after it: ${JSON.stringify(leaderGaps)}`);
  assert.deepEqual(leaderGaps, [], 'no partition went without an acknowledgement for more than ~1 s');
  for (let p = 0; p < PARTITIONS; p++) assert.ok(work.acks.some((a) => a.partition === p && a.atMs > killedAtMs + 3000), `partition ${p} acknowledged after the kill`);
  const createdAtMs = Date.now();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: 'after-leader-kill', numPartitions: 1, replicationFactor: 3 }] });
  t.diagnostic(`CreateTopics after the etcd leader kill took ${Date.now() - createdAtMs} ms`);
  await etcd.restart(leader);

  // (2) Quorum lost: two of three members down, longer than the session timeout.
  const down = [0, 1, 2].filter((i) => i !== leader).slice(0, 1).concat([leader]);
  const readsAtLoss = work.reads.length;
  const lostAtMs = Date.now();
  for (const i of down) await etcd.kill(i);
  const refusing = quietKafka('quorum-refused', bootstrap).admin({ retry: { retries: 0 } });
  await refusing.connect();
  t.after(() => refusing.disconnect());
  let refusal: unknown;
  try {
    await refusing.createTopics({ timeout: 10_000, topics: [{ topic: 'during-quorum-loss', numPartitions: 1, replicationFactor: 3 }] });
  } catch (e) {
    refusal = e;
  }
  assert.ok(refusal !== undefined, 'CreateTopics fails without an etcd quorum');
  // KafkaJS wraps per-topic errors in a KafkaJSAggregateError whose `errors` carry the codes.
  const r = refusal as { type?: string; message: string; errors?: { type?: string; message?: string }[] };
  const refusalText = [r.type, r.message, ...(r.errors ?? []).flatMap((e) => [e.type, e.message])].filter(Boolean).join(' / ');
  t.diagnostic(`CreateTopics without quorum: ${refusalText}`);
  assert.match(refusalText, /REQUEST_TIMED_OUT|timed out|Request Timed Out/i, 'with a Kafka error (REQUEST_TIMED_OUT)');
  await sleep(Math.max(0, lostAtMs + QUORUM_LOSS_MS - Date.now()));
  const restoredAtMs = Date.now();
  const lossGaps = unavailableWindows(work.acks.filter((a) => a.atMs >= lostAtMs - 2000 && a.atMs <= restoredAtMs), GAP_MS_MAX);
  t.diagnostic(`quorum lost for ${restoredAtMs - lostAtMs} ms; acks meanwhile ${work.acks.filter((a) => a.atMs >= lostAtMs && a.atMs <= restoredAtMs).length}; reads meanwhile counted below; gaps: ${JSON.stringify(lossGaps)}`);
  assert.deepEqual(lossGaps, [], 'produce to the current leaders went on without quorum');
  for (let p = 0; p < PARTITIONS; p++) {
    assert.ok(work.acks.some((a) => a.partition === p && a.atMs > restoredAtMs - 1000), `partition ${p} still acknowledged at the end of the quorum loss`);
  }
  const readsDuringLoss = work.reads.length;

  for (const b of cluster.brokers) assert.match(cluster.logOf(b.nodeId), /Fenced: /, `broker ${b.nodeId} fenced itself (its lease lapsed) and kept leading`);

  // Quorum returns.
  for (const i of down) await etcd.restart(i);
  const recreatedAtMs = Date.now();
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: 'after-quorum', numPartitions: 1, replicationFactor: 3 }] });
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(500);
    }
  }
  t.diagnostic(`CreateTopics worked ${Date.now() - recreatedAtMs} ms after quorum returned`);
  const healed = await waitIsr(bootstrap, TOPIC, (p) => p.isr.length === 3, 30_000);
  for (const [p, info] of healed) assert.deepEqual(info.replicas, before.get(p)!.replicas, `partition ${p} kept its replicas`);
  assert.deepEqual((await admin.describeCluster()).brokers.map((b) => b.nodeId).sort(), [1, 2, 3], 'every broker registered again');
  await sleep(1000);

  const result = await work.finish(bootstrap);
  t.diagnostic(`acknowledged ${result.acknowledged}, found ${result.found}, reads ${work.reads.length} (${readsDuringLoss} by the end of the quorum loss), client errors ${work.errors.length}: ${JSON.stringify(work.errors.slice(0, 5))}`);
  assert.ok(readsDuringLoss > readsAtLoss, `the group consumer read during the quorum loss (${readsAtLoss} -> ${readsDuringLoss})`);
  assert.deepEqual(result.unread, [], 'the consumer read every offset up to the end');
  assert.deepEqual(result.lost, []);
  assert.deepEqual(result.duplicated, []);
  assert.deepEqual(result.reordered, []);
  assert.deepEqual(result.divergent, []);
  await cluster.close();
});

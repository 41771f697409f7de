// A leader SIGKILLed and started again at once, within its etcd session (issue #15/#16; the
// simulation's "a leader epoch never sees its high watermark move back, across restarts"):
// its old registration lives until the lease expires, and before the fix the new process led
// the partition again in the same leader epoch meanwhile, from its checkpointed high
// watermark. Kafka fences a new incarnation until the controller has elected again. Here a
// Fetch naming the old epoch is sent to the restarted broker from the moment it listens: it
// must never be served (NOT_LEADER_OR_FOLLOWER while it waits, FENCED_LEADER_EPOCH once a new
// epoch is elected), and the partition gets a new leader epoch, with every record still there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, ZERO_UUID } from '@tributary/protocol';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { startEtcd } from './etcd-kit.js';
import { createTopic, quietKafka, startBrokers, waitAllRegistered, waitIsr } from './workload.js';
import '../compat/kit.js';

const TOPIC = 'epochs';
const RECORDS = 10;
/** How long the new epoch may take: the old lease's expiry (the session) plus the controller's pass and the watch. */
const NEW_EPOCH_TIMEOUT_MS = 40_000;
/** broker.session.timeout.ms: the old registration lives this long after the kill. */
const SESSION_TIMEOUT_MS = 15_000;

async function partitionInfo(c: RawClient): Promise<{ leader: number; leaderEpoch: number }> {
  const md = await c.request('Metadata', 12, { topics: [{ topicId: ZERO_UUID, name: TOPIC }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
  const p = md.topics[0]!.partitions[0]!;
  return { leader: p.leaderId, leaderEpoch: p.leaderEpoch ?? -1 };
}

async function fetchIn(c: RawClient, leaderEpoch: number): Promise<{ errorCode: number; highWatermark: number }> {
  const r = await c.request('Fetch', 12, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, currentLeaderEpoch: leaderEpoch, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  const p = r.responses[0]!.partitions[0]!;
  return { errorCode: p.errorCode, highWatermark: Number(p.highWatermark) };
}

test('a leader restarted within its session never leads again in its old leader epoch', { timeout: 120_000 }, async (t) => {
  const etcd = await startEtcd(t);
  // A session long enough that the restarted process listens (loading the sources through tsx
  // takes seconds on a loaded machine) while its old registration still lives.
  const cluster = await startBrokers(t, { count: 3, etcdEndpoints: etcd.endpoints.join(','), config: { 'broker.session.timeout.ms': SESSION_TIMEOUT_MS, 'etcd.lease.fence.margin.ms': 2000 } });
  await waitAllRegistered(cluster.bootstrap(), 3);
  const admin = quietKafka('restart-epoch-admin', cluster.bootstrap()).admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await createTopic(admin, cluster.bootstrap(), TOPIC, 1, [[1, 2, 3]]);
  await waitIsr(cluster.bootstrap(), TOPIC, (p) => p.isr.length === 3, 20_000);
  const producer = quietKafka('restart-epoch-producer', cluster.bootstrap()).producer();
  await producer.connect();
  await producer.send({ topic: TOPIC, acks: -1, messages: Array.from({ length: RECORDS }, (_, i) => ({ partition: 0, value: `r${i}` })) });
  await producer.disconnect();

  const observer = await RawClient.open(cluster.brokers[1]!.port);
  t.after(() => observer.close());
  const before = await partitionInfo(observer);
  assert.equal(before.leader, 1);

  const victim = cluster.brokers[0]!;
  await victim.kill();
  // FaultBroker.start resolves once the broker has registered; the process listens before
  // that (its registration waits for the old lease to expire): connect as soon as it listens.
  const starting = victim.start();
  let restarted: RawClient | undefined;
  for (let i = 0; restarted === undefined; i++) {
    try {
      restarted = await RawClient.open(victim.port);
    } catch (err) {
      if (i > 600) throw err;
      await sleep(50);
    }
  }
  t.after(() => restarted.close());
  const answers = new Map<number, number>();
  const deadline = Date.now() + NEW_EPOCH_TIMEOUT_MS;
  let after = await partitionInfo(observer);
  for (;;) {
    const { errorCode } = await fetchIn(restarted, before.leaderEpoch);
    answers.set(errorCode, (answers.get(errorCode) ?? 0) + 1);
    after = await partitionInfo(observer);
    // Looked at until the new epoch is known and the restarted broker has seen it too.
    if (after.leaderEpoch > before.leaderEpoch && errorCode === ErrorCode.FENCED_LEADER_EPOCH) break;
    if (Date.now() > deadline) break;
    await sleep(50);
  }
  await starting;
  t.diagnostic(`old epoch ${before.leaderEpoch}, new leader ${after.leader} in epoch ${after.leaderEpoch}; answers to a fetch in the old epoch: ${JSON.stringify([...answers])}`);
  assert.equal(answers.get(ErrorCode.NONE) ?? 0, 0, 'the restarted broker never served the old leader epoch');
  assert.ok((answers.get(ErrorCode.NOT_LEADER_OR_FOLLOWER) ?? 0) > 0, 'the restarted broker listened while the old epoch was still the current one (else this run tested nothing)');
  assert.ok(after.leaderEpoch > before.leaderEpoch, `a new leader epoch (${after.leaderEpoch} after ${before.leaderEpoch})`);
  const leaderClient = after.leader === 1 ? restarted : await RawClient.open(cluster.brokers[after.leader - 1]!.port);
  if (leaderClient !== restarted) t.after(() => leaderClient.close());
  // The new leader's high watermark catches up as its followers fetch.
  let read = await fetchIn(leaderClient, after.leaderEpoch);
  for (let i = 0; i < 100 && read.highWatermark < RECORDS; i++) {
    await sleep(100);
    read = await fetchIn(leaderClient, after.leaderEpoch);
  }
  assert.equal(read.errorCode, ErrorCode.NONE);
  assert.equal(read.highWatermark, RECORDS, 'every acknowledged record is still there');
  await cluster.close();
});

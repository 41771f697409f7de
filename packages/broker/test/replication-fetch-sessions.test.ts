// Followers fetch in incremental fetch sessions (KIP-227), as Kafka's ReplicaFetcherThread:
// the leader holds one privileged session per follower; after the first full request each
// request lists only the partitions whose fetch state changed. A session the leader lost
// (evicted, or the leader restarted) is replaced by a full fetch, and nothing is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, encodeBatchSync, type ProduceResponse } from '@tributary/protocol';
import type { Log } from '@tributary/storage';
import { RawClient } from './helpers/raw-client.js';
import { TestCluster, waitFor } from './helpers/cluster.js';
import type { ReplicaFetcher, ReplicaFetcherManager, ReplicaFetcherStats } from '../src/replica/replica-fetcher.js';

const TOPIC = 'sessions';
const PARTITIONS = 3;
/** __consumer_offsets partitions on every broker (leader 1): idle partitions every session holds. */
const OFFSETS_PARTITIONS = 10;

async function client(t: { after(fn: () => unknown): void }, cluster: TestCluster, id: number): Promise<RawClient> {
  const c = await RawClient.open(cluster.broker(id).port);
  t.after(() => c.close());
  return c;
}

/** Every partition on brokers 1, 2, 3 with broker 1 leading. */
async function createTopic(c: RawClient, name = TOPIC): Promise<void> {
  const created = await c.request('CreateTopics', 7, {
    topics: [{ name, numPartitions: -1, replicationFactor: -1, assignments: Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({ partitionIndex, brokerIds: [1, 2, 3] })), configs: [{ name: 'min.insync.replicas', value: '2' }] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE, created.topics[0]!.errorMessage ?? '');
}

async function produce(c: RawClient, partition: number, values: string[], topic = TOPIC): Promise<number> {
  const now = Date.now();
  const records = encodeBatchSync({ baseOffset: 0, timestamp: now, records: values.map((v) => ({ key: null, value: Buffer.from(v), timestamp: now })) });
  const r: ProduceResponse = await c.request('Produce', 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] }, { timeoutMs: 15_000 });
  const p = r.responses[0]!.partitionResponses[0]!;
  assert.equal(p.errorCode, ErrorCode.NONE);
  return p.baseOffset;
}

function logBytes(log: Log): Buffer {
  const read = log.read(log.logStartOffset, 64 << 20, { maxOffset: log.logEndOffset });
  if (read.kind !== 'ok') throw new Error(`${log.topicPartition} read out of range`);
  return Buffer.concat(read.records);
}

function fetcher(cluster: TestCluster, id: number, leader: number): ReplicaFetcher {
  const manager = cluster.broker(id).services.replicaManager.replicaFetchers as ReplicaFetcherManager;
  const f = manager.fetcherFor(leader);
  assert.ok(f, `broker ${id} fetches from ${leader}`);
  return f;
}

async function allReplicasEqual(cluster: TestCluster, ids: number[], leader: number, counts: number[]): Promise<void> {
  for (let p = 0; p < PARTITIONS; p++) {
    const leaderLog = cluster.replica(leader, TOPIC, p).log;
    assert.equal(leaderLog.logEndOffset, counts[p], `partition ${p} holds every acknowledged record`);
    for (const id of ids) {
      const log = cluster.replica(id, TOPIC, p).log;
      await waitFor(`broker ${id} partition ${p} at high watermark ${counts[p]}`, 10_000, () => (log.logEndOffset === counts[p] && log.highWatermark === counts[p] ? true : undefined));
      assert.ok(logBytes(log).equals(logBytes(leaderLog)), `broker ${id} partition ${p} holds the leader's bytes`);
    }
  }
}

/** 3 brokers, the topic created on broker 1 with one record per partition, replicated to brokers 2 and 3. */
async function startReplicated(t: Parameters<typeof TestCluster.start>[0], overrides: Parameters<typeof TestCluster.start>[2]) {
  const cluster = await TestCluster.start(t, 3, overrides, { offsetsPartitions: OFFSETS_PARTITIONS });
  const c = await client(t, cluster, 1);
  await createTopic(c);
  const counts = [0, 0, 0];
  for (let p = 0; p < PARTITIONS; p++) counts[p] += (await produce(c, p, ['warm'])) === 0 ? 1 : 0;
  await allReplicasEqual(cluster, [2, 3], 1, counts);
  return { cluster, c, counts };
}

const delta = (a: ReplicaFetcherStats, b: ReplicaFetcherStats) => ({ requests: b.requests - a.requests, fullRequests: b.fullRequests - a.fullRequests, partitionsSent: b.partitionsSent - a.partitionsSent, sessionErrors: b.sessionErrors - a.sessionErrors });

test('followers fetch in privileged sessions listing only changed partitions; an evicted session is replaced by a full fetch and nothing is lost', { timeout: 60_000 }, async (t) => {
  const { cluster, c, counts } = await startReplicated(t, {});

  // Each follower holds one session on the leader: privileged, with every partition it follows.
  const sessions = cluster.broker(1).services.fetchSessions;
  for (const id of [2, 3]) {
    const f = fetcher(cluster, id, 1);
    const session = sessions.get(f.sessionId);
    assert.ok(session, `broker ${id}'s session ${f.sessionId} is on the leader`);
    assert.equal(session.privileged, true);
    assert.equal(session.partitions.size, PARTITIONS + OFFSETS_PARTITIONS);
  }

  // Records on partition 0 only: every request is incremental and lists at most that partition.
  const before = [2, 3].map((id) => ({ ...fetcher(cluster, id, 1).stats }));
  for (let i = 0; i < 20; i++) counts[0] += (await produce(c, 0, [`a${i}`, `b${i}`])) >= 0 ? 2 : 0;
  await allReplicasEqual(cluster, [2, 3], 1, counts);
  for (const [i, id] of [2, 3].entries()) {
    const d = delta(before[i]!, fetcher(cluster, id, 1).stats);
    assert.ok(d.requests >= 20, `broker ${id} sent ${d.requests} requests for 20 acks=all batches`);
    assert.equal(d.fullRequests, 0, `broker ${id} kept its session`);
    assert.ok(d.partitionsSent <= d.requests, `broker ${id} listed ${d.partitionsSent} partitions in ${d.requests} requests: only the one receiving records`);
  }

  // The leader loses both sessions (as an eviction does): the next incremental fetch is
  // answered FETCH_SESSION_ID_NOT_FOUND, the follower opens a new session with a full fetch,
  // and acks=all (which waits for both followers in the ISR) goes on.
  const lost = [2, 3].map((id) => fetcher(cluster, id, 1).sessionId);
  const beforeLoss = [2, 3].map((id) => ({ ...fetcher(cluster, id, 1).stats }));
  for (const id of lost) sessions.remove(id);
  for (let i = 0; i < 10; i++) counts[i % PARTITIONS] += (await produce(c, i % PARTITIONS, [`c${i}`])) >= 0 ? 1 : 0;
  await allReplicasEqual(cluster, [2, 3], 1, counts);
  for (const [i, id] of [2, 3].entries()) {
    const f = fetcher(cluster, id, 1);
    const d = delta(beforeLoss[i]!, f.stats);
    assert.ok(d.sessionErrors >= 1, `broker ${id} was told its session is gone`);
    assert.ok(d.fullRequests >= 1, `broker ${id} opened a new session with a full fetch`);
    assert.notEqual(f.sessionId, lost[i]);
    assert.equal(sessions.get(f.sessionId)?.partitions.size, PARTITIONS + OFFSETS_PARTITIONS);
  }
  assert.deepEqual([...cluster.isrOf(TOPIC)].sort(), [1, 2, 3]);

  // A topic created now joins the sessions: its partitions are added by incremental requests.
  const beforeAdd = [2, 3].map((id) => ({ ...fetcher(cluster, id, 1).stats }));
  await createTopic(c, 'added');
  for (let p = 0; p < PARTITIONS; p++) assert.equal(await produce(c, p, ['x', 'y'], 'added'), 0);
  for (const [i, id] of [2, 3].entries()) {
    const f = fetcher(cluster, id, 1);
    for (let p = 0; p < PARTITIONS; p++) {
      const log = cluster.replica(id, 'added', p).log;
      await waitFor(`broker ${id} added-${p} at 2`, 10_000, () => (log.highWatermark === 2 ? true : undefined));
      assert.ok(logBytes(log).equals(logBytes(cluster.replica(1, 'added', p).log)));
    }
    assert.equal(delta(beforeAdd[i]!, f.stats).fullRequests, 0, `broker ${id} added the partitions to its session`);
    assert.equal(sessions.get(f.sessionId)?.partitions.size, 2 * PARTITIONS + OFFSETS_PARTITIONS);
  }
});

test('a leader restart: the followers follow the new leader in a new session, the old leader comes back as a follower with one, and nothing acknowledged is lost', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3, {}, { offsetsPartitions: OFFSETS_PARTITIONS });
  await createTopic(await client(t, cluster, 1));
  const counts = [0, 0, 0];
  const c1 = await client(t, cluster, 1);
  for (let i = 0; i < 9; i++) counts[i % PARTITIONS] += (await produce(c1, i % PARTITIONS, [`a${i}`, `b${i}`])) >= 0 ? 2 : 0;
  await allReplicasEqual(cluster, [2, 3], 1, counts);

  // The leader stops (controlled shutdown): the controller elects another ISR member.
  await cluster.stopBroker(1);
  const next = await waitFor('a new leader', 10_000, () => {
    const ls = Array.from({ length: PARTITIONS }, (_, p) => cluster.leaderOf(TOPIC, p));
    return ls.every((l) => l >= 2) && new Set(ls).size === 1 ? ls[0] : undefined;
  });
  const other = next === 2 ? 3 : 2;
  const cn = await client(t, cluster, next);
  for (let i = 0; i < 9; i++) counts[i % PARTITIONS] += (await produce(cn, i % PARTITIONS, [`c${i}`])) >= 0 ? 1 : 0;
  await allReplicasEqual(cluster, [other], next, counts);
  assert.ok(cluster.broker(next).services.fetchSessions.get(fetcher(cluster, other, next).sessionId)?.privileged, 'the remaining follower fetches in a session on the new leader');

  // The old leader restarts as a follower of the new one, catches up in its own session.
  await cluster.startBroker(1);
  for (let i = 0; i < 9; i++) counts[i % PARTITIONS] += (await produce(cn, i % PARTITIONS, [`d${i}`])) >= 0 ? 1 : 0;
  await allReplicasEqual(cluster, [1, other], next, counts);
  const back = fetcher(cluster, 1, next);
  await waitFor('the old leader holds a session on the new leader', 10_000, () => (cluster.broker(next).services.fetchSessions.get(back.sessionId) ? true : undefined));
  assert.ok(back.stats.requests > back.stats.fullRequests, 'its later fetches are incremental');
});

test('consumers opening sessions on a full cache do not evict the followers\' sessions (Kafka\'s privileged sessions)', { timeout: 60_000 }, async (t) => {
  // Room for the two followers' sessions only.
  const { cluster, c, counts } = await startReplicated(t, { 'max.incremental.fetch.session.cache.slots': 2 });
  const sessions = cluster.broker(1).services.fetchSessions;
  const followerSessions = [2, 3].map((id) => fetcher(cluster, id, 1).sessionId);
  assert.ok(followerSessions.every((id) => sessions.get(id)?.privileged));
  const before = [2, 3].map((id) => ({ ...fetcher(cluster, id, 1).stats }));

  // Consumers ask for sessions (epoch 0): they fetch without one (session id 0), as in Kafka.
  for (let i = 0; i < 5; i++) {
    const consumer = await client(t, cluster, 1);
    const r = await consumer.request('Fetch', 12, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: 0,
      topics: [{ topic: TOPIC, partitions: Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 })) }],
      forgottenTopicsData: [], rackId: '',
    });
    assert.equal(r.errorCode, ErrorCode.NONE);
    assert.equal(r.sessionId, 0, 'no session for the consumer');
    assert.equal(r.responses[0]!.partitions.length, PARTITIONS, 'the consumer still gets its data');
  }
  for (let i = 0; i < 6; i++) counts[i % PARTITIONS] += (await produce(c, i % PARTITIONS, [`c${i}`])) >= 0 ? 1 : 0;
  await allReplicasEqual(cluster, [2, 3], 1, counts);
  for (const [i, id] of [2, 3].entries()) {
    assert.equal(fetcher(cluster, id, 1).sessionId, followerSessions[i], `broker ${id} kept its session`);
    assert.equal(delta(before[i]!, fetcher(cluster, id, 1).stats).fullRequests, 0);
  }
  assert.equal(sessions.size, 2);
});

// Replication in an in-process 3-broker cluster (test/helpers/cluster.ts): followers fetch
// from the leader, the high watermark moves with the ISR, acks=all waits for it, the ISR
// shrinks after replica.lag.time.max.ms (1 s here) and a restarted follower rejoins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, encodeBatchSync, type ProduceResponse } from '@tributary/protocol';
import type { Log } from '@tributary/storage';
import { RawClient } from './helpers/raw-client.js';
import { TestCluster, waitFor } from './helpers/cluster.js';
import { partitionForGroup } from '../src/group/partition-for.js';

async function client(t: { after(fn: () => unknown): void }, cluster: TestCluster, id: number): Promise<RawClient> {
  const c = await RawClient.open(cluster.broker(id).port);
  t.after(() => c.close());
  return c;
}

async function createTopic(c: RawClient, name: string, configs: Record<string, string> = {}, replicationFactor = 3): Promise<void> {
  const created = await c.request('CreateTopics', 7, {
    topics: [{ name, numPartitions: 1, replicationFactor, assignments: [], configs: Object.entries(configs).map(([k, value]) => ({ name: k, value })) }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE, created.topics[0]!.errorMessage ?? '');
}

function produce(c: RawClient, topic: string, acks: number, values: string[], timeoutMs = 10_000): Promise<ProduceResponse> {
  const now = Date.now();
  const records = encodeBatchSync({ baseOffset: 0, timestamp: now, records: values.map((v, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(v), timestamp: now })) });
  return c.request('Produce', 9, { transactionalId: null, acks, timeoutMs, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] }, { timeoutMs: timeoutMs + 5000 });
}

function partitionResult(r: ProduceResponse): { errorCode: number; baseOffset: number } {
  return r.responses[0]!.partitionResponses[0]!;
}

/** Every byte of the log from its start to its end. */
function logBytes(log: Log): Buffer {
  const read = log.read(log.logStartOffset, 64 << 20, { maxOffset: log.logEndOffset });
  if (read.kind !== 'ok') throw new Error(`${log.topicPartition} read out of range`);
  return Buffer.concat(read.records);
}

function followersOf(cluster: TestCluster, topic: string): number[] {
  const leader = cluster.leaderOf(topic);
  return [1, 2, 3].filter((id) => id !== leader);
}

test('acks=all records reach all three replicas with identical offsets and bytes; the high watermark follows', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3);
  await createTopic(await client(t, cluster, 1), 'replicated', { 'min.insync.replicas': '2' });
  const topic = cluster.metadata.topic('replicated')!;
  assert.equal(topic.partitions[0]!.replicas.length, 3);
  assert.deepEqual([...topic.partitions[0]!.isr].sort(), [1, 2, 3]);
  const leader = cluster.leaderOf('replicated');
  assert.equal(leader, topic.partitions[0]!.replicas[0], 'leader = first replica');
  const c = await client(t, cluster, leader);

  let next = 0;
  for (let i = 0; i < 20; i++) {
    const r = partitionResult(await produce(c, 'replicated', -1, [`a${i}`, `b${i}`, `c${i}`]));
    assert.equal(r.errorCode, ErrorCode.NONE);
    assert.equal(r.baseOffset, next);
    next += 3;
    // acks=all: answered only once the high watermark passed the batch.
    assert.ok(cluster.replica(leader, 'replicated').log.highWatermark >= next);
  }
  const expected = logBytes(cluster.replica(leader, 'replicated').log);
  for (const id of [1, 2, 3]) {
    const log = cluster.replica(id, 'replicated').log;
    await waitFor(`broker ${id} high watermark at ${next}`, 10_000, () => (log.logEndOffset === next && log.highWatermark === next ? true : undefined));
    assert.ok(logBytes(log).equals(expected), `broker ${id} holds the leader's bytes`);
  }
  // The followers answer consumers NOT_LEADER_OR_FOLLOWER, as Kafka without KIP-392.
  for (const id of followersOf(cluster, 'replicated')) {
    assert.equal(cluster.replica(id, 'replicated').role, 'follower');
    const r = partitionResult(await produce(await client(t, cluster, id), 'replicated', 1, ['x']));
    assert.equal(r.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  }
});

test('the high watermark waits for every ISR member; acks=all times out while a stopped follower is still in the ISR', { timeout: 60_000 }, async (t) => {
  // A long lag time: the stopped follower stays in the ISR for the whole test.
  const cluster = await TestCluster.start(t, 3, { 'replica.lag.time.max.ms': 60_000 });
  await createTopic(await client(t, cluster, 1), 'slow');
  const leader = cluster.leaderOf('slow');
  const [f1, f2] = followersOf(cluster, 'slow') as [number, number];
  const c = await client(t, cluster, leader);
  assert.equal(partitionResult(await produce(c, 'slow', -1, ['one'])).errorCode, ErrorCode.NONE);
  const leaderLog = cluster.replica(leader, 'slow').log;
  await waitFor('both followers at offset 1', 10_000, () => (cluster.replica(f1, 'slow').log.logEndOffset === 1 && cluster.replica(f2, 'slow').log.logEndOffset === 1 ? true : undefined));

  await cluster.stopBroker(f2);
  const r = partitionResult(await produce(c, 'slow', 1, ['two']));
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(r.baseOffset, 1);
  // f1 fetches the record, f2 cannot: the high watermark stays at 1.
  await waitFor(`broker ${f1} has offset 1`, 10_000, () => (cluster.replica(f1, 'slow').log.logEndOffset === 2 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(leaderLog.logEndOffset, 2);
  assert.equal(leaderLog.highWatermark, 1, 'the high watermark waits for the stopped ISR member');

  const timedOut = partitionResult(await produce(c, 'slow', -1, ['three'], 300));
  assert.equal(timedOut.errorCode, ErrorCode.REQUEST_TIMED_OUT);
  assert.equal(leaderLog.highWatermark, 1);
  assert.deepEqual([...cluster.isrOf('slow')].sort(), [1, 2, 3]);

  // The follower comes back, catches up, and the high watermark moves.
  await cluster.startBroker(f2);
  await waitFor('the high watermark at 3', 10_000, () => (leaderLog.highWatermark === 3 ? true : undefined));
  await waitFor(`broker ${f2} caught up`, 10_000, () => (cluster.replica(f2, 'slow').log.logEndOffset === 3 ? true : undefined));
  assert.ok(logBytes(cluster.replica(f2, 'slow').log).equals(logBytes(leaderLog)));
});

// A follower that stays registered but stops fetching (a paused process): a cleanly stopped
// one would leave the ISR at once through the controller's controlled shutdown, as in Kafka.
test('a follower that stops fetching leaves the ISR after replica.lag.time.max.ms; min.insync.replicas=3 then refuses acks=all; restarted, it catches up and rejoins', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3);
  await createTopic(await client(t, cluster, 1), 'isr', { 'min.insync.replicas': '3' });
  const leader = cluster.leaderOf('isr');
  const [, stopped] = followersOf(cluster, 'isr') as [number, number];
  const c = await client(t, cluster, leader);
  for (let i = 0; i < 5; i++) assert.equal(partitionResult(await produce(c, 'isr', -1, [`v${i}`])).errorCode, ErrorCode.NONE);

  cluster.broker(stopped).services.replicaManager.pauseFetching();
  const shrunkAt = Date.now();
  await waitFor('the ISR without the stopped follower', 10_000, () => (cluster.isrOf('isr').length === 2 ? true : undefined));
  assert.ok(!cluster.isrOf('isr').includes(stopped));
  assert.ok(cluster.isrOf('isr').includes(leader));
  assert.ok(Date.now() - shrunkAt >= 500, 'not before the lag time');

  const refused = partitionResult(await produce(c, 'isr', -1, ['refused']));
  assert.equal(refused.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS);
  const leaderLog = cluster.replica(leader, 'isr').log;
  assert.equal(leaderLog.logEndOffset, 5, 'NOT_ENOUGH_REPLICAS appends nothing');
  // acks=1 still works, and the two in-sync replicas commit it.
  assert.equal(partitionResult(await produce(c, 'isr', 1, ['while-away-1', 'while-away-2'])).errorCode, ErrorCode.NONE);
  await waitFor('the high watermark at 7', 10_000, () => (leaderLog.highWatermark === 7 ? true : undefined));

  await cluster.stopBroker(stopped);
  await cluster.startBroker(stopped);
  await waitFor('the restarted follower back in the ISR', 15_000, () => (cluster.isrOf('isr').includes(stopped) ? true : undefined));
  const back = cluster.replica(stopped, 'isr').log;
  await waitFor('the restarted follower caught up', 10_000, () => (back.logEndOffset === 7 ? true : undefined));
  assert.ok(logBytes(back).equals(logBytes(leaderLog)));
  const accepted = partitionResult(await produce(c, 'isr', -1, ['accepted']));
  assert.equal(accepted.errorCode, ErrorCode.NONE);
  assert.equal(accepted.baseOffset, 7);
});

test('acks=all waiting while the ISR shrinks below min.insync.replicas answers NOT_ENOUGH_REPLICAS_AFTER_APPEND', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3);
  await createTopic(await client(t, cluster, 1), 'after', { 'min.insync.replicas': '2' });
  const leader = cluster.leaderOf('after');
  const c = await client(t, cluster, leader);
  assert.equal(partitionResult(await produce(c, 'after', -1, ['first'])).errorCode, ErrorCode.NONE);
  // Both followers stop fetching but stay registered (a paused process), so still in the ISR.
  for (const id of followersOf(cluster, 'after')) cluster.broker(id).services.replicaManager.pauseFetching();
  // Both followers are silent but still in the ISR: the append is accepted, then waits; the
  // ISR shrinks to the leader alone, the high watermark passes the batch with one replica.
  const r = partitionResult(await produce(c, 'after', -1, ['second'], 20_000));
  assert.equal(r.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND);
  assert.deepEqual(cluster.isrOf('after'), [leader]);
  assert.equal(cluster.replica(leader, 'after').log.logEndOffset, 2);
});

test('partition-changed events move leadership: the old leader follows the new one; a replica dropped from the list stops fetching', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3);
  await createTopic(await client(t, cluster, 1), 'moving', { 'min.insync.replicas': '2' });
  const first = cluster.leaderOf('moving');
  const [second, third] = followersOf(cluster, 'moving') as [number, number];
  assert.equal(partitionResult(await produce(await client(t, cluster, first), 'moving', -1, ['a', 'b'])).errorCode, ErrorCode.NONE);
  await waitFor('every replica at offset 2', 10_000, () => ([1, 2, 3].every((id) => cluster.replica(id, 'moving').log.highWatermark === 2) ? true : undefined));

  // Whoever writes it (here the test, later the controller): a new leader in a new epoch.
  const before = cluster.metadata.topic('moving')!.partitions[0]!;
  await cluster.metadata.updatePartition({ topic: 'moving', partition: 0, expectedPartitionEpoch: before.partitionEpoch, leader: second, bumpLeaderEpoch: true });
  assert.equal(cluster.replica(second, 'moving').role, 'leader');
  assert.equal(cluster.replica(first, 'moving').role, 'follower');
  const old = partitionResult(await produce(await client(t, cluster, first), 'moving', -1, ['refused']));
  assert.equal(old.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  const r = partitionResult(await produce(await client(t, cluster, second), 'moving', -1, ['c']));
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(r.baseOffset, 2);
  const leaderLog = cluster.replica(second, 'moving').log;
  for (const id of [first, third]) {
    const log = cluster.replica(id, 'moving').log;
    await waitFor(`broker ${id} follows the new leader to offset 3`, 10_000, () => (log.highWatermark === 3 ? true : undefined));
    assert.ok(logBytes(log).equals(logBytes(leaderLog)));
  }

  // The third replica leaves the assignment: it stops fetching and keeps what it has.
  const now = cluster.metadata.topic('moving')!.partitions[0]!;
  await cluster.metadata.updatePartition({ topic: 'moving', partition: 0, expectedPartitionEpoch: now.partitionEpoch, replicas: [second, first], isr: [second, first] });
  assert.equal(cluster.replica(third, 'moving').role, 'none');
  assert.equal(partitionResult(await produce(await client(t, cluster, second), 'moving', -1, ['d'])).errorCode, ErrorCode.NONE);
  await waitFor(`broker ${first} at offset 4`, 10_000, () => (cluster.replica(first, 'moving').log.highWatermark === 4 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(cluster.replica(third, 'moving').log.logEndOffset, 3, 'a replica out of the list fetches no more');

  // Added back (as a reassignment does, outside the ISR): it fetches, catches up and joins the ISR.
  const later = cluster.metadata.topic('moving')!.partitions[0]!;
  await cluster.metadata.updatePartition({ topic: 'moving', partition: 0, expectedPartitionEpoch: later.partitionEpoch, replicas: [second, first, third] });
  assert.equal(cluster.replica(third, 'moving').role, 'follower');
  await waitFor(`broker ${third} back in the ISR`, 10_000, () => (cluster.isrOf('moving').includes(third) ? true : undefined));
  await waitFor(`broker ${third} at offset 4`, 10_000, () => (cluster.replica(third, 'moving').log.highWatermark === 4 ? true : undefined));
  assert.ok(logBytes(cluster.replica(third, 'moving').log).equals(logBytes(leaderLog)));
});

test('batches larger than replica.fetch.max.bytes replicate, on every partition of a fetcher', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3, { 'replica.fetch.max.bytes': 1024 });
  const c1 = await client(t, cluster, 1);
  const created = await c1.request('CreateTopics', 7, {
    topics: [{ name: 'big', numPartitions: -1, replicationFactor: -1, assignments: [0, 1, 2].map((partitionIndex) => ({ partitionIndex, brokerIds: [1, 2, 3] })), configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE, created.topics[0]!.errorMessage ?? '');
  // All three partitions led by broker 1: one fetcher per follower carries them all.
  const value = 'x'.repeat(8000);
  for (let round = 0; round < 3; round++) {
    for (let p = 0; p < 3; p++) {
      const now = Date.now();
      const records = encodeBatchSync({ baseOffset: 0, timestamp: now, records: [{ key: null, value: Buffer.from(`${p}:${round}:${value}`), timestamp: now }] });
      // acks=1: several partitions hold unreplicated batches at once.
      const r = await c1.request('Produce', 9, { transactionalId: null, acks: 1, timeoutMs: 10_000, topicData: [{ name: 'big', partitionData: [{ index: p, records }] }] }, { timeoutMs: 15_000 });
      assert.equal(r.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
    }
  }
  for (let p = 0; p < 3; p++) {
    const leaderLog = cluster.replica(1, 'big', p).log;
    for (const id of [2, 3]) {
      const log = cluster.replica(id, 'big', p).log;
      await waitFor(`broker ${id} big-${p} at 3`, 10_000, () => (log.highWatermark === 3 ? true : undefined));
      assert.ok(logBytes(log).equals(logBytes(leaderLog)));
    }
  }
});

test('__consumer_offsets replicates like any topic; a broker that becomes leader of its partition serves the group', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3, {}, { offsetsPartitions: 3 });
  const c1 = await client(t, cluster, 1);
  await createTopic(c1, 'data');
  const commit = await c1.request('OffsetCommit', 7, {
    groupId: 'g',
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [{ name: 'data', partitions: [{ partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: -1, committedMetadata: 'm' }] }],
  });
  assert.equal(commit.topics[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  const p = partitionForGroup('g', 3);
  // The commit was answered once every in-sync replica had it (acks=all for coordinator appends).
  const leaderLog = cluster.replica(1, '__consumer_offsets', p).log;
  assert.ok(leaderLog.logEndOffset > 0);
  assert.equal(leaderLog.highWatermark, leaderLog.logEndOffset);
  for (const id of [2, 3]) {
    const log = cluster.replica(id, '__consumer_offsets', p).log;
    await waitFor(`broker ${id} holds the commit`, 10_000, () => (log.logEndOffset === leaderLog.logEndOffset ? true : undefined));
    assert.ok(logBytes(log).equals(logBytes(leaderLog)));
  }

  // Leadership of the group's partition moves to broker 2: it loads the partition and serves the group.
  const state = cluster.metadata.topic('__consumer_offsets')!.partitions[p]!;
  await cluster.metadata.updatePartition({ topic: '__consumer_offsets', partition: p, expectedPartitionEpoch: state.partitionEpoch, leader: 2, bumpLeaderEpoch: true });
  const c2 = await client(t, cluster, 2);
  const fetched = await waitFor('broker 2 serves group g', 10_000, async () => {
    const r = await c2.request('OffsetFetch', 7, { groupId: 'g', topics: [{ name: 'data', partitionIndexes: [0] }], requireStable: false });
    return r.errorCode === ErrorCode.NONE ? r : undefined;
  });
  assert.equal(fetched.topics![0]!.partitions[0]!.committedOffset, 42);
  assert.equal(fetched.topics![0]!.partitions[0]!.metadata, 'm');
  const old = await c1.request('OffsetFetch', 7, { groupId: 'g', topics: [{ name: 'data', partitionIndexes: [0] }], requireStable: false });
  assert.equal(old.errorCode, ErrorCode.NOT_COORDINATOR, 'broker 1 no longer coordinates the group');
});

test('the leader reads a follower fetch (v15 ReplicaState) up to its log end and a consumer fetch up to the high watermark', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3, { 'replica.lag.time.max.ms': 60_000 });
  await createTopic(await client(t, cluster, 1), 'v15');
  const leader = cluster.leaderOf('v15');
  const [, stopped] = followersOf(cluster, 'v15') as [number, number];
  // Paused, not stopped: a clean stop would leave the ISR (controlled shutdown), and only an
  // ISR member that has not fetched holds the high watermark back.
  cluster.broker(stopped).services.replicaManager.pauseFetching();
  const c = await client(t, cluster, leader);
  assert.equal(partitionResult(await produce(c, 'v15', 1, ['x'])).errorCode, ErrorCode.NONE);
  const leaderLog = cluster.replica(leader, 'v15').log;
  assert.equal(leaderLog.highWatermark, 0, 'the stopped follower is still in the ISR');
  const topicId = cluster.metadata.topic('v15')!.topicId;
  const fetch = (replicaId: number, fetchOffset: number) =>
    c.request('Fetch', 15, {
      replicaState: { replicaId, replicaEpoch: -1 },
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
  const consumer = (await fetch(-1, 0)).responses[0]!.partitions[0]!;
  assert.equal(consumer.records?.length ?? 0, 0, 'a consumer reads only up to the high watermark');
  // The stopped follower's fetch, as it would send it: it gets the record beyond the high watermark.
  const asFollower = (await fetch(stopped, 0)).responses[0]!.partitions[0]!;
  assert.ok((asFollower.records?.length ?? 0) > 0);
  assert.equal(leaderLog.highWatermark, 0);
  assert.equal(cluster.replica(leader, 'v15').followerState(stopped)!.logEndOffset, 0);
  // Its next fetch, at offset 1, tells the leader it has the record: the high watermark moves.
  const next = (await fetch(stopped, 1)).responses[0]!.partitions[0]!;
  assert.equal(next.highWatermark, 1);
  assert.equal(leaderLog.highWatermark, 1);
});

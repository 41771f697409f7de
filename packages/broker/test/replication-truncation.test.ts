// Epoch-based truncation in an in-process 3-broker cluster (KIP-101/279 with Fetch v12's
// last_fetched_epoch and diverging_epoch): a replica whose log holds records the new leader
// never had removes exactly those, at the new leader's epoch boundary, and ends
// byte-identical to it; records below the boundary stay even above its high watermark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, encodeBatchSync, type ProduceResponse } from '@tributary/protocol';
import type { Log } from '@tributary/storage';
import { RawClient } from './helpers/raw-client.js';
import { TestCluster, waitFor } from './helpers/cluster.js';

/** Paused followers stay in the ISR for the whole test: a shrink would take away the leaders the tests elect. */
const CONFIG = { 'replica.lag.time.max.ms': 60_000 };

async function client(t: { after(fn: () => unknown): void }, cluster: TestCluster, id: number): Promise<RawClient> {
  const c = await RawClient.open(cluster.broker(id).port);
  t.after(() => c.close());
  return c;
}

async function createTopic(c: RawClient, name: string): Promise<void> {
  const created = await c.request('CreateTopics', 7, {
    topics: [{ name, numPartitions: 1, replicationFactor: 3, assignments: [], configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE, created.topics[0]!.errorMessage ?? '');
}

function produce(c: RawClient, topic: string, acks: number, values: string[]): Promise<ProduceResponse> {
  const now = Date.now();
  const records = encodeBatchSync({ baseOffset: 0, timestamp: now, records: values.map((v, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(v), timestamp: now })) });
  return c.request('Produce', 9, { transactionalId: null, acks, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] }, { timeoutMs: 15_000 });
}

async function produceOk(c: RawClient, topic: string, acks: number, values: string[]): Promise<number> {
  const r = (await produce(c, topic, acks, values)).responses[0]!.partitionResponses[0]!;
  assert.equal(r.errorCode, ErrorCode.NONE);
  return r.baseOffset;
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

/** Records every offset a log is truncated to. */
function spyTruncations(log: Log): number[] {
  const offsets: number[] = [];
  const original = log.truncateTo.bind(log);
  log.truncateTo = (offset: number) => {
    offsets.push(offset);
    original(offset);
  };
  return offsets;
}

async function waitForSameLog(cluster: TestCluster, topic: string, id: number, leader: number): Promise<void> {
  await waitFor(`broker ${id}'s log identical to leader ${leader}'s`, 15_000, () => {
    const mine = cluster.replica(id, topic).log;
    const theirs = cluster.replica(leader, topic).log;
    return mine.logEndOffset === theirs.logEndOffset && logBytes(mine).equals(logBytes(theirs)) ? true : undefined;
  });
}

test('a leader that comes back after being replaced truncates to the new leader\'s epoch boundary', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3, CONFIG);
  await createTopic(await client(t, cluster, 1), 'comeback');
  const old = cluster.leaderOf('comeback');
  const c = await client(t, cluster, old);
  await produceOk(c, 'comeback', -1, ['a', 'b']);
  await waitFor('every replica at high watermark 2', 10_000, () => ([1, 2, 3].every((id) => cluster.replica(id, 'comeback').log.highWatermark === 2) ? true : undefined));

  // The followers stop fetching but stay in the ISR: what the leader writes now never reaches it.
  for (const id of followersOf(cluster, 'comeback')) cluster.broker(id).services.replicaManager.pauseFetching();
  await produceOk(c, 'comeback', 1, ['lost-1', 'lost-2']);
  await produceOk(c, 'comeback', 1, ['lost-3']);
  const oldLog = cluster.replica(old, 'comeback').log;
  assert.equal(oldLog.logEndOffset, 5);
  assert.deepEqual(oldLog.leaderEpochCache.epochEntries(), [{ epoch: 0, startOffset: 0 }]);

  // The leader stops (controlled shutdown): the controller elects an ISR member in epoch 1.
  await cluster.stopBroker(old);
  const next = await waitFor('a new leader', 10_000, () => {
    const l = cluster.leaderOf('comeback');
    return l >= 0 && l !== old ? l : undefined;
  });
  assert.equal(cluster.metadata.topic('comeback')!.partitions[0]!.leaderEpoch, 1);
  const nc = await client(t, cluster, next);
  assert.equal(await produceOk(nc, 'comeback', -1, ['new-1', 'new-2']), 2, 'the new leader writes from the epoch boundary');
  const leaderLog = cluster.replica(next, 'comeback').log;
  assert.deepEqual(leaderLog.leaderEpochCache.epochEntries(), [{ epoch: 0, startOffset: 0 }, { epoch: 1, startOffset: 2 }]);

  // The old leader restarts as a follower: its divergent suffix goes, its log becomes the leader's.
  await cluster.startBroker(old);
  assert.equal(cluster.replica(old, 'comeback').role, 'follower');
  await waitForSameLog(cluster, 'comeback', old, next);
  const back = cluster.replica(old, 'comeback').log;
  assert.equal(back.logEndOffset, 4);
  assert.deepEqual(back.leaderEpochCache.epochEntries(), leaderLog.leaderEpochCache.epochEntries());
  assert.ok(!logBytes(back).includes(Buffer.from('lost-')), 'nothing of the divergent suffix is left');
  await waitFor('the old leader back in the ISR', 10_000, () => (cluster.isrOf('comeback').includes(old) ? true : undefined));
  for (const id of [1, 2, 3]) await waitForSameLog(cluster, 'comeback', id, next);
});

test('a follower with a longer log from an older epoch truncates exactly at the epoch boundary, not to its high watermark', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3, CONFIG);
  await createTopic(await client(t, cluster, 1), 'boundary');
  const old = cluster.leaderOf('boundary');
  const [next, lagging] = followersOf(cluster, 'boundary') as [number, number];
  const c = await client(t, cluster, old);
  await produceOk(c, 'boundary', -1, ['a', 'b']);
  await waitFor('every replica at high watermark 2', 10_000, () => ([1, 2, 3].every((id) => cluster.replica(id, 'boundary').log.highWatermark === 2) ? true : undefined));

  // `lagging` stops fetching (still in the ISR), so the high watermark stays at 2 while
  // `next` copies offsets 2-4; then `next` stops too and the leader alone writes 5-6.
  cluster.broker(lagging).services.replicaManager.pauseFetching();
  await produceOk(c, 'boundary', 1, ['shared-1', 'shared-2', 'shared-3']);
  await waitFor(`broker ${next} at offset 5`, 10_000, () => (cluster.replica(next, 'boundary').log.logEndOffset === 5 ? true : undefined));
  cluster.broker(next).services.replicaManager.pauseFetching();
  await produceOk(c, 'boundary', 1, ['only-old-1', 'only-old-2']);
  const oldLog = cluster.replica(old, 'boundary').log;
  assert.equal(oldLog.logEndOffset, 7);
  assert.equal(oldLog.highWatermark, 2, 'the paused follower holds the high watermark');
  const truncations = spyTruncations(oldLog);

  // `next` becomes leader in epoch 1 (as the controller would write it) and appends.
  const before = cluster.metadata.topic('boundary')!.partitions[0]!;
  await cluster.metadata.updatePartition({ topic: 'boundary', partition: 0, expectedPartitionEpoch: before.partitionEpoch, leader: next, bumpLeaderEpoch: true });
  assert.equal(cluster.replica(old, 'boundary').role, 'follower');
  assert.equal(oldLog.logEndOffset, 7, 'becoming follower with epochs truncates nothing by itself');
  assert.equal(await produceOk(await client(t, cluster, next), 'boundary', 1, ['new']), 5);

  await waitForSameLog(cluster, 'boundary', old, next);
  assert.deepEqual(truncations, [5], 'truncated once, at the end of epoch 0 in the new leader\'s log (not to the high watermark, 2)');
  const kept = logBytes(oldLog);
  assert.ok(kept.includes(Buffer.from('shared-3')) && !kept.includes(Buffer.from('only-old-')));
  await waitForSameLog(cluster, 'boundary', lagging, next);
});

test('the leader does not take a diverging follower\'s fetch offset as its log end offset (what the ISR and high watermark are computed from)', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3, CONFIG);
  await createTopic(await client(t, cluster, 1), 'counted');
  const leader = cluster.leaderOf('counted');
  const [other, away] = followersOf(cluster, 'counted') as [number, number];
  const c = await client(t, cluster, leader);
  await produceOk(c, 'counted', -1, ['a', 'b']);
  // A new epoch on the same leader, starting at 2; `away` catches up to it and stops
  // fetching. The leader then writes 2-3 in epoch 1.
  const before = cluster.metadata.topic('counted')!.partitions[0]!;
  await cluster.metadata.updatePartition({ topic: 'counted', partition: 0, expectedPartitionEpoch: before.partitionEpoch, leader, bumpLeaderEpoch: true });
  const partition = cluster.replica(leader, 'counted');
  await waitFor(`broker ${away} fetched at 2 in epoch 1`, 10_000, () => (partition.followerState(away)?.logEndOffset === 2 ? true : undefined));
  cluster.broker(away).services.replicaManager.pauseFetching();
  // Its last fetch may still be parked on the leader (replica.fetch.wait.max.ms): let it end.
  await new Promise((resolve) => setTimeout(resolve, 300));
  await produceOk(c, 'counted', 1, ['c', 'd']);
  assert.equal(partition.log.logEndOffset, 4);

  // `away`'s fetch as a log diverging from epoch 0 would send it: offset 3 in epoch 0, which ends at 2 here.
  const fetch = (fetchOffset: number, lastFetchedEpoch: number) =>
    c.request('Fetch', 12, {
      replicaId: away, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'counted', partitions: [{ partition: 0, currentLeaderEpoch: 1, fetchOffset, lastFetchedEpoch, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    });
  const diverging = (await fetch(3, 0)).responses[0]!.partitions[0]!;
  assert.deepEqual(diverging.divergingEpoch, { epoch: 0, endOffset: 2 });
  assert.equal(diverging.records?.length ?? 0, 0);
  assert.equal(partition.followerState(away)!.logEndOffset, 2, 'a diverging fetch offset is not taken as its log end offset');
  // Once it agrees (fetching at 4 with epoch 1), it counts again.
  const agreed = (await fetch(4, 1)).responses[0]!.partitions[0]!;
  assert.equal(agreed.divergingEpoch?.epoch ?? -1, -1);
  assert.equal(partition.followerState(away)!.logEndOffset, 4);
});

// A follower's incremental fetch session on the leader (handlers/fetch.ts quietRead): a
// session partition with nothing new since its last answer is not read again, yet what the
// follower observes is what a read would have answered (Kafka reads every session
// partition), and the leader still records the follower's fetch. Both followers are paused
// and their fetches played by hand, so every offset is known.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, encodeBatchSync, type FetchResponse } from '@tributary/protocol';
import { RawClient } from './helpers/raw-client.js';
import { TestCluster } from './helpers/cluster.js';

const TOPIC = 'quiet';

async function setup(t: { after(fn: () => unknown): void }) {
  const cluster = await TestCluster.start(t, 3, { 'replica.lag.time.max.ms': 60_000 });
  const c = await RawClient.open(cluster.broker(1).port);
  t.after(() => c.close());
  // Broker 1 leads both partitions; 2 and 3 follow.
  const created = await c.request('CreateTopics', 7, {
    topics: [{ name: TOPIC, numPartitions: -1, replicationFactor: -1, assignments: [0, 1].map((partitionIndex) => ({ partitionIndex, brokerIds: [1, 2, 3] })), configs: [] }],
    timeoutMs: 5000,
    validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  await waitUntil(() => cluster.metadata.topic(TOPIC)?.partitions.every((p) => p.leader === 1) === true && cluster.replica(1, TOPIC, 1).isLeader);
  for (const id of [2, 3]) cluster.broker(id).services.replicaManager.pauseFetching();
  const topicId = cluster.metadata.topic(TOPIC)!.topicId;
  const produce = async (partition: number, value: string) => {
    const now = Date.now();
    const records = encodeBatchSync({ baseOffset: 0, timestamp: now, records: [{ key: null, value: Buffer.from(value), timestamp: now }] });
    const r = await c.request('Produce', 9, { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: TOPIC, partitionData: [{ index: partition, records }] }] });
    assert.equal(r.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
  };
  /** A follower's Fetch v15, as replica-fetcher.ts sends it, with a session when asked. */
  const fetch = (replicaId: number, sessionId: number, sessionEpoch: number, partitions: { partition: number; fetchOffset: number }[]): Promise<FetchResponse> =>
    c.request('Fetch', 15, {
      replicaState: { replicaId, replicaEpoch: -1 },
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId,
      sessionEpoch,
      topics: partitions.length === 0 ? [] : [{ topicId, partitions: partitions.map((p) => ({ partition: p.partition, currentLeaderEpoch: -1, fetchOffset: p.fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 })) }],
      forgottenTopicsData: [],
      rackId: '',
    });
  return { cluster, produce, fetch };
}

async function waitUntil(probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('condition not reached in 10 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function answered(r: FetchResponse): Map<number, { highWatermark: number; records: number }> {
  assert.equal(r.errorCode, ErrorCode.NONE);
  return new Map((r.responses[0]?.partitions ?? []).map((p) => [p.partitionIndex, { highWatermark: p.highWatermark, records: p.records?.length ?? 0 }]));
}

test('an incremental follower fetch answers new data and a high watermark move on a partition it did not read since', { timeout: 60_000 }, async (t) => {
  const { cluster, produce, fetch } = await setup(t);
  await produce(1, 'a');

  // Follower 2 opens a session: partition 0 is empty (at its log end), partition 1 has a record.
  const first = await fetch(2, 0, 0, [{ partition: 0, fetchOffset: 0 }, { partition: 1, fetchOffset: 0 }]);
  const sessionId = first.sessionId ?? 0;
  assert.ok(sessionId > 0);
  assert.deepEqual([...answered(first)].map(([p, a]) => [p, a.highWatermark, a.records > 0]), [[0, 0, false], [1, 0, true]]);

  // It has the record now: partition 1 at its log end too. Nothing new: an empty answer.
  const caughtUp = await fetch(2, sessionId, 1, [{ partition: 1, fetchOffset: 1 }]);
  assert.deepEqual([...answered(caughtUp)], [], 'follower 3 has not fetched: the high watermark stays 0');
  const leader = cluster.replica(1, TOPIC, 1);
  const fetchedAt = leader.followerState(2)!.lastFetchTimeMs;

  // Nothing named, nothing moved: still empty, and the leader still records follower 2's fetch
  // of both partitions (its caught-up time keeps it in the ISR).
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual([...answered(await fetch(2, sessionId, 2, []))], []);
  assert.ok(leader.followerState(2)!.lastFetchTimeMs > fetchedAt, 'the unread partition still counts as fetched');
  assert.equal(leader.followerState(2)!.logEndOffset, 1);

  // Follower 3 catches up on partition 1 (sessionless): the high watermark moves to 1 with no
  // new data. Follower 2's next incremental fetch names nothing, and still hears of it.
  await fetch(3, 0, -1, [{ partition: 1, fetchOffset: 1 }]);
  assert.equal(leader.log.highWatermark, 1);
  assert.deepEqual([...answered(await fetch(2, sessionId, 3, []))].map(([p, a]) => [p, a.highWatermark, a.records]), [[1, 1, 0]]);
  assert.deepEqual([...answered(await fetch(2, sessionId, 4, []))], [], 'told once');

  // New data on partition 0, which follower 2 has not named since the session opened.
  await produce(0, 'b');
  assert.deepEqual([...answered(await fetch(2, sessionId, 5, []))].map(([p, a]) => [p, a.records > 0]), [[0, true]]);
});

test('a follower session partition is read again once leadership changes', { timeout: 60_000 }, async (t) => {
  const { cluster, fetch } = await setup(t);
  const first = await fetch(2, 0, 0, [{ partition: 0, fetchOffset: 0 }]);
  const sessionId = first.sessionId ?? 0;
  assert.deepEqual([...answered(await fetch(2, sessionId, 1, []))], []);
  // Broker 1 stops leading partition 0 (the controller elects 2 while 1 stays up): the
  // session's next fetch must answer NOT_LEADER_OR_FOLLOWER (or a fenced epoch), not nothing.
  const state = cluster.metadata.topic(TOPIC)!.partitions[0]!;
  await cluster.metadata.updatePartition({ topic: TOPIC, partition: 0, expectedPartitionEpoch: state.partitionEpoch, leader: 2, bumpLeaderEpoch: true });
  await waitUntil(() => !cluster.replica(1, TOPIC, 0).isLeader);
  const after = await fetch(2, sessionId, 2, []);
  assert.equal(after.errorCode, ErrorCode.NONE);
  const p0 = after.responses[0]?.partitions[0];
  assert.ok(p0 !== undefined, 'the partition is answered');
  assert.equal(p0.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
});

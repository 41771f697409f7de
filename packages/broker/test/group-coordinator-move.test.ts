// A group whose coordinator moves (the leader of its `__consumer_offsets` partition changes,
// by election or by a reassignment that drains the old leader) keeps its generation: the new
// coordinator loads the group Stable from the log, as Kafka's does, and a member heartbeating
// across the move is answered NONE (COORDINATOR_LOAD_IN_PROGRESS is answered NONE too;
// NOT_COORDINATOR only by a broker that no longer coordinates it), never ILLEGAL_GENERATION.
// In-process 3-broker cluster, raw protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@tributary/protocol';
import { RawClient } from './helpers/raw-client.js';
import { TestCluster, waitFor } from './helpers/cluster.js';
import type { TestContext } from './helpers/broker.js';

const OFFSETS_PARTITIONS = 3;
const GROUP = 'moving-group';

function subscription(topics: string[]): Buffer {
  // ConsumerProtocolSubscription v0: version, topics, user data (null).
  const parts: Buffer[] = [Buffer.from([0, 0]), Buffer.alloc(4)];
  parts[1]!.writeInt32BE(topics.length);
  for (const t of topics) {
    const len = Buffer.alloc(2);
    len.writeInt16BE(Buffer.byteLength(t));
    parts.push(len, Buffer.from(t));
  }
  parts.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  return Buffer.concat(parts);
}

interface Member {
  memberId: string;
  generationId: number;
}

/** Joins (or, with `memberId`, rejoins: the leader's JoinGroup starts a new generation) and syncs. */
async function joinAndSync(c: RawClient, memberId?: string): Promise<Member> {
  const req = { groupId: GROUP, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: subscription(['t']) }] };
  if (memberId === undefined) {
    const first = await c.request('JoinGroup', 5, req);
    assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    memberId = first.memberId;
  }
  const joined = await c.request('JoinGroup', 5, { ...req, memberId });
  assert.equal(joined.errorCode, ErrorCode.NONE);
  const synced = await c.request('SyncGroup', 3, { groupId: GROUP, generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null, assignments: [{ memberId: joined.memberId, assignment: Buffer.from([0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]) }] });
  assert.equal(synced.errorCode, ErrorCode.NONE);
  return { memberId: joined.memberId, generationId: joined.generationId };
}

async function heartbeat(c: RawClient, m: Member): Promise<number> {
  const r = await c.request('Heartbeat', 3, { groupId: GROUP, generationId: m.generationId, memberId: m.memberId, groupInstanceId: null });
  return r.errorCode;
}

async function clientOf(t: TestContext, cluster: TestCluster, id: number): Promise<RawClient> {
  const c = await RawClient.open(cluster.broker(id).port);
  t.after(() => c.close());
  return c;
}

/** Heartbeats to `id` until it coordinates the group again (NOT_COORDINATOR while it does not); returns the first other answer. */
async function heartbeatUntilCoordinator(c: RawClient, m: Member): Promise<number> {
  return waitFor('the new coordinator to answer', 10_000, async () => {
    const code = await heartbeat(c, m);
    return code === ErrorCode.NOT_COORDINATOR ? undefined : code;
  });
}

test('a member keeps its generation when its group coordinator moves by leader election, and back', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3, {}, { offsetsPartitions: OFFSETS_PARTITIONS });
  const partition = cluster.broker(1).services.groupCoordinator.partitionFor(GROUP);
  const c1 = await clientOf(t, cluster, 1);
  const c2 = await clientOf(t, cluster, 2);
  await waitFor('broker 1 coordinates', 10_000, async () => ((await c1.request('FindCoordinator', 3, { key: GROUP, keyType: 0 })).nodeId === 1 ? true : undefined));
  const member = await joinAndSync(c1);
  assert.equal(await heartbeat(c1, member), ErrorCode.NONE);

  const move = async (leader: number): Promise<void> => {
    const state = cluster.metadata.topic('__consumer_offsets')!.partitions[partition]!;
    await cluster.metadata.updatePartition({ topic: '__consumer_offsets', partition, expectedPartitionEpoch: state.partitionEpoch, leader, bumpLeaderEpoch: true });
  };
  await move(2);
  assert.equal(await heartbeatUntilCoordinator(c2, member), ErrorCode.NONE, 'the new coordinator knows the member at its generation');
  assert.equal(await heartbeat(c1, member), ErrorCode.NOT_COORDINATOR, 'the old coordinator sends the member on');

  // A new generation at broker 2, then the coordinator moves back to broker 1, which
  // coordinated the group before: it must load the new generation, not keep the old one.
  const again = await joinAndSync(c2, member.memberId);
  assert.ok(again.generationId > member.generationId, `generation ${again.generationId} after ${member.generationId}`);
  await move(1);
  assert.equal(await heartbeatUntilCoordinator(c1, again), ErrorCode.NONE, 'the returning coordinator has the latest generation');
});

test('a member keeps its generation when a drain moves its group coordinator (reassignment removes the leader)', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3, {}, { offsetsPartitions: OFFSETS_PARTITIONS });
  const partition = cluster.broker(1).services.groupCoordinator.partitionFor(GROUP);
  const c1 = await clientOf(t, cluster, 1);
  await waitFor('broker 1 coordinates', 10_000, async () => ((await c1.request('FindCoordinator', 3, { key: GROUP, keyType: 0 })).nodeId === 1 ? true : undefined));
  const member = await joinAndSync(c1);
  const admin = await clientOf(t, cluster, 2);
  const r = await admin.request('AlterPartitionReassignments', 0, { timeoutMs: 10_000, topics: [{ name: '__consumer_offsets', partitions: [{ partitionIndex: partition, replicas: [2, 3] }] }] });
  assert.equal(r.errorCode, ErrorCode.NONE, JSON.stringify(r));
  await waitFor('broker 1 drained', 10_000, () => (cluster.metadata.topic('__consumer_offsets')!.partitions[partition]!.replicas.includes(1) ? undefined : true));
  const leader = cluster.leaderOf('__consumer_offsets', partition);
  assert.notEqual(leader, 1);
  const found = await c1.request('FindCoordinator', 3, { key: GROUP, keyType: 0 });
  assert.equal(found.nodeId, leader);
  const cNew = await clientOf(t, cluster, leader);
  assert.equal(await heartbeatUntilCoordinator(cNew, member), ErrorCode.NONE, 'the new coordinator knows the member at its generation');
});

// What KafkaJS met in test/cluster/reassign-fourth-broker.test.ts: after a Fetch answered
// NOT_LEADER_OR_FOLLOWER it rejoins (ConsumerGroup.recoverFromFetch); the leader's JoinGroup in
// a Stable group starts a new generation (Kafka's GroupCoordinator: "force a rebalance if the
// leader sends JoinGroup"), and a Heartbeat or OffsetCommit still carrying the old generation
// is answered ILLEGAL_GENERATION, by Kafka as here.
test('the leader rejoining a Stable group starts a new generation; the old one is ILLEGAL_GENERATION', { timeout: 60_000 }, async (t) => {
  const cluster = await TestCluster.start(t, 3, {}, { offsetsPartitions: OFFSETS_PARTITIONS });
  const c1 = await clientOf(t, cluster, 1);
  await waitFor('broker 1 coordinates', 10_000, async () => ((await c1.request('FindCoordinator', 3, { key: GROUP, keyType: 0 })).nodeId === 1 ? true : undefined));
  const before = await joinAndSync(c1);
  const after = await joinAndSync(c1, before.memberId);
  assert.equal(after.generationId, before.generationId + 1);
  assert.equal(await heartbeat(c1, before), ErrorCode.ILLEGAL_GENERATION);
  const commit = await c1.request('OffsetCommit', 5, { groupId: GROUP, generationIdOrMemberEpoch: before.generationId, memberId: before.memberId, groupInstanceId: null, topics: [{ name: '__consumer_offsets', partitions: [{ partitionIndex: 0, committedOffset: 0, committedMetadata: null }] }] });
  assert.equal(commit.topics[0]!.partitions[0]!.errorCode, ErrorCode.ILLEGAL_GENERATION);
  assert.equal(await heartbeat(c1, after), ErrorCode.NONE);
});

// Committed offsets: commit validation, fetch, durability, replay, expiry, deletes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@tributary/protocol';
import {
  decodeCoordinatorRecord,
  GroupState,
  type OffsetCommitParams,
} from '../src/group/index.js';
import { MemoryCoordinatorLog } from './helpers/memory-coordinator-log.js';
import { ManualScheduler } from './helpers/manual-scheduler.js';
import { flush, formGroup, harness, joinParams, subscription } from './group-helpers.js';

function commit(groupId: string, offsets: [string, number, number][], over: Partial<OffsetCommitParams> = {}): OffsetCommitParams {
  const topics = new Map<string, OffsetCommitParams['topics'][number]>();
  for (const [name, partitionIndex, committedOffset] of offsets) {
    if (!topics.has(name)) topics.set(name, { name, partitions: [] });
    topics.get(name)!.partitions.push({ partitionIndex, committedOffset, committedLeaderEpoch: 5, commitTimestamp: -1, committedMetadata: 'm' });
  }
  return { groupId, generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, apiVersion: 8, topics: [...topics.values()], ...over };
}

function errors(r: { partitions: { errorCode: number }[] }[]): number[] {
  return r.flatMap((t) => t.partitions.map((p) => p.errorCode));
}

test('simple commit to an unknown group creates it; fetch returns offset, epoch and metadata', async () => {
  const h = await harness();
  assert.deepEqual(errors(await h.coordinator.commitOffsets(commit('simple', [['t', 0, 42], ['t', 1, 7], ['u', 0, 1]]))), [0, 0, 0]);
  const f = h.coordinator.fetchOffsets('simple', [{ name: 't', partitionIndexes: [0, 1, 2] }], false);
  assert.equal(f.errorCode, ErrorCode.NONE);
  assert.deepEqual(f.topics[0]!.partitions, [
    { partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: 5, metadata: 'm', errorCode: 0 },
    { partitionIndex: 1, committedOffset: 7, committedLeaderEpoch: 5, metadata: 'm', errorCode: 0 },
    { partitionIndex: 2, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: 0 },
  ]);
  const all = h.coordinator.fetchOffsets('simple', null, false);
  assert.deepEqual(all.topics.map((t) => [t.name, t.partitions.length]), [['t', 2], ['u', 1]]);
  // A group that does not exist has no offsets, which is not an error.
  assert.equal(h.coordinator.fetchOffsets('nobody', [{ name: 't', partitionIndexes: [0] }], false).topics[0]!.partitions[0]!.committedOffset, -1);
  assert.equal(h.coordinator.fetchOffsets('nobody', null, false).topics.length, 0);
  // The empty group id is allowed for commits and fetches (old clients).
  assert.deepEqual(errors(await h.coordinator.commitOffsets(commit('', [['t', 0, 1]]))), [0]);
  assert.equal(h.coordinator.groupState('simple'), GroupState.Empty);
});

test('member commits are validated: generation, member id, rebalance state, unknown group', async () => {
  const h = await harness();
  const [m] = await formGroup(h, 'g', 1);
  const as = (over: Partial<OffsetCommitParams>) => h.coordinator.commitOffsets(commit('g', [['orders', 0, 10]], over));
  assert.deepEqual(errors(await as({ generationId: 1, memberId: m!.memberId })), [ErrorCode.NONE]);
  assert.deepEqual(errors(await as({ generationId: 0, memberId: m!.memberId })), [ErrorCode.ILLEGAL_GENERATION]);
  assert.deepEqual(errors(await as({ generationId: 1, memberId: 'ghost' })), [ErrorCode.UNKNOWN_MEMBER_ID]);
  // A simple commit while the group has members is refused.
  assert.deepEqual(errors(await as({})), [ErrorCode.UNKNOWN_MEMBER_ID]);
  // Member commit to a group that does not exist: ILLEGAL_GENERATION before v9, GROUP_ID_NOT_FOUND in v9.
  assert.deepEqual(errors(await h.coordinator.commitOffsets(commit('gone', [['t', 0, 1]], { generationId: 3, memberId: 'x', apiVersion: 8 }))), [ErrorCode.ILLEGAL_GENERATION]);
  assert.deepEqual(errors(await h.coordinator.commitOffsets(commit('gone', [['t', 0, 1]], { generationId: 3, memberId: 'x', apiVersion: 9 }))), [ErrorCode.GROUP_ID_NOT_FOUND]);
  // CompletingRebalance: REBALANCE_IN_PROGRESS for the current generation.
  const r = await h.coordinator.joinGroup(joinParams('g', { memberId: m!.memberId }));
  assert.equal(h.coordinator.groupState('g'), GroupState.CompletingRebalance);
  assert.deepEqual(errors(await as({ generationId: r.generationId, memberId: m!.memberId })), [ErrorCode.REBALANCE_IN_PROGRESS]);
  assert.equal((await h.coordinator.commitOffsets(commit('x', [['t', 0, 1]]))).length, 1);
});

test('metadata over offset.metadata.max.bytes fails only that partition', async () => {
  const h = await harness({ offsetMetadataMaxBytes: 10 });
  const p = commit('g', [['t', 0, 1], ['t', 1, 2]]);
  p.topics[0]!.partitions[1]!.committedMetadata = 'x'.repeat(11);
  assert.deepEqual(errors(await h.coordinator.commitOffsets(p)), [ErrorCode.NONE, ErrorCode.OFFSET_METADATA_TOO_LARGE]);
  assert.equal(h.coordinator.fetchOffsets('g', [{ name: 't', partitionIndexes: [1] }], false).topics[0]!.partitions[0]!.committedOffset, -1);
});

test('a commit is answered and visible only once durable; RequireStable sees UNSTABLE_OFFSET_COMMIT meanwhile', async () => {
  const h = await harness();
  await h.coordinator.commitOffsets(commit('g', [['t', 0, 1]]));
  h.log.holdAppends();
  let answered = false;
  const pending = h.coordinator.commitOffsets(commit('g', [['t', 0, 2]])).then((r) => {
    answered = true;
    return r;
  });
  await flush();
  assert.equal(answered, false);
  assert.equal(h.coordinator.fetchOffsets('g', [{ name: 't', partitionIndexes: [0] }], false).topics[0]!.partitions[0]!.committedOffset, 1);
  assert.equal(h.coordinator.fetchOffsets('g', [{ name: 't', partitionIndexes: [0] }], true).topics[0]!.partitions[0]!.errorCode, ErrorCode.UNSTABLE_OFFSET_COMMIT);
  h.log.releaseAppends();
  assert.deepEqual(errors(await pending), [0]);
  assert.equal(h.coordinator.fetchOffsets('g', [{ name: 't', partitionIndexes: [0] }], true).topics[0]!.partitions[0]!.committedOffset, 2);
});

test('append failures map to coordinator errors and leave the old offset', async () => {
  const h = await harness();
  await h.coordinator.commitOffsets(commit('g', [['t', 0, 1]]));
  h.log.failNextAppends(1, Object.assign(new Error('not leader'), { errorCode: 6 }));
  assert.deepEqual(errors(await h.coordinator.commitOffsets(commit('g', [['t', 0, 2]]))), [ErrorCode.NOT_COORDINATOR]);
  h.log.failNextAppends(1, Object.assign(new Error('too big'), { errorCode: 10 }));
  assert.deepEqual(errors(await h.coordinator.commitOffsets(commit('g', [['t', 0, 3]]))), [ErrorCode.INVALID_COMMIT_OFFSET_SIZE]);
  h.log.failNextAppends(1, new Error('EIO'));
  assert.deepEqual(errors(await h.coordinator.commitOffsets(commit('g', [['t', 0, 4]]))), [ErrorCode.NOT_COORDINATOR]);
  assert.equal(h.coordinator.fetchOffsets('g', [{ name: 't', partitionIndexes: [0] }], false).topics[0]!.partitions[0]!.committedOffset, 1);
});

test('records are written in Kafka formats to the group partition', async () => {
  const h = await harness();
  await formGroup(h, 'g', 2);
  const part = h.coordinator.partitionFor('g');
  const recs = h.log.records(part);
  const groupRecs = recs.filter((r) => decodeCoordinatorRecord(r.key, r.value).type === 'group');
  assert.equal(groupRecs.length, 1);
  assert.equal(groupRecs[0]!.key.readInt16BE(0), 2);
  assert.equal(groupRecs[0]!.value!.readInt16BE(0), 3);
  const decoded = decodeCoordinatorRecord(groupRecs[0]!.key, groupRecs[0]!.value);
  assert.ok(decoded.type === 'group' && decoded.value !== null);
  const v = decoded.value;
  assert.equal(v.protocolType, 'consumer');
  assert.equal(v.generation, 1);
  assert.equal(v.protocol, 'range');
  assert.equal(v.members.length, 2);
  assert.ok(v.members.every((m) => m.assignment.toString().startsWith('assign-')));
  await h.coordinator.commitOffsets(commit('g2', [['t', 3, 99]], { retentionTimeMs: 60_000 }));
  const off = h.log.records(h.coordinator.partitionFor('g2')).filter((r) => decodeCoordinatorRecord(r.key, r.value).type === 'offset').at(-1)!;
  assert.equal(off.key.readInt16BE(0), 1);
  assert.equal(off.value!.readInt16BE(0), 1, 'an explicit retention writes value v1 with the expire timestamp');
  const offDecoded = decodeCoordinatorRecord(off.key, off.value);
  assert.ok(offDecoded.type === 'offset');
  assert.equal(offDecoded.value?.expireTimestamp, h.clock.now() + 60_000);
});

test('replay restores offsets and group metadata; members must heartbeat again', async () => {
  const log = new MemoryCoordinatorLog();
  const h1 = await harness({}, log);
  const members = await formGroup(h1, 'g', 2);
  await h1.coordinator.commitOffsets(commit('g', [['orders', 0, 5]], { generationId: 1, memberId: members[0]!.memberId }));
  await h1.coordinator.commitOffsets(commit('simple', [['t', 0, 9], ['t', 1, 10]]));
  await h1.coordinator.deleteOffsets('simple', [{ name: 't', partitions: [1] }]);
  h1.coordinator.shutdown();

  const h2 = await harness({}, log, new ManualScheduler(h1.clock.now()));
  assert.equal(h2.coordinator.groupState('g'), GroupState.Stable);
  assert.equal(h2.coordinator.groupState('simple'), GroupState.Empty);
  assert.equal(h2.coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [0] }], false).topics[0]!.partitions[0]!.committedOffset, 5);
  const s = h2.coordinator.fetchOffsets('simple', null, false);
  assert.deepEqual(s.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset]), [[0, 9]]);
  const d = h2.coordinator.describeGroups(['g'])[0]!;
  assert.equal(d.protocolData, 'range');
  assert.deepEqual(new Set(d.members.map((m) => m.memberId)), new Set(members.map((m) => m.memberId)));
  assert.ok(d.members.every((m) => m.memberAssignment.toString() === `assign-${m.memberId}`));
  // The loaded members heartbeat with their old generation; the leader stays leader.
  for (const m of members) assert.equal(h2.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: m.memberId, groupInstanceId: null }), ErrorCode.NONE);
  // Nobody heartbeats any more: after the session timeout both are removed, the group empties.
  h2.clock.advance(10_001);
  await flush();
  assert.equal(h2.coordinator.groupState('g'), GroupState.Empty);
});

test('requests for a partition being loaded get COORDINATOR_LOAD_IN_PROGRESS; unowned partitions NOT_COORDINATOR', async () => {
  const log = new MemoryCoordinatorLog();
  const { GroupCoordinator } = await import('../src/group/index.js');
  const c = new GroupCoordinator({ log, scheduler: new ManualScheduler(), config: { offsetsTopicNumPartitions: 2 } });
  c.activate();
  const p = c.partitionFor('g');
  assert.equal(c.fetchOffsets('g', null, false).errorCode, ErrorCode.NOT_COORDINATOR);
  const loading = c.loadPartition(p);
  assert.equal(c.fetchOffsets('g', null, false).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  assert.equal(c.heartbeat({ groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }), ErrorCode.NONE);
  assert.equal((await c.syncGroup({ groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] })).errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  await loading;
  assert.equal(c.fetchOffsets('g', null, false).errorCode, ErrorCode.NONE);
});

test('offsets of a simple group expire by commit time; the expired group dies', async () => {
  const h = await harness({ offsetsRetentionMs: 60_000, offsetsRetentionCheckIntervalMs: 10_000 });
  await h.coordinator.commitOffsets(commit('s', [['t', 0, 1]]));
  h.clock.advance(30_000);
  await h.coordinator.commitOffsets(commit('s', [['t', 1, 2]]));
  h.clock.advance(30_000);
  await flush();
  // t-0 is 60 s old (expired), t-1 30 s.
  assert.deepEqual(h.coordinator.fetchOffsets('s', null, false).topics[0]!.partitions.map((p) => p.partitionIndex), [1]);
  const tomb = h.log.records(h.coordinator.partitionFor('s')).filter((r) => r.value === null);
  assert.equal(tomb.length, 1);
  h.clock.advance(30_000);
  await flush();
  assert.equal(h.coordinator.groupState('s'), null);
});

test('offsets of a consumer group expire once the group has been Empty for the retention period', async () => {
  const h = await harness({ offsetsRetentionMs: 60_000, offsetsRetentionCheckIntervalMs: 10_000 });
  const [m] = await formGroup(h, 'g', 1);
  await h.coordinator.commitOffsets(commit('g', [['orders', 0, 5], ['old-topic', 0, 3]], { generationId: 1, memberId: m!.memberId }));
  // While Stable, offsets of subscribed topics never expire; those of other topics do (commit time).
  for (let t = 0; t < 70_000; t += 5_000) {
    h.clock.advance(5_000);
    h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: m!.memberId, groupInstanceId: null });
  }
  await flush();
  assert.deepEqual(h.coordinator.fetchOffsets('g', null, false).topics.map((t) => t.name), ['orders']);
  h.coordinator.leaveGroup('g', [{ memberId: m!.memberId, groupInstanceId: null, reason: null }]);
  await flush();
  assert.equal(h.coordinator.groupState('g'), GroupState.Empty);
  h.clock.advance(50_000);
  await flush();
  assert.equal(h.coordinator.fetchOffsets('g', null, false).topics.length, 1, 'not yet: empty for 50 s');
  h.clock.advance(20_000);
  await flush();
  assert.equal(h.coordinator.groupState('g'), null, 'expired and dead');
  const keys = h.log.records(h.coordinator.partitionFor('g')).filter((r) => r.value === null).map((r) => decodeCoordinatorRecord(r.key, r.value).type);
  assert.deepEqual(keys.sort(), ['group', 'offset', 'offset']);
});

test('DeleteGroups: NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, and tombstones for an empty group', async () => {
  const h = await harness();
  const [m] = await formGroup(h, 'busy', 1);
  await h.coordinator.commitOffsets(commit('idle', [['t', 0, 1], ['t', 1, 1]]));
  const r = await h.coordinator.deleteGroups(['busy', 'idle', 'nope', 'idle']);
  assert.deepEqual(r, [
    { groupId: 'busy', errorCode: ErrorCode.NON_EMPTY_GROUP },
    { groupId: 'idle', errorCode: ErrorCode.NONE },
    { groupId: 'nope', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
  ]);
  assert.equal(h.coordinator.fetchOffsets('idle', null, false).topics.length, 0);
  assert.equal(h.coordinator.describeGroups(['idle'])[0]!.groupState, 'Dead');
  // After the member leaves, the group with generation > 0 is deleted with a metadata tombstone.
  h.coordinator.leaveGroup('busy', [{ memberId: m!.memberId, groupInstanceId: null, reason: null }]);
  await flush();
  assert.deepEqual(await h.coordinator.deleteGroups(['busy']), [{ groupId: 'busy', errorCode: ErrorCode.NONE }]);
  const last = h.log.records(h.coordinator.partitionFor('busy')).at(-1)!;
  assert.equal(decodeCoordinatorRecord(last.key, last.value).type, 'group');
  assert.equal(last.value, null);
  // Replay after deletion: nothing comes back.
  const h2 = await harness({}, h.log);
  assert.equal(h2.coordinator.groupState('busy'), null);
  assert.equal(h2.coordinator.groupState('idle'), null);
});

test('OffsetDelete: subscribed topics are protected in a consumer group with members', async () => {
  const h = await harness();
  const [m] = await formGroup(h, 'g', 1, { protocols: [{ name: 'range', metadata: subscription(['orders']) }] });
  await h.coordinator.commitOffsets(commit('g', [['orders', 0, 1], ['other', 0, 2]], { generationId: 1, memberId: m!.memberId }));
  const r = await h.coordinator.deleteOffsets('g', [{ name: 'orders', partitions: [0] }, { name: 'other', partitions: [0, 1] }]);
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.deepEqual(r.topics.map((t) => t.partitions.map((p) => p.errorCode)), [[ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC], [0, 0]]);
  assert.deepEqual(h.coordinator.fetchOffsets('g', null, false).topics.map((t) => t.name), ['orders']);
  assert.equal((await h.coordinator.deleteOffsets('nope', [])).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  assert.equal((await h.coordinator.deleteOffsets('', [])).errorCode, ErrorCode.INVALID_GROUP_ID);
});

test('OffsetDelete on a non-consumer group with members: NON_EMPTY_GROUP', async () => {
  const h = await harness();
  await formGroup(h, 'connect', 1, { protocolType: 'connect', protocols: [{ name: 'default', metadata: Buffer.from('x') }] });
  assert.equal((await h.coordinator.deleteOffsets('connect', [{ name: 't', partitions: [0] }])).errorCode, ErrorCode.NON_EMPTY_GROUP);
});

test('DescribeGroups and ListGroups with state and type filters', async () => {
  const h = await harness();
  await formGroup(h, 'stable', 1);
  await h.coordinator.commitOffsets(commit('simple', [['t', 0, 1]]));
  const d = h.coordinator.describeGroups(['stable', 'simple', 'missing']);
  assert.deepEqual(d.map((g) => [g.groupId, g.groupState, g.protocolType, g.protocolData, g.members.length]), [
    ['stable', 'Stable', 'consumer', 'range', 1],
    ['simple', 'Empty', '', '', 0],
    ['missing', 'Dead', '', '', 0],
  ]);
  assert.deepEqual(d[0]!.members[0]!.memberMetadata, subscription(['orders']));
  const all = h.coordinator.listGroups([], []);
  assert.deepEqual(all.groups.map((g) => [g.groupId, g.groupState, g.groupType]).sort(), [['simple', 'Empty', 'classic'], ['stable', 'Stable', 'classic']]);
  assert.deepEqual(h.coordinator.listGroups(['STABLE'], []).groups.map((g) => g.groupId), ['stable']);
  assert.deepEqual(h.coordinator.listGroups([], ['Consumer']).groups, []);
  assert.equal(h.coordinator.listGroups([], ['classic']).groups.length, 2);
});

test('append errors map to what Kafka answers for group metadata and for offset commits', async () => {
  const { groupAppendError, offsetAppendError } = await import('../src/group/group-store.js');
  const as = (errorCode: number) => Object.assign(new Error('append failed'), { errorCode });
  const cases: [number, number, number][] = [
    [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_NOT_AVAILABLE],
    [ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_NOT_AVAILABLE],
    [ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.NOT_COORDINATOR, ErrorCode.NOT_COORDINATOR],
    [ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.NOT_COORDINATOR, ErrorCode.NOT_COORDINATOR],
    [ErrorCode.REQUEST_TIMED_OUT, ErrorCode.REBALANCE_IN_PROGRESS, ErrorCode.REQUEST_TIMED_OUT],
    [ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.UNKNOWN_SERVER_ERROR, ErrorCode.INVALID_COMMIT_OFFSET_SIZE],
    [ErrorCode.INVALID_FETCH_SIZE, ErrorCode.UNKNOWN_SERVER_ERROR, ErrorCode.INVALID_COMMIT_OFFSET_SIZE],
    [ErrorCode.CORRUPT_MESSAGE, ErrorCode.CORRUPT_MESSAGE, ErrorCode.CORRUPT_MESSAGE],
  ];
  for (const [appended, group, offsets] of cases) {
    assert.equal(groupAppendError(as(appended)), group, `group metadata, append error ${appended}`);
    assert.equal(offsetAppendError(as(appended)), offsets, `offset commit, append error ${appended}`);
  }
  assert.equal(groupAppendError(new Error('disk')), ErrorCode.NOT_COORDINATOR, 'an error without a code is a storage error');
});

// Classic group membership: join/sync handshakes, rebalances, static membership, limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@tributary/protocol';
import { GroupState, NEW_MEMBER_JOIN_TIMEOUT_MS } from '../src/group/index.js';
import { flush, formGroup, harness, joinParams, startJoin, subscription } from './group-helpers.js';

test('a single member joins after the initial delay, becomes leader, syncs, and the group is Stable', async () => {
  const h = await harness();
  const { memberId, join } = await startJoin(h, 'g1');
  assert.match(memberId, /^client-[0-9a-f-]{36}$/);
  await flush();
  assert.equal(h.coordinator.groupState('g1'), GroupState.PreparingRebalance);
  h.clock.advance(2_999);
  await flush();
  h.clock.advance(1);
  const r = await join;
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(r.generationId, 1);
  assert.equal(r.leader, memberId);
  assert.equal(r.protocolName, 'range');
  assert.equal(r.members.length, 1);
  assert.equal(h.coordinator.groupState('g1'), GroupState.CompletingRebalance);
  const sync = await h.coordinator.syncGroup({
    groupId: 'g1', generationId: 1, memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range',
    assignments: [{ memberId, assignment: Buffer.from('A') }],
  });
  assert.equal(sync.errorCode, ErrorCode.NONE);
  assert.equal(sync.assignment.toString(), 'A');
  assert.equal(sync.protocolName, 'range');
  assert.equal(h.coordinator.groupState('g1'), GroupState.Stable);
  assert.equal(h.coordinator.heartbeat({ groupId: 'g1', generationId: 1, memberId, groupInstanceId: null }), ErrorCode.NONE);
});

test('three members: one leader gets all metadata, followers wait in SyncGroup for the leader', async () => {
  const h = await harness();
  const joins = [];
  for (const c of ['a', 'b', 'c']) joins.push(await startJoin(h, 'g', { clientId: c }));
  h.clock.advance(6_000);
  const results = await Promise.all(joins.map((j) => j.join));
  const leader = results.filter((r) => r.leader === r.memberId);
  assert.equal(leader.length, 1);
  assert.equal(leader[0]!.members.length, 3);
  for (const r of results) {
    assert.equal(r.generationId, 1);
    if (r !== leader[0]) assert.equal(r.members.length, 0);
  }
  const followers = results.filter((r) => r !== leader[0]).map((r) =>
    h.coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: r.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] }),
  );
  let answered = false;
  void Promise.all(followers).then(() => (answered = true));
  await flush();
  assert.equal(answered, false, 'followers wait for the leader');
  const assignments = results.map((r) => ({ memberId: r.memberId, assignment: Buffer.from(r.memberId) }));
  const leaderSync = await h.coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: leader[0]!.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments });
  assert.equal(leaderSync.assignment.toString(), leader[0]!.memberId);
  const fs = await Promise.all(followers);
  fs.forEach((s, i) => assert.equal(s.assignment.toString(), results.filter((r) => r !== leader[0])[i]!.memberId));
  assert.equal(h.coordinator.groupState('g'), GroupState.Stable);
});

test('MEMBER_ID_REQUIRED only for v4+ dynamic members; v0-v3 members are added at once', async () => {
  const h = await harness();
  const r = await h.coordinator.joinGroup(joinParams('g'));
  assert.equal(r.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.notEqual(r.memberId, '');
  const old = h.coordinator.joinGroup(joinParams('g2', { requireKnownMemberId: false, clientId: 'old' }));
  h.clock.advance(3_000);
  const o = await old;
  assert.equal(o.errorCode, ErrorCode.NONE);
  assert.match(o.memberId, /^old-/);
});

test('session timeout and protocol checks', async () => {
  const h = await harness();
  assert.equal((await h.coordinator.joinGroup(joinParams('g', { sessionTimeoutMs: 5_999 }))).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
  assert.equal((await h.coordinator.joinGroup(joinParams('g', { sessionTimeoutMs: 1_800_001 }))).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
  assert.equal((await h.coordinator.joinGroup(joinParams('', {}))).errorCode, ErrorCode.INVALID_GROUP_ID);
  assert.equal((await h.coordinator.joinGroup(joinParams('g', { protocolType: '' }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  await formGroup(h, 'g', 1);
  // Different protocol type, or no protocol in common with the group.
  assert.equal((await h.coordinator.joinGroup(joinParams('g', { protocolType: 'connect', requireKnownMemberId: false }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal(
    (await h.coordinator.joinGroup(joinParams('g', { requireKnownMemberId: false, protocols: [{ name: 'sticky', metadata: Buffer.alloc(0) }] }))).errorCode,
    ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
  );
  // A known member id for a group that does not exist.
  assert.equal((await h.coordinator.joinGroup(joinParams('nope', { memberId: 'x' }))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
});

test('protocol selection by vote among protocols every member supports', async () => {
  const h = await harness();
  const p = (names: string[]) => names.map((name) => ({ name, metadata: subscription(['t']) }));
  const a = await startJoin(h, 'g', { clientId: 'a', protocols: p(['roundrobin', 'range', 'sticky']) });
  const b = await startJoin(h, 'g', { clientId: 'b', protocols: p(['range', 'roundrobin']) });
  const c = await startJoin(h, 'g', { clientId: 'c', protocols: p(['range', 'roundrobin']) });
  h.clock.advance(6_000);
  for (const r of await Promise.all([a.join, b.join, c.join])) assert.equal(r.protocolName, 'range');
});

test('a new member joining a Stable group rebalances it; the old member rejoins and both get generation 2', async () => {
  const h = await harness();
  const [first] = await formGroup(h, 'g', 1);
  const second = await startJoin(h, 'g', { clientId: 'b' });
  await flush();
  assert.equal(h.coordinator.groupState('g'), GroupState.PreparingRebalance);
  assert.equal(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: first!.memberId, groupInstanceId: null }), ErrorCode.REBALANCE_IN_PROGRESS);
  const rejoin = h.coordinator.joinGroup(joinParams('g', { memberId: first!.memberId, clientId: 'c0' }));
  // Both joined: the join phase completes at once, without waiting for the rebalance timeout.
  const [r1, r2] = await Promise.all([rejoin, second.join]);
  assert.equal(r1.generationId, 2);
  assert.equal(r2.generationId, 2);
  assert.equal(h.coordinator.groupState('g'), GroupState.CompletingRebalance);
  // A commit in CompletingRebalance is refused with REBALANCE_IN_PROGRESS; an old-generation sync is illegal.
  const stale = await h.coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: first!.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  assert.equal(stale.errorCode, ErrorCode.ILLEGAL_GENERATION);
});

test('members that do not rejoin within the rebalance timeout are removed', async () => {
  const h = await harness();
  const members = await formGroup(h, 'g', 2, { rebalanceTimeoutMs: 20_000 });
  const [m0, m1] = members;
  // m0 rejoins (as leader it always triggers a rebalance if it is the leader; use whichever).
  const rejoin = h.coordinator.joinGroup(joinParams('g', { memberId: m0!.memberId, clientId: 'c0', protocols: [{ name: 'range', metadata: subscription(['orders', 'x']) }], rebalanceTimeoutMs: 20_000 }));
  await flush();
  assert.equal(h.coordinator.groupState('g'), GroupState.PreparingRebalance);
  // m1 keeps heartbeating but never rejoins.
  h.clock.advance(5_000);
  assert.equal(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: m1!.memberId, groupInstanceId: null }), ErrorCode.REBALANCE_IN_PROGRESS);
  h.clock.advance(15_000);
  const r = await rejoin;
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(r.generationId, 2);
  assert.equal(r.leader, m0!.memberId);
  assert.equal(r.members.length, 1);
  assert.equal(h.coordinator.heartbeat({ groupId: 'g', generationId: 2, memberId: m1!.memberId, groupInstanceId: null }), ErrorCode.UNKNOWN_MEMBER_ID);
});

test('session expiry removes a silent member and rebalances; the last member expiring empties the group', async () => {
  const h = await harness();
  const [m0, m1] = await formGroup(h, 'g', 2);
  for (let i = 0; i < 2; i++) {
    h.clock.advance(4_000);
    assert.equal(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: m0!.memberId, groupInstanceId: null }), ErrorCode.NONE);
  }
  assert.equal(h.coordinator.groupState('g'), GroupState.Stable);
  h.clock.advance(2_000);
  // m1 has been silent for 10 s = its session timeout.
  assert.equal(h.coordinator.groupState('g'), GroupState.PreparingRebalance);
  assert.equal(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: m1!.memberId, groupInstanceId: null }), ErrorCode.UNKNOWN_MEMBER_ID);
  const rejoin = h.coordinator.joinGroup(joinParams('g', { memberId: m0!.memberId, clientId: 'c0' }));
  const r = await rejoin;
  assert.equal(r.generationId, 2);
  assert.equal(r.members.length, 1);
  // m0 now stops too: it never syncs; after the rebalance timeout the sync expiration removes it.
  h.clock.advance(30_000);
  await flush();
  assert.equal(h.coordinator.groupState('g'), GroupState.Empty);
  const described = h.coordinator.describeGroups(['g'])[0]!;
  assert.equal(described.groupState, 'Empty');
  assert.equal(described.members.length, 0);
});

test('LeaveGroup rebalances the rest; batched leave by instance id; unknown members per member', async () => {
  const h = await harness();
  const [m0, m1] = await formGroup(h, 'g', 2);
  const leave = h.coordinator.leaveGroup('g', [{ memberId: m1!.memberId, groupInstanceId: null, reason: 'shutdown' }, { memberId: 'ghost', groupInstanceId: null, reason: null }]);
  assert.equal(leave.errorCode, ErrorCode.NONE);
  assert.deepEqual(leave.members.map((m) => m.errorCode), [ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID]);
  assert.equal(h.coordinator.groupState('g'), GroupState.PreparingRebalance);
  const r = await h.coordinator.joinGroup(joinParams('g', { memberId: m0!.memberId }));
  assert.equal(r.generationId, 2);
  assert.equal(h.coordinator.leaveGroup('nope', [{ memberId: 'x', groupInstanceId: null, reason: null }]).members[0]!.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(h.coordinator.leaveGroup('', []).errorCode, ErrorCode.INVALID_GROUP_ID);
});

test('static member rejoining a Stable group with unchanged protocols replaces the old id without a rebalance', async () => {
  const h = await harness();
  const a = await startJoin(h, 'g', { groupInstanceId: 'inst-a', clientId: 'a' });
  const b = await startJoin(h, 'g', { groupInstanceId: 'inst-b', clientId: 'b' });
  h.clock.advance(6_000);
  const [ra, rb] = await Promise.all([a.join, b.join]);
  assert.match(ra.memberId, /^inst-a-/);
  const leader = ra.leader === ra.memberId ? ra : rb;
  const follower = leader === ra ? rb : ra;
  const syncF = h.coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: follower.memberId, groupInstanceId: follower === ra ? 'inst-a' : 'inst-b', protocolType: 'consumer', protocolName: 'range', assignments: [] });
  await h.coordinator.syncGroup({
    groupId: 'g', generationId: 1, memberId: leader.memberId, groupInstanceId: leader === ra ? 'inst-a' : 'inst-b', protocolType: 'consumer', protocolName: 'range',
    assignments: [{ memberId: ra.memberId, assignment: Buffer.from('PA') }, { memberId: rb.memberId, assignment: Buffer.from('PB') }],
  });
  await syncF;
  assert.equal(h.coordinator.groupState('g'), GroupState.Stable);

  // The follower restarts: unknown member id, same instance id, same protocols.
  const followerInstance = follower === ra ? 'inst-a' : 'inst-b';
  const rejoin = await h.coordinator.joinGroup(joinParams('g', { groupInstanceId: followerInstance, clientId: 'x' }));
  assert.equal(rejoin.errorCode, ErrorCode.NONE);
  assert.equal(rejoin.generationId, 1, 'no new generation');
  assert.notEqual(rejoin.memberId, follower.memberId);
  assert.equal(h.coordinator.groupState('g'), GroupState.Stable);
  // Its assignment is kept under the new member id.
  const s = await h.coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: rejoin.memberId, groupInstanceId: followerInstance, protocolType: 'consumer', protocolName: 'range', assignments: [] });
  assert.equal(s.assignment.toString(), follower === ra ? 'PA' : 'PB');
  // The old incarnation is fenced everywhere.
  assert.equal(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: follower.memberId, groupInstanceId: followerInstance }), ErrorCode.FENCED_INSTANCE_ID);
  const oldCommit = await h.coordinator.commitOffsets({
    groupId: 'g', generationId: 1, memberId: follower.memberId, groupInstanceId: followerInstance, retentionTimeMs: -1, apiVersion: 8,
    topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }],
  });
  assert.equal(oldCommit[0]!.partitions[0]!.errorCode, ErrorCode.FENCED_INSTANCE_ID);
  const oldJoin = await h.coordinator.joinGroup(joinParams('g', { memberId: follower.memberId, groupInstanceId: followerInstance }));
  assert.equal(oldJoin.errorCode, ErrorCode.FENCED_INSTANCE_ID);

  // The static leader restarting with v9 learns it leads but must skip the assignment.
  const leaderInstance = leader === ra ? 'inst-a' : 'inst-b';
  const lr = await h.coordinator.joinGroup(joinParams('g', { groupInstanceId: leaderInstance, clientId: 'y' }));
  assert.equal(lr.leader, lr.memberId);
  assert.equal(lr.skipAssignment, true);
  assert.equal(lr.members.length, 2);
  assert.equal(h.coordinator.groupState('g'), GroupState.Stable);
  // Pre-v9 leader restart: the response names the old leader id so the client does not assign.
  const lr2 = await h.coordinator.joinGroup(joinParams('g', { groupInstanceId: leaderInstance, clientId: 'z', supportSkippingAssignment: false }));
  assert.equal(lr2.leader, lr.memberId);
  assert.notEqual(lr2.memberId, lr.memberId);
  assert.equal(lr2.skipAssignment, false);
});

test('static member rejoining with a different protocol choice triggers a rebalance', async () => {
  const h = await harness();
  const a = await startJoin(h, 'g', { groupInstanceId: 'i', clientId: 'a' });
  h.clock.advance(3_000);
  const ra = await a.join;
  await h.coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: ra.memberId, groupInstanceId: 'i', protocolType: null, protocolName: null, assignments: [] });
  // Still supports range (else INCONSISTENT_GROUP_PROTOCOL), but now prefers sticky.
  const rejoin = h.coordinator.joinGroup(
    joinParams('g', { groupInstanceId: 'i', protocols: [{ name: 'sticky', metadata: subscription(['orders']) }, { name: 'range', metadata: subscription(['orders']) }] }),
  );
  // The only member has rejoined, so the rebalance completes at once with the new protocol.
  const r = await rejoin;
  assert.equal(r.generationId, 2);
  assert.equal(r.protocolName, 'sticky');
  assert.equal(h.coordinator.groupState('g'), GroupState.CompletingRebalance);
});

test('a static member that stops is not removed at rebalance time, only at session expiry', async () => {
  const h = await harness();
  const a = await startJoin(h, 'g', { groupInstanceId: 'ia', clientId: 'a', sessionTimeoutMs: 60_000 });
  const b = await startJoin(h, 'g', { clientId: 'b' });
  h.clock.advance(6_000);
  const [ra, rb] = await Promise.all([a.join, b.join]);
  const leader = ra.leader === ra.memberId ? ra : rb;
  await Promise.all([
    h.coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: ra.memberId, groupInstanceId: 'ia', protocolType: null, protocolName: null, assignments: leader === ra ? [] : [] }),
    h.coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: rb.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] }),
  ]);
  // b (dynamic) leaves: the group rebalances, a does not rejoin within the rebalance timeout.
  h.coordinator.leaveGroup('g', [{ memberId: rb.memberId, groupInstanceId: null, reason: null }]);
  h.clock.advance(30_000);
  await flush();
  const d = h.coordinator.describeGroups(['g'])[0]!;
  assert.equal(d.members.length, 1, 'the static member stays');
  assert.equal(d.members[0]!.groupInstanceId, 'ia');
});

test('group.max.size rejects new members with GROUP_MAX_SIZE_REACHED', async () => {
  const h = await harness({ groupMaxSize: 2 });
  await formGroup(h, 'g', 2);
  const r = await h.coordinator.joinGroup(joinParams('g', { requireKnownMemberId: false, clientId: 'third' }));
  assert.equal(r.errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
  assert.equal(r.memberId, '');
  assert.equal(h.coordinator.groupState('g'), GroupState.Stable);
});

test('initial rebalance delay is extended while new members keep arriving, up to the rebalance timeout', async () => {
  const h = await harness({ groupInitialRebalanceDelayMs: 3_000 });
  const first = await startJoin(h, 'g', { clientId: 'a', rebalanceTimeoutMs: 10_000 });
  let done = false;
  void first.join.then(() => (done = true));
  h.clock.advance(2_000);
  const second = await startJoin(h, 'g', { clientId: 'b', rebalanceTimeoutMs: 10_000 });
  h.clock.advance(1_000); // 3 s: a new member arrived, so the delay is extended by 3 s
  await flush();
  assert.equal(done, false);
  h.clock.advance(3_000); // 6 s: no new member in this window: complete
  const [r1, r2] = await Promise.all([first.join, second.join]);
  assert.equal(r1.generationId, 1);
  assert.equal(r2.members.length + r1.members.length, 2);
});

test('a new member whose first JoinGroup never completes is dropped after 5 minutes', async () => {
  const h = await harness();
  const [m0] = await formGroup(h, 'g', 1, { rebalanceTimeoutMs: 600_000, sessionTimeoutMs: 600_000 });
  // A second member joins; m0 never rejoins (but keeps heartbeating), so the join phase waits.
  const late = await startJoin(h, 'g', { clientId: 'late', rebalanceTimeoutMs: 600_000, sessionTimeoutMs: 600_000 });
  for (let t = 0; t < NEW_MEMBER_JOIN_TIMEOUT_MS; t += 60_000) {
    h.clock.advance(60_000);
    h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: m0!.memberId, groupInstanceId: null });
  }
  const r = await late.join;
  assert.equal(r.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
});

test('pending member that never rejoins expires after the session timeout', async () => {
  const h = await harness();
  const first = await h.coordinator.joinGroup(joinParams('g'));
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  h.clock.advance(10_001);
  // Rejoining with the now-expired id: the group is Empty, so the member id is unknown.
  const r = await h.coordinator.joinGroup(joinParams('g', { memberId: first.memberId }));
  assert.equal(r.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
});

test('SyncGroup errors: unknown member, protocol mismatch, rebalance in progress', async () => {
  const h = await harness();
  const [m] = await formGroup(h, 'g', 1);
  const base = { groupId: 'g', generationId: 1, memberId: m!.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] };
  assert.equal((await h.coordinator.syncGroup({ ...base, memberId: 'x' })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal((await h.coordinator.syncGroup({ ...base, protocolType: 'connect' })).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal((await h.coordinator.syncGroup({ ...base, protocolName: 'sticky' })).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  assert.equal((await h.coordinator.syncGroup({ ...base, groupId: 'nope' })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  const ok = await h.coordinator.syncGroup(base);
  assert.equal(ok.errorCode, ErrorCode.NONE);
  assert.equal(ok.assignment.toString(), `assign-${m!.memberId}`);
  // A new member starts a rebalance; until it completes, SyncGroup answers REBALANCE_IN_PROGRESS.
  const second = await startJoin(h, 'g', { clientId: 'b' });
  await flush();
  assert.equal((await h.coordinator.syncGroup(base)).errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  const [r1, r2] = await Promise.all([h.coordinator.joinGroup(joinParams('g', { memberId: m!.memberId })), second.join]);
  assert.equal(r1.generationId, 2);
  assert.equal(r2.generationId, 2);
  assert.equal((await h.coordinator.syncGroup(base)).errorCode, ErrorCode.ILLEGAL_GENERATION);
});

test('a member that never syncs is removed after the rebalance timeout and the group rebalances', async () => {
  const h = await harness();
  const opts = { sessionTimeoutMs: 60_000, rebalanceTimeoutMs: 30_000 };
  const a = await startJoin(h, 'g', { clientId: 'a', ...opts });
  const b = await startJoin(h, 'g', { clientId: 'b', ...opts });
  h.clock.advance(6_000);
  const [ra, rb] = await Promise.all([a.join, b.join]);
  const leader = ra.leader === ra.memberId ? ra : rb;
  const follower = leader === ra ? rb : ra;
  await h.coordinator.syncGroup({ groupId: 'g', generationId: 1, memberId: leader.memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [] });
  assert.equal(h.coordinator.groupState('g'), GroupState.Stable);
  // The follower never syncs (its session, 60 s, is longer than the rebalance timeout, 30 s).
  for (let t = 0; t < 30_000; t += 5_000) {
    h.clock.advance(5_000);
    h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: leader.memberId, groupInstanceId: null });
  }
  await flush();
  assert.equal(h.coordinator.groupState('g'), GroupState.PreparingRebalance);
  assert.equal(h.coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: follower.memberId, groupInstanceId: null }), ErrorCode.UNKNOWN_MEMBER_ID);
  const r = await h.coordinator.joinGroup(joinParams('g', { memberId: leader.memberId, ...opts }));
  assert.equal(r.generationId, 2);
  assert.equal(r.members.length, 1);
});

// Scale: one 100-member group and 1,000 groups complete their rebalances; timings are printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@tributary/protocol';
import { GroupState } from '../src/group/index.js';
import { flush, formGroup, harness, startJoin } from './group-helpers.js';
import type { JoinGroupResult } from '../src/group/index.js';

test('a 100-member group forms, commits, and rebalances when one member leaves', async () => {
  const h = await harness({ offsetsTopicNumPartitions: 50 });
  const t0 = performance.now();
  const members = await formGroup(h, 'big', 100);
  const formed = performance.now() - t0;
  assert.equal(members.filter((m) => m.leader === m.memberId).length, 1);
  assert.equal(members.find((m) => m.leader === m.memberId)!.members.length, 100);
  assert.equal(h.coordinator.groupState('big'), GroupState.Stable);

  const t1 = performance.now();
  const commits = await Promise.all(
    members.map((m, i) =>
      h.coordinator.commitOffsets({
        groupId: 'big', generationId: 1, memberId: m.memberId, groupInstanceId: null, retentionTimeMs: -1, apiVersion: 8,
        topics: [{ name: 'orders', partitions: [{ partitionIndex: i, committedOffset: i * 10, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }],
      }),
    ),
  );
  assert.ok(commits.every((c) => c[0]!.partitions[0]!.errorCode === ErrorCode.NONE));
  const committed = performance.now() - t1;

  const t2 = performance.now();
  h.coordinator.leaveGroup('big', [{ memberId: members[99]!.memberId, groupInstanceId: null, reason: null }]);
  const rejoined = await Promise.all(members.slice(0, 99).map((m) => h.coordinator.joinGroup({
    groupId: 'big', memberId: m.memberId, groupInstanceId: null, requireKnownMemberId: true, supportSkippingAssignment: true,
    clientId: 'c', clientHost: '/h', rebalanceTimeoutMs: 30_000, sessionTimeoutMs: 10_000, protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('x') }], reason: null,
  })));
  assert.ok(rejoined.every((r) => r.generationId === 2));
  const rebalanced = performance.now() - t2;
  console.log(`100-member group: form ${formed.toFixed(1)} ms, 100 commits ${committed.toFixed(1)} ms, rebalance of 99 ${rebalanced.toFixed(1)} ms`);
});

test('1,000 groups of 3 members each form and survive a replay', async () => {
  const h = await harness({ offsetsTopicNumPartitions: 50 });
  const t0 = performance.now();
  // All joins first, so that the initial delays of all groups run out together.
  const joins: { groupId: string; join: Promise<JoinGroupResult> }[] = [];
  for (let g = 0; g < 1000; g++) {
    for (let m = 0; m < 3; m++) joins.push({ groupId: `group-${g}`, join: (await startJoin(h, `group-${g}`, { clientId: `c${m}` })).join });
  }
  h.clock.advance(6_000);
  const results = await Promise.all(joins.map((j) => j.join));
  assert.ok(results.every((r) => r.errorCode === ErrorCode.NONE && r.generationId === 1));
  const syncs = results.map((r, i) =>
    h.coordinator.syncGroup({
      groupId: joins[i]!.groupId, generationId: 1, memberId: r.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range',
      assignments: r.leader === r.memberId ? r.members.map((m) => ({ memberId: m.memberId, assignment: Buffer.from('a') })) : [],
    }),
  );
  assert.ok((await Promise.all(syncs)).every((s) => s.errorCode === ErrorCode.NONE));
  const formMs = performance.now() - t0;
  assert.equal(h.coordinator.listGroups(['Stable'], []).groups.length, 1000);
  const t1 = performance.now();
  h.coordinator.shutdown();
  const h2 = await harness({ offsetsTopicNumPartitions: 50 }, h.log);
  const replayMs = performance.now() - t1;
  assert.equal(h2.coordinator.listGroups(['Stable'], []).groups.length, 1000);
  await flush();
  console.log(`1,000 groups x 3 members: join+sync ${formMs.toFixed(0)} ms, replay ${replayMs.toFixed(0)} ms (${h.log.appendCount} appends)`);
});

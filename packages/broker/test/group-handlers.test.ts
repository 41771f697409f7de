// The group handlers' version-specific mapping, driven with a minimal fake request context.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@tributary/protocol';
import { findCoordinatorHandler } from '../src/handlers/find-coordinator.js';
import { joinGroupHandler } from '../src/handlers/join-group.js';
import { leaveGroupHandler } from '../src/handlers/leave-group.js';
import { offsetCommitHandler } from '../src/handlers/offset-commit.js';
import { offsetFetchHandler } from '../src/handlers/offset-fetch.js';
import { syncGroupHandler } from '../src/handlers/sync-group.js';
import { describeGroupsHandler } from '../src/handlers/describe-groups.js';
import type { RequestContext } from '../src/handlers/registry.js';
import { harness, subscription, type Harness } from './group-helpers.js';

function ctx(h: Harness, apiVersion: number): RequestContext {
  return {
    header: { apiKey: 0, apiVersion, correlationId: 1, clientId: 'cli' },
    connection: { id: 'c-1', listenerName: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', remoteAddress: '127.0.0.1', remotePort: 5, localAddress: '127.0.0.1', localPort: 9092, clientSoftwareName: undefined, clientSoftwareVersion: undefined },
    broker: {
      nodeId: 3,
      advertisedEndpoints: [{ listener: 'PLAINTEXT', host: 'localhost', port: 9092, securityProtocol: 'PLAINTEXT' }],
      metadata: {
        // This broker (3) leads every partition of __consumer_offsets.
        topic: (name: string) => (name === 'orders' ? { partitions: [{}, {}] } : name === '__consumer_offsets' ? { partitions: Array.from({ length: 50 }, () => ({ leader: 3 })) } : undefined),
        brokers: () => [],
      },
      groupCoordinator: h.coordinator,
    },
  } as unknown as RequestContext;
}

test('FindCoordinator: v0-v3 single key, v4+ batched, share per version', async () => {
  const h = await harness();
  assert.deepEqual(await findCoordinatorHandler.handle({ key: 'g', keyType: 0 }, ctx(h, 1)), { throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: 3, host: 'localhost', port: 9092 });
  const batched = (await findCoordinatorHandler.handle({ keyType: 0, coordinatorKeys: ['a', 'b'] }, ctx(h, 4))) as { coordinators: { key: string; nodeId: number }[] };
  assert.deepEqual(batched.coordinators.map((c) => [c.key, c.nodeId]), [['a', 3], ['b', 3]]);
  // Key type 1 (transaction) needs the transaction coordinator: transaction-handlers.test.ts.
  // Share groups (KIP-932): INVALID_REQUEST before v6, then Kafka 3.9's COORDINATOR_NOT_AVAILABLE.
  const share5 = (await findCoordinatorHandler.handle({ keyType: 2, coordinatorKeys: ['s'] }, ctx(h, 5))) as { coordinators: { errorCode: number }[] };
  assert.equal(share5.coordinators[0]!.errorCode, ErrorCode.INVALID_REQUEST);
  const share6 = (await findCoordinatorHandler.handle({ keyType: 2, coordinatorKeys: ['s'] }, ctx(h, 6))) as { coordinators: { errorCode: number }[] };
  assert.equal(share6.coordinators[0]!.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
});

test('JoinGroup: MEMBER_ID_REQUIRED from v4; protocol name "" before v7 and null after on errors; SyncGroup v5 needs protocol fields', async () => {
  const h = await harness();
  const req = { groupId: 'g', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: subscription(['orders']) }] };
  const v4 = (await joinGroupHandler.handle(req, ctx(h, 4))) as { errorCode: number; memberId: string; protocolName: string | null };
  assert.equal(v4.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.match(v4.memberId, /^cli-/);
  assert.equal(v4.protocolName, '');
  const v7 = (await joinGroupHandler.handle({ ...req, sessionTimeoutMs: 1 }, ctx(h, 7))) as { errorCode: number; protocolName: string | null };
  assert.equal(v7.errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
  assert.equal(v7.protocolName, null);
  const sync = (await syncGroupHandler.handle({ groupId: 'g', generationId: 1, memberId: 'x', assignments: [] }, ctx(h, 5))) as { errorCode: number };
  assert.equal(sync.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  // v0: no rebalance timeout in the request; the session timeout stands in, and the member joins at once.
  const pending = joinGroupHandler.handle({ ...req, groupId: 'g0', rebalanceTimeoutMs: undefined }, ctx(h, 0)) as Promise<{ errorCode: number; generationId: number }>;
  h.clock.advance(3_000);
  assert.equal((await pending).generationId, 1);
  const d = (await describeGroupsHandler.handle({ groups: ['g0'] }, ctx(h, 0))) as { groups: { members: { clientHost: string; clientId: string }[] }[] };
  assert.deepEqual([d.groups[0]!.members[0]!.clientId, d.groups[0]!.members[0]!.clientHost], ['cli', '/127.0.0.1']);
});

test('LeaveGroup v0-v2: the member error is the top-level error; v3+ per member', async () => {
  const h = await harness();
  assert.deepEqual(await leaveGroupHandler.handle({ groupId: 'g', memberId: 'ghost' }, ctx(h, 1)), { throttleTimeMs: 0, errorCode: ErrorCode.UNKNOWN_MEMBER_ID });
  const v3 = (await leaveGroupHandler.handle({ groupId: 'g', members: [{ memberId: 'ghost', groupInstanceId: null }] }, ctx(h, 3))) as { errorCode: number; members: { errorCode: number }[] };
  assert.equal(v3.errorCode, ErrorCode.NONE);
  assert.equal(v3.members[0]!.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
});

test('OffsetCommit/OffsetFetch: unknown topics, v0-v1 partition-level group errors, v2+ top level, v8 multi-group', async () => {
  const h = await harness();
  const commit = (await offsetCommitHandler.handle(
    { groupId: 'g', generationIdOrMemberEpoch: -1, memberId: '', topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 12, committedMetadata: 'md' }, { partitionIndex: 9, committedOffset: 1, committedMetadata: null }] }, { name: 'nope', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }] }] },
    ctx(h, 2),
  )) as { topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[] };
  assert.deepEqual(
    commit.topics.flatMap((t) => t.partitions.map((p) => [t.name, p.partitionIndex, p.errorCode])),
    [['orders', 0, 0], ['orders', 9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], ['nope', 0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
  );
  const v1 = (await offsetFetchHandler.handle({ groupId: 'g', topics: [{ name: 'orders', partitionIndexes: [0, 1] }] }, ctx(h, 1))) as { topics: { partitions: { committedOffset: number; metadata: string | null }[] }[] };
  assert.deepEqual(v1.topics[0]!.partitions.map((p) => [p.committedOffset, p.metadata]), [[12, 'md'], [-1, '']]);
  const all = (await offsetFetchHandler.handle({ groupId: 'g', topics: null }, ctx(h, 3))) as { errorCode: number; topics: unknown[] };
  assert.equal(all.topics.length, 1);
  const multi = (await offsetFetchHandler.handle({ groups: [{ groupId: 'g', topics: null }, { groupId: '', topics: [{ name: 'orders', partitionIndexes: [0] }] }], requireStable: true }, ctx(h, 8))) as { groups: { groupId: string; errorCode: number; topics: unknown[] }[] };
  assert.deepEqual(multi.groups.map((g) => [g.groupId, g.errorCode, g.topics.length]), [['g', 0, 1], ['', 0, 1]]);
  // Group-level errors: on every partition in v0/v1, at the top in v2-v7.
  const noCoord1 = offsetFetchHandler.errorResponse!({ groupId: 'g', topics: [{ name: 'orders', partitionIndexes: [0] }] }, ErrorCode.COORDINATOR_NOT_AVAILABLE, ctx(h, 1));
  assert.equal(noCoord1.topics![0]!.partitions[0]!.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  const noCoord3 = offsetFetchHandler.errorResponse!({ groupId: 'g', topics: [{ name: 'orders', partitionIndexes: [0] }] }, ErrorCode.COORDINATOR_NOT_AVAILABLE, ctx(h, 3));
  assert.deepEqual([noCoord3.errorCode, noCoord3.topics!.length], [ErrorCode.COORDINATOR_NOT_AVAILABLE, 0]);
});

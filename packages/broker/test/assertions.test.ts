// Every invariant the broker asserts (see @tributary/protocol's assert.ts) can fire: each
// test breaks one through the asserting function, since the request paths keep them all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassicGroup } from '../src/group/classic-group.js';
import { GroupState } from '../src/group/group-state.js';
import { ClassicMember } from '../src/group/member.js';
import { ProducerStateManager, nodeFileSystem } from '@tributary/storage';
import { advanceHighWatermark } from '../src/replica/replica-manager.js';
import { harness } from './group-helpers.js';

const fires = (fn: () => unknown, invariant: string) => assert.throws(fn, (err: unknown) => {
  assert.equal((err as { code?: string }).code, 'TRIB_ERR_ASSERTION');
  assert.ok((err as Error).message.includes(invariant), (err as Error).message);
  return true;
});

test('a leader high watermark never moves back', () => {
  const log = { highWatermark: 10, updateHighWatermark(offset: number) { this.highWatermark = offset; return offset; } };
  advanceHighWatermark(log, 12);
  assert.equal(log.highWatermark, 12);
  fires(() => advanceHighWatermark(log, 11), 'a leader high watermark never moves back');
});

test('group generation ids increase within int32', () => {
  const group = new ClassicGroup('g', GroupState.PreparingRebalance, 0);
  group.initNextGeneration(0);
  assert.equal(group.generationId, 1);
  group.generationId = 2147483647;
  fires(() => group.initNextGeneration(0), 'group generation ids increase within int32');
  assert.equal(group.generationId, 2147483647);
});

test("a producer's batches are appended at increasing offsets", () => {
  const state = new ProducerStateManager({ dir: '/nonexistent', topicPartition: 't-0', fs: nodeFileSystem });
  const batch = (epoch: number, seq: number, baseOffset: number, lastOffset: number) => ({
    producerId: 7, producerEpoch: epoch, baseSequence: seq, baseOffset, lastOffset, maxTimestamp: 0, isTransactional: false, marker: null,
  });
  state.applyBatch(batch(3, 0, 100, 104));
  fires(() => state.applyBatch(batch(3, 5, 104, 105)), "a producer's batches are appended at increasing offsets");
  state.applyBatch(batch(3, 5, 105, 106));
  state.applyBatch(batch(4, 0, 107, 107));
  assert.equal(state.size, 1);
});

test('group state machine and membership invariants fire as assertions', () => {
  const group = new ClassicGroup('g', GroupState.Empty, 0);
  fires(() => group.transitionTo(GroupState.Stable, 1), 'transition from Empty to Stable is not allowed');
  fires(() => group.get('nobody'), 'group g has no member nobody');
  fires(() => group.selectProtocol(), 'cannot select a protocol for empty group g');
  fires(() => group.currentMemberMetadata(), 'group g has no protocol selected');
  const member = (id: string) => new ClassicMember(id, 'static-1', 'client', '/127.0.0.1', 30_000, 10_000, 'consumer', [{ name: 'range', metadata: Buffer.alloc(0) }]);
  group.add(member('m-1'), null);
  fires(() => group.add(member('m-2'), null), 'group g already has static member static-1');
  fires(() => member('m-3').metadata('roundrobin'), 'member m-3 does not support protocol roundrobin');
  fires(() => member('m-4').vote(new Set(['sticky'])), 'member m-4 supports none of the candidate protocols');
});

test('the group store and membership refuse states the coordinator never creates', async () => {
  const h = await harness();
  const internals = h.coordinator as unknown as {
    store: { storeGroup(group: ClassicGroup, assignment: Map<string, Buffer>): Promise<number> };
    membership: { updateStaticMemberAndRebalance(group: ClassicGroup, oldMemberId: string, newMemberId: string, p: unknown, respond: () => void): void };
  };
  const group = new ClassicGroup('g', GroupState.Empty, 0);
  group.add(new ClassicMember('m-1', 'static-1', 'client', '/127.0.0.1', 30_000, 10_000, 'consumer', [{ name: 'range', metadata: Buffer.alloc(0) }]), null);
  assert.throws(() => internals.store.storeGroup(group, new Map()), (err: unknown) => (err as { code?: string }).code === 'TRIB_ERR_ASSERTION' && /has members but no protocol/.test((err as Error).message));
  const params = { groupInstanceId: 'static-1', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], rebalanceTimeoutMs: 30_000, sessionTimeoutMs: 10_000 };
  fires(() => internals.membership.updateStaticMemberAndRebalance(group, 'm-1', 'm-2', params, () => undefined), 'static member static-1 rejoined in unexpected state Empty');
});

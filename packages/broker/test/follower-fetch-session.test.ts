// The follower's incremental fetch session (replica/follower-fetch-session.ts, Kafka's
// FetchSessionHandler) and the leader's session cache preferring followers' sessions
// (fetch/fetch-session.ts, Kafka's FetchSessionCache.tryEvict). Pure state, no sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@tributary/protocol';
import { FollowerFetchSession, type FollowerFetchPartition } from '../src/replica/follower-fetch-session.js';
import { EVICTION_MS, FetchSessionCache } from '../src/fetch/fetch-session.js';

function part(topic: string, partition: number, fetchOffset: number, more: Partial<FollowerFetchPartition> = {}): [string, FollowerFetchPartition] {
  return [`${topic}\0${partition}`, { topic, partition, fetchOffset, logStartOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: 0, lastFetchedEpoch: 0, ...more }];
}

const names = (ps: readonly FollowerFetchPartition[]) => ps.map((p) => `${p.topic}-${p.partition}@${p.fetchOffset}`);

test('the first request is full; later ones list only changed, added and forgotten partitions, with the epoch counting up', () => {
  const s = new FollowerFetchSession();
  const first = s.build(new Map([part('t', 0, 5), part('t', 1, 7), part('u', 0, 0)]));
  assert.deepEqual([first.sessionId, first.sessionEpoch, first.full], [0, 0, true]);
  assert.deepEqual(names(first.toSend), ['t-0@5', 't-1@7', 'u-0@0']);
  assert.equal(s.handleResponse(ErrorCode.NONE, 42, false), true);

  // Nothing changed: an incremental request listing nothing (the leader still long-polls all).
  const idle = s.build(new Map([part('t', 0, 5), part('t', 1, 7), part('u', 0, 0)]));
  assert.deepEqual([idle.sessionId, idle.sessionEpoch, idle.full, idle.toSend.length, idle.toForget.length], [42, 1, false, 0, 0]);
  assert.equal(s.handleResponse(ErrorCode.NONE, 42, false), true);

  // t-0 received records, t-1's leader epoch moved, u-0 left, v-3 joined.
  const next = s.build(new Map([part('t', 0, 9), part('t', 1, 7, { currentLeaderEpoch: 1 }), part('v', 3, 0)]));
  assert.deepEqual([next.sessionEpoch, next.full], [2, false]);
  assert.deepEqual(names(next.toSend), ['t-0@9', 't-1@7', 'v-3@0']);
  assert.deepEqual(names(next.toForget), ['u-0@0']);
  assert.equal(s.size, 3);
  assert.equal(s.handleResponse(ErrorCode.NONE, 42, false), true);
  assert.equal(s.nextEpoch, 3);

  // Each field of the fetch state counts as a change.
  for (const change of [{ logStartOffset: 1 }, { partitionMaxBytes: 1 }, { lastFetchedEpoch: 1 }]) {
    const r = s.build(new Map([part('t', 0, 9, change), part('t', 1, 7, { currentLeaderEpoch: 1 }), part('v', 3, 0)]));
    assert.deepEqual(names(r.toSend), ['t-0@9'], JSON.stringify(change));
    s.handleResponse(ErrorCode.NONE, 42, false);
  }
});

test('FETCH_SESSION_ID_NOT_FOUND opens a new session; another failure closes the old one with a full request', () => {
  const parts = new Map([part('t', 0, 5), part('t', 1, 7)]);
  const s = new FollowerFetchSession();
  s.build(parts);
  s.handleResponse(ErrorCode.NONE, 42, false);
  s.build(parts);
  assert.equal(s.handleResponse(ErrorCode.FETCH_SESSION_ID_NOT_FOUND, 0, false), false);
  let r = s.build(parts);
  assert.deepEqual([r.sessionId, r.sessionEpoch, r.full, r.toSend.length], [0, 0, true, 2]);
  s.handleResponse(ErrorCode.NONE, 43, false);

  s.build(parts);
  assert.equal(s.handleResponse(ErrorCode.INVALID_FETCH_SESSION_EPOCH, 0, false), false);
  r = s.build(parts);
  assert.deepEqual([r.sessionId, r.sessionEpoch, r.full, r.toSend.length], [43, 0, true, 2], 'closes session 43 and opens a new one');
  s.handleResponse(ErrorCode.NONE, 44, false);

  // A lost connection or timeout: the same.
  s.build(parts);
  s.handleError();
  r = s.build(parts);
  assert.deepEqual([r.sessionId, r.sessionEpoch, r.full], [44, 0, true]);
  s.handleResponse(ErrorCode.NONE, 45, false);

  // A response naming a partition outside the session is not used.
  s.build(parts);
  assert.equal(s.handleResponse(ErrorCode.NONE, 45, true), false);
  assert.deepEqual([s.build(parts).sessionEpoch, s.build(parts).full], [0, true]);
});

test('a leader that keeps no session (answers session id 0) gets full requests, and its answers are used', () => {
  const parts = new Map([part('t', 0, 5)]);
  const s = new FollowerFetchSession();
  for (let i = 0; i < 3; i++) {
    const r = s.build(parts);
    assert.deepEqual([r.sessionId, r.sessionEpoch, r.full], [0, 0, true]);
    assert.equal(s.handleResponse(ErrorCode.NONE, 0, false), true);
  }
});

test('the epoch wraps from 2^31-1 to 1, as Kafka\'s nextEpoch', () => {
  const parts = new Map([part('t', 0, 5)]);
  const s = new FollowerFetchSession();
  s.build(parts);
  s.handleResponse(ErrorCode.NONE, 7, false);
  (s as unknown as { epoch: number }).epoch = 0x7fffffff;
  assert.equal(s.build(parts).sessionEpoch, 0x7fffffff);
  s.handleResponse(ErrorCode.NONE, 7, false);
  assert.equal(s.nextEpoch, 1);
});

test('the session cache keeps followers\' sessions: consumers cannot evict them, a follower evicts a consumer', () => {
  const cache = new FetchSessionCache(3);
  const now = 1_000_000;
  const f1 = cache.create(now, true, 50)!;
  const f2 = cache.create(now, true, 50)!;
  const c1 = cache.create(now, false, 1)!;
  for (const s of [f1, f2, c1]) for (let i = 0; i < 5; i++) s.partitions.set(`x:${i}`, {} as never);
  // A bigger consumer session cannot take a young session's place, nor a follower's.
  assert.equal(cache.create(now + 1, false, 1000), undefined);
  assert.ok(cache.get(f1.id) && cache.get(f2.id) && cache.get(c1.id));
  // A follower takes the consumer's place, young as it is.
  const f3 = cache.create(now + 2, true, 1);
  assert.ok(f3);
  assert.equal(cache.get(c1.id), undefined);
  assert.ok(cache.get(f1.id) && cache.get(f2.id));
  // With only followers' young sessions left, a new follower's session of the same size waits.
  f3.partitions.set('x:0', {} as never);
  assert.equal(cache.create(now + 3, true, 1), undefined);
  // A session unused for EVICTION_MS goes first, whoever asks.
  f1.lastUsedMs = now;
  f2.lastUsedMs = f3.lastUsedMs = now + EVICTION_MS;
  const c2 = cache.create(now + EVICTION_MS + 1, false, 1);
  assert.ok(c2);
  assert.equal(cache.get(f1.id), undefined);
});

test('among sessions older than EVICTION_MS, a consumer evicts a smaller consumer\'s, never a follower\'s', () => {
  const cache = new FetchSessionCache(2);
  const now = 1_000_000;
  const f = cache.create(now, true, 10)!;
  const c = cache.create(now, false, 2)!;
  for (let i = 0; i < 10; i++) f.partitions.set(`x:${i}`, {} as never);
  for (let i = 0; i < 2; i++) c.partitions.set(`x:${i}`, {} as never);
  const later = now + EVICTION_MS + 10;
  f.lastUsedMs = c.lastUsedMs = later;
  assert.equal(cache.create(later, false, 2), undefined, 'same size: kept');
  const big = cache.create(later, false, 3);
  assert.ok(big);
  assert.equal(cache.get(c.id), undefined);
  assert.ok(cache.get(f.id));
});

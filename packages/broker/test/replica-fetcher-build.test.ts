// The follower fetcher's request building (replica/replica-fetcher.ts buildRequest): it keeps
// the partitions ready to fetch from one request to the next and tells the fetch session
// only what changed, so a round trip costs nothing per idle partition. These tests drive
// it over random histories (appends, partitions added, removed, re-added, backing off,
// sessions lost) and check every request against a session that scans every partition
// (FollowerFetchSession.build without the changed keys). No sockets: the connection never opens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@tributary/protocol';
import { ReplicaFetcher } from '../src/replica/replica-fetcher.js';
import { FollowerFetchSession, type FollowerFetchPartition } from '../src/replica/follower-fetch-session.js';
import type { Partition } from '../src/replica/partition.js';

interface StubPartition {
  topic: string;
  partition: number;
  role: string;
  leaderEpoch: number;
  log: { isClosed: boolean; isOffline: boolean; logEndOffset: number; logStartOffset: number; leaderEpochCache: { latestEpoch(): number } };
}

function stub(topic: string, partition: number): StubPartition {
  return { topic, partition, role: 'follower', leaderEpoch: 3, log: { isClosed: false, isOffline: false, logEndOffset: 0, logStartOffset: 0, leaderEpochCache: { latestEpoch: () => 3 } } };
}

const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };

/** A fetcher whose connection never opens: its run loop waits, and the test calls buildRequest itself. */
function idleFetcher(t: { after(fn: () => unknown): void }): ReplicaFetcher {
  const fetcher = new ReplicaFetcher(1, {
    nodeId: 2, metadata: { brokers: () => [] } as never, logger: silent as never, fetchMaxBytes: 1 << 20, responseMaxBytes: 10 << 20, minBytes: 1, maxWaitMs: 500, backoffMs: 1000,
    connect: () => new Promise(() => {}),
  });
  t.after(() => void fetcher.shutdown());
  return fetcher;
}

interface Built { body: { sessionEpoch: number; topics: { topic: string; partitions: { partition: number; fetchOffset: number }[] }[]; forgottenTopicsData: { topic: string; partitions: number[] }[] }; full: boolean }
const internals = (f: ReplicaFetcher) => f as unknown as { buildRequest(nowMs: number): Built | undefined; session: FollowerFetchSession; entries: Map<string, { delayedUntilMs: number }> };

const sentOf = (b: Built) => b.body.topics.flatMap((t) => t.partitions.map((p) => `${t.topic}-${p.partition}@${p.fetchOffset}`)).sort();
const forgottenOf = (b: Built) => b.body.forgottenTopicsData.flatMap((t) => t.partitions.map((p) => `${t.topic}-${p}`)).sort();
const names = (ps: readonly FollowerFetchPartition[]) => ps.map((p) => `${p.topic}-${p.partition}@${p.fetchOffset}`).sort();

test('requests list exactly what a session scanning every partition would send and forget, over random histories', async (t) => {
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let history = 0; history < 20; history++) {
    const fetcher = idleFetcher(t);
    const f = internals(fetcher);
    await new Promise((r) => setImmediate(r));
    const shadow = new FollowerFetchSession();
    const pool = [...Array.from({ length: 4 }, (_, p) => stub('busy', p)), ...Array.from({ length: 12 }, (_, p) => stub('__consumer_offsets', p))];
    const followed = new Set<StubPartition>();
    const delayed = new Set<StubPartition>();
    for (const p of pool.slice(0, 10)) {
      fetcher.add(p as unknown as Partition);
      followed.add(p);
    }
    for (let round = 0; round < 200; round++) {
      // One to three changes between two requests.
      const ops: number[] = [];
      for (let n = 1 + random(3); n > 0; n--) {
      const op = random(10);
      ops.push(op);
      const p = pool[random(pool.length)]!;
      if (op === 0 && !followed.has(p)) {
        fetcher.add(p as unknown as Partition);
        followed.add(p);
      } else if (op === 1 && followed.has(p)) {
        fetcher.remove(p as unknown as Partition);
        followed.delete(p);
        delayed.delete(p);
        // Sometimes back before the next request (a new entry under the same key).
        if (random(2) === 0) {
          fetcher.add(p as unknown as Partition);
          followed.add(p);
        }
      } else if (op === 2 && followed.has(p)) {
        f.entries.get(`${p.topic}\0${p.partition}`)!.delayedUntilMs = random(2) === 0 ? Number.MAX_SAFE_INTEGER : 0;
        if (f.entries.get(`${p.topic}\0${p.partition}`)!.delayedUntilMs > 0) delayed.add(p);
        else delayed.delete(p);
      } else if (op === 3) {
        p.role = p.role === 'follower' ? 'leader' : 'follower';
      } else {
        for (let i = 0; i < 1 + random(3); i++) pool[random(4)]!.log.logEndOffset += 16;
      }
      }
      const built = f.buildRequest(performance.now());
      // The shadow: every partition ready now, scanned whole.
      const next = new Map<string, FollowerFetchPartition>();
      for (const q of followed) {
        if (delayed.has(q) || q.role !== 'follower') continue;
        next.set(`${q.topic}\0${q.partition}`, { topic: q.topic, partition: q.partition, fetchOffset: q.log.logEndOffset, logStartOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: 3, lastFetchedEpoch: 3 });
      }
      const expected = next.size === 0 && shadow.size === 0 ? undefined : shadow.build(next);
      const what = `history ${history} round ${round} ops ${ops.join(',')}`;
      if (expected === undefined || (next.size === 0 && expected.toForget.length === 0)) {
        assert.equal(built, undefined, what);
      } else {
        assert.ok(built !== undefined, what);
        assert.equal(built.full, expected.full, what);
        assert.deepEqual(sentOf(built), names(expected.toSend), what);
        assert.deepEqual(forgottenOf(built), names(expected.toForget).map((n) => n.replace(/@\d+$/, '')), what);
      }
      // Answers: mostly fine, sometimes the session is lost (the next request is full again).
      const lost = random(25) === 0;
      const error = lost ? ErrorCode.FETCH_SESSION_ID_NOT_FOUND : ErrorCode.NONE;
      if (built !== undefined) f.session.handleResponse(error, 7, false);
      if (expected !== undefined && !(next.size === 0 && expected.toForget.length === 0)) shadow.handleResponse(error, 7, false);
    }
    await fetcher.shutdown();
  }
});

test('a partition removed and added back while it cannot fetch is forgotten, and sent again once it can', async (t) => {
  const fetcher = idleFetcher(t);
  const f = internals(fetcher);
  await new Promise((r) => setImmediate(r));
  const a = stub('t', 0);
  const b = stub('t', 1);
  for (const p of [a, b]) fetcher.add(p as unknown as Partition);
  const first = f.buildRequest(performance.now())!;
  assert.ok(first.full);
  assert.deepEqual(sentOf(first), ['t-0@0', 't-1@0']);
  f.session.handleResponse(ErrorCode.NONE, 7, false);

  // Moved away and back (a new entry under the same key), now leading: nothing to fetch.
  fetcher.remove(a as unknown as Partition);
  a.role = 'leader';
  fetcher.add(a as unknown as Partition);
  const second = f.buildRequest(performance.now())!;
  assert.equal(second.full, false);
  assert.deepEqual(sentOf(second), []);
  assert.deepEqual(forgottenOf(second), ['t-0']);
  f.session.handleResponse(ErrorCode.NONE, 7, false);

  a.role = 'follower';
  a.log.logEndOffset = 5;
  b.log.logEndOffset = 9;
  const third = f.buildRequest(performance.now())!;
  assert.deepEqual(sentOf(third), ['t-0@5', 't-1@9']);
  assert.deepEqual(forgottenOf(third), []);
  f.session.handleResponse(ErrorCode.NONE, 7, false);

  // Nothing changed: an incremental request listing nothing (the leader answers what moves).
  const idle = f.buildRequest(performance.now())!;
  assert.deepEqual(sentOf(idle), []);
  assert.deepEqual(forgottenOf(idle), []);
});

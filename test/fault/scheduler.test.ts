// The fault schedule is a function of its seed: a failing run is replayed exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { faultSchedule } from './scheduler.js';
import { checkHistory, unavailableWindows, failoverMs } from './checker.js';

test('the same seed gives the same schedule; another seed another one; the first fault SIGKILLs a leader', () => {
  const opts = { faults: 50, brokers: 3, partitions: 3 };
  assert.deepEqual(faultSchedule(42, opts), faultSchedule(42, opts));
  assert.notDeepEqual(faultSchedule(42, opts), faultSchedule(43, opts));
  for (const seed of [1, 2, 3, 42]) {
    const s = faultSchedule(seed, opts);
    assert.equal(s.length, 50);
    assert.equal(s[0]!.kind, 'kill');
    assert.ok('leaderOf' in s[0]!.target);
    assert.ok(s.some((f) => f.kind === 'pause'));
  }
});

test('the checker finds lost, duplicated, reordered and divergent records', () => {
  const log = new Map([[0, ['a-0', 'b-0', 'a-1', 'a-1']], [1, ['a-3', 'a-2']]]);
  const r = checkHistory({
    acks: [
      { client: 'a', partition: 0, offset: 0, value: 'a-0', atMs: 1 },
      { client: 'b', partition: 0, offset: 1, value: 'b-0', atMs: 2 },
      { client: 'b', partition: 0, offset: 4, value: 'b-1', atMs: 3 },
    ],
    log,
    endOffsets: new Map([[0, 4], [1, 2]]),
    otherReads: [{ partition: 0, offset: 4, value: 'x' }],
    liveReads: [{ partition: 1, offset: 1, value: 'c-0' }],
  });
  assert.equal(r.acknowledged, 3);
  assert.equal(r.found, 2);
  assert.equal(r.lost.length, 1);
  assert.match(r.lost[0]!, /b-1 acknowledged at 0\/4/);
  assert.equal(r.duplicated.length, 1);
  assert.equal(r.reordered.length, 2, 'a-1 after a-1, a-2 after a-3');
  assert.equal(r.divergent.length, 1);
  assert.equal(r.aboveEnd.length, 1);
});

test('unavailable windows and failover times come from the acknowledgement times', () => {
  const acks = [0, 100, 200, 2500, 2600].map((atMs, i) => ({ client: 'a', partition: 0, offset: i, value: `a-${i}`, atMs }));
  assert.deepEqual(unavailableWindows(acks, 1000), [{ partition: 0, fromMs: 200, toMs: 2500 }]);
  assert.deepEqual([...failoverMs(acks, 0, 210)], [['a', 2290]]);
});

// The fault schedule is a function of its seed: a failing run is replayed exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_KINDS, CLOCK_JUMP_MS, SLOW_FSYNC_MS, faultSchedule } from './scheduler.js';
import { FaultNetwork, kafkaSource } from './net-proxy.js';
import { truncateTails } from './inject.js';
import { checkHistory, unavailableWindows, failoverMs } from './checker.js';
import { checkCommittedOffsets, checkTransactions } from './txn-checker.js';

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

test('every kind is drawn by seed; coverKinds puts each allowed kind in a short schedule; etcd faults hit the leader and a follower', () => {
  const s = faultSchedule(5, { faults: 300, brokers: 3, partitions: 3, kinds: ALL_KINDS, tmpfsNodeId: 3 });
  assert.deepEqual(new Set(s.map((f) => f.kind)), new Set(ALL_KINDS));
  for (const f of s) {
    if (f.kind === 'disk-full') assert.deepEqual(f.target, { nodeId: 3 });
    if (f.kind === 'clock') assert.equal(Math.abs(f.skewMs!), CLOCK_JUMP_MS);
    if (f.kind === 'slow-disk') assert.ok(f.slowMs! >= SLOW_FSYNC_MS[0] && f.slowMs! <= SLOW_FSYNC_MS[1], `slowMs ${f.slowMs}`);
  }
  assert.ok(!faultSchedule(5, { faults: 300, brokers: 3, partitions: 3, kinds: ALL_KINDS }).some((f) => f.kind === 'disk-full'), 'no disk-full without a tmpfs broker');
  const short = faultSchedule(1, { faults: ALL_KINDS.length, brokers: 3, partitions: 3, kinds: ALL_KINDS, coverKinds: true, tmpfsNodeId: 3 });
  assert.deepEqual(new Set(short.map((f) => f.kind)), new Set(ALL_KINDS));
  const roles = short.filter((f) => 'etcd' in f.target).map((f) => ('etcd' in f.target ? f.target.etcd : ''));
  assert.deepEqual(new Set(roles), new Set(['leader', 'follower']));
  // A kill/pause schedule is the same as before the other kinds existed (replays stay valid).
  assert.deepEqual(faultSchedule(7, { faults: 8, brokers: 3, partitions: 3 }).map((f) => f.kind), ['kill', 'pause', 'pause', 'pause', 'kill', 'kill', 'kill', 'pause']);
});

test('the proxy tells a follower fetcher from a client by the client id of the first request header', () => {
  const header = (clientId: string | null): Buffer => {
    const id = clientId === null ? Buffer.alloc(0) : Buffer.from(clientId);
    const b = Buffer.alloc(14 + id.length);
    b.writeInt32BE(10 + id.length, 0);
    b.writeInt16BE(1, 4); // Fetch
    b.writeInt16BE(12, 6);
    b.writeInt32BE(7, 8);
    b.writeInt16BE(clientId === null ? -1 : id.length, 12);
    id.copy(b, 14);
    return b;
  };
  assert.equal(kafkaSource(header('broker-2-fetcher')), 'b2');
  assert.equal(kafkaSource(header('rdkafka')), 'client');
  assert.equal(kafkaSource(header(null)), 'client');
  assert.equal(kafkaSource(header('broker-2-fetcher').subarray(0, 20)), undefined, 'more bytes needed');
  assert.equal(kafkaSource(Buffer.alloc(5)), undefined);
});

test('truncateTails cuts a few bytes or half of the last batch of the newest segment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trunc-'));
  try {
    mkdirSync(join(dir, 't-0'));
    // Two fake batches of 12 + 30 and 12 + 50 bytes (only the length field matters), then preallocated zeros.
    const batch = (n: number): Buffer => { const b = Buffer.alloc(12 + n); b.writeInt32BE(n, 8); return b; };
    const file = join(dir, 't-0', '00000000000000000000.log');
    writeFileSync(file, Buffer.concat([batch(30), batch(50), Buffer.alloc(64)]));
    truncateTails(dir, 't', 1, 'bytes');
    assert.equal(statSync(file).size, 42 + 62 - 5);
    writeFileSync(file, Buffer.concat([batch(30), batch(50)]));
    truncateTails(dir, 't', 1, 'half-batch');
    assert.equal(statSync(file).size, 42 + 31);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('clock-skew.ts moves Date.now() and new Date() of the process by the file\'s offset, re-read while it runs; monotonic time does not move', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skew-'));
  try {
    const file = join(dir, 'skew');
    writeFileSync(file, '-3600000\n');
    const script = [
      'const a = Date.now() - performance.timeOrigin - performance.now();',
      'const b = new Date().getTime() - Date.now();',
      `require('node:fs').writeFileSync(${JSON.stringify(file)}, '7200000');`,
      'const until = performance.now() + 400; while (performance.now() < until) { /* wait for a re-read */ }',
      'setTimeout(() => console.log(JSON.stringify({ a, b, c: Date.now() - performance.timeOrigin - performance.now(), epoch: new Date(0).getTime() })), 300);',
    ].join('\n');
    const out = spawnSync(process.execPath, ['--import', 'tsx', '--import', join(import.meta.dirname, 'clock-skew.ts'), '-e', script],
      { env: { ...process.env, TRIBUTARY_TEST_CLOCK_SKEW_FILE: file }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(out.status, 0, out.stderr);
    const r = JSON.parse(out.stdout) as { a: number; b: number; c: number; epoch: number };
    assert.ok(Math.abs(r.a + 3600_000) < 250, // wall and monotonic clocks drift apart by tens of ms under load
       `Date.now() 1 h behind performance time: ${r.a}`);
    assert.ok(Math.abs(r.b) < 50, `new Date() agrees with Date.now(): ${r.b}`);
    assert.ok(Math.abs(r.c - 7200_000) < 250, `a changed file moves the clock again: ${r.c}`);
    assert.equal(r.epoch, 0, 'new Date(x) is not moved');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an acknowledgement without an offset (librdkafka can report one) is found by its value in its partition', () => {
  const log = new Map([[0, ['a-0', 'a-1']], [1, ['a-2']]]);
  const r = checkHistory({
    acks: [
      { client: 'a', partition: 0, offset: -1, value: 'a-1', atMs: 1 },
      { client: 'a', partition: 0, offset: -1, value: 'a-2', atMs: 2 },
      { client: 'a', partition: 0, offset: -1, value: 'a-9', atMs: 3 },
    ],
    log,
    endOffsets: new Map([[0, 2], [1, 1]]),
  });
  assert.equal(r.withoutOffset, 3);
  assert.equal(r.found, 1);
  assert.equal(r.lost.length, 2, 'a-2 is in another partition, a-9 nowhere');
});

test('the transaction checker finds lost and torn committed transactions, aborted records read, duplicates', () => {
  const rec = (n: number, i: number, offset: number, count = 3) => ({ partition: i, offset, value: `tx-${n}-${i}-${count}` });
  const r = checkTransactions({
    ends: [
      { n: 0, count: 3, outcome: 'committed' }, // whole
      { n: 1, count: 3, outcome: 'committed' }, // one record missing: lost and torn
      { n: 2, count: 3, outcome: 'aborted' }, // a record read back
      { n: 3, count: 3, outcome: 'unknown' }, // whole: it committed
      { n: 4, count: 3, outcome: 'unknown' }, // none: it aborted
    ],
    readBack: [rec(0, 0, 0), rec(0, 1, 0), rec(0, 2, 0), rec(1, 0, 1), rec(1, 1, 1), rec(2, 2, 1), rec(3, 0, 2), rec(3, 1, 2), rec(3, 2, 2), rec(3, 2, 2), { ...rec(0, 0, 9) }],
    liveReads: [rec(2, 0, 5), rec(0, 0, 0), rec(0, 0, 0)],
  });
  assert.deepEqual([r.committed, r.aborted, r.unknown, r.unknownCommitted], [2, 1, 2, 1]);
  assert.equal(r.lost.length, 1);
  assert.match(r.lost[0]!, /committed transaction 1: 2 of 3/);
  assert.equal(r.torn.length, 1);
  assert.equal(r.abortedSeen.length, 2, 'the read-back and the live reader each read an aborted record');
  assert.deepEqual(r.duplicated, ['tx-0-0-3 at 0/0 and 0/9'], 'a re-read of the same offset is no duplicate');
  assert.deepEqual(checkTransactions({ ends: [{ n: 0, count: 2, outcome: 'committed' }], readBack: [rec(0, 0, 0, 2), rec(0, 1, 0, 2)], liveReads: [] }).lost, []);
});

test('the committed-offset checker: an OffsetFetch below an acknowledged commit, a fetch sequence that decreases, a final fetch below the last commit', () => {
  const c = (partition: number, offset: number, atMs: number, group = 'g') => ({ group, partition, offset, atMs });
  const clean = checkCommittedOffsets({ commits: [c(0, 5, 10), c(0, 9, 20)], fetches: [c(0, 5, 15), c(0, 9, 25)], final: new Map([['g', new Map([[0, 9]])]]) });
  assert.deepEqual(clean.backwards, []);
  const r = checkCommittedOffsets({
    commits: [c(0, 5, 10), c(0, 9, 20), c(1, 4, 10)],
    fetches: [c(0, 9, 21), c(0, 7, 30), c(1, 4, 10)],
    final: new Map([['g', new Map([[0, 9], [1, 3]])]]),
  });
  assert.equal(r.backwards.length, 3, r.backwards.join('; '));
  assert.match(r.backwards[0]!, /returned 7, below 9/);
  assert.match(r.backwards[1]!, /returned 7 after 9/);
  assert.match(r.backwards[2]!, /partition 1: the final OffsetFetch returned 3, below .* 4/);
});

test('a proxy host follows the test\'s rules: setRules replaces them all and wakes the pumps', () => {
  const test = new FaultNetwork();
  test.isolate('b1', ['b2', 'etcd']);
  test.cut('b3', 'b2', ['req']);
  const host = new FaultNetwork();
  host.cut('b2', 'b3');
  let woken = 0;
  host.onChange(() => { woken++; });
  host.setRules(test.describe());
  assert.deepEqual(host.describe(), test.describe());
  assert.ok(host.isCut('etcd', 'b1', 'resp') && host.isCut('b3', 'b2', 'req') && !host.isCut('b3', 'b2', 'resp') && !host.isCut('b2', 'b3', 'req'));
  assert.equal(woken, 1);
  host.setRules([]);
  assert.deepEqual(host.describe(), []);
});

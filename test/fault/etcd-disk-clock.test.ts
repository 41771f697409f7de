// Issue #16: etcd member, disk and clock faults under the fault suite's workload (run.ts),
// with a 3-member etcd and broker 3's log directory on a 256 MiB tmpfs (root):
//  - etcd-kill / etcd-pause: the etcd raft leader, then a follower member, SIGKILLed
//    (restarted) or SIGSTOPped (continued): brokers keep their leases through the
//    election or fail over cleanly;
//  - truncate: a broker SIGKILLed and its active segments' tails cut (a few bytes, or half
//    the last batch) before it restarts: recovery truncates the torn batch and the broker
//    refetches from the leader; acks=all means another ISR replica had every acknowledged
//    record, so none is lost;
//  - disk-full: broker 3's tmpfs filled to ENOSPC for a while, then freed. Tributary's
//    documented difference from Kafka (docs/compatibility.md, "Disk failures"): each write
//    fails with the retriable KAFKA_STORAGE_ERROR and is rolled back, the directory stays
//    online and the broker up (Kafka takes the directory offline and halts the broker, and
//    leadership moves). The broker must not stop, and nothing acknowledged may be lost;
//  - clock: a broker's wall clock jumps by ±1 h (clock-skew.ts) and back: retention (7
//    days) deletes nothing, and nothing is lost.
// The schedule (fixed seed 1) starts with a SIGKILL of a leader and covers each kind once.
// TRIBUTARY_LONG=1 runs every kind in leader-kill.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFaultRun } from './run.js';
import { assertCleanRun } from './assert-run.js';

const KINDS = ['kill', 'etcd-kill', 'etcd-pause', 'truncate', 'disk-full', 'clock'] as const;

test('etcd member kills and pauses, torn segment tails, a full log directory and ±1 h wall-clock jumps (seed 1): nothing acknowledged lost, no duplicates, order kept', { timeout: 480_000 }, async (t) => {
  const report = await runFaultRun(t, { seed: 1, faults: KINDS.length, kinds: KINDS, coverKinds: true, delayMs: [800, 1500], downMs: [2000, 4500], quietMs: 2000, name: 'etcd-disk-clock' });
  assertCleanRun(report);
  assert.deepEqual(new Set(report.events.map((e) => e.kind)), new Set(KINDS), 'every kind was injected');
  const etcd = report.events.filter((e) => e.kind.startsWith('etcd-')).map((e) => e.detail).join('; ');
  assert.match(etcd, /raft leader/, 'an etcd fault hit the raft leader');
  assert.match(etcd, /follower/, 'an etcd fault hit a follower member');
});

// Issue #16: network partitions and etcd member faults under the fault suite's workload
// (run.ts): a broker cut off from brokers and etcd, from etcd only, from the other brokers
// only, and one way (what it sends is lost); the etcd raft leader or a follower member
// killed and paused (3-member etcd). The schedule (fixed seed) starts with a SIGKILL of a
// leader and then covers each of these kinds once. Afterwards every acknowledged record is
// read back at its offset, once, in order, by group consumers of both clients.
//
// Default: seed 1, one fault of each kind, short down times. TRIBUTARY_LONG=1 with
// TRIBUTARY_FAULTS=N runs N faults of every kind of the suite (see leader-kill.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFaultRun } from './run.js';
import { assertCleanRun } from './assert-run.js';

const KINDS = ['kill', 'isolate', 'isolate-etcd', 'partition-brokers', 'one-way', 'etcd-kill', 'etcd-pause'] as const;

test('network partitions and etcd member faults (seed 1): nothing acknowledged lost, no duplicates, order kept, every ISR restored', { timeout: 300_000 }, async (t) => {
  const report = await runFaultRun(t, { seed: 1, faults: KINDS.length, kinds: KINDS, coverKinds: true, delayMs: [800, 1500], downMs: [2000, 4500], quietMs: 2000, name: 'network' });
  assertCleanRun(report);
  assert.deepEqual(new Set(report.events.map((e) => e.kind)), new Set(KINDS), 'every kind was injected');
});

// Issue #16: disk and clock faults under the fault suite's workload (run.ts):
//  - truncate: a broker SIGKILLed and its active segments' tails cut (a few bytes, or half
//    the last batch) before it restarts: recovery truncates the torn batch and the broker
//    refetches from the leader; acks=all means another ISR replica had every acknowledged
//    record, so none is lost;
//  - disk-full: broker 3's log directory is a 256 MiB tmpfs (mounted by the harness as
//    root); it is filled until ENOSPC for a while, then freed. Tributary's documented
//    difference from Kafka (docs/compatibility.md, "Disk failures"): each write fails with
//    the retriable KAFKA_STORAGE_ERROR and is rolled back, the directory stays online and
//    the broker up (Kafka takes the directory offline, halts the broker and leadership
//    moves). The broker must not stop, and nothing acknowledged may be lost;
//  - clock: a broker's wall clock jumps by ±1 h (clock-skew.ts) and back: retention
//    (7 days) deletes nothing, timeouts keep working, nothing is lost.
// The schedule (fixed seed) starts with a SIGKILL of a leader and covers each kind.
// TRIBUTARY_LONG=1 runs all kinds in leader-kill.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFaultRun } from './run.js';
import { assertCleanRun } from './assert-run.js';

const KINDS = ['kill', 'truncate', 'disk-full', 'clock'] as const;

test('disk faults (torn segment tails, a full log directory) and ±1 h wall-clock jumps (seed 1): nothing acknowledged lost, no duplicates, order kept', { timeout: 300_000 }, async (t) => {
  const report = await runFaultRun(t, { seed: 1, faults: KINDS.length, kinds: KINDS, coverKinds: true, delayMs: [800, 1500], downMs: [1500, 3000], quietMs: 2000, name: 'disk-clock' });
  assertCleanRun(report);
  assert.deepEqual(new Set(report.events.map((e) => e.kind)), new Set(KINDS), 'every kind was injected');
});

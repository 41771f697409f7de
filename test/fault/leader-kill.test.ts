// Issue #15's must-hold and issue #16's fault run: 3 broker processes + etcd on loopback;
// idempotent acks=all producers (librdkafka through confluent-kafka-python, and KafkaJS) on
// an RF=3 topic with min.insync.replicas=2, a KafkaJS group consumer reading throughout;
// the seeded schedule SIGKILLs the leader of a partition under load (and, after it, more
// faults). Clients must produce to the partition again within max(2 x
// replica.lag.time.max.ms, session timeout) of the kill, and after healing every
// acknowledged record is read back by group consumers of both clients at its offset, in
// order, once. The report goes to $TRIBUTARY_FAULT_REPORT_DIR (default
// $TMPDIR/tributary-fault-reports); a failed run keeps its data, logs and history.
//
// Default: fixed seed 1, 6 faults: the SIGKILL of a leader, then one each of SIGSTOP and
// the network partitions (isolate, isolate-etcd, partition-brokers, one-way; short down
// times). The etcd, disk and clock kinds have their default run in
// etcd-disk-clock.test.ts. TRIBUTARY_LONG=1: a fresh seed (printed), TRIBUTARY_FAULTS faults (default 40) of EVERY
// kind (scheduler.ts ALL_KINDS; TRIBUTARY_KINDS=kill,pause,... narrows it), 3 etcd
// members, one broker's log directory on a tmpfs. TRIBUTARY_SEED replays a schedule (with
// the same TRIBUTARY_LONG and TRIBUTARY_KINDS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanRun } from './assert-run.js';
import { runFaultRun } from './run.js';
import { ALL_KINDS, type FaultKind } from './scheduler.js';

const LONG = process.env['TRIBUTARY_LONG'] === '1';
const seedFromEnv = process.env['TRIBUTARY_SEED'];
const SEED = seedFromEnv !== undefined && seedFromEnv !== '' ? Number(seedFromEnv) >>> 0 : LONG ? (Math.random() * 2 ** 32) >>> 0 : 1;
/** The default schedule's kinds: each once after the first kill. */
const DEFAULT_KINDS: readonly FaultKind[] = ['kill', 'pause', 'isolate', 'isolate-etcd', 'partition-brokers', 'one-way'];
const kindsFromEnv = process.env['TRIBUTARY_KINDS'];
const KINDS: readonly FaultKind[] = kindsFromEnv !== undefined && kindsFromEnv !== '' ? kindsFromEnv.split(',') as FaultKind[] : LONG ? ALL_KINDS : DEFAULT_KINDS;
const FAULTS = Number(process.env['TRIBUTARY_FAULTS'] ?? (LONG ? 40 : KINDS.length));
/** Short, covering schedules by default; the long mode keeps the scheduler's wider ranges. */
const SHORT = LONG ? {} : { coverKinds: true, delayMs: [800, 1500] as const, downMs: [2000, 4500] as const, quietMs: 2000 };
for (const k of KINDS) if (!ALL_KINDS.includes(k)) throw new Error(`TRIBUTARY_KINDS names ${k}; kinds are ${ALL_KINDS.join(', ')}`);

test(`SIGKILL of a partition leader, pauses and network partitions under idempotent acks=all load (seed ${SEED}, ${FAULTS} faults of ${KINDS.join(',')}): fast failover, nothing acknowledged lost, no duplicates, order kept`, { timeout: LONG ? 6 * 3600_000 : 480_000 }, async (t) => {
  const report = await runFaultRun(t, { seed: SEED, faults: FAULTS, kinds: KINDS, ...SHORT, name: LONG ? 'long' : 'leader-kill' });
  assertCleanRun(report);
  const first = report.events[0];
  assert.ok(first !== undefined && first.kind === 'kill' && first.led.length > 0, `the first fault SIGKILLed a leader: ${JSON.stringify(first)}`);
  for (const e of report.events) {
    if (e.kind !== 'kill') continue;
    for (const [p, perClient] of Object.entries(e.failover)) {
      for (const client of ['kafkajs', 'librdkafka']) {
        const ms = perClient[client];
        assert.ok(ms !== undefined && ms <= report.failoverBoundMs, `${e.fault}: ${client} produced to partition ${p} again after ${ms} ms (bound ${report.failoverBoundMs} ms)`);
      }
    }
  }
});

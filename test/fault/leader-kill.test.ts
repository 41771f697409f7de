// Issue #15's must-hold and issue #16's fault run: 3 broker processes + etcd (3 members) on
// loopback; idempotent acks=all producers (librdkafka through confluent-kafka-python, and
// KafkaJS) on an RF=3 topic with min.insync.replicas=2, a KafkaJS group consumer reading
// throughout; a librdkafka transactional producer committing and aborting transactions that
// span the 3 partitions of a second topic (led by different brokers), read read_committed by
// a librdkafka group consumer; both consumers commit offsets as they read. The seeded
// schedule SIGKILLs the leader of a partition under load, then injects more faults. Clients
// must produce to the partition again within max(2 x replica.lag.time.max.ms, session
// timeout) of each kill, and after healing (assert-run.ts):
//  - every acknowledged record is read back by group consumers of both clients at its
//    offset, in order, once;
//  - every committed transaction is read back whole, once; no aborted record is read by a
//    read_committed consumer; no transaction is read back in part;
//  - committed offsets never go backwards (OffsetFetch after each rejoin and after healing).
// The report goes to $TRIBUTARY_FAULT_REPORT_DIR (default $TMPDIR/tributary-fault-reports);
// a failed run keeps its data, logs and history.
//
// Default: fixed seed 1, one fault of EVERY kind (scheduler.ts ALL_KINDS) in one cluster
// run with short delays and down times, starting with the SIGKILL of a leader:
//  - pause, and the network partitions (isolate, isolate-etcd, partition-brokers, one-way);
//  - etcd-kill / etcd-pause: the etcd raft leader and a follower member (alternating);
//  - truncate: a broker SIGKILLed and its active segments' tails cut before it restarts:
//    recovery truncates the torn batch and the broker refetches;
//  - disk-full: broker 3's tmpfs log directory filled to ENOSPC (root). Tributary's
//    documented difference from Kafka (docs/compatibility.md, "Disk failures"): writes fail
//    with the retriable KAFKA_STORAGE_ERROR, the broker stays up;
//  - slow-disk: a broker's fsyncs 200-500 ms slower and its writes a few ms (slow-disk.ts);
//  - clock: a broker's wall clock jumps by ±1 h and back.
// TRIBUTARY_LONG=1: a fresh seed (printed), TRIBUTARY_FAULTS faults (default 40) of every
// kind drawn at random with the scheduler's wider ranges (TRIBUTARY_KINDS=kill,pause,...
// narrows it). TRIBUTARY_SEED replays a schedule (with the same TRIBUTARY_LONG and
// TRIBUTARY_KINDS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanRun } from './assert-run.js';
import { runFaultRun } from './run.js';
import { ALL_KINDS, type FaultKind } from './scheduler.js';

const LONG = process.env['TRIBUTARY_LONG'] === '1';
const seedFromEnv = process.env['TRIBUTARY_SEED'];
const SEED = seedFromEnv !== undefined && seedFromEnv !== '' ? Number(seedFromEnv) >>> 0 : LONG ? (Math.random() * 2 ** 32) >>> 0 : 1;
const kindsFromEnv = process.env['TRIBUTARY_KINDS'];
const KINDS: readonly FaultKind[] = kindsFromEnv !== undefined && kindsFromEnv !== '' ? kindsFromEnv.split(',') as FaultKind[] : ALL_KINDS;
const FAULTS = Number(process.env['TRIBUTARY_FAULTS'] ?? (LONG ? 40 : KINDS.length));
/**
 * The default schedule: every kind once, short. Each fault costs its delay, its down time and
 * the wait for every ISR to fill again (~0.1 s, or ~3 s after a restart): 12 kinds x ~4.5 s.
 */
const SHORT = LONG ? {} : { coverKinds: true, delayMs: [500, 1000] as const, downMs: [1500, 3000] as const, quietMs: 1500 };
for (const k of KINDS) if (!ALL_KINDS.includes(k)) throw new Error(`TRIBUTARY_KINDS names ${k}; kinds are ${ALL_KINDS.join(', ')}`);

test(`fault run under idempotent acks=all, transactional and consumer-group load (seed ${SEED}, ${FAULTS} faults of ${KINDS.join(',')}): fast failover, nothing acknowledged or committed lost, no duplicates, order kept, no aborted or partial transaction read, committed offsets never go back`, { timeout: LONG ? 6 * 3600_000 : 480_000 }, async (t) => {
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
  if (!LONG && kindsFromEnv === undefined) {
    assert.deepEqual(new Set(report.events.map((e) => e.kind)), new Set(KINDS), 'every kind was injected');
    const etcd = report.events.filter((e) => e.kind.startsWith('etcd-')).map((e) => e.detail).join('; ');
    assert.match(etcd, /raft leader/, 'an etcd fault hit the raft leader');
    assert.match(etcd, /follower/, 'an etcd fault hit a follower member');
  }
});

// The Partition object on its own (no sockets): high watermark over the ISR, follower fetch
// state, ISR shrink/expand written to the metadata, acks=all waits. Time is passed in
// (nowMs), so the lag checks are exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompressionType, ErrorCode, encodeBatchSync } from '@tributary/protocol';
import type { LocalMetadataStore } from '../src/index.js';
import type { AppendRequest, Partition, PartitionAppendResult } from '../src/replica/partition.js';
import { truncateOnBecomingFollower } from '../src/replica/follower-truncation.js';
import { leaderPartition, registration } from './helpers/partition.js';

function batch(n: number): Buffer {
  const now = Date.now();
  return encodeBatchSync({ baseOffset: 0, timestamp: now, records: Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`), timestamp: now })) });
}

function produce(partition: Partition, n: number, acks: number, timeoutMs?: number): PartitionAppendResult | Promise<PartitionAppendResult> {
  return partition.appendRecordsToLeader({ topic: 't', partition: 0, records: batch(n), acks, produceVersion: 9, nowMs: Date.now(), ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
}

test('the high watermark is the smallest log end offset over the ISR and never moves back', async (t) => {
  const { log, partition } = await leaderPartition(t);
  assert.equal(partition.role, 'leader');
  const r = produce(partition, 5, 1);
  assert.ok(!(r instanceof Promise));
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(log.logEndOffset, 5);
  assert.equal(log.highWatermark, 0, 'followers have not fetched');
  const now = Date.now();
  partition.updateFollowerFetchState(2, 5, now);
  assert.equal(log.highWatermark, 0, 'follower 3 has not fetched');
  partition.updateFollowerFetchState(3, 3, now);
  assert.equal(log.highWatermark, 3);
  partition.updateFollowerFetchState(3, 5, now);
  assert.equal(log.highWatermark, 5);
  // A follower that went back (it truncated) does not move the high watermark back.
  partition.updateFollowerFetchState(2, 2, now);
  assert.equal(log.highWatermark, 5);
  // A broker that is not a replica is not tracked.
  partition.updateFollowerFetchState(9, 0, now);
  assert.equal(partition.followerState(9), undefined);
});

test('acks=all waits for the high watermark; REQUEST_TIMED_OUT after its timeout', async (t) => {
  const { log, partition } = await leaderPartition(t);
  const waiting = produce(partition, 2, -1, 60_000);
  assert.ok(waiting instanceof Promise);
  let settled: PartitionAppendResult | undefined;
  void waiting.then((r) => (settled = r));
  const now = Date.now();
  partition.updateFollowerFetchState(2, 2, now);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, undefined, 'one follower of two has the batch');
  partition.updateFollowerFetchState(3, 2, now);
  const r = await waiting;
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(r.baseOffset, 0);
  assert.equal(log.highWatermark, 2);

  const timedOut = await produce(partition, 1, -1, 20);
  assert.equal(timedOut.errorCode, ErrorCode.REQUEST_TIMED_OUT);
  assert.equal(log.logEndOffset, 3, 'the records were appended; only the wait failed, as in Kafka');
});

test('delayed produces share one expiry timer: each times out at its own deadline, in any order of timeouts', async (t) => {
  const { log, partition } = await leaderPartition(t);
  const started = performance.now();
  // A long wait first (the timer is armed for it), then a short one (armed again, earlier).
  const long = produce(partition, 1, -1, 60_000);
  const short = produce(partition, 1, -1, 50);
  const none = produce(partition, 1, -1);
  assert.ok(long instanceof Promise && short instanceof Promise && none instanceof Promise);
  let longSettled: PartitionAppendResult | undefined;
  void long.then((r) => (longSettled = r));
  const timedOut = await short;
  assert.equal(timedOut.errorCode, ErrorCode.REQUEST_TIMED_OUT);
  assert.ok(performance.now() - started >= 49, 'not before its timeout');
  assert.equal(longSettled, undefined, 'the 60 s wait is still waiting');
  // Then a shorter one again, while the long one waits: the timer moves to it.
  const again = await produce(partition, 1, -1, 30);
  assert.equal(again.errorCode, ErrorCode.REQUEST_TIMED_OUT);
  assert.equal(longSettled, undefined);
  // The ISR catches up: the waits still pending answer NONE.
  const now = Date.now();
  partition.updateFollowerFetchState(2, log.logEndOffset, now);
  partition.updateFollowerFetchState(3, log.logEndOffset, now);
  assert.equal((await long).errorCode, ErrorCode.NONE);
  assert.equal((await none).errorCode, ErrorCode.NONE);
});

test('an acks=all append written on the synchronous path is marked written; one that waits for validation is not', async (t) => {
  const { partition } = await leaderPartition(t);
  const writtenReq: AppendRequest = { topic: 't', partition: 0, records: batch(1), acks: -1, produceVersion: 9, nowMs: Date.now(), timeoutMs: 1000 };
  const written = partition.appendRecordsToLeader(writtenReq);
  assert.ok(written instanceof Promise);
  assert.equal(writtenReq.written, true, 'validated, written with writeSync, then waiting: the request bytes are free');
  // A compressed batch is validated off-thread: its append has not happened when the promise is returned.
  const now = Date.now();
  const compressed = encodeBatchSync({ baseOffset: 0, timestamp: now, compression: CompressionType.GZIP, records: [{ key: null, value: Buffer.alloc(100, 1), timestamp: now }] });
  const pendingReq: AppendRequest = { topic: 't', partition: 0, records: compressed, acks: -1, produceVersion: 9, nowMs: now, timeoutMs: 1000 };
  const pending = partition.appendRecordsToLeader(pendingReq);
  assert.ok(pending instanceof Promise);
  assert.notEqual(pendingReq.written, true);
  partition.updateFollowerFetchState(2, 1, now);
  partition.updateFollowerFetchState(3, 1, now);
  await written;
  await pending;
});

test('followers not caught up within the lag time leave the ISR; a follower reaching the high watermark rejoins', async (t) => {
  const { metadata, log, partition } = await leaderPartition(t);
  const start = Date.now();
  produce(partition, 4, 1);
  partition.updateFollowerFetchState(2, 4, start);
  partition.updateFollowerFetchState(3, 1, start);
  assert.equal(log.highWatermark, 1);
  // Follower 3 was counted caught up when this broker became leader; at start + lag it is not yet out.
  partition.maybeShrinkIsr(start + 100, 1000);
  assert.deepEqual(metadata.topic('t')!.partitions[0]!.isr, [1, 2, 3]);
  // Follower 2 keeps fetching at the log end; follower 3 stays behind.
  partition.updateFollowerFetchState(2, 4, start + 1400);
  partition.updateFollowerFetchState(3, 1, start + 1400);
  partition.maybeShrinkIsr(start + 1500, 1000);
  await waitForIsr(metadata, [1, 2]);
  assert.deepEqual(partition.isr, [1, 2]);
  assert.equal(log.highWatermark, 4, 'the ISR without follower 3 has everything');

  // Below the high watermark it stays out; at it, it is added back.
  partition.updateFollowerFetchState(3, 3, start + 1600);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(metadata.topic('t')!.partitions[0]!.isr, [1, 2]);
  partition.updateFollowerFetchState(3, 4, start + 1700);
  await waitForIsr(metadata, [1, 2, 3]);
  assert.deepEqual(partition.isr, [1, 2, 3]);
});

test('a caught-up follower in controlled shutdown, or not registered, is not added back to the ISR (KIP-841)', async (t) => {
  const { metadata, log, partition } = await leaderPartition(t, { isr: [1] });
  const start = Date.now();
  produce(partition, 2, 1);
  await metadata.registerBroker(registration(2, true));
  await metadata.unregisterBroker(3);
  partition.updateFollowerFetchState(2, 2, start);
  partition.updateFollowerFetchState(3, 2, start);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(log.logEndOffset, 2);
  assert.deepEqual(metadata.topic('t')!.partitions[0]!.isr, [1], 'neither follower joins');
  // Registered again without the flag: eligible, and it joins at its next caught-up fetch.
  await metadata.registerBroker(registration(2));
  partition.updateFollowerFetchState(2, 2, start + 100);
  await waitForIsr(metadata, [1, 2]);
});

test('min.insync.replicas: NOT_ENOUGH_REPLICAS before the append, NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank while waiting', async (t) => {
  const { metadata, log, partition } = await leaderPartition(t, { configs: { 'min.insync.replicas': '2' } });
  const start = Date.now();
  const waiting = produce(partition, 1, -1, 60_000);
  assert.ok(waiting instanceof Promise);
  partition.maybeShrinkIsr(start + 60_000, 1000);
  const r = await waiting;
  assert.equal(r.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND);
  await waitForIsr(metadata, [1]);
  const refused = produce(partition, 1, -1);
  assert.ok(!(refused instanceof Promise));
  assert.equal(refused.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS);
  assert.equal(log.logEndOffset, 1, 'refused before the append');
});

test('an ISR change that loses the compare-and-swap is dropped, and decided again on the next check', async (t) => {
  const { metadata, partition } = await leaderPartition(t);
  const state = metadata.topic('t')!.partitions[0]!;
  const start = Date.now();
  // Another writer (the controller) moves the partition epoch while our shrink is written.
  const other = metadata.updatePartition({ topic: 't', partition: 0, expectedPartitionEpoch: state.partitionEpoch, isr: [1, 2, 3] });
  partition.maybeShrinkIsr(start + 60_000, 1000);
  await other;
  await new Promise((resolve) => setTimeout(resolve, 50));
  partition.maybeShrinkIsr(start + 60_000, 1000);
  await waitForIsr(metadata, [1]);
});

test('a new follower keeps a suffix its epochs can place; without epochs it truncates to its high watermark', async (t) => {
  const { log, partition } = await leaderPartition(t, { isr: [1] });
  assert.deepEqual(log.leaderEpochCache.epochEntries(), [{ epoch: 0, startOffset: 0 }], 'becoming leader records the epoch start');
  produce(partition, 3, 1);
  assert.equal(log.highWatermark, 3, 'an ISR of one commits at once');
  log.appendAsFollower(encodeBatchSync({ baseOffset: 3, timestamp: Date.now(), partitionLeaderEpoch: 0, records: [{ key: null, value: Buffer.from('x'), timestamp: Date.now() }] }));
  assert.equal(log.logEndOffset, 4);
  assert.equal(truncateOnBecomingFollower(log), undefined, 'the leader\'s diverging_epoch decides');
  assert.equal(log.logEndOffset, 4);
  log.leaderEpochCache.truncateFromEnd(0);
  assert.equal(truncateOnBecomingFollower(log), 3);
  assert.equal(log.logEndOffset, 3);
});

async function waitForIsr(metadata: LocalMetadataStore, isr: number[]): Promise<void> {
  const deadline = Date.now() + 5000;
  while (JSON.stringify(metadata.topic('t')!.partitions[0]!.isr) !== JSON.stringify(isr)) {
    if (Date.now() > deadline) throw new Error(`ISR ${JSON.stringify(metadata.topic('t')!.partitions[0]!.isr)}, expected ${JSON.stringify(isr)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('a follower append checks every CRC and drops a partial batch at the end', async (t) => {
  const { log, partition } = await leaderPartition(t, { isr: [1] });
  const now = Date.now();
  const first = encodeBatchSync({ baseOffset: 0, timestamp: now, records: [{ key: null, value: Buffer.from('a'), timestamp: now }] });
  const second = encodeBatchSync({ baseOffset: 1, timestamp: now, records: [{ key: null, value: Buffer.from('b'), timestamp: now }] });
  const corrupt = Buffer.concat([first, second]);
  corrupt[corrupt.length - 1] ^= 0xff;
  assert.throws(() => partition.appendAsFollower(corrupt, 2), (err: { errorCode?: number }) => err.errorCode === ErrorCode.CORRUPT_MESSAGE);
  assert.equal(log.logEndOffset, 0, 'nothing of a refused fetch is appended');
  partition.appendAsFollower(Buffer.concat([first, second.subarray(0, 30)]), 5);
  assert.equal(log.logEndOffset, 1, 'the whole batch is appended, the cut one is not');
  assert.equal(log.highWatermark, 1, 'min(leader high watermark, own log end offset)');
});

test('acks=all: a resent idempotent batch is answered once the high watermark passes the original batch, not the log end (Kafka\'s requiredOffset)', async (t) => {
  const { log, partition } = await leaderPartition(t);
  const now = Date.now();
  const idempotent = encodeBatchSync({ baseOffset: 0, timestamp: now, producerId: 7, producerEpoch: 0, baseSequence: 0, records: [{ key: null, value: Buffer.from('a'), timestamp: now }, { key: null, value: Buffer.from('b'), timestamp: now }] });
  const append = (timeoutMs: number) => partition.appendRecordsToLeader({ topic: 't', partition: 0, records: Buffer.from(idempotent), acks: -1, produceVersion: 9, nowMs: Date.now(), timeoutMs });
  const first = append(60_000);
  assert.ok(first instanceof Promise);
  partition.updateFollowerFetchState(2, 2, now);
  partition.updateFollowerFetchState(3, 2, now);
  assert.equal((await first).errorCode, ErrorCode.NONE);
  // Another producer's records follow; follower 3 stops fetching, so the high watermark stays at 2.
  const other = produce(partition, 3, 1);
  assert.ok(!(other instanceof Promise) && other.errorCode === ErrorCode.NONE);
  partition.updateFollowerFetchState(2, 5, now);
  assert.equal(log.logEndOffset, 5);
  assert.equal(log.highWatermark, 2);
  // The producer did not see the first answer and resends: a duplicate of offsets 0-1, which
  // every in-sync replica has. Kafka answers it at once; waiting for offset 5 timed it out.
  const resent = await append(200);
  assert.equal(resent.errorCode, ErrorCode.NONE);
  assert.equal(resent.baseOffset, 0);
  assert.equal(log.logEndOffset, 5, 'not appended again');
});

test('a high watermark move wakes waiting consumer fetches, not follower fetches (they read to the log end); an append wakes both', async (t) => {
  const { log, partition } = await leaderPartition(t);
  produce(partition, 2, 1);
  const woken: string[] = [];
  const consumer = (): void => { woken.push('consumer'); };
  const follower = (): void => { woken.push('follower'); };
  partition.addWaiter(consumer);
  partition.addWaiter(follower, true);
  const now = Date.now();
  partition.updateFollowerFetchState(2, 2, now);
  partition.updateFollowerFetchState(3, 2, now);
  assert.equal(log.highWatermark, 2);
  assert.deepEqual(woken, ['consumer'], 'as Kafka\'s DelayedFetch: a follower fetch completes on bytes up to the log end only');
  produce(partition, 1, 1);
  assert.deepEqual(woken, ['consumer', 'follower']);
  // Role changes wake every waiter (the fetch then answers NOT_LEADER_OR_FOLLOWER or the like).
  partition.addWaiter(follower, true);
  partition.close();
  assert.deepEqual(woken, ['consumer', 'follower', 'follower']);
});

test('a leader with followers keeps its latest appends for them, drops what every ISR follower has fetched, and stops keeping them as a follower', async (t) => {
  const { log, partition } = await leaderPartition(t);
  produce(partition, 2, 1);
  produce(partition, 3, 1);
  const recent = log.recentAppends;
  assert.ok(recent !== undefined, 'RF=3 leader with a budget');
  assert.equal(recent.firstOffset, 0);
  const now = Date.now();
  partition.updateFollowerFetchState(2, 5, now);
  assert.equal(recent.firstOffset, 0, 'follower 3 has not fetched them');
  partition.updateFollowerFetchState(3, 2, now);
  assert.equal(recent.firstOffset, 2, 'the first append is fetched by both');
  const read = log.read(2, 1 << 20);
  assert.ok(read.kind === 'ok' && read.position === -1 && read.nextFetchOffset === 5, 'served from memory');
  partition.close();
  assert.equal(log.recentAppends, undefined);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, encodeBatchSync } from '@tributary/protocol';
import {
  LogManager, decodeSnapshot, encodeSnapshot, fromProperties, snapshotFileOf, type FileSystem, type Log, type LogManagerOptions,
} from '@tributary/storage';
import { FakeClock, quietLogger, tempDir } from './helpers.js';

async function open(dataDir: string, clock: FakeClock, extra: Partial<LogManagerOptions> = {}): Promise<LogManager> {
  return LogManager.open({ dataDir, clock, schedulers: false, logger: quietLogger, ...extra });
}

function idem(log: Log, producerId: number, epoch: number, seq: number, records = 1, opts: { transactional?: boolean; valueBytes?: number; ts?: number } = {}) {
  const value = Buffer.alloc(opts.valueBytes ?? 20, 1);
  const batch = encodeBatchSync({
    producerId, producerEpoch: epoch, baseSequence: seq, transactional: opts.transactional ?? false,
    timestamp: opts.ts ?? 1_700_000_000_000,
    records: Array.from({ length: records }, () => ({ value })),
  });
  return log.append(batch, { leaderEpoch: 0 });
}

function plain(log: Log) {
  return log.append(encodeBatchSync({ timestamp: 1_700_000_000_000, records: [{ value: Buffer.from('x') }] }), { leaderEpoch: 0 });
}

/** node:fs with every byte read from a `.log` file counted. */
function countingFs(): { fs: FileSystem; logBytes: () => number; reset: () => void } {
  let bytes = 0;
  const logFds = new Set<number>();
  const wrapped: FileSystem = {
    ...fs,
    openSync: ((file: fs.PathLike, ...rest: unknown[]) => {
      const fd = (fs.openSync as (...a: unknown[]) => number)(file, ...rest);
      if (String(file).endsWith('.log')) logFds.add(fd);
      else logFds.delete(fd);
      return fd;
    }) as typeof fs.openSync,
    readSync: ((fd: number, ...rest: unknown[]) => {
      const n = (fs.readSync as (...a: unknown[]) => number)(fd, ...rest);
      if (logFds.has(fd)) bytes += n;
      return n;
    }) as typeof fs.readSync,
    readFileSync: ((file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
      const out = (fs.readFileSync as (...a: unknown[]) => Buffer)(file, ...rest);
      if (String(file).endsWith('.log')) bytes += out.length;
      return out;
    }) as typeof fs.readFileSync,
  };
  return { fs: wrapped, logBytes: () => bytes, reset: () => { bytes = 0; } };
}

test('sequence checks follow Kafka 3.9: duplicates of the last five batches, epochs, gaps, unknown producers, open transactions', async (t) => {
  const m = await open(tempDir(t), new FakeClock());
  const log = m.createLog('t', 0);
  const ps = log.producerState;
  for (let seq = 0; seq < 12; seq += 2) idem(log, 7, 3, seq, 2);
  // Batches at sequences 2..11 are retained (five), the first one (0-1) is not.
  assert.deepEqual(ps.checkAppend(7, 3, 10, 1, false), { kind: 'duplicate', firstOffset: 10, lastOffset: 11, timestamp: 1_700_000_000_000 });
  assert.equal(ps.checkAppend(7, 3, 2, 1, false).kind, 'duplicate');
  const old = ps.checkAppend(7, 3, 0, 1, false);
  assert.equal(old.kind === 'error' && old.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.deepEqual(ps.checkAppend(7, 3, 12, 0, false), { kind: 'ok' });
  const gap = ps.checkAppend(7, 3, 13, 0, false);
  assert.equal(gap.kind === 'error' && gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  const fenced = ps.checkAppend(7, 2, 12, 0, false);
  assert.equal(fenced.kind === 'error' && fenced.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  // KIP-360: a bumped epoch restarts at 0; any other sequence is out of order.
  assert.deepEqual(ps.checkAppend(7, 4, 0, 0, false), { kind: 'ok' });
  const bumped = ps.checkAppend(7, 4, 5, 0, false);
  assert.equal(bumped.kind === 'error' && bumped.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  // A producer the partition does not know is accepted at any sequence (no UNKNOWN_PRODUCER_ID since KIP-360).
  assert.deepEqual(ps.checkAppend(99, 0, 42, 0, false), { kind: 'ok' });
  // A producer with an open transaction must keep writing transactionally.
  idem(log, 8, 0, 0, 1, { transactional: true });
  const txnState = ps.checkAppend(8, 0, 1, 0, false);
  assert.equal(txnState.kind === 'error' && txnState.errorCode, ErrorCode.INVALID_TXN_STATE);
  assert.deepEqual(ps.checkAppend(8, 0, 1, 0, true), { kind: 'ok' });
  await m.close();
});

test('snapshots are written at roll and clean close; a clean restart reads no log bytes, a crash replays headers after the latest snapshot only', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const config = fromProperties({ 'segment.bytes': String(64 * 1024) });
  const m = await open(dir, clock);
  const log = m.createLog('t', 0, config);
  const seqs = new Map<number, number>();
  for (let i = 0; i < 200; i++) {
    const pid = 1000 + (i % 10);
    const seq = seqs.get(pid) ?? 0;
    idem(log, pid, 0, seq, 1, { valueBytes: 1000 });
    seqs.set(pid, seq + 1);
  }
  assert.ok(log.segments.length > 2, 'the log rolled');
  const snapshots = fs.readdirSync(log.dir).filter((n) => n.endsWith('.snapshot'));
  assert.equal(snapshots.length, log.segments.length - 1, 'one snapshot per roll, at each new segment\'s base offset');
  for (const seg of log.segments.slice(1)) assert.ok(fs.existsSync(snapshotFileOf(log.dir, seg.baseOffset)));
  const end = log.logEndOffset;
  await m.close();
  assert.ok(fs.existsSync(snapshotFileOf(path.join(dir, 't-0'), end)), 'close writes a snapshot at the log end');

  const counted = countingFs();
  const m2 = await open(dir, clock, { fileSystem: counted.fs, topicConfigs: new Map([['t', config]]) });
  const log2 = m2.getLog('t', 0)!;
  // A clean open reads the last segment's tail after its last index entry (the log end),
  // never the producer data: at most one index interval plus one batch.
  assert.ok(counted.logBytes() <= 4096 + 2 * 1100, `read ${counted.logBytes()} bytes of .log files`);
  counted.reset();
  assert.equal(log2.producerState.size, 10);
  assert.equal(log2.producerState.checkAppend(1009, 0, 19, 0, false).kind, 'duplicate', 'the last batch of each producer survives');
  assert.deepEqual(log2.producerState.checkAppend(1009, 0, 20, 0, false), { kind: 'ok' });
  // Append some more, then crash: the replay reads headers after the latest snapshot, never a whole segment.
  for (let i = 0; i < 30; i++) {
    const pid = 1000 + (i % 10);
    const seq = seqs.get(pid)!;
    idem(log2, pid, 0, seq, 1, { valueBytes: 1000 });
    seqs.set(pid, seq + 1);
  }
  const active = log2.activeSegment;
  m2.abandon();
  const counted3 = countingFs();
  const m3 = await open(dir, clock, { fileSystem: counted3.fs, topicConfigs: new Map([['t', config]]) });
  const log3 = m3.getLog('t', 0)!;
  counted3.reset();
  const replayed = log3.producerState;
  for (const [pid, next] of seqs) {
    assert.equal(replayed.checkAppend(pid, 0, next - 1, 0, false).kind, 'duplicate', `producer ${pid}'s last batch is known after the crash`);
    assert.deepEqual(replayed.checkAppend(pid, 0, next, 0, false), { kind: 'ok' });
  }
  assert.ok(active.size > 0);
  await m3.close();
});

test('producer-state load reads the headers of large batches after the snapshot, never the segment (bytes counted at the FileSystem seam)', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const m = await open(dir, clock);
  const log = m.createLog('t', 0);
  for (let seq = 0; seq < 10; seq++) idem(log, 5, 0, seq, 1, { valueBytes: 40_000 });
  log.producerState.takeSnapshot(); // as a roll would, at offset 10
  for (let seq = 10; seq < 50; seq++) idem(log, 5, 0, seq, 1, { valueBytes: 40_000 });
  const segmentBytes = log.activeSegment.size;
  const config = log.config;
  await log.flush(); // writes the offset index, as a clean close would
  m.abandon();
  const { loadLog } = await import('@tributary/storage');
  const counted = countingFs();
  // A clean-marker start (recovery reads nothing), so the .log bytes counted are the log
  // end lookup (the tail after the last index entry) and the producer-state replay.
  const { log: reloaded, stats } = loadLog({
    dir: path.join(dir, 't-0'), topic: 't', partition: 0, config, clock, cleanShutdown: true, recoveryPoint: 0, fsyncMode: 'async', fs: counted.fs,
  });
  assert.equal(stats.producerSnapshotOffset, 10);
  assert.equal(stats.producerReplay.batches, 40);
  // One first chunk (the batch sizes are not known yet), then one 61-byte header per batch.
  assert.ok(stats.producerReplay.bytesRead <= 64 * 1024 + 40 * 61, `replay read ${stats.producerReplay.bytesRead} bytes`);
  assert.ok(counted.logBytes() < segmentBytes / 10, `read ${counted.logBytes()} of ${segmentBytes} bytes of .log files`);
  assert.equal(reloaded.producerState.checkAppend(5, 0, 49, 0, false).kind, 'duplicate');
  assert.deepEqual(reloaded.producerState.checkAppend(5, 0, 50, 0, false), { kind: 'ok' });
  reloaded.abandon();
  // Without any snapshot, a clean start scans nothing (Kafka's path for logs written before snapshots existed).
  fs.rmSync(snapshotFileOf(path.join(dir, 't-0'), 10));
  const { log: empty, stats: emptyStats } = loadLog({
    dir: path.join(dir, 't-0'), topic: 't', partition: 0, config, clock, cleanShutdown: true, recoveryPoint: 0, fsyncMode: 'async', fs: counted.fs,
  });
  assert.equal(emptyStats.producerReplay.batches, 0);
  assert.equal(empty.producerState.size, 0);
  assert.deepEqual(empty.producerState.snapshotOffsets(), [50], 'an empty snapshot at the log end bounds the replay after a later crash');
  empty.abandon();
});

test('truncation removes later snapshots and restores the state as of the new log end; truncateFullyAndStartAt clears it', async (t) => {
  const dir = tempDir(t);
  const m = await open(dir, new FakeClock());
  const log = m.createLog('t', 0, fromProperties({ 'segment.bytes': String(8 * 1024) }));
  for (let seq = 0; seq < 40; seq++) idem(log, 3, 0, seq, 1, { valueBytes: 1000 });
  const snaps = log.producerState.snapshotOffsets().length;
  assert.ok(snaps >= 3);
  log.truncateTo(15);
  assert.equal(log.logEndOffset, 15);
  assert.ok(log.producerState.snapshotOffsets().every((o) => o <= 15));
  assert.equal(log.producerState.checkAppend(3, 0, 14, 0, false).kind, 'duplicate');
  assert.deepEqual(log.producerState.checkAppend(3, 0, 15, 0, false), { kind: 'ok' }, 'sequence 15 follows again after the truncation');
  const gone = log.producerState.checkAppend(3, 0, 40, 0, false);
  assert.equal(gone.kind === 'error' && gone.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  log.truncateFullyAndStartAt(100);
  assert.equal(log.producerState.size, 0);
  assert.equal(log.producerState.snapshotOffsets().length, 0);
  assert.equal(fs.readdirSync(log.dir).filter((n) => n.endsWith('.snapshot')).length, 0);
  await m.close();
});

test('DeleteRecords and retention delete the snapshots of deleted segments', async (t) => {
  const dir = tempDir(t);
  const m = await open(dir, new FakeClock());
  const log = m.createLog('t', 0, fromProperties({ 'segment.bytes': String(8 * 1024), 'file.delete.delay.ms': '0' }));
  for (let seq = 0; seq < 40; seq++) idem(log, 3, 0, seq, 1, { valueBytes: 1000 });
  log.updateHighWatermark(log.logEndOffset);
  const firstKept = log.segments[2]!.baseOffset;
  log.deleteRecordsBefore(firstKept);
  assert.equal(log.segments[0]!.baseOffset, firstKept);
  assert.ok(log.producerState.snapshotOffsets().every((o) => o >= firstKept));
  assert.equal(log.producerState.size, 1, 'Kafka keeps producers until they expire');
  await m.close();
});

test('producers expire after producer.id.expiration.ms unless a transaction is open; expired ones stay out of a reload', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock(1_700_000_000_000);
  const m = await open(dir, clock, { producerIdExpirationMs: 60_000 });
  const log = m.createLog('t', 0);
  idem(log, 1, 0, 0, 1, { ts: clock.ms });
  idem(log, 2, 0, 0, 1, { ts: clock.ms, transactional: true });
  clock.ms += 59_999;
  assert.equal(m.removeExpiredProducers(), 0);
  clock.ms += 1;
  assert.equal(m.removeExpiredProducers(), 1);
  assert.equal(log.producerState.entry(1), undefined);
  assert.ok(log.producerState.entry(2) !== undefined, 'a producer with an open transaction never expires');
  idem(log, 3, 0, 0, 1, { ts: clock.ms });
  await m.close();
  clock.ms += 60_000;
  const m2 = await open(dir, clock, { producerIdExpirationMs: 60_000 });
  const log2 = m2.getLog('t', 0)!;
  assert.equal(log2.producerState.entry(3), undefined, 'expired at load');
  assert.ok(log2.producerState.entry(2) !== undefined);
  await m2.close();
});

test('transactions: LSO, markers, aborted-transaction index, collectAbortedTransactions, kept across crash and truncation', async (t) => {
  const dir = tempDir(t);
  const m = await open(dir, new FakeClock());
  const log = m.createLog('t', 0);
  const hw = () => log.updateHighWatermark(log.logEndOffset);
  plain(log); // 0
  idem(log, 10, 0, 0, 2, { transactional: true }); // 1-2  txn A
  idem(log, 20, 0, 0, 1, { transactional: true }); // 3    txn B
  hw();
  assert.equal(log.lastStableOffset, 1);
  idem(log, 10, 0, 2, 1, { transactional: true }); // 4
  const abortA = log.appendEndTxnMarker({ producerId: 10, producerEpoch: 0, coordinatorEpoch: 5, commit: false, leaderEpoch: 0 }); // 5
  assert.equal(abortA.kind, 'ok');
  // The marker is not below the high watermark yet: the LSO stays at A's start.
  assert.equal(log.lastStableOffset, 1);
  hw();
  assert.equal(log.lastStableOffset, 3, 'B is still open');
  assert.deepEqual(log.segments[0]!.txnIndex.all(), [{ producerId: 10, firstOffset: 1, lastOffset: 5, lastStableOffset: 3 }]);
  const commitB = log.appendEndTxnMarker({ producerId: 20, producerEpoch: 0, coordinatorEpoch: 5, commit: true, leaderEpoch: 0 }); // 6
  assert.equal(commitB.kind, 'ok');
  hw();
  assert.equal(log.lastStableOffset, 7);
  assert.equal(log.firstUnstableOffset, -1);
  // Zombie coordinator and fenced producer epoch are refused, nothing appended.
  const zombie = log.appendEndTxnMarker({ producerId: 10, producerEpoch: 0, coordinatorEpoch: 4, commit: true, leaderEpoch: 0 });
  assert.equal(zombie.kind === 'error' && zombie.errorCode, ErrorCode.TRANSACTION_COORDINATOR_FENCED);
  const oldEpoch = log.appendEndTxnMarker({ producerId: 10, producerEpoch: -1, coordinatorEpoch: 5, commit: true, leaderEpoch: 0 });
  assert.equal(oldEpoch.kind === 'error' && oldEpoch.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  assert.equal(log.logEndOffset, 7);
  assert.deepEqual(log.collectAbortedTransactions(0, 7).map((a) => a.producerId), [10]);
  assert.deepEqual(log.collectAbortedTransactions(6, 7), []);
  assert.deepEqual(log.collectAbortedTransactions(0, 1), []);
  // A new open transaction, then a crash: it is open again after the reload, and the index is intact.
  idem(log, 30, 0, 0, 1, { transactional: true }); // 7
  hw();
  assert.equal(log.lastStableOffset, 7);
  m.abandon();
  const m2 = await open(dir, new FakeClock());
  const log2 = m2.getLog('t', 0)!;
  log2.updateHighWatermark(log2.logEndOffset);
  assert.equal(log2.lastStableOffset, 7);
  assert.deepEqual(log2.collectAbortedTransactions(0, 8).map((a) => [a.firstOffset, a.lastOffset]), [[1, 5]]);
  // Truncating below the ABORT marker removes its index entry and reopens transaction A.
  log2.truncateTo(5);
  assert.deepEqual(log2.collectAbortedTransactions(0, 10), []);
  assert.equal(log2.firstUnstableOffset, 1);
  await m2.close();
  // Clean restart: the same state from the close snapshot alone.
  const m3 = await open(dir, new FakeClock());
  const log3 = m3.getLog('t', 0)!;
  assert.equal(log3.firstUnstableOffset, 1);
  assert.equal(log3.producerState.entry(10)!.currentTxnFirstOffset, 1);
  await m3.close();
});

test('snapshot files are Kafka\'s ProducerSnapshot v1; a corrupt one is deleted and an older one used', async (t) => {
  const entry = { producerId: 2 ** 40, epoch: 3, lastSequence: 9, lastOffset: 123, offsetDelta: 4, timestamp: 1_700_000_000_000, coordinatorEpoch: 2, currentTxnFirstOffset: -1 };
  const bytes = encodeSnapshot([entry]);
  assert.equal(bytes.length, 2 + 4 + 4 + 46);
  assert.equal(bytes.readInt16BE(0), 1);
  assert.deepEqual(decodeSnapshot(bytes), [entry]);
  const bad = Buffer.from(bytes);
  bad[bad.length - 1] ^= 1;
  assert.equal(decodeSnapshot(bad), null);

  const dir = tempDir(t);
  const m = await open(dir, new FakeClock());
  const log = m.createLog('t', 0, fromProperties({ 'segment.bytes': String(8 * 1024) }));
  for (let seq = 0; seq < 20; seq++) idem(log, 3, 0, seq, 1, { valueBytes: 1000 });
  await m.close();
  const partDir = path.join(dir, 't-0');
  const latest = snapshotFileOf(partDir, 20);
  fs.writeFileSync(latest, Buffer.from('torn'));
  const m2 = await open(dir, new FakeClock(), { topicConfigs: new Map([['t', fromProperties({ 'segment.bytes': String(8 * 1024) })]]) });
  const log2 = m2.getLog('t', 0)!;
  // After a clean shutdown the snapshot at the log end is read on first use (log-loader.ts).
  assert.equal(log2.producerState.checkAppend(3, 0, 19, 0, false).kind, 'duplicate', 'rebuilt from the older snapshot and the log after it');
  assert.equal(fs.existsSync(latest), false, 'the corrupt snapshot was deleted');
  await m2.close();
});

test('a follower append keeps the same producer state, open transactions and aborted-transaction index as its leader', async (t) => {
  const m = await open(tempDir(t), new FakeClock());
  const leader = m.createLog('lead', 0);
  const follower = m.createLog('follow', 0);
  idem(leader, 10, 0, 0, 2, { transactional: true });
  idem(leader, 20, 1, 0, 1);
  leader.appendEndTxnMarker({ producerId: 10, producerEpoch: 0, coordinatorEpoch: 3, commit: false, leaderEpoch: 0 });
  idem(leader, 30, 0, 0, 1, { transactional: true });
  // The follower copies the leader's bytes, offsets included.
  const read = leader.read(0, 1 << 20);
  assert.equal(read.kind, 'ok');
  follower.appendAsFollower(Buffer.concat(read.kind === 'ok' ? read.records : []));
  follower.updateHighWatermark(follower.logEndOffset);
  leader.updateHighWatermark(leader.logEndOffset);
  assert.equal(follower.lastStableOffset, leader.lastStableOffset);
  assert.equal(follower.lastStableOffset, 4);
  assert.deepEqual(follower.collectAbortedTransactions(0, 5), leader.collectAbortedTransactions(0, 5));
  assert.deepEqual(follower.producerState.checkAppend(20, 1, 0, 0, false).kind, 'duplicate');
  assert.equal(follower.producerState.entry(10)!.coordinatorEpoch, 3);
  await m.close();
});

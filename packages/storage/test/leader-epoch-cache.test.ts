// The leader-epoch cache (leader-epoch-cache.ts): Kafka's LeaderEpochFileCache rules, the
// leader-epoch-checkpoint file, and the log keeping it in step with appends, truncation,
// DeleteRecords, retention and crashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setPartitionLeaderEpoch } from '@tributary/protocol';
import {
  LEADER_EPOCH_CHECKPOINT, LeaderEpochCache, LogManager, deleteOldSegments, formatLeaderEpochCheckpoint, fromProperties, parseLeaderEpochCheckpoint,
} from '@tributary/storage';
import { FakeClock, makeBatch, quietLogger, tempDir } from './helpers.js';

const entries = (...pairs: [number, number][]) => pairs.map(([epoch, startOffset]) => ({ epoch, startOffset }));

// ---------------------------------------------------------------- the cache alone

test('assign keeps one entry per epoch change and drops entries that are not monotonic', () => {
  const c = new LeaderEpochCache(null);
  assert.equal(c.latestEpoch(), -1);
  assert.equal(c.assign(0, 0), true);
  assert.equal(c.assign(0, 5), false, 'same epoch later: nothing to record');
  assert.equal(c.assign(2, 10), true);
  assert.equal(c.assign(4, 20), true);
  assert.deepEqual(c.epochEntries(), entries([0, 0], [2, 10], [4, 20]));
  assert.equal(c.previousEpoch(), 2);
  // A lower epoch at a later offset (Kafka's maybeTruncateNonMonotonicEntries): 4 goes.
  c.assign(3, 25);
  assert.deepEqual(c.epochEntries(), entries([0, 0], [2, 10], [3, 25]));
  // A higher epoch at an earlier offset: every entry starting at or after it goes.
  c.assign(5, 10);
  assert.deepEqual(c.epochEntries(), entries([0, 0], [5, 10]));
  // The same epoch at an earlier offset moves its start back.
  c.assign(5, 7);
  assert.deepEqual(c.epochEntries(), entries([0, 0], [5, 7]));
});

test('endOffsetFor answers as Kafka does in each case', () => {
  const c = new LeaderEpochCache(null, entries([1, 10], [3, 20], [6, 30]));
  const leo = 42;
  assert.deepEqual(c.endOffsetFor(-1, leo), { epoch: -1, endOffset: -1 }, 'undefined epoch');
  assert.deepEqual(c.endOffsetFor(6, leo), { epoch: 6, endOffset: 42 }, 'the latest epoch ends at the log end');
  assert.deepEqual(c.endOffsetFor(3, leo), { epoch: 3, endOffset: 30 }, 'a known epoch ends where the next starts');
  assert.deepEqual(c.endOffsetFor(4, leo), { epoch: 3, endOffset: 30 }, 'an unknown epoch: the largest below it');
  assert.deepEqual(c.endOffsetFor(5, leo), { epoch: 3, endOffset: 30 });
  assert.deepEqual(c.endOffsetFor(0, leo), { epoch: 0, endOffset: 10 }, 'older than all: the first start offset');
  assert.deepEqual(c.endOffsetFor(7, leo), { epoch: -1, endOffset: -1 }, 'newer than the latest');
  assert.deepEqual(new LeaderEpochCache(null).endOffsetFor(0, 0), { epoch: -1, endOffset: -1 }, 'empty cache');
});

test('epochForOffset finds the epoch of the batch holding an offset', () => {
  const c = new LeaderEpochCache(null, entries([1, 10], [3, 20]));
  assert.equal(c.epochForOffset(5), -1);
  assert.equal(c.epochForOffset(10), 1);
  assert.equal(c.epochForOffset(19), 1);
  assert.equal(c.epochForOffset(20), 3);
  assert.equal(c.epochForOffset(1000), 3);
});

test('truncateFromEnd and truncateFromStart cut the list as Kafka does', () => {
  const c = new LeaderEpochCache(null, entries([1, 10], [3, 20], [6, 30]));
  c.truncateFromEnd(31);
  assert.deepEqual(c.epochEntries(), entries([1, 10], [3, 20], [6, 30]));
  c.truncateFromEnd(30);
  assert.deepEqual(c.epochEntries(), entries([1, 10], [3, 20]));
  c.truncateFromStart(5);
  assert.deepEqual(c.epochEntries(), entries([1, 10], [3, 20]), 'before the first entry: nothing');
  c.truncateFromStart(15);
  assert.deepEqual(c.epochEntries(), entries([1, 15], [3, 20]), 'the first epoch now starts at the log start');
  c.truncateFromStart(25);
  assert.deepEqual(c.epochEntries(), entries([3, 25]));
  c.clear();
  assert.deepEqual(c.epochEntries(), []);
});

test('the checkpoint text is Kafka\'s: version 0, count, "epoch offset" lines', () => {
  const text = formatLeaderEpochCheckpoint(entries([0, 0], [4, 150]));
  assert.equal(text, '0\n2\n0 0\n4 150\n');
  assert.deepEqual(parseLeaderEpochCheckpoint(text), entries([0, 0], [4, 150]));
  assert.deepEqual(parseLeaderEpochCheckpoint('0\n0\n'), []);
  for (const bad of ['', '0\n', '1\n0\n', '0\n2\n0 0\n', '0\n1\n0 x\n', '0\n2\n3 10\n2 20\n', '0\n2\n2 10\n3 10\n', '0\n1\n0 0 0\n', '0\n1\n-1 0\n']) {
    assert.equal(typeof parseLeaderEpochCheckpoint(bad), 'string', JSON.stringify(bad));
  }
});

test('the cache asserts its own order (a bug, never input)', () => {
  const fires = (fn: () => unknown, invariant: string) => assert.throws(fn, (err: unknown) => {
    assert.equal((err as { code?: string }).code, 'TRIB_ERR_ASSERTION');
    assert.ok((err as Error).message.includes(invariant), (err as Error).message);
    return true;
  });
  fires(() => new LeaderEpochCache(null, entries([2, 0], [1, 10])), 'leader epochs in the cache strictly increase');
  fires(() => new LeaderEpochCache(null, entries([1, 10], [2, 10])), 'epoch start offsets in the cache strictly increase');
  fires(() => new LeaderEpochCache(null).assign(-1, 0), 'an assigned leader epoch is >= 0');
  fires(() => new LeaderEpochCache(null).assign(0, -1), 'an assigned epoch start offset is >= 0');
});

// ---------------------------------------------------------------- in the log

type T = { after(fn: () => void): void };

async function open(dataDir: string) {
  return LogManager.open({ dataDir, clock: new FakeClock(), schedulers: false, logger: quietLogger });
}

/** A follower's copy of a leader batch: offsets and epoch as the leader stamped them. */
function leaderBatch(baseOffset: number, records: number, epoch: number, fill = 0): Buffer {
  const b = makeBatch({ timestamps: Array.from({ length: records }, (_, i) => 1000 + i), baseOffset, fill });
  setPartitionLeaderEpoch(b, 0, epoch);
  return b;
}

function checkpointText(dir: string): string {
  return fs.readFileSync(path.join(dir, LEADER_EPOCH_CHECKPOINT), 'utf8');
}

test('leader appends record each new epoch in the cache; the checkpoint follows at the next flush', async (t: T) => {
  const dataDir = tempDir(t);
  const m = await open(dataDir);
  const log = m.createLog('t', 0);
  log.append(makeBatch({ timestamps: [1, 2, 3] }), { leaderEpoch: 0 });
  log.append(makeBatch({ timestamps: [4] }), { leaderEpoch: 0 });
  log.append(makeBatch({ timestamps: [5, 6] }), { leaderEpoch: 3 });
  assert.deepEqual(log.leaderEpochCache.epochEntries(), entries([0, 0], [3, 4]));
  assert.equal(fs.existsSync(path.join(log.dir, LEADER_EPOCH_CHECKPOINT)), false, 'no fsync on the append path');
  await log.flush();
  assert.equal(checkpointText(log.dir), '0\n2\n0 0\n3 4\n');
  assert.deepEqual(log.leaderEpochCache.endOffsetFor(0, log.logEndOffset), { epoch: 0, endOffset: 4 });
  assert.deepEqual(log.leaderEpochCache.endOffsetFor(3, log.logEndOffset), { epoch: 3, endOffset: 6 });
  await m.close();
  const m2 = await open(dataDir);
  const again = m2.getLog('t', 0)!;
  assert.deepEqual(again.leaderEpochCache.epochEntries(), entries([0, 0], [3, 4]));
  await m2.close();
});

test('follower appends record the epochs stamped in the leader\'s batches; -1 is skipped', async (t: T) => {
  const m = await open(tempDir(t));
  const log = m.createLog('t', 0);
  log.appendAsFollower(Buffer.concat([leaderBatch(0, 2, 1), leaderBatch(2, 2, 1), leaderBatch(4, 1, 5)]));
  log.appendAsFollower(makeBatch({ timestamps: [1], baseOffset: 5 }));
  log.appendAsFollower(leaderBatch(6, 3, 7));
  assert.deepEqual(log.leaderEpochCache.epochEntries(), entries([1, 0], [5, 4], [7, 6]));
  await m.close();
});

test('truncateTo removes a divergent suffix and its epochs; appending again works', async (t: T) => {
  const dataDir = tempDir(t);
  const m = await open(dataDir);
  const log = m.createLog('t', 0);
  // Epoch 1 wrote 0-5; this replica then led epoch 2 alone and wrote 6-9, which the new
  // leader of epoch 3 never had: it ends epoch 1 at 6 (KIP-101), so 6 onward goes.
  log.appendAsFollower(Buffer.concat([leaderBatch(0, 3, 1), leaderBatch(3, 3, 1)]));
  log.append(makeBatch({ timestamps: [1, 2], fill: 9 }), { leaderEpoch: 2 });
  log.append(makeBatch({ timestamps: [3, 4], fill: 9 }), { leaderEpoch: 2 });
  assert.deepEqual(log.leaderEpochCache.epochEntries(), entries([1, 0], [2, 6]));
  log.truncateTo(6);
  assert.equal(log.logEndOffset, 6);
  assert.deepEqual(log.leaderEpochCache.epochEntries(), entries([1, 0]));
  await log.flush();
  assert.equal(checkpointText(log.dir), '0\n1\n1 0\n');
  // The new leader's records of epoch 3 take offsets 6 on.
  log.appendAsFollower(leaderBatch(6, 2, 3, 7));
  assert.deepEqual(log.leaderEpochCache.epochEntries(), entries([1, 0], [3, 6]));
  const read = log.read(6, 1 << 20);
  assert.equal(read.kind, 'ok');
  if (read.kind === 'ok') {
    const batch = Buffer.concat(read.records);
    assert.equal(batch.readInt32BE(12), 3, 'the batch at 6 is the new leader\'s');
    assert.equal(read.nextFetchOffset, 8);
  }
  await m.close();
  const m2 = await open(dataDir);
  assert.deepEqual(m2.getLog('t', 0)!.leaderEpochCache.epochEntries(), entries([1, 0], [3, 6]));
  await m2.close();
});

test('truncating the whole log clears the cache', async (t: T) => {
  const m = await open(tempDir(t));
  const log = m.createLog('t', 0);
  log.append(makeBatch({ timestamps: [1, 2] }), { leaderEpoch: 4 });
  await log.flush();
  log.truncateFullyAndStartAt(100);
  assert.deepEqual(log.leaderEpochCache.epochEntries(), []);
  assert.equal(checkpointText(log.dir), '0\n0\n', 'written at once: no batch is left to recover the truth from');
  log.append(makeBatch({ timestamps: [1] }), { leaderEpoch: 5 });
  assert.deepEqual(log.leaderEpochCache.epochEntries(), entries([5, 100]));
  await m.close();
});

test('DeleteRecords and retention move the first epoch\'s start with the log start offset', async (t: T) => {
  const dataDir = tempDir(t);
  const m = await open(dataDir);
  const log = m.createLog('t', 0, fromProperties({ 'segment.bytes': '200', 'retention.bytes': '0' }));
  for (let epoch = 0; epoch < 4; epoch++) log.append(makeBatch({ timestamps: [1, 2], valueBytes: 100 }), { leaderEpoch: epoch });
  log.updateHighWatermark(log.logEndOffset);
  assert.deepEqual(log.leaderEpochCache.epochEntries(), entries([0, 0], [1, 2], [2, 4], [3, 6]));
  log.deleteRecordsBefore(3);
  assert.deepEqual(log.leaderEpochCache.epochEntries(), entries([1, 3], [2, 4], [3, 6]));
  deleteOldSegments(log, Date.now());
  assert.equal(log.logStartOffset, 6);
  assert.deepEqual(log.leaderEpochCache.epochEntries(), entries([3, 6]));
  await m.close();
  const m2 = await open(dataDir);
  assert.deepEqual(m2.getLog('t', 0)!.leaderEpochCache.epochEntries(), entries([3, 6]));
  await m2.close();
});

// ---------------------------------------------------------------- crashes

async function logWithEpochs(dataDir: string): Promise<void> {
  const m = await open(dataDir);
  const log = m.createLog('t', 0, fromProperties({ 'segment.bytes': '300' }));
  for (const epoch of [0, 0, 2, 2, 2, 5]) log.append(makeBatch({ timestamps: [1, 2], valueBytes: 60 }), { leaderEpoch: epoch });
  assert.ok(log.segments.length > 2, 'the epochs span several segments');
  await m.close();
}

test('a missing checkpoint is rebuilt from the batches and written', async (t: T) => {
  const dataDir = tempDir(t);
  await logWithEpochs(dataDir);
  const file = path.join(dataDir, 't-0', LEADER_EPOCH_CHECKPOINT);
  fs.rmSync(file);
  const m = await open(dataDir);
  assert.deepEqual(m.getLog('t', 0)!.leaderEpochCache.epochEntries(), entries([0, 0], [2, 4], [5, 10]));
  assert.equal(fs.existsSync(file), false, 'a start-up writes nothing');
  await m.close();
  assert.equal(fs.readFileSync(file, 'utf8'), '0\n3\n0 0\n2 4\n5 10\n');
});

test('a torn or damaged checkpoint is rebuilt from the batches; a leftover .tmp is removed', async (t: T) => {
  const dataDir = tempDir(t);
  await logWithEpochs(dataDir);
  const file = path.join(dataDir, 't-0', LEADER_EPOCH_CHECKPOINT);
  for (const damaged of ['0\n3\n0 0\n2 4\n', '0\n3\n0 0\n2 4\n5 1', '\0\0\0\0', '']) {
    fs.writeFileSync(file, damaged);
    fs.writeFileSync(file + '.tmp', '0\n1\n9 9\n');
    const m = await open(dataDir);
    assert.deepEqual(m.getLog('t', 0)!.leaderEpochCache.epochEntries(), entries([0, 0], [2, 4], [5, 10]), JSON.stringify(damaged));
    assert.equal(fs.existsSync(file + '.tmp'), false);
    await m.close();
  }
});

test('after kill -9, the epochs appended since the last flush come back from the batches', async (t: T) => {
  const dataDir = tempDir(t);
  const m = await open(dataDir);
  const log = m.createLog('t', 0);
  log.append(makeBatch({ timestamps: [1, 2] }), { leaderEpoch: 0 });
  await log.flush();
  m.checkpoint();
  log.append(makeBatch({ timestamps: [3, 4] }), { leaderEpoch: 1 });
  log.append(makeBatch({ timestamps: [5] }), { leaderEpoch: 3 });
  m.abandon();
  assert.equal(checkpointText(path.join(dataDir, 't-0')), '0\n1\n0 0\n', 'the checkpoint lags the data');
  const m2 = await open(dataDir);
  const again = m2.getLog('t', 0)!;
  assert.equal(again.logEndOffset, 5);
  assert.deepEqual(again.leaderEpochCache.epochEntries(), entries([0, 0], [1, 2], [3, 4]));
  await m2.close();
});

test('after kill -9, a truncation and new epoch since the last flush replace the stale checkpoint entries', async (t: T) => {
  const dataDir = tempDir(t);
  const m = await open(dataDir);
  const log = m.createLog('t', 0);
  log.appendAsFollower(Buffer.concat([leaderBatch(0, 5, 0), leaderBatch(5, 5, 1)]));
  await log.flush();
  m.checkpoint();
  assert.equal(checkpointText(log.dir), '0\n2\n0 0\n1 5\n');
  // The new leader ends epoch 0 at 5: epoch 1's batch goes, epoch 2's records follow.
  log.truncateTo(5);
  log.appendAsFollower(leaderBatch(5, 4, 2));
  m.abandon();
  assert.equal(checkpointText(path.join(dataDir, 't-0')), '0\n2\n0 0\n1 5\n', 'the checkpoint still names epoch 1');
  const m2 = await open(dataDir);
  const again = m2.getLog('t', 0)!;
  assert.equal(again.logEndOffset, 9);
  assert.deepEqual(again.leaderEpochCache.epochEntries(), entries([0, 0], [2, 5]));
  await m2.close();
});

test('after a crash, a checkpoint ahead of the data (a lost unflushed tail) is cut to the log end', async (t: T) => {
  const dataDir = tempDir(t);
  const m = await open(dataDir);
  const log = m.createLog('t', 0);
  log.append(makeBatch({ timestamps: [1, 2] }), { leaderEpoch: 0 });
  log.append(makeBatch({ timestamps: [3, 4] }), { leaderEpoch: 1 });
  const segmentFile = log.activeSegment.logFile;
  await log.flush();
  m.checkpoint();
  const goodSize = fs.statSync(segmentFile).size;
  m.abandon();
  // A power loss kept the checkpoint but tore the last batch.
  fs.truncateSync(segmentFile, goodSize - 10);
  fs.writeFileSync(path.join(dataDir, 'recovery-point-offset-checkpoint'), '0\n1\nt 0 0\n');
  const m2 = await open(dataDir);
  const again = m2.getLog('t', 0)!;
  assert.equal(again.logEndOffset, 2);
  assert.deepEqual(again.leaderEpochCache.epochEntries(), entries([0, 0]));
  again.append(makeBatch({ timestamps: [5] }), { leaderEpoch: 2 });
  assert.deepEqual(again.leaderEpochCache.epochEntries(), entries([0, 0], [2, 2]));
  await m2.close();
});

test('a new, empty log writes no checkpoint until its first epoch', async (t: T) => {
  const dataDir = tempDir(t);
  const m = await open(dataDir);
  const log = m.createLog('t', 0);
  assert.equal(fs.existsSync(path.join(log.dir, LEADER_EPOCH_CHECKPOINT)), false);
  await m.close();
  const m2 = await open(dataDir);
  assert.equal(fs.existsSync(path.join(dataDir, 't-0', LEADER_EPOCH_CHECKPOINT)), false);
  await m2.close();
});

// ---------------------------------------------------------------- I/O failures

test('a flush whose epoch checkpoint cannot be written does not move the recovery point', async (t: T) => {
  const { FaultyFileSystem } = await import('./faulty-file-system.js');
  const { StorageError, StorageErrorCode } = await import('@tributary/storage');
  const code = (err: unknown) => (err instanceof StorageError ? err.code : undefined);
  const isCheckpoint = (f: string) => path.basename(f).startsWith(LEADER_EPOCH_CHECKPOINT);
  for (const fsyncMode of ['async', 'sync'] as const) {
    const dir = tempDir(t);
    const faults = new FaultyFileSystem();
    const failures: string[] = [];
    const m = await LogManager.open({
      dataDir: dir, clock: new FakeClock(), schedulers: false, fileSystem: faults.fs, logger: quietLogger, onLogDirFailure: (d) => failures.push(d),
      ...(fsyncMode === 'sync' ? { fsyncMode } : {}),
    });
    const log = m.createLog('t', 0);
    log.append(makeBatch({ timestamps: [1, 2] }), { leaderEpoch: 0 });
    // A full disk: the log stays online and the next flush writes it.
    faults.fail({ op: 'write', code: 'ENOSPC', match: isCheckpoint, times: 1 });
    await assert.rejects(log.flush(), (err) => code(err) === StorageErrorCode.NO_SPACE, fsyncMode);
    assert.equal(log.recoveryPoint, 0, fsyncMode);
    assert.equal(log.isOffline, false);
    await log.flush();
    assert.equal(log.recoveryPoint, 2);
    assert.equal(checkpointText(log.dir), '0\n1\n0 0\n');
    // A failed fsync of it: the directory goes offline.
    log.append(makeBatch({ timestamps: [3] }), { leaderEpoch: 1 });
    faults.fail({ op: 'fsync', code: 'EIO', match: isCheckpoint });
    await assert.rejects(log.flush(), (err) => code(err) === StorageErrorCode.LOG_DIR_OFFLINE, fsyncMode);
    assert.equal(log.recoveryPoint, 2);
    assert.deepEqual(failures, [dir]);
    m.abandon();
  }
});

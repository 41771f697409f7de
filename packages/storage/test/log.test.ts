import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BatchLayout, CompressionType, encodeBatch, encodeBatchSync, readInt64 } from '@tributary/protocol';
import {
  LogManager, StorageError, StorageErrorCode, fromProperties, DEFAULT_LOG_CONFIG, offsetForTimestamp, maxTimestampOffset,
  ConfigError, parseCheckpoint, formatCheckpoint, writeCheckpointFile, readCheckpointFile, toProperties, CLEAN_SHUTDOWN_FILE, parsePartitionDirName,
} from '@tributary/storage';
import type { Log, LogManagerOptions } from '@tributary/storage';
import { FakeClock, makeBatch, quietLogger, tempDir } from './helpers.js';
import { FaultyFileSystem } from './faulty-file-system.js';
import { READ_AHEAD_MAX_AGE_MS } from '../src/read-ahead.js';

async function open(dataDir: string, clock: FakeClock, extra: Partial<LogManagerOptions> = {}): Promise<LogManager> {
  return LogManager.open({ dataDir, clock, schedulers: false, logger: quietLogger, ...extra });
}

function concat(log: Log, from: number, maxBytes = 1 << 30): Buffer {
  const r = log.read(from, maxBytes, { minOneBatch: true });
  assert.equal(r.kind, 'ok');
  return Buffer.concat(r.kind === 'ok' ? r.records : []);
}

function offsetsIn(buf: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at < buf.length; at += buf.readInt32BE(at + 8) + 12) out.push(readInt64(buf, at));
  return out;
}

test('append assigns offsets and leader epoch in place; read returns the exact bytes', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const m = await open(dir, clock);
  const log = m.createLog('orders', 0);
  const a = makeBatch({ timestamps: [1, 2, 3] });
  const b = makeBatch({ timestamps: [4, 5] });
  const r1 = log.append(a, { leaderEpoch: 7 });
  const r2 = log.append(b, { leaderEpoch: 7 });
  assert.deepEqual([r1.baseOffset, r1.lastOffset, r1.logEndOffset], [0, 2, 3]);
  assert.deepEqual([r2.baseOffset, r2.lastOffset, r2.logEndOffset], [3, 4, 5]);
  assert.equal(r1.logAppendTimeMs, -1);
  assert.equal(a.readInt32BE(BatchLayout.PARTITION_LEADER_EPOCH), 7);
  assert.equal(readInt64(b, 0), 3);
  assert.deepEqual(concat(log, 0), Buffer.concat([a, b]));
  assert.deepEqual(concat(log, 4), b, 'a fetch inside a batch returns that batch whole');
  const end = log.read(5, 100);
  assert.ok(end.kind === 'ok' && end.records.length === 0);
  const oor = log.read(6, 100);
  assert.equal(oor.kind, 'offset_out_of_range');
  await m.close();
  // After a reopen.
  const m2 = await open(dir, clock);
  const log2 = m2.getLog('orders', 0)!;
  assert.equal(log2.logEndOffset, 5);
  const r = log2.read(0, 1 << 20);
  assert.ok(r.kind === 'ok' && r.position === 0);
  assert.deepEqual(concat(log2, 0), Buffer.concat([a, b]));
  await m2.close();
});

test('maxBytes, minOneBatch (KIP-74) and maxOffset (high watermark) bound reads to whole batches', async (t) => {
  const m = await open(tempDir(t), new FakeClock());
  const log = m.createLog('t', 0);
  const batches = [0, 1, 2].map((i) => makeBatch({ timestamps: [i], valueBytes: 100 }));
  for (const b of batches) log.append(b, { leaderEpoch: 0 });
  const size = batches[0]!.length;
  const one = log.read(0, size + 10);
  assert.ok(one.kind === 'ok' && one.sizeInBytes === size && one.nextFetchOffset === 1);
  const none = log.read(0, 10, { minOneBatch: false });
  assert.ok(none.kind === 'ok' && none.sizeInBytes === 0);
  const forced = log.read(0, 10, { minOneBatch: true });
  assert.ok(forced.kind === 'ok' && forced.sizeInBytes === size);
  const hw = log.read(0, 1 << 20, { maxOffset: 2 });
  assert.ok(hw.kind === 'ok' && hw.sizeInBytes === 2 * size && hw.nextFetchOffset === 2);
  await m.close();
});

test('segments roll on segment.bytes; reads and index lookups span segments', async (t) => {
  const m = await open(tempDir(t), new FakeClock());
  const log = m.createLog('t', 0, fromProperties({ 'segment.bytes': '1000', 'index.interval.bytes': '100' }));
  const all: Buffer[] = [];
  for (let i = 0; i < 50; i++) {
    const b = makeBatch({ timestamps: [i, i], valueBytes: 40, fill: i });
    all.push(b);
    log.append(b, { leaderEpoch: 0 });
  }
  assert.ok(log.segments.length > 5, `expected several segments, got ${log.segments.length}`);
  for (const s of log.segments) assert.ok(s.size <= 1000);
  for (let i = 0; i < log.segments.length - 1; i++) assert.ok(log.segments[i]!.offsetIndex.entries > 0);
  for (let off = 0; off < 100; off += 7) {
    const got = concat(log, off);
    assert.deepEqual(got, Buffer.concat(all.slice(Math.floor(off / 2))));
  }
  await m.close();
});

test('segments roll on segment.ms (record time), and when the index is full', async (t) => {
  const clock = new FakeClock(1000);
  const m = await open(tempDir(t), clock);
  const log = m.createLog('t', 0, fromProperties({ 'segment.ms': '500' }));
  log.append(makeBatch({ timestamps: [1000] }), { leaderEpoch: 0 });
  log.append(makeBatch({ timestamps: [1400] }), { leaderEpoch: 0 });
  assert.equal(log.segments.length, 1);
  log.append(makeBatch({ timestamps: [1501] }), { leaderEpoch: 0 });
  assert.equal(log.segments.length, 2);
  assert.equal(log.activeSegment.baseOffset, 2);
  const small = m.createLog('u', 0, fromProperties({ 'segment.index.bytes': '24', 'index.interval.bytes': '0' }));
  for (let i = 0; i < 10; i++) small.append(makeBatch({ timestamps: [i] }), { leaderEpoch: 0 });
  assert.ok(small.segments.length >= 3, `index-full roll, got ${small.segments.length} segments`);
  await m.close();
});

test('offsetForTimestamp, earliest/latest and max timestamp (ListOffsets -3)', async (t) => {
  const m = await open(tempDir(t), new FakeClock());
  const log = m.createLog('t', 0, fromProperties({ 'segment.bytes': '400', 'index.interval.bytes': '50' }));
  // Timestamps are not monotonic: offset 4 carries the max (900).
  const ts = [[100, 150], [120, 900], [300, 310], [250], [500, 600, 700]];
  for (const s of ts) log.append(makeBatch({ timestamps: s }), { leaderEpoch: 0 });
  const mono = m.createLog('t', 1, fromProperties({ 'segment.bytes': '400', 'index.interval.bytes': '50' }));
  for (let i = 0; i < 40; i++) mono.append(makeBatch({ timestamps: [i * 10, i * 10 + 5] }), { leaderEpoch: 0 });
  assert.deepEqual(offsetForTimestamp(log, 0), { offset: 0, timestamp: 100 });
  assert.deepEqual(offsetForTimestamp(log, 130), { offset: 1, timestamp: 150 });
  assert.deepEqual(offsetForTimestamp(log, 200), { offset: 3, timestamp: 900 });
  assert.deepEqual(offsetForTimestamp(log, 901), null);
  assert.deepEqual(maxTimestampOffset(log), { offset: 3, timestamp: 900 });
  await m.close();
  const m2 = await open(m.dataDir, new FakeClock());
  const again = m2.getLog('t', 0)!;
  assert.deepEqual(offsetForTimestamp(again, 650), { offset: 3, timestamp: 900 });
  const mono2 = m2.getLog('t', 1)!;
  assert.ok(mono2.segments.length > 3);
  for (const target of [0, 3, 5, 6, 200, 201, 389, 395]) {
    const expected = target <= 395 ? { offset: Math.ceil(target / 5), timestamp: Math.ceil(target / 5) * 5 } : null;
    assert.deepEqual(offsetForTimestamp(mono2, target), expected, `timestamp ${target}`);
  }
  assert.equal(offsetForTimestamp(mono2, 396), null);
  assert.deepEqual(maxTimestampOffset(again), { offset: 3, timestamp: 900 });
  await m2.close();
});

test('offsetForTimestamp looks inside compressed batches with protocol codecs; zstd answers at batch level', async (t) => {
  const m = await open(tempDir(t), new FakeClock());
  for (const [p, compression] of [CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4].entries()) {
    const log = m.createLog('c', p);
    log.append(encodeBatchSync({ compression, records: [100, 300, 200].map((timestamp) => ({ timestamp, value: Buffer.from('v') })) }), { leaderEpoch: 0 });
    assert.deepEqual(offsetForTimestamp(log, 150), { offset: 1, timestamp: 300 }, `codec ${compression}`);
  }
  const zstd = m.createLog('c', 3);
  zstd.append(await encodeBatch({ compression: CompressionType.ZSTD, records: [100, 300].map((timestamp) => ({ timestamp, value: Buffer.from('v') })) }), { leaderEpoch: 0 });
  assert.deepEqual(offsetForTimestamp(zstd, 150), { offset: 0, timestamp: 300 }, 'the batch, by its max timestamp');
  await m.close();
});

test('LogAppendTime stamps maxTimestamp and the attribute, with a valid CRC', async (t) => {
  const m = await open(tempDir(t), new FakeClock(5000));
  const log = m.createLog('t', 0, fromProperties({ 'message.timestamp.type': 'LogAppendTime' }));
  const b = makeBatch({ timestamps: [1, 2] });
  const r = log.append(b, { leaderEpoch: 1 });
  assert.equal(r.logAppendTimeMs, 5000);
  assert.equal(readInt64(b, BatchLayout.MAX_TIMESTAMP), 5000);
  assert.equal(b.readInt16BE(BatchLayout.ATTRIBUTES) & 0x08, 0x08);
  assert.deepEqual(offsetForTimestamp(log, 4000), { offset: 0, timestamp: 5000 });
  m.abandon();
  // Recovery checks the CRC: the stamped batch must survive it.
  const m2 = await open(m.dataDir, new FakeClock());
  assert.equal(m2.getLog('t', 0)!.logEndOffset, 2);
  await m2.close();
});

test('truncateTo removes whole batches; truncateFullyAndStartAt restarts the log', async (t) => {
  const m = await open(tempDir(t), new FakeClock());
  const log = m.createLog('t', 0, fromProperties({ 'segment.bytes': '300' }));
  for (let i = 0; i < 10; i++) log.append(makeBatch({ timestamps: [i, i, i] }), { leaderEpoch: 0 });
  assert.equal(log.logEndOffset, 30);
  log.truncateTo(17); // batch 15..17 goes whole
  assert.equal(log.logEndOffset, 15);
  assert.deepEqual(offsetsIn(concat(log, 0)), [0, 3, 6, 9, 12]);
  const r = log.append(makeBatch({ timestamps: [1] }), { leaderEpoch: 1 });
  assert.equal(r.baseOffset, 15);
  log.truncateFullyAndStartAt(100);
  assert.deepEqual([log.logStartOffset, log.logEndOffset, log.segments.length], [100, 100, 1]);
  assert.equal(log.append(makeBatch({ timestamps: [1] }), { leaderEpoch: 1 }).baseOffset, 100);
  await m.close();
});

test('appendAsFollower keeps offsets and rejects going backwards', async (t) => {
  const m = await open(tempDir(t), new FakeClock());
  const log = m.createLog('t', 0);
  const r = log.appendAsFollower(makeBatch({ timestamps: [1, 2], baseOffset: 0 }));
  assert.equal(r.lastOffset, 1);
  assert.throws(() => log.appendAsFollower(makeBatch({ timestamps: [1], baseOffset: 1 })), (e: unknown) =>
    e instanceof StorageError && e.code === StorageErrorCode.UNEXPECTED_APPEND_OFFSET);
  assert.throws(() => log.append(Buffer.from([1, 2, 3]), { leaderEpoch: 0 }), (e: unknown) =>
    e instanceof StorageError && e.code === StorageErrorCode.INVALID_BATCH_FRAMING);
  await m.close();
});

test('retention by time and size, DeleteRecords, .deleted files removed after the delay', async (t) => {
  const clock = new FakeClock(1_000_000);
  const m = await open(tempDir(t), clock);
  const log = m.createLog('t', 0, fromProperties({ 'segment.bytes': '200', 'retention.ms': '1000', 'file.delete.delay.ms': '0' }));
  for (let i = 0; i < 10; i++) log.append(makeBatch({ timestamps: [1_000_000 + i * 100] }), { leaderEpoch: 0 });
  const segs = log.segments.length;
  assert.ok(segs >= 4);
  assert.equal(m.runRetention(), 0, 'nothing is below the high watermark yet');
  log.updateHighWatermark(log.logEndOffset);
  clock.ms = 1_000_000 + 1000 + 450; // segments with max ts < 1000450 go
  const deleted = m.runRetention();
  assert.ok(deleted > 0);
  assert.equal(log.logStartOffset, log.segments[0]!.baseOffset);
  assert.ok(fs.readdirSync(log.dir).some((f) => f.endsWith('.deleted')));
  // file.delete.delay.ms=0 removes them on a timer: poll (a loaded machine may take a while).
  for (let waited = 0; fs.readdirSync(log.dir).some((f) => f.endsWith('.deleted')); waited += 10) {
    assert.ok(waited < 5000, '.deleted files still present after 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(log.read(0, 100).kind, 'offset_out_of_range');

  m.updateConfig('t', fromProperties({ 'segment.bytes': '200', 'retention.ms': '-1', 'retention.bytes': '250', 'file.delete.delay.ms': '0' }));
  m.runRetention();
  assert.ok(log.size - log.activeSegment.size <= 250);

  const before = log.logStartOffset;
  assert.equal(log.deleteRecordsBefore(8), 8);
  assert.ok(log.segments[0]!.baseOffset <= 8 && log.segments[0]!.baseOffset >= before);
  assert.throws(() => log.deleteRecordsBefore(999), (e: unknown) => e instanceof StorageError && e.code === StorageErrorCode.OFFSET_OUT_OF_RANGE);
  await m.close();
  const m2 = await open(m.dataDir, clock);
  assert.equal(m2.getLog('t', 0)!.logStartOffset, 8, 'log start offset is checkpointed');
  await m2.close();
});

test('checkpoint files use Kafka text format and are replaced atomically', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'recovery-point-offset-checkpoint');
  const entries = new Map([['orders 0', 42], ['my.topic 12', 7]]);
  assert.equal(formatCheckpoint(entries), '0\n2\norders 0 42\nmy.topic 12 7\n');
  writeCheckpointFile(file, entries);
  assert.deepEqual(readCheckpointFile(file), entries);
  assert.ok(!fs.existsSync(file + '.tmp'));
  assert.throws(() => parseCheckpoint('1\n0\n'), (e: unknown) => e instanceof StorageError && e.code === StorageErrorCode.CORRUPT_CHECKPOINT);
  assert.throws(() => parseCheckpoint('0\n2\na 0 1\n'), /expected 2 entries/);
  assert.deepEqual(readCheckpointFile(path.join(dir, 'missing')), new Map());
});

test('LogConfig: Kafka names, defaults, validation errors name the key and value', () => {
  const c = fromProperties({ 'segment.bytes': '1024', 'cleanup.policy': 'compact,delete', 'flush.messages': '9223372036854775807' });
  assert.equal(c.segmentBytes, 1024);
  assert.deepEqual(c.cleanupPolicy, ['compact', 'delete']);
  assert.equal(c.flushMessages, Number.MAX_SAFE_INTEGER);
  assert.equal(c.retentionMs, DEFAULT_LOG_CONFIG.retentionMs);
  assert.throws(() => fromProperties({ 'segment.bytes': 'big' }), /segment\.bytes.*"big"|"big".*segment\.bytes/);
  assert.throws(() => fromProperties({ 'segment.bytes': '3' }), (e: unknown) => e instanceof ConfigError && e.code === 'TRIB_ERR_CONFIG_INVALID' && e.key === 'segment.bytes');
  assert.throws(() => fromProperties({ 'cleanup.policy': 'forever' }), /cleanup\.policy/);
  assert.throws(() => fromProperties({ 'message.timestamp.type': 'Now' }), /message\.timestamp\.type/);
  assert.equal(toProperties(DEFAULT_LOG_CONFIG)['flush.ms'], '9223372036854775807');
});

test('waitForFlush: group commit shares fsyncs and moves the recovery point', async (t) => {
  for (const fsyncMode of ['sync', 'async'] as const) {
    const m = await open(tempDir(t), new FakeClock(), { fsyncMode });
    const log = m.createLog('t', 0);
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      const r = log.append(makeBatch({ timestamps: [i] }), { leaderEpoch: 0 });
      waits.push(log.waitForFlush(r.logEndOffset));
    }
    const before = log.groupCommit.flushCount;
    await Promise.all(waits);
    assert.equal(log.recoveryPoint, 100);
    assert.ok(log.groupCommit.flushCount - before <= 2, `${fsyncMode}: ${log.groupCommit.flushCount - before} fsyncs for 100 waiters`);
    await m.close();
  }
});

test('flush.messages triggers a flush', async (t) => {
  const m = await open(tempDir(t), new FakeClock());
  const log = m.createLog('t', 0, fromProperties({ 'flush.messages': '3' }));
  log.append(makeBatch({ timestamps: [1, 2] }), { leaderEpoch: 0 });
  await new Promise((r) => setImmediate(r));
  assert.equal(log.recoveryPoint, 0);
  assert.equal(log.groupCommit.flushCount, 0, 'two messages start no flush');
  log.append(makeBatch({ timestamps: [1] }), { leaderEpoch: 0 });
  // The third message starts a background flush (a group commit started within this turn of
  // the event loop). Waiting for that flush to finish, rather than for a fixed time, makes
  // the check independent of how long the fsync takes on a loaded machine; the flush count
  // shows the policy started it (waiting with waitForFlush would start a flush of its own).
  await new Promise((r) => setImmediate(r));
  assert.equal(log.groupCommit.flushCount, 1, 'the third message started a flush');
  await log.groupCommit.idle();
  assert.equal(log.recoveryPoint, 3);
  await m.close();
});

test('clean close leaves a marker and recovery points at the log end; crash recovery truncates a torn tail', async (t) => {
  const dir = tempDir(t);
  const m = await open(dir, new FakeClock());
  const log = m.createLog('t', 0);
  for (let i = 0; i < 5; i++) log.append(makeBatch({ timestamps: [i], valueBytes: 50 }), { leaderEpoch: 0 });
  await m.close();
  assert.ok(fs.existsSync(path.join(dir, CLEAN_SHUTDOWN_FILE)));
  assert.equal(readCheckpointFile(path.join(dir, 'recovery-point-offset-checkpoint')).get('t 0'), 5);
  const m2 = await open(dir, new FakeClock());
  assert.ok(m2.openStats.cleanShutdown && m2.openStats.recoveredSegments === 0);
  assert.ok(!fs.existsSync(path.join(dir, CLEAN_SHUTDOWN_FILE)));
  const log2 = m2.getLog('t', 0)!;
  const flushedSize = log2.activeSegment.size;
  log2.append(makeBatch({ timestamps: [9], valueBytes: 50 }), { leaderEpoch: 0 });
  log2.append(makeBatch({ timestamps: [9], valueBytes: 50 }), { leaderEpoch: 0 });
  m2.abandon();
  const file = path.join(log2.dir, '00000000000000000000.log');
  const batchSize = makeBatch({ timestamps: [9], valueBytes: 50 }).length;
  fs.truncateSync(file, flushedSize + batchSize + 30); // the second unflushed batch is torn
  const m3 = await open(dir, new FakeClock());
  const log3 = m3.getLog('t', 0)!;
  assert.ok(m3.openStats.recoveredSegments >= 1);
  assert.equal(log3.logEndOffset, 6);
  assert.equal(fs.statSync(file).size, log3.activeSegment.size);
  await m3.close();
});

test('LogManager skips unknown dirs, removes -delete dirs, deleteLog renames then removes', async (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'not a partition'));
  fs.mkdirSync(path.join(dir, 'gone-0.0123456789abcdef0123456789abcdef-delete'));
  const warnings: string[] = [];
  const m = await LogManager.open({ dataDir: dir, schedulers: false, logger: { info: () => undefined, warn: (s) => warnings.push(s) } });
  assert.ok(warnings.some((w) => w.includes('not a partition')));
  const log = m.createLog('doomed', 3);
  log.append(makeBatch({ timestamps: [1] }), { leaderEpoch: 0 });
  assert.throws(() => m.createLog('doomed', 3), (e: unknown) => e instanceof StorageError && e.code === StorageErrorCode.LOG_EXISTS);
  await m.deleteLog('doomed', 3);
  assert.equal(m.getLog('doomed', 3), undefined);
  await m.close();
  const names = fs.readdirSync(dir);
  assert.ok(!names.some((n) => n.startsWith('doomed') || n.startsWith('gone')), names.join(','));
  assert.ok(!readCheckpointFile(path.join(dir, 'recovery-point-offset-checkpoint')).has('doomed 3'));
});

test('LogManager.deleteLogs deletes a set of partitions at once and keeps the rest', async (t) => {
  const dir = tempDir(t);
  const m = await LogManager.open({ dataDir: dir, schedulers: false });
  for (let p = 0; p < 5; p++) m.createLog('many', p).append(makeBatch({ timestamps: [p] }), { leaderEpoch: 0 });
  m.createLog('other', 0).append(makeBatch({ timestamps: [9] }), { leaderEpoch: 0 });
  // Partition 7 has no log: skipped.
  await m.deleteLogs([0, 1, 2, 3, 7].map((partition) => ({ topic: 'many', partition })));
  for (let p = 0; p < 4; p++) assert.equal(m.getLog('many', p), undefined);
  assert.equal(m.getLog('many', 4)!.logEndOffset, 1);
  const points = readCheckpointFile(path.join(dir, 'recovery-point-offset-checkpoint'));
  assert.ok(!points.has('many 0') && !points.has('many 3'));
  assert.ok(points.has('many 4') && points.has('other 0'));
  await m.close();
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('many') || n.startsWith('other')).sort(), ['many-4', 'other-0']);
  const reopened = await LogManager.open({ dataDir: dir, schedulers: false });
  assert.equal(reopened.getLog('many', 4)!.logEndOffset, 1);
  assert.equal(reopened.getLog('many', 0), undefined);
  await reopened.close();
});

test('a segment finds recently appended batches without the file, and agrees with a file scan', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const m = await open(dir, clock);
  const log = m.createLog('tail', 0);
  // More batches than the segment remembers (32), of 1-3 records each.
  for (let i = 0; i < 45; i++) log.append(makeBatch({ timestamps: Array.from({ length: 1 + (i % 3) }, (_, k) => i * 10 + k) }), { leaderEpoch: 0 });
  const check = (label: string): void => {
    const seg = log.segments[log.segments.length - 1]!;
    for (let offset = seg.baseOffset; offset <= log.logEndOffset + 1; offset++) {
      assert.equal(seg.batchPosition(offset), seg.findBatch(offset)?.position ?? -1, `${label}: offset ${offset}`);
    }
  };
  check('after appends');
  // A truncation forgets what it removed; later appends are remembered again.
  log.truncateTo(60);
  check('after truncation');
  for (let i = 0; i < 5; i++) log.append(makeBatch({ timestamps: [1000 + i, 1001 + i] }), { leaderEpoch: 0 });
  check('after appends past a truncation');
  // Reads give the same bytes as after a reopen (which starts with nothing remembered).
  const before = concat(log, 0);
  const tail = concat(log, 55);
  await m.close();
  const m2 = await open(dir, clock);
  const log2 = m2.getLog('tail', 0)!;
  assert.deepEqual(concat(log2, 0), before);
  assert.deepEqual(concat(log2, 55), tail);
  log2.append(makeBatch({ timestamps: [5000] }), { leaderEpoch: 0 });
  const seg2 = log2.segments[log2.segments.length - 1]!;
  for (let offset = 0; offset <= log2.logEndOffset; offset++) {
    assert.equal(seg2.batchPosition(offset), seg2.findBatch(offset)?.position ?? -1, `reopened: offset ${offset}`);
  }
  await m2.close();
});

test('partition directory names use Kafka\'s topic name rule from protocol', async (t) => {
  assert.deepEqual(parsePartitionDirName('orders.v2-3'), { topic: 'orders.v2', partition: 3, deleted: false });
  assert.deepEqual(parsePartitionDirName('a-1-2'), { topic: 'a-1', partition: 2, deleted: false });
  assert.deepEqual(parsePartitionDirName(`t-0.${'ab'.repeat(16)}-delete`), { topic: 't', partition: 0, deleted: true });
  for (const name of ['..-0', '.-1', 'a b-0', `${'x'.repeat(250)}-0`, 'orders', 'orders-99999999999', '__cluster_metadata']) {
    assert.equal(parsePartitionDirName(name), null, name);
  }
  const m = await open(tempDir(t), new FakeClock());
  assert.throws(() => m.createLog('..', 0), { code: StorageErrorCode.INVALID_PARTITION_NAME });
  assert.throws(() => m.createLog('a/b', 0), { code: StorageErrorCode.INVALID_PARTITION_NAME });
  await m.close();
});

test('readAhead: the next read takes the bytes read ahead; truncation drops them; a failed read-ahead is silent', async (t) => {
  const faults = new FaultyFileSystem();
  const m = await open(tempDir(t), new FakeClock(), { fileSystem: faults.fs });
  const log = m.createLog('t', 0);
  const all: Buffer[] = [];
  for (let i = 0; i < 10; i++) {
    const b = makeBatch({ timestamps: [i, i], valueBytes: 100, fill: i });
    all.push(b);
    log.append(b, { leaderEpoch: 0 });
  }
  const size = all[0]!.length;
  const first = log.read(0, 3 * size);
  assert.ok(first.kind === 'ok' && first.nextFetchOffset === 6);
  log.readAhead(first.nextFetchOffset, 3 * size);
  // The file is not read again: a failing read of it does not reach this read.
  faults.fail({ op: 'read', code: 'EIO', match: (f) => f.endsWith('.log') });
  assert.deepEqual(concat(log, 6, 3 * size), Buffer.concat(all.slice(3, 6)));
  faults.heal();
  // A read at another position, or asking for more than was read ahead, reads the file.
  log.readAhead(6, size);
  assert.deepEqual(concat(log, 6, 2 * size), Buffer.concat(all.slice(3, 5)));
  // Truncation drops what was read ahead: the bytes appended in its place are read.
  log.readAhead(14, 4 * size);
  log.truncateTo(14);
  const again = [14, 16].map((i) => makeBatch({ timestamps: [i, i], valueBytes: 100, fill: 99 }));
  for (const b of again) log.append(b, { leaderEpoch: 1 });
  assert.deepEqual(concat(log, 14, 4 * size), Buffer.concat(again));
  // Out of the log, or a failing file read: nothing read, nothing thrown, the log stays online.
  log.readAhead(1000, size);
  faults.fail({ op: 'read', code: 'EIO', match: (f) => f.endsWith('.log'), times: 1 });
  log.readAhead(0, size);
  assert.deepEqual(concat(log, 0, size), all[0]);
  await m.close();
});

test('readAhead: bytes no read came for are dropped after READ_AHEAD_MAX_AGE_MS', async (t) => {
  const faults = new FaultyFileSystem();
  const m = await open(tempDir(t), new FakeClock(), { fileSystem: faults.fs });
  const log = m.createLog('t', 0);
  const b = makeBatch({ timestamps: [0, 0], valueBytes: 100, fill: 1 });
  log.append(b, { leaderEpoch: 0 });
  log.readAhead(0, b.length);
  // Still held within the age: a failing file read does not reach the read.
  faults.fail({ op: 'read', code: 'EIO', match: (f) => f.endsWith('.log') });
  assert.deepEqual(concat(log, 0, b.length), b);
  faults.heal();
  log.readAhead(0, b.length);
  await new Promise((r) => setTimeout(r, 2 * READ_AHEAD_MAX_AGE_MS + 200));
  // Expired: the read goes to the file, which now fails.
  faults.fail({ op: 'read', code: 'EIO', match: (f) => f.endsWith('.log') });
  assert.throws(() => concat(log, 0, b.length));
  faults.heal();
  await m.close();
});

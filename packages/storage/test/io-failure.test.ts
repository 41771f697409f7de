// Disk failures (issue #14 point 5): an I/O error takes the log directory offline and no
// acknowledgement follows a failed write or fdatasync; a full disk on a write is rolled
// back and fails that append alone. Failures are injected through the FileSystem seam.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { LogManager, StorageError, StorageErrorCode, fromProperties } from '@tributary/storage';
import type { Log, LogManagerOptions } from '@tributary/storage';
import { FakeClock, makeBatch, tempDir } from './helpers.js';
import { FaultyFileSystem } from './faulty-file-system.js';

interface Opened {
  manager: LogManager;
  faults: FaultyFileSystem;
  failures: string[];
  errors: string[];
  warnings: string[];
}

async function open(t: { after(fn: () => unknown): void }, logDirs: string[], extra: Partial<LogManagerOptions> = {}): Promise<Opened> {
  const faults = new FaultyFileSystem();
  const failures: string[] = [];
  const errors: string[] = [];
  const warnings: string[] = [];
  const manager = await LogManager.open({
    logDirs,
    clock: new FakeClock(),
    schedulers: false,
    fileSystem: faults.fs,
    logger: { info: () => undefined, warn: (m) => warnings.push(m), error: (m) => errors.push(m) },
    onLogDirFailure: (dir) => failures.push(dir),
    ...extra,
  });
  t.after(() => manager.abandon());
  return { manager, faults, failures, errors, warnings };
}

function batch(n = 3, fill = 1): Buffer {
  return makeBatch({ timestamps: Array.from({ length: n }, (_, i) => 1000 + i), valueBytes: 100, fill });
}

function code(err: unknown): string | undefined {
  return err instanceof StorageError ? err.code : undefined;
}

const under = (dir: string) => (file: string) => file.startsWith(dir + path.sep);

test('EIO at a segment write takes the directory offline once; the other directory keeps working', async (t) => {
  const a = path.join(tempDir(t), 'a');
  const b = path.join(tempDir(t), 'b');
  const { manager, faults, failures, errors } = await open(t, [a, b]);
  const onA = manager.createLog('orders', 0);
  const onB = manager.createLog('orders', 1);
  assert.equal(manager.logDirOf(onA), a, 'first partition goes to the first of two empty dirs');
  assert.equal(manager.logDirOf(onB), b, 'second to the dir with fewer partitions');
  onA.append(batch(), { leaderEpoch: 0 });

  faults.fail({ op: 'write', code: 'EIO', match: under(a) });
  assert.throws(() => onA.append(batch(), { leaderEpoch: 0 }), (err) => code(err) === StorageErrorCode.LOG_DIR_OFFLINE);
  assert.deepEqual(failures, [a]);
  assert.equal(errors.length, 1, 'one error line');
  assert.match(errors[0]!, new RegExp(`Log directory ${a} is offline .*EIO.*1 of 2 log directories remain online`));
  assert.equal(onA.isOffline, true);
  assert.deepEqual(manager.offlineLogDirs(), [a]);
  // Later requests fail fast, with no new log line and nothing written.
  faults.heal();
  for (let i = 0; i < 3; i++) {
    assert.throws(() => onA.append(batch(), { leaderEpoch: 0 }), (err) => code(err) === StorageErrorCode.LOG_DIR_OFFLINE);
    assert.throws(() => onA.read(0, 1 << 20), (err) => code(err) === StorageErrorCode.LOG_DIR_OFFLINE);
  }
  assert.equal(errors.length, 1);
  assert.deepEqual(failures, [a]);
  // The partition is still known (never created again, empty, on the other dir).
  assert.equal(manager.getLog('orders', 0), onA);
  assert.throws(() => manager.createLog('orders', 0), (err) => code(err) === StorageErrorCode.LOG_EXISTS);
  assert.deepEqual(manager.allLogs(), [onB]);
  // New partitions go to the online dir; the other dir works and checkpoints only itself.
  const next = manager.createLog('orders', 2);
  assert.equal(manager.logDirOf(next), b);
  onB.append(batch(), { leaderEpoch: 0 });
  await onB.flush();
  manager.checkpoint();
  assert.match(fs.readFileSync(path.join(b, 'recovery-point-offset-checkpoint'), 'utf8'), /orders 1 3/);
  assert.doesNotMatch(fs.readFileSync(path.join(b, 'recovery-point-offset-checkpoint'), 'utf8'), /orders 0/);
});

for (const fsyncMode of ['async', 'sync'] as const) {
  test(`EIO at fdatasync (${fsyncMode}): every waiter fails, and a later successful fsync releases nobody (fsyncgate)`, async (t) => {
    const dir = tempDir(t);
    const { manager, faults, failures } = await open(t, [dir], { fsyncMode });
    const log = manager.createLog('orders', 0);
    const first = log.append(batch(), { leaderEpoch: 0 });
    faults.fail({ op: 'fdatasync', code: 'EIO', times: 1 });
    const waiting = log.waitForFlush(first.logEndOffset);
    // Appended while the failing flush is pending: depends on the same dirty pages.
    let second: number | undefined;
    try {
      second = log.append(batch(), { leaderEpoch: 0 }).logEndOffset;
    } catch (err) {
      // sync mode: the flush may already have failed; then the append is refused.
      assert.equal(code(err), StorageErrorCode.LOG_DIR_OFFLINE);
    }
    const outcomes = await Promise.allSettled([waiting, ...(second === undefined ? [] : [log.waitForFlush(second)])]);
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      assert.equal(code((o as PromiseRejectedResult).reason), StorageErrorCode.LOG_DIR_OFFLINE);
    }
    assert.equal(log.recoveryPoint, 0, 'nothing was made durable');
    assert.deepEqual(failures, [dir]);
    // The next fdatasync would succeed (times: 1), but nothing may be acknowledged now.
    await assert.rejects(log.waitForFlush(first.logEndOffset), (err) => code(err) === StorageErrorCode.LOG_DIR_OFFLINE);
    await assert.rejects(log.flush(), (err) => code(err) === StorageErrorCode.LOG_DIR_OFFLINE);
    assert.equal(log.recoveryPoint, 0);
  });
}

test('ENOSPC at fdatasync is not retriable: the directory goes offline', async (t) => {
  const dir = tempDir(t);
  const { manager, faults, failures } = await open(t, [dir]);
  const log = manager.createLog('orders', 0);
  const r = log.append(batch(), { leaderEpoch: 0 });
  faults.fail({ op: 'fdatasync', code: 'ENOSPC' });
  await assert.rejects(log.waitForFlush(r.logEndOffset), (err) => code(err) === StorageErrorCode.LOG_DIR_OFFLINE);
  assert.deepEqual(failures, [dir]);
});

test('EIO at an index write during a flush takes the directory offline', async (t) => {
  const dir = tempDir(t);
  const { manager, faults, failures } = await open(t, [dir]);
  const log = manager.createLog('orders', 0, fromProperties({ 'index.interval.bytes': '1' }));
  for (let i = 0; i < 5; i++) log.append(batch(), { leaderEpoch: 0 });
  faults.fail({ op: 'write', code: 'EIO', match: (f) => f.endsWith('.index') });
  await assert.rejects(log.flush(), (err) => code(err) === StorageErrorCode.LOG_DIR_OFFLINE);
  assert.equal(log.recoveryPoint, 0);
  assert.deepEqual(failures, [dir]);
});

test('EIO at roll (index write of the old segment, or creating the new one) takes the directory offline', async (t) => {
  for (const rule of [
    { op: 'write' as const, code: 'EIO' as const, match: (f: string) => f.endsWith('.timeindex') },
    { op: 'open' as const, code: 'EIO' as const, match: (f: string) => f.endsWith('00000000000000000015.log') },
  ]) {
    const dir = tempDir(t);
    const { manager, faults, failures } = await open(t, [dir]);
    const log = manager.createLog('orders', 0, fromProperties({ 'index.interval.bytes': '1' }));
    for (let i = 0; i < 5; i++) log.append(batch(), { leaderEpoch: 0 });
    faults.fail(rule);
    assert.throws(() => log.roll(), (err) => code(err) === StorageErrorCode.LOG_DIR_OFFLINE);
    assert.deepEqual(failures, [dir]);
    assert.equal(log.isOffline, true);
  }
});

test('ENOSPC at a segment write: the partial write is rolled back, the log stays online, and nothing is lost', async (t) => {
  const dir = tempDir(t);
  let o = await open(t, [dir]);
  let log = o.manager.createLog('orders', 0);
  const acked: number[] = [];
  acked.push(log.append(batch(3, 1), { leaderEpoch: 0 }).baseOffset);
  const sizeBefore = log.size;
  o.faults.fail({ op: 'write', code: 'ENOSPC', partialBytes: 50, match: (f) => f.endsWith('.log') });
  for (let i = 0; i < 3; i++) {
    assert.throws(() => log.append(batch(3, 2), { leaderEpoch: 0 }), (err) => code(err) === StorageErrorCode.NO_SPACE);
  }
  assert.equal(log.isOffline, false);
  assert.deepEqual(o.failures, []);
  assert.equal(log.size, sizeBefore);
  assert.equal(fs.statSync(path.join(log.dir, '00000000000000000000.log')).size, sizeBefore, 'the 50 bytes written were cut off');
  assert.equal(log.logEndOffset, 3);
  // Space freed: the retry gets the next offset; the data reads back and survives a crash.
  o.faults.heal();
  acked.push(log.append(batch(3, 3), { leaderEpoch: 0 }).baseOffset);
  assert.deepEqual(acked, [0, 3]);
  o.manager.abandon();
  o = await open(t, [dir]);
  log = o.manager.getLog('orders', 0)!;
  assert.equal(log.logEndOffset, 6);
  const r = log.read(0, 1 << 20);
  assert.equal(r.kind, 'ok');
  assert.equal(r.kind === 'ok' ? Buffer.concat(r.records).length : 0, sizeBefore * 2);
  assert.equal(o.manager.openStats.truncatedBytes, 0, 'no torn batch was left for recovery');
});

test('ENOSPC at roll (the new segment cannot be created) fails that append alone', async (t) => {
  const dir = tempDir(t);
  const { manager, faults, failures } = await open(t, [dir]);
  const log = manager.createLog('orders', 0, fromProperties({ 'segment.bytes': '1024' }));
  let end = 0;
  while (log.segments.length === 1) end = log.append(batch(), { leaderEpoch: 0 }).logEndOffset;
  faults.fail({ op: 'open', code: 'ENOSPC', match: (f) => f.endsWith('.log') });
  const segments = log.segments.length;
  let refused = 0;
  for (let i = 0; i < 20; i++) {
    try {
      end = log.append(batch(), { leaderEpoch: 0 }).logEndOffset;
    } catch (err) {
      assert.equal(code(err), StorageErrorCode.NO_SPACE);
      refused++;
    }
  }
  assert.ok(refused > 0, 'a roll was needed and refused');
  assert.equal(log.segments.length, segments);
  assert.deepEqual(failures, []);
  faults.heal();
  const r = log.append(batch(), { leaderEpoch: 0 });
  assert.equal(r.baseOffset, end);
  await log.flush();
  assert.equal(log.recoveryPoint, log.logEndOffset);
});

test('a failed checkpoint write takes its directory offline', async (t) => {
  const a = path.join(tempDir(t), 'a');
  const b = path.join(tempDir(t), 'b');
  const { manager, faults, failures } = await open(t, [a, b]);
  manager.createLog('orders', 0);
  manager.createLog('orders', 1);
  faults.fail({ op: 'fsync', code: 'EIO', match: (f) => f.startsWith(path.join(b, 'replication-offset-checkpoint')) });
  manager.checkpoint();
  assert.deepEqual(failures, [b]);
  assert.equal(manager.getLog('orders', 1)!.isOffline, true);
  assert.equal(manager.getLog('orders', 0)!.isOffline, false);
});

test('several log dirs: placement by fewest partitions, found again at start-up, one clean marker each', async (t) => {
  const a = path.join(tempDir(t), 'a');
  const b = path.join(tempDir(t), 'b');
  const m1 = await LogManager.open({ logDirs: [a, b], schedulers: false });
  const logs: Log[] = [];
  for (let p = 0; p < 5; p++) logs.push(m1.createLog('t', p));
  assert.deepEqual(logs.map((l) => m1.logDirOf(l)), [a, b, a, b, a]);
  for (const l of logs) l.append(batch(), { leaderEpoch: 0 });
  await m1.close();
  assert.ok(fs.existsSync(path.join(a, '.kafka_cleanshutdown')));
  assert.ok(fs.existsSync(path.join(b, '.kafka_cleanshutdown')));
  const m2 = await LogManager.open({ logDirs: [a, b], schedulers: false });
  t.after(() => m2.abandon());
  assert.equal(m2.openStats.partitions, 5);
  assert.equal(m2.openStats.cleanShutdown, true);
  for (let p = 0; p < 5; p++) {
    const log = m2.getLog('t', p)!;
    assert.equal(m2.logDirOf(log), p % 2 === 0 ? a : b);
    assert.equal(log.logEndOffset, 3);
  }
  assert.equal(m2.logDirOf(m2.createLog('t', 5)), b, 'b has 2, a has 3');
});

test('a partition found in two log dirs stops the start-up', async (t) => {
  const a = path.join(tempDir(t), 'a');
  const b = path.join(tempDir(t), 'b');
  fs.mkdirSync(path.join(a, 't-0'), { recursive: true });
  fs.mkdirSync(path.join(b, 't-0'), { recursive: true });
  await assert.rejects(LogManager.open({ logDirs: [a, b], schedulers: false }), /has a log in two directories/);
});

test('ENOSPC writing the producer-state snapshot of a roll refuses that append alone; EIO takes the directory offline', async (t) => {
  const dir = tempDir(t);
  const { manager, faults, failures } = await open(t, [dir]);
  const log = manager.createLog('orders', 0, fromProperties({ 'segment.bytes': '1024' }));
  let end = 0;
  while (log.segments.length === 1) end = log.append(batch(), { leaderEpoch: 0 }).logEndOffset;
  faults.fail({ op: 'open', code: 'ENOSPC', match: (f) => f.endsWith('.snapshot') });
  const segments = log.segments.length;
  let refused = 0;
  for (let i = 0; i < 20; i++) {
    try {
      end = log.append(batch(), { leaderEpoch: 0 }).logEndOffset;
    } catch (err) {
      assert.equal(code(err), StorageErrorCode.NO_SPACE);
      refused++;
    }
  }
  assert.ok(refused > 0, 'a roll was needed and refused');
  assert.equal(log.segments.length, segments, 'no segment was created without its snapshot');
  assert.deepEqual(failures, []);
  faults.heal();
  assert.equal(log.append(batch(), { leaderEpoch: 0 }).baseOffset, end);
  faults.fail({ op: 'write', code: 'EIO', match: (f) => f.endsWith('.snapshot') });
  assert.throws(() => {
    for (let i = 0; i < 40; i++) log.append(batch(), { leaderEpoch: 0 });
  }, (err: unknown) => code(err) === StorageErrorCode.LOG_DIR_OFFLINE);
  assert.ok(log.isOffline);
  assert.equal(failures.length, 1);
});

// Opening a partition after a clean shutdown (log-loader.ts, cleanLogEndOffset): the log end
// offset comes from the recovery-point checkpoint when the close snapshot agrees with it, and
// nothing of the segment is read until first use; any disagreement falls back to reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { encodeBatchSync } from '@tributary/protocol';
import {
  LogManager, RECOVERY_POINT_CHECKPOINT, fromProperties, readCheckpointFile, writeCheckpointFile,
  type FileSystem, type Log, type LogManagerOptions,
} from '@tributary/storage';
import { FakeClock, quietLogger, tempDir } from './helpers.js';

const config = fromProperties({ 'segment.bytes': String(1024 * 1024), 'index.interval.bytes': '700' });
const topicConfigs = new Map([['t', config]]);

async function open(dataDir: string, extra: Partial<LogManagerOptions> = {}): Promise<LogManager> {
  return LogManager.open({ dataDir, clock: new FakeClock(), schedulers: false, logger: quietLogger, topicConfigs, ...extra });
}

/** Batch i: idempotent, timestamps rising but for one late maximum (the time index must keep it). */
function append(log: Log, i: number): void {
  const ts = i === 7 ? 1_800_000_000_000 : 1_700_000_000_000 + i;
  log.append(encodeBatchSync({ producerId: 42, producerEpoch: 0, baseSequence: i * 2, timestamp: ts, records: [{ value: Buffer.alloc(300, i) }, { value: Buffer.alloc(10) }] }), { leaderEpoch: 0 });
}

function allBytes(log: Log): Buffer {
  const read = log.read(0, 1 << 20);
  assert.equal(read.kind, 'ok');
  return Buffer.concat(read.kind === 'ok' ? read.records : []);
}

/** node:fs with every file opened or read whole counted by its suffix. */
function countingFs(): { fs: FileSystem; opened: Map<string, number> } {
  const opened = new Map<string, number>();
  const count = (file: unknown): void => {
    const name = path.basename(String(file));
    const suffix = name.startsWith('.') ? name : name.includes('.') ? name.slice(name.indexOf('.')) : name;
    opened.set(suffix, (opened.get(suffix) ?? 0) + 1);
  };
  const wrapped: FileSystem = {
    ...fs,
    openSync: ((file: fs.PathLike, ...rest: unknown[]) => {
      count(file);
      return (fs.openSync as (...a: unknown[]) => number)(file, ...rest);
    }) as typeof fs.openSync,
    readFileSync: ((file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
      count(file);
      return (fs.readFileSync as (...a: unknown[]) => Buffer)(file, ...rest);
    }) as typeof fs.readFileSync,
  };
  return { fs: wrapped, opened };
}

test('a clean open reads no segment or index file, and the log goes on exactly as one never restarted', async (t) => {
  const restarted = tempDir(t);
  const straight = tempDir(t);
  const a = await open(restarted);
  const b = await open(straight);
  const logA = a.createLog('t', 0, config);
  const logB = b.createLog('t', 0, config);
  for (let i = 0; i < 25; i++) {
    append(logA, i);
    append(logB, i);
  }
  await a.close();

  const counted = countingFs();
  const a2 = await open(restarted, { fileSystem: counted.fs });
  const log2 = a2.getLog('t', 0)!;
  for (const suffix of ['.log', '.index', '.timeindex']) assert.equal(counted.opened.get(suffix) ?? 0, 0, `${suffix} files opened at a clean open: ${[...counted.opened]}`);
  assert.equal(counted.opened.get('.snapshot') ?? 0, 0, 'the close snapshot is read on first use');
  assert.equal(log2.logEndOffset, 50);
  assert.equal(log2.producerState.checkAppend(42, 0, 48, 1, false).kind, 'duplicate');
  assert.equal(counted.opened.get('.snapshot'), 1);

  // Appends after the restart index at the same positions as in a log that never stopped
  // (the bytes since the last index entry are found on the first append), and the largest
  // timestamp is the one before the restart.
  assert.equal(log2.activeSegment.maxTimestampSoFar, 1_800_000_000_000);
  for (let i = 25; i < 60; i++) {
    append(log2, i);
    append(logB, i);
  }
  assert.equal(log2.logEndOffset, logB.logEndOffset);
  assert.deepEqual(log2.activeSegment.offsetIndex.toBytes(), logB.activeSegment.offsetIndex.toBytes());
  assert.equal(log2.activeSegment.maxTimestampSoFar, logB.activeSegment.maxTimestampSoFar);
  assert.deepEqual(allBytes(log2), allBytes(logB));
  await a2.close();
  await b.close();
});

test('after a clean shutdown, a recovery point the close snapshot does not confirm is not trusted: the log end is read', async (t) => {
  const dir = tempDir(t);
  const m = await open(dir);
  const log = m.createLog('t', 0, config);
  for (let i = 0; i < 20; i++) append(log, i);
  await m.close();

  // A checkpoint left behind (a full disk kept close from rewriting it) names an older offset.
  const file = path.join(dir, RECOVERY_POINT_CHECKPOINT);
  const points = readCheckpointFile(file);
  assert.equal(points.get('t 0'), 40);
  writeCheckpointFile(file, new Map([['t 0', 12]]));
  const counted = countingFs();
  const m2 = await open(dir, { fileSystem: counted.fs });
  assert.ok((counted.opened.get('.log') ?? 0) > 0, 'the active segment is read');
  assert.equal(m2.getLog('t', 0)!.logEndOffset, 40);
  append(m2.getLog('t', 0)!, 20);
  assert.equal(m2.getLog('t', 0)!.logEndOffset, 42);
  await m2.close();

  // No entry at all for the partition: read as well.
  writeCheckpointFile(file, new Map());
  const m3 = await open(dir);
  assert.equal(m3.getLog('t', 0)!.logEndOffset, 42);
  await m3.close();

  // No snapshot (data from before snapshots existed): read as well.
  for (const name of fs.readdirSync(path.join(dir, 't-0'))) if (name.endsWith('.snapshot')) fs.rmSync(path.join(dir, 't-0', name));
  const m4 = await open(dir);
  assert.equal(m4.getLog('t', 0)!.logEndOffset, 42);
  await m4.close();
});

test('a snapshot deferred at a clean open: producers expire as if it had been read at open, and a close without appends writes none', async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const m = await open(dir, { clock });
  const log = m.createLog('t', 0, config);
  for (let i = 0; i < 3; i++) append(log, i);
  await m.close();
  const snapshotsOf = () => fs.readdirSync(path.join(dir, 't-0')).filter((n) => n.endsWith('.snapshot'));
  const before = snapshotsOf();
  const mtime = fs.statSync(path.join(dir, 't-0', before[0]!)).mtimeMs;

  // Reopened and closed untouched: the snapshot stays as it was (not even read).
  const m2 = await open(dir, { clock, producerIdExpirationMs: 60_000 });
  await m2.close();
  assert.deepEqual(snapshotsOf(), before);
  assert.equal(fs.statSync(path.join(dir, 't-0', before[0]!)).mtimeMs, mtime);

  // Expiry checks while the snapshot is deferred count nothing, but its producers are judged
  // against the latest check's time when it loads. The batches carry the clock's time.
  const m3 = await open(dir, { clock, producerIdExpirationMs: 60_000 });
  assert.equal(m3.removeExpiredProducers(), 0);
  assert.equal(m3.getLog('t', 0)!.producerState.size, 1, 'judged at the clock of the open');
  await m3.close();
  const m4 = await open(dir, { clock, producerIdExpirationMs: 60_000 });
  clock.ms += 120_000;
  m4.removeExpiredProducers();
  assert.equal(m4.getLog('t', 0)!.producerState.size, 0, 'expired by the later check');
  await m4.close();
});

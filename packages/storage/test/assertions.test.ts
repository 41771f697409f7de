// Every invariant storage asserts (see @tributary/protocol's assert.ts) can fire: each test
// breaks one through an internal API, since the public API keeps them all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { type BatchSummary, splitBatches, writeInt64 } from '@tributary/protocol';
import { LogManager, OffsetIndex, fromProperties, type Log } from '@tributary/storage';
import { FakeClock, makeBatch, quietLogger, tempDir } from './helpers.js';

const fires = (fn: () => unknown, invariant: string) => assert.throws(fn, (err: unknown) => {
  assert.equal((err as { code?: string }).code, 'TRIB_ERR_ASSERTION');
  assert.ok((err as Error).message.includes(invariant), (err as Error).message);
  return true;
});

async function logWithData(t: { after(fn: () => void): void }): Promise<{ m: LogManager; log: Log }> {
  const m = await LogManager.open({ dataDir: tempDir(t), clock: new FakeClock(), schedulers: false, logger: quietLogger });
  const log = m.createLog('t', 0);
  log.append(makeBatch({ timestamps: [1, 2, 3] }), { leaderEpoch: 0 });
  return { m, log };
}

function framed(baseOffset: number): { bytes: Buffer; headers: BatchSummary[] } {
  const bytes = makeBatch({ timestamps: [1], baseOffset });
  const headers = splitBatches(bytes);
  assert.ok(Array.isArray(headers));
  return { bytes, headers };
}

test('an append below the log end offset fires before anything is written', async (t) => {
  const { m, log } = await logWithData(t);
  const { bytes, headers } = framed(1);
  const size = log.size;
  fires(() => (log as unknown as { write(b: Buffer, h: BatchSummary[], now: number): void }).write(bytes, headers, 0), 'appended batches start at or after the log end offset');
  assert.equal(log.size, size);
  assert.equal(log.logEndOffset, 3);
  await m.close();
});

test('a segment refuses a batch below its base offset or too far above it, and a read past its end', async (t) => {
  const { m, log } = await logWithData(t);
  log.roll();
  const segment = log.activeSegment;
  assert.equal(segment.baseOffset, 3);
  const below = framed(2);
  fires(() => segment.append(below.bytes, below.headers), 'a segment holds no batch below its base offset');
  const far = framed(3);
  far.headers[0]!.lastOffset = 3 + 2 ** 31;
  fires(() => segment.append(far.bytes, far.headers), 'a segment holds only offsets within int32 of its base offset');
  assert.equal(segment.size, 0, 'nothing was written');
  fires(() => segment.readBatches(segment.size + 1, 100, Infinity, true), 'a read starts inside its segment');
  await m.close();
});

test('offset index entries must increase in offset and in position', () => {
  const index = new OffsetIndex(100, 1024);
  index.append(110, 4096);
  fires(() => index.append(110, 8192), 'offset index entries increase in offset');
  fires(() => index.append(105, 8192), 'offset index entries increase in offset');
  fires(() => index.append(120, 4096), 'offset index entries increase in position');
  index.append(120, 8192);
  assert.equal(index.entries, 2);
});

test('log start <= high watermark <= log end, and recovery point <= log end', async (t) => {
  const { m, log } = await logWithData(t);
  const state = log as unknown as { logStart: number; hw: number; recovery: number; checkOffsets(): void };
  log.updateHighWatermark(3);
  state.checkOffsets();
  state.logStart = 4;
  fires(() => state.checkOffsets(), 'log start offset <= high watermark');
  state.logStart = 0;
  state.hw = 4;
  fires(() => state.checkOffsets(), 'high watermark <= log end offset');
  state.hw = 3;
  state.recovery = 4;
  fires(() => log.updateHighWatermark(3), 'recovery point <= log end offset');
  state.recovery = 0;
  m.abandon();
});

test('offsets going backwards on disk are validated when an index is rebuilt, never asserted', async (t) => {
  const dir = tempDir(t);
  const m = await LogManager.open({ dataDir: dir, clock: new FakeClock(), schedulers: false, logger: quietLogger });
  const log = m.createLog('t', 0, fromProperties({ 'index.interval.bytes': '1' }));
  for (const timestamps of [[1, 2, 3], [4, 5], [6]]) log.append(makeBatch({ timestamps }), { leaderEpoch: 0 });
  const segmentFile = path.join(log.dir, '00000000000000000000.log');
  await m.close();
  // Damage outside the CRC: the third batch claims offset 1, behind the second (3-4).
  const bytes = fs.readFileSync(segmentFile);
  const third = (splitBatches(bytes) as BatchSummary[])[2]!;
  writeInt64(bytes, third.position, 1);
  fs.writeFileSync(segmentFile, bytes);
  for (const suffix of ['.index', '.timeindex']) fs.rmSync(segmentFile.replace(/\.log$/, suffix));
  const m2 = await LogManager.open({ dataDir: dir, clock: new FakeClock(), schedulers: false, logger: quietLogger });
  const again = m2.getLog('t', 0)!;
  assert.equal(again.logEndOffset, 5, 'the log ends before the misplaced batch');
  const read = again.read(0, 1 << 20);
  assert.equal(read.kind, 'ok');
  await m2.close();
});

// The cleaner's reading and hashing (log-cleaner-read.ts, log-cleaner-md5.ts, the offset
// map) and its single pass over transactions and keys (log-cleaner-core.ts): MD5 exactly as
// node:crypto computes it; a transaction's keys wait for its marker, so an aborted one never
// hides anything and a committed one never hides a later record of its keys, even when the
// map fills before the marker; damaged bytes fail the clean. No sockets; cleanLog runs on
// segment files written here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ControlRecordType, decodeBatchSync, encodeBatchSync, encodeControlBatch, splitBatches } from '@tributary/protocol';
import { OffsetMap, cleanLog, nodeFileSystem } from '@tributary/storage';
import type { CleanTask } from '@tributary/storage';
import { md5Into } from '../src/log-cleaner-md5.js';
import { tempDir } from './helpers.js';

test('md5Into is MD5 for every length around the block and padding boundaries, anywhere in a buffer', () => {
  const out = new Int32Array(4);
  const buf = randomBytes(400);
  for (let length = 0; length <= 200; length++) {
    for (const start of [0, 3, 137]) {
      md5Into(buf, start, start + length, out);
      assert.equal(Buffer.from(out.buffer).toString('hex'), createHash('md5').update(buf.subarray(start, start + length)).digest('hex'), `length ${length} at ${start}`);
    }
  }
});

test('the offset map keeps the latest offset of a key whatever order offsets come in', () => {
  const map = new OffsetMap(24 * 16);
  map.put(Buffer.from('a'), 5);
  map.put(Buffer.from('a'), 3);
  map.put(Buffer.from('b'), 1);
  map.put(Buffer.from('b'), 9);
  assert.equal(map.get(Buffer.from('a')), 5);
  assert.equal(map.get(Buffer.from('b')), 9);
  assert.equal(map.get(Buffer.from('c')), -1);
  assert.equal(map.size, 2);
});

const PID = 7;
const TS = 1_700_000_000_000;

function data(baseOffset: number, key: string, transactional: boolean): Buffer {
  return encodeBatchSync({
    baseOffset,
    timestamp: TS,
    ...(transactional ? { producerId: PID, producerEpoch: 0, baseSequence: 0, transactional: true } : {}),
    records: [{ key: Buffer.from(key), value: Buffer.from(`${key}@${baseOffset}`) }],
  });
}

/** Writes the batches as segment 0 and an empty "active" segment after them; returns the task. */
function logOf(dir: string, batches: Buffer[], offsetMapBytes: number): CleanTask {
  const bytes = Buffer.concat(batches);
  fs.writeFileSync(path.join(dir, '00000000000000000000.log'), bytes);
  const end = batches.length;
  fs.writeFileSync(path.join(dir, `${String(end).padStart(20, '0')}.log`), Buffer.alloc(0));
  return {
    dir,
    topicPartition: 't-0',
    segments: [{ baseOffset: 0, size: bytes.length }],
    segmentsEndOffset: end,
    firstDirtyOffset: 0,
    nowMs: TS,
    deleteRetentionMs: 86_400_000,
    segmentBytes: 1 << 30,
    indexIntervalBytes: 4096,
    maxIndexBytes: 1 << 20,
    offsetMapBytes,
    ioMaxBytesPerSecond: Infinity,
  };
}

function cleanedOffsets(dir: string): number[] {
  const bytes = fs.readFileSync(path.join(dir, '00000000000000000000.log.cleaned'));
  const headers = splitBatches(bytes);
  assert.ok(typeof headers !== 'string', String(headers));
  return headers.flatMap((h) => decodeBatchSync(bytes, h.position).records.map((r) => r.offset));
}

for (const commit of [true, false]) {
  test(`a map that fills before a transaction's ${commit ? 'commit' : 'abort'} marker: the transaction's keys wait for it, the map never overfills, nothing live is lost`, async (t) => {
    const dir = tempDir(t);
    // Two entries fit (3 slots at 0.9): txn a@0 waits (1), a@1 goes in (2), b@2 does not fit.
    const task = logOf(
      dir,
      [
        data(0, 'a', true),
        data(1, 'a', false),
        data(2, 'b', false),
        encodeControlBatch({ type: commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT, producerId: PID, producerEpoch: 0, coordinatorEpoch: 0, baseOffset: 3, timestamp: TS }),
      ],
      3 * 24,
    );
    const result = await cleanLog(task, nodeFileSystem);
    assert.equal(result.endOffset, 2, 'the dirty section ends where the map filled');
    assert.ok(result.mapEntries <= 2, `${result.mapEntries} entries in a map of 2`);
    // a@0 goes either way (aborted, or older than a@1); a@1, b@2 and the marker stay.
    assert.deepEqual(cleanedOffsets(dir), [1, 2, 3]);
  });
}

test('a committed transaction whose marker comes after a later record of its key: the later record wins', async (t) => {
  const dir = tempDir(t);
  const task = logOf(
    dir,
    [data(0, 'a', true), data(1, 'a', false), encodeControlBatch({ type: ControlRecordType.COMMIT, producerId: PID, producerEpoch: 0, coordinatorEpoch: 0, baseOffset: 2, timestamp: TS }), data(3, 'b', false)],
    1 << 16,
  );
  const result = await cleanLog(task, nodeFileSystem);
  assert.equal(result.endOffset, 4);
  assert.deepEqual(cleanedOffsets(dir), [1, 2, 3]);
  // Each byte read twice: one pass for transactions and the map, one for the rewrite.
  assert.equal(result.bytesRead, 2 * task.segments[0]!.size);
});

test('a damaged dirty batch fails the clean (its CRC is checked before its keys are used)', async (t) => {
  const dir = tempDir(t);
  const batches = [data(0, 'a', false), data(1, 'a', false)];
  batches[1]![batches[1]!.length - 2] ^= 0xff;
  await assert.rejects(cleanLog(logOf(dir, batches, 1 << 16), nodeFileSystem), /CRC/);
});

test('a transaction still open at the end of the cleanable segments: the map is rebuilt to stop at its first batch, so nothing after it hides an older record', async (t) => {
  const dir = tempDir(t);
  // a@0, then an open transaction (b@1), then a@2: a@2 is past the first unstable offset and must not remove a@0.
  const task = logOf(dir, [data(0, 'a', false), data(1, 'b', true), data(2, 'a', false)], 1 << 16);
  const result = await cleanLog(task, nodeFileSystem);
  assert.equal(result.endOffset, 1, 'the dirty section ends at the open transaction');
  assert.equal(result.mapEntries, 1);
  assert.deepEqual(cleanedOffsets(dir), [0, 1, 2]);
  // Once the transaction opens the log, nothing is cleanable at all.
  const dir2 = tempDir(t);
  const none = await cleanLog(logOf(dir2, [data(0, 'b', true), data(1, 'a', false)], 1 << 16), nodeFileSystem);
  assert.equal(none.endOffset, 0);
  assert.equal(none.groups.length, 0);
});

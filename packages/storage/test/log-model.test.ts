// Model-based test: random operations against a real log and a simple in-memory model
// (the list of batches it must hold), with crashes that cut or garble unflushed bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fc from 'fast-check';
import { BatchLayout, readInt64 } from '@tributary/protocol';
import { LogManager, fromProperties } from '@tributary/storage';
import type { Log } from '@tributary/storage';
import { FakeClock, makeBatch, quietLogger, tempDir } from './helpers.js';

interface ModelBatch { baseOffset: number; lastOffset: number; bytes: Buffer }

type Op =
  | { kind: 'append'; batches: Array<{ records: number; valueBytes: number }> }
  | { kind: 'read'; at: number; maxBytes: number }
  | { kind: 'roll' }
  | { kind: 'flush' }
  | { kind: 'truncate'; at: number }
  | { kind: 'deleteRecords'; at: number }
  | { kind: 'retention'; bytes: number }
  | { kind: 'reopen' }
  | { kind: 'crash'; cut: number; garble: number | null; indexCut: number | null };

const fraction = fc.double({ min: 0, max: 1, noNaN: true });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), batches: fc.array(fc.record({ records: fc.integer({ min: 1, max: 5 }), valueBytes: fc.integer({ min: 0, max: 120 }) }), { minLength: 1, maxLength: 4 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), at: fraction, maxBytes: fc.integer({ min: 1, max: 3000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'roll' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fraction }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteRecords' as const), at: fraction }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retention' as const), bytes: fc.integer({ min: 0, max: 3000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('crash' as const), cut: fraction, garble: fc.option(fraction), indexCut: fc.option(fraction) }) },
);

const TOPIC_CONFIG = { 'segment.bytes': '700', 'index.interval.bytes': '150', 'file.delete.delay.ms': '0', 'retention.ms': '-1' };

function readAll(log: Log, from: number): Buffer {
  const r = log.read(from, 1 << 30, { minOneBatch: true });
  assert.equal(r.kind, 'ok', `read at ${from}`);
  return r.kind === 'ok' ? Buffer.concat(r.records) : Buffer.alloc(0);
}

function splitOffsets(buf: Buffer): Array<{ baseOffset: number; lastOffset: number; bytes: Buffer }> {
  const out = [];
  for (let at = 0; at < buf.length;) {
    const size = buf.readInt32BE(at + 8) + 12;
    const baseOffset = readInt64(buf, at);
    out.push({ baseOffset, lastOffset: baseOffset + buf.readInt32BE(at + BatchLayout.LAST_OFFSET_DELTA), bytes: buf.subarray(at, at + size) });
    at += size;
  }
  return out;
}

/** Every offset index entry must point at a batch whose last offset it names; time index offsets inside the segment. */
function checkIndexes(log: Log): void {
  for (let i = 0; i < log.segments.length; i++) {
    const seg = log.segments[i]!;
    const idx = seg.offsetIndex.toBytes();
    for (let at = 0; at < idx.length; at += 8) {
      const offset = seg.baseOffset + idx.readInt32BE(at);
      const position = idx.readInt32BE(at + 4);
      const found = seg.findBatch(offset, position);
      assert.ok(found !== null && found.position === position && found.lastOffset === offset, `offset index entry ${offset}@${position} of segment ${seg.baseOffset}`);
    }
    const end = i + 1 < log.segments.length ? log.segments[i + 1]!.baseOffset : log.logEndOffset;
    const t = seg.timeIndex.toBytes();
    for (let at = 0; at < t.length; at += 12) {
      const offset = seg.baseOffset + t.readInt32BE(at + 8);
      assert.ok(offset >= seg.baseOffset && offset < Math.max(end, seg.baseOffset + 1), `time index offset ${offset} in [${seg.baseOffset}, ${end})`);
    }
  }
}

function checkLog(log: Log, model: ModelBatch[], logStart: number): void {
  assert.equal(log.logStartOffset, logStart);
  const end = model.length > 0 ? model[model.length - 1]!.lastOffset + 1 : log.logEndOffset;
  assert.equal(log.logEndOffset, end);
  const firstIdx = model.findIndex((b) => b.lastOffset >= logStart);
  const expected = firstIdx < 0 ? Buffer.alloc(0) : Buffer.concat(model.slice(firstIdx).map((b) => b.bytes));
  assert.ok(readAll(log, logStart).equals(expected), 'log bytes equal the model');
  checkIndexes(log);
}

test('the log behaves like its model under random operations and crashes', async (t) => {
  const root = tempDir(t);
  let run = 0;
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.boolean(), async (ops, asyncFsync) => {
      const dataDir = `${root}/run-${run++}`;
      const clock = new FakeClock();
      const options = { dataDir, clock, schedulers: false, logger: quietLogger, fsyncMode: asyncFsync ? 'async' as const : 'sync' as const };
      let manager = await LogManager.open(options);
      let log = manager.createLog('m', 0, fromProperties(TOPIC_CONFIG));
      let model: ModelBatch[] = [];
      let logStart = 0;
      let fill = 0;
      const reopen = async (): Promise<void> => {
        manager = await LogManager.open(options);
        log = manager.getLog('m', 0)!;
      };
      try {
        for (const op of ops) {
          switch (op.kind) {
            case 'append': {
              const bufs = op.batches.map((b) => makeBatch({ timestamps: Array.from({ length: b.records }, (_, i) => 1000 + i), valueBytes: b.valueBytes, fill: fill++ & 0xff }));
              const r = log.append(Buffer.concat(bufs), { leaderEpoch: 3 });
              let at = 0;
              const stored = Buffer.concat(bufs);
              assert.equal(r.baseOffset, log.logEndOffset - bufs.reduce((n, b) => n + b.readInt32BE(57), 0));
              for (const b of splitOffsets(readAll(log, r.baseOffset))) {
                model.push({ ...b, bytes: Buffer.from(b.bytes) });
                at += b.bytes.length;
              }
              assert.equal(at, stored.length);
              log.updateHighWatermark(log.logEndOffset);
              break;
            }
            case 'read': {
              const span = log.logEndOffset - logStart;
              // op.at may be exactly 1.0: clamp, since log end + 1 is (correctly) out of range.
              const offset = Math.min(log.logEndOffset, logStart + Math.floor(op.at * (span + 1)));
              const r = log.read(offset, op.maxBytes, { minOneBatch: op.maxBytes % 2 === 0 });
              assert.equal(r.kind, 'ok');
              if (r.kind !== 'ok') break;
              const from = model.findIndex((b) => b.lastOffset >= offset);
              const expected: Buffer[] = [];
              let bytes = 0;
              for (let i = from; from >= 0 && i < model.length; i++) {
                const b = model[i]!;
                if (bytes + b.bytes.length > op.maxBytes && !(expected.length === 0 && op.maxBytes % 2 === 0)) break;
                expected.push(b.bytes);
                bytes += b.bytes.length;
              }
              // The log may stop early at a segment boundary only when it returned something.
              const got = Buffer.concat(r.records);
              assert.ok(Buffer.concat(expected).subarray(0, got.length).equals(got), `read(${offset}, ${op.maxBytes}) returns a prefix of the model`);
              assert.ok(got.length > 0 || expected.length === 0, `read(${offset}, ${op.maxBytes}) returned nothing`);
              break;
            }
            case 'roll':
              log.roll();
              break;
            case 'flush':
              await log.flush();
              assert.equal(log.recoveryPoint, log.logEndOffset);
              break;
            case 'truncate': {
              const target = Math.min(log.logEndOffset, logStart + Math.floor(op.at * (log.logEndOffset - logStart + 1)));
              // At the log end truncation does nothing, and batches below the log start stay
              // in the file: after a crash an older log start offset may expose them again.
              if (target >= log.logEndOffset) break;
              log.truncateTo(target);
              const keep = model.filter((b) => b.lastOffset < target);
              if (keep.length === 0 || keep[keep.length - 1]!.lastOffset < logStart) {
                // The batch holding the log start offset went too: the log restarts there.
                model = [];
                assert.equal(log.logEndOffset, logStart);
              } else {
                model = keep;
              }
              break;
            }
            case 'deleteRecords': {
              const target = Math.min(log.highWatermark, logStart + Math.floor(op.at * (log.highWatermark - logStart + 1)));
              logStart = Math.max(logStart, log.deleteRecordsBefore(target));
              assert.equal(logStart, Math.max(logStart, target));
              break;
            }
            case 'retention': {
              manager.updateConfig('m', fromProperties({ ...TOPIC_CONFIG, 'retention.bytes': String(op.bytes) }));
              manager.runRetention();
              manager.updateConfig('m', fromProperties(TOPIC_CONFIG));
              assert.ok(log.size - log.segments[0]!.size < op.bytes || log.segments.length === 1 || log.segments[1]!.baseOffset > log.highWatermark, 'retention.bytes deleted enough');
              logStart = log.logStartOffset;
              break;
            }
            case 'reopen':
              await manager.close();
              await reopen();
              break;
            case 'crash': {
              const seg = log.activeSegment;
              const rp = log.recoveryPoint;
              const inActive = model.filter((b) => b.baseOffset >= seg.baseOffset);
              let flushedPos = 0;
              const starts: number[] = [];
              let pos = 0;
              for (const b of inActive) {
                starts.push(pos);
                if (b.lastOffset < rp) flushedPos = pos + b.bytes.length;
                pos += b.bytes.length;
              }
              const size = seg.size;
              const file = seg.logFile;
              const indexFile = seg.indexFile;
              manager.abandon();
              const cut = flushedPos + Math.floor(op.cut * (size - flushedPos + 1));
              fs.truncateSync(file, cut);
              if (op.garble !== null && cut > flushedPos) {
                const at = flushedPos + Math.floor(op.garble * (cut - flushedPos));
                // The partition leader epoch is outside the CRC and has no check to fail.
                const start = [...starts].reverse().find((s) => s <= at)!;
                if (!(at - start >= 12 && at - start < 16)) {
                  const fd = fs.openSync(file, 'r+');
                  const b = Buffer.alloc(1);
                  fs.readSync(fd, b, 0, 1, at);
                  b[0] = b[0]! ^ 0x5a;
                  fs.writeSync(fd, b, 0, 1, at);
                  fs.closeSync(fd);
                }
              }
              if (op.indexCut !== null && fs.existsSync(indexFile)) {
                fs.truncateSync(indexFile, Math.floor(op.indexCut * fs.statSync(indexFile).size));
              }
              await reopen();
              // The log start offset is checkpointed in the background (Kafka's
              // log-start-offset-checkpoint), so a crash may bring back an older one.
              if (log.logStartOffset < logStart) logStart = log.logStartOffset;
              // The log must now be a prefix of the model holding every flushed batch.
              const actual = splitOffsets(readAll(log, logStart));
              const firstIdx = model.findIndex((b) => b.lastOffset >= logStart);
              const expectedTail = firstIdx < 0 ? [] : model.slice(firstIdx);
              assert.ok(actual.length <= expectedTail.length, 'no invented batches');
              for (let i = 0; i < actual.length; i++) assert.ok(actual[i]!.bytes.equals(expectedTail[i]!.bytes), `batch ${i} after crash`);
              const kept = actual.length > 0 ? actual[actual.length - 1]!.lastOffset + 1 : log.logEndOffset;
              assert.ok(kept >= rp || log.logEndOffset >= rp, `flushed offsets below ${rp} survive (log end ${log.logEndOffset})`);
              model = model.filter((b) => b.lastOffset < log.logEndOffset);
              log.updateHighWatermark(log.logEndOffset);
              break;
            }
          }
          checkLog(log, model, logStart);
        }
        await manager.close();
        await reopen();
        checkLog(log, model, logStart);
        await manager.close();
      } catch (err) {
        manager.abandon();
        throw err;
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    }),
    // FC_SEED and FC_PATH (from a failure report) replay one counterexample.
    { numRuns: Number(process.env.STORAGE_MODEL_RUNS ?? 150), ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED), path: process.env.FC_PATH, endOnFailure: true } : {}) },
  );
  console.log(`model test: ${run} runs in ${Date.now() - started} ms`);
});

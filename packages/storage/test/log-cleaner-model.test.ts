// The log cleaner against a model (issue #18, "Must hold"): random keyed appends with
// tombstones, rolls, flushes, time passing, cleans at random points and a consumer reading
// across them. After every clean: the latest value of every key is present, offsets and
// order are unchanged (every record read is the one appended at that offset), tombstones
// vanish only after delete.retention.ms, a deleted key never comes back, and below the
// cleaner checkpoint every key appears once. The consumer that reads through cleans never
// misses a live key's latest value. No sockets; cleans run inline (same code as the worker).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CompressionType, ControlRecordType, decodeBatchSync, decodeBatch, encodeBatch, encodeControlBatch, readBatchHeader, splitBatches } from '@tributary/protocol';
import { LogManager, fromProperties } from '@tributary/storage';
import type { Log } from '@tributary/storage';
import { FakeClock, quietLogger, tempDir } from './helpers.js';

const LONG = process.env.TRIBUTARY_LONG === '1';
const DELETE_RETENTION_MS = 1000;
const KEYS = 4;

interface ModelRecord {
  offset: number;
  key: string;
  value: string | null;
  timestamp: number;
}

/** Transactional records: pending until their marker, then committed or aborted. */
type Status = 'committed' | 'pending' | 'aborted';

type Op =
  | { kind: 'append'; records: Array<{ key: number; tombstone: boolean }>; compression: number; transactional: boolean }
  | { kind: 'endTxn'; commit: boolean }
  | { kind: 'roll' }
  | { kind: 'flush' }
  | { kind: 'tick'; ms: number }
  | { kind: 'clean' }
  | { kind: 'consume'; maxBytes: number }
  | { kind: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      records: fc.array(fc.record({ key: fc.integer({ min: 0, max: KEYS - 1 }), tombstone: fc.boolean().map((b) => b && Math.random() < 0.5) }), { minLength: 1, maxLength: 4 }),
      compression: fc.constantFrom(CompressionType.NONE, CompressionType.NONE, CompressionType.GZIP, CompressionType.LZ4, CompressionType.ZSTD),
      transactional: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('endTxn' as const), commit: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'roll' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 800 }) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'clean' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('consume' as const), maxBytes: fc.integer({ min: 1, max: 400 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

const TOPIC_CONFIG = {
  'cleanup.policy': 'compact',
  'segment.bytes': '500',
  'index.interval.bytes': '100',
  'file.delete.delay.ms': '0',
  'delete.retention.ms': String(DELETE_RETENTION_MS),
  'min.cleanable.dirty.ratio': '0',
};

/** The data records of whole batches (control batches, the markers, are not records). */
async function recordsOf(buffers: Buffer[]): Promise<ModelRecord[]> {
  const out: ModelRecord[] = [];
  for (const buf of buffers) {
    const headers = splitBatches(buf);
    if (typeof headers === 'string') {
      if (buf.length === 0) continue;
      throw new Error(headers);
    }
    for (const h of headers) {
      if (h.recordCount === 0 || readBatchHeader(buf, h.position).isControl) continue;
      for (const r of (await decodeBatch(buf, h.position)).records) out.push({ offset: r.offset, key: r.key!.toString(), value: r.value === null ? null : r.value.toString(), timestamp: r.timestamp });
    }
  }
  return out;
}

async function readAll(log: Log): Promise<ModelRecord[]> {
  const r = log.read(log.logStartOffset, 1 << 30, { minOneBatch: true });
  assert.equal(r.kind, 'ok');
  return r.kind === 'ok' ? recordsOf(r.records) : [];
}

const TXN_PRODUCER = 100;

test('compaction keeps what a model says it must, transactions and readers included', async (t) => {
  const root = tempDir(t);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: LONG ? 120 : 50 }), async (ops) => {
      const dataDir = `${root}/run-${run++}`;
      const clock = new FakeClock();
      const options = { dataDir, clock, schedulers: false, logger: quietLogger, cleanerInline: true, topicConfigs: new Map([['c', fromProperties(TOPIC_CONFIG)]]) };
      let manager = await LogManager.open(options);
      let log = manager.createLog('c', 0, fromProperties(TOPIC_CONFIG));
      const model: ModelRecord[] = [];
      const status = new Map<number, Status>();
      let pending: number[] = [];
      let sequence = 0;
      let seq = 0;
      /** Every key's latest committed record (read_committed's view). */
      const latestCommitted = (): Map<string, ModelRecord> => {
        const out = new Map<string, ModelRecord>();
        for (const m of model) if (status.get(m.offset) === 'committed') out.set(m.key, m);
        return out;
      };
      // The consumer (read_uncommitted): its position, what it saw, and when it started.
      let consumer = { position: 0, seen: [] as ModelRecord[], startedMs: clock.ms };
      try {
        for (const op of ops) {
          switch (op.kind) {
            case 'append': {
              const records = op.records.map((r) => ({ key: Buffer.from(`k${r.key}`), value: r.tombstone ? null : Buffer.from(`v${seq++}`), timestamp: clock.ms }));
              const txn = op.transactional ? { producerId: TXN_PRODUCER, producerEpoch: 0, baseSequence: sequence, transactional: true } : {};
              if (op.transactional) sequence += records.length;
              const batch = await encodeBatch({ records, compression: op.compression as CompressionType, timestamp: clock.ms, ...txn });
              const res = log.append(batch, { leaderEpoch: 0 });
              records.forEach((r, i) => {
                const m = { offset: res.baseOffset + i, key: r.key.toString(), value: r.value === null ? null : r.value.toString(), timestamp: r.timestamp };
                model.push(m);
                status.set(m.offset, op.transactional ? 'pending' : 'committed');
                if (op.transactional) pending.push(m.offset);
              });
              log.updateHighWatermark(log.logEndOffset);
              break;
            }
            case 'endTxn': {
              if (pending.length === 0) break;
              log.append(encodeControlBatch({ type: op.commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT, producerId: TXN_PRODUCER, producerEpoch: 0, coordinatorEpoch: 0, timestamp: clock.ms }), { leaderEpoch: 0 });
              for (const o of pending) status.set(o, op.commit ? 'committed' : 'aborted');
              pending = [];
              log.updateHighWatermark(log.logEndOffset);
              break;
            }
            case 'roll':
              log.roll();
              await log.flush();
              break;
            case 'flush':
              await log.flush();
              break;
            case 'tick':
              clock.ms += op.ms;
              break;
            case 'clean': {
              await manager.cleaner.cleanLogNow(log);
              await check();
              break;
            }
            case 'consume': {
              const r = log.read(consumer.position, op.maxBytes, { minOneBatch: true });
              assert.equal(r.kind, 'ok', `consumer read at ${consumer.position}`);
              if (r.kind !== 'ok') break;
              for (const rec of await recordsOf(r.records)) {
                assert.ok(rec.offset >= consumer.position, 'a consumer never goes back');
                consumer.seen.push(rec);
              }
              consumer.position = r.nextFetchOffset;
              if (consumer.position >= log.logEndOffset) {
                // Caught up: every key's latest committed value was seen (tombstones may be
                // gone, and a consumer slower than delete.retention.ms may miss one: Kafka's
                // documented caveat). What it saw is judged by what is committed now.
                const slow = clock.ms - consumer.startedMs >= DELETE_RETENTION_MS;
                const seen = new Map<string, ModelRecord>();
                for (const rec of consumer.seen) if (status.get(rec.offset) === 'committed') seen.set(rec.key, rec);
                for (const [key, m] of latestCommitted()) {
                  if (m.value !== null) assert.deepEqual(seen.get(key), m, `consumer saw the latest value of ${key}`);
                  else if (!slow) assert.ok(seen.get(key) === undefined || seen.get(key)!.value === null, `consumer saw ${key} deleted`);
                }
                consumer = { position: 0, seen: [], startedMs: clock.ms };
              }
              break;
            }
            case 'reopen':
              await manager.close();
              manager = await LogManager.open(options);
              log = manager.getLog('c', 0)!;
              await check();
              break;
          }
        }
        await manager.cleaner.cleanLogNow(log);
        await check();
      } finally {
        await manager.close();
      }

      async function check(): Promise<void> {
        const present = await readAll(log);
        const byOffset = new Map(model.map((m) => [m.offset, m]));
        let previous = -1;
        const lastCommitted = new Map<string, ModelRecord>();
        const presentOffsets = new Set<number>();
        for (const rec of present) {
          assert.ok(rec.offset > previous, `offsets increase (${rec.offset} after ${previous})`);
          previous = rec.offset;
          assert.deepEqual(rec, byOffset.get(rec.offset), `record at ${rec.offset} is the one appended there`);
          presentOffsets.add(rec.offset);
          if (status.get(rec.offset) === 'committed') lastCommitted.set(rec.key, rec);
        }
        for (const o of pending) assert.ok(presentOffsets.has(o), `record ${o} of the open transaction is kept`);
        for (const [key, m] of latestCommitted()) {
          const last = lastCommitted.get(key);
          if (m.value !== null) {
            assert.deepEqual(last, m, `latest committed value of ${key} is present`);
          } else if (last === undefined) {
            assert.ok(clock.ms - m.timestamp >= DELETE_RETENTION_MS, `tombstone of ${key} at ${m.offset} gone after ${clock.ms - m.timestamp} ms, before delete.retention.ms`);
          } else {
            assert.deepEqual(last, m, `the tombstone is ${key}'s last committed record`);
          }
        }
        const firstDirty = manager.cleaner.firstDirtyOffsetOf(log) ?? 0;
        const seenBelow = new Set<string>();
        for (const rec of present) {
          if (rec.offset >= firstDirty) break;
          assert.notEqual(status.get(rec.offset), 'aborted', `aborted record ${rec.offset} is gone below the cleaner checkpoint ${firstDirty}`);
          assert.ok(!seenBelow.has(rec.key), `${rec.key} appears once below the cleaner checkpoint ${firstDirty}`);
          seenBelow.add(rec.key);
        }
        assert.ok(log.logEndOffset >= (model.length === 0 ? 0 : model[model.length - 1]!.offset + 1), 'log end offset unchanged');
      }
    }),
    {
      numRuns: LONG ? 400 : 80,
      // Found by long runs; kept so that every run checks them: a committed value then an
      // aborted transaction on the same key (aborted data must not supersede it), and the
      // same with the marker still in the active segment (the transaction counts as open).
      examples: [
        [[
          { kind: 'append', records: [{ key: 0, tombstone: false }], compression: 0, transactional: false },
          { kind: 'append', records: [{ key: 0, tombstone: false }], compression: 0, transactional: true },
          { kind: 'endTxn', commit: false },
          { kind: 'roll' },
        ]],
        [[
          { kind: 'append', records: [{ key: 0, tombstone: false }], compression: 0, transactional: false },
          { kind: 'append', records: [{ key: 0, tombstone: false }, { key: 1, tombstone: true }], compression: 0, transactional: true },
          { kind: 'roll' },
          { kind: 'clean' },
          { kind: 'endTxn', commit: true },
          { kind: 'roll' },
          { kind: 'tick', ms: 800 },
          { kind: 'clean' },
          { kind: 'tick', ms: 800 },
        ]],
      ],
    },
  );
});

test('a clean in a worker thread compacts, shrinks the log and keeps its offsets', async (t) => {
  const dataDir = tempDir(t);
  const logs: string[] = [];
  const manager = await LogManager.open({ dataDir, schedulers: false, logger: { info: (m) => logs.push(m), warn: (m) => logs.push(m) } });
  t.after(() => manager.close());
  const log = manager.createLog('w', 0, fromProperties({ ...TOPIC_CONFIG, 'segment.bytes': '4096' }));
  for (let i = 0; i < 400; i++) {
    const batch = await encodeBatch({ records: [{ key: Buffer.from(`key-${i % 10}`), value: Buffer.from(`value-${i}`.padEnd(40, '.')) }] });
    log.append(batch, { leaderEpoch: 0 });
  }
  log.roll();
  await log.flush();
  log.updateHighWatermark(log.logEndOffset);
  const before = log.size;
  const stats = await manager.cleaner.cleanLogNow(log);
  assert.ok(stats !== null && stats.swapped, 'the clean swapped its segments in');
  assert.ok(log.size < before / 5, `log shrank from ${before} to ${log.size}`);
  const r = log.read(0, 1 << 20);
  assert.equal(r.kind, 'ok');
  const records = r.kind === 'ok' ? r.records.flatMap((b) => (splitBatches(b) as { position: number }[]).flatMap((h) => decodeBatchSync(b, h.position).records)) : [];
  assert.deepEqual(records.map((x) => x.offset), [390, 391, 392, 393, 394, 395, 396, 397, 398, 399]);
  assert.deepEqual(records.map((x) => x.value!.toString().replace(/\.+$/, '')), records.map((x) => `value-${x.offset}`));
  assert.ok(logs.some((l) => /Log cleaner cleaned w-0 offsets \[0, 400\)/.test(l)), logs.join('\n'));
});

test('batches larger than the cleaner read chunk (1 MiB) and batches cut by a chunk end are cleaned whole; each byte is read once per pass', async (t) => {
  const dataDir = tempDir(t);
  const config = fromProperties({ ...TOPIC_CONFIG, 'segment.bytes': String(8 * 1024 * 1024) });
  const manager = await LogManager.open({ dataDir, schedulers: false, logger: quietLogger, cleanerInline: true, topicConfigs: new Map([['big', config]]) });
  t.after(() => manager.close());
  const log = manager.createLog('big', 0, config);
  // 600 KiB and 1400 KiB batches alternate: some straddle a 1 MiB chunk end (READ_CHUNK_BYTES), some exceed a chunk.
  for (let i = 0; i < 12; i++) {
    const size = i % 2 === 0 ? 600 * 1024 : 1400 * 1024;
    log.append(await encodeBatch({ records: [{ key: Buffer.from(`k${i % 3}`), value: Buffer.alloc(size, i) }] }), { leaderEpoch: 0 });
  }
  log.roll();
  await log.flush();
  log.updateHighWatermark(log.logEndOffset);
  const stats = await manager.cleaner.cleanLogNow(log);
  assert.ok(stats?.swapped);
  const r = log.read(0, 1 << 30);
  assert.equal(r.kind, 'ok');
  const records = r.kind === 'ok' ? r.records.flatMap((b) => (splitBatches(b) as { position: number }[]).flatMap((h) => decodeBatchSync(b, h.position).records)) : [];
  assert.deepEqual(records.map((x) => [x.offset, x.key!.toString(), x.value!.length, x.value![0]]), [[9, 'k0', 1400 * 1024, 9], [10, 'k1', 600 * 1024, 10], [11, 'k2', 1400 * 1024, 11]]);
  // A dirty byte is read twice: once for transactions, producers and the offset map, once
  // for the rewrite. A batch cut by a chunk end is not read again.
  assert.equal(stats!.bytesRead, 2 * stats!.sizeBefore, `read ${stats!.bytesRead} bytes for ${stats!.sizeBefore}: each dirty byte twice`);
});

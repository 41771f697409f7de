import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BatchLayout, CompressionType } from '../src/records/batch-layout.js';
import { TimestampType } from '../src/records/batch-constants.js';
import { encodeBatch, encodeBatchSync } from '../src/records/batch-encode.js';
import { decodeBatch, decodeBatchSync, decodeRecords, decodeRecordsSync } from '../src/records/batch-decode.js';
import { validateBatch } from '../src/records/batch-validate.js';
import { forEachBatch, readBatchHeader, scanBatches, batchSizeAt } from '../src/records/batch-header.js';
import { batchCrcMatches, batchFrameSize, scanBatchHeader, splitBatches } from '../src/records/batch-scan.js';
import { assignOffsets, setLogAppendTime, setMaxTimestamp, setPartitionLeaderEpoch } from '../src/records/batch-patch.js';
import { ControlRecordType, decodeControlRecordKey, decodeEndTransactionMarker, encodeControlBatch } from '../src/records/control-record.js';
import { crc32c } from '../src/records/crc32c.js';
import type { RecordInput } from '../src/records/record-codec.js';

const CODECS = [CompressionType.NONE, CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4, CompressionType.ZSTD];

const bytesOrNull = fc.option(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), { nil: null });
const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
  key: bytesOrNull,
  value: bytesOrNull,
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 20, unit: 'grapheme' }), value: bytesOrNull }), { maxLength: 4 }),
});

test('crc32c matches the RFC 3720 check value and chains', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  const a = Buffer.from('hello ');
  const b = Buffer.from('world');
  assert.equal(crc32c(b, crc32c(a)), crc32c(Buffer.concat([a, b])));
});

test('random batches round-trip through encode, validate and decode with every codec', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(recordArb, { minLength: 1, maxLength: 30 }),
      fc.constantFrom(...CODECS),
      fc.record({ producerId: fc.integer({ min: -1, max: 2 ** 50 }), producerEpoch: fc.integer({ min: -1, max: 32767 }), baseSequence: fc.integer({ min: 0, max: 2 ** 31 - 1 }) }),
      async (records, compression, producer) => {
        const batch = await encodeBatch({ records, compression, ...producer, partitionLeaderEpoch: 7 });
        const header = readBatchHeader(batch, 0);
        assert.equal(header.size, batch.length);
        assert.equal(header.compression, compression);
        assert.equal(header.recordCount, records.length);
        assert.equal(header.lastOffsetDelta, records.length - 1);
        assert.equal(header.producerId, producer.producerId);
        assert.equal(header.baseSequence, producer.baseSequence);
        assert.equal(header.baseTimestamp, records[0]!.timestamp);
        assert.equal(header.maxTimestamp, Math.max(...records.map((r) => r.timestamp!)));
        assert.ok(batchCrcMatches(batch, 0, batch.length));

        const validation = await validateBatch(batch, 0);
        assert.ok(validation.ok, validation.ok ? '' : validation.message);
        assert.equal(validation.maxTimestamp, header.maxTimestamp);

        const decoded = await decodeRecords(batch);
        assert.equal(decoded.length, records.length);
        decoded.forEach((record, i) => {
          const input = records[i]!;
          assert.equal(record.offset, i);
          assert.equal(record.offsetDelta, i);
          assert.equal(record.timestamp, input.timestamp);
          assert.deepEqual(record.key, input.key);
          assert.deepEqual(record.value, input.value);
          assert.deepEqual(record.headers, input.headers!.map((h) => ({ key: h.key, value: h.value })));
        });
        if (compression !== CompressionType.ZSTD) {
          assert.ok(encodeBatchSync({ records, compression, ...producer, partitionLeaderEpoch: 7 }).equals(batch));
          assert.equal(decodeRecordsSync(batch).length, records.length);
        }
      },
    ),
    { numRuns: 150 },
  );
});

test('in-place offset, epoch and LogAppendTime assignment keep the batch valid without copying', async () => {
  for (const compression of CODECS) {
    const batch = await encodeBatch({ compression, timestamp: 1000, records: [{ value: Buffer.from('a') }, { value: Buffer.from('b'), timestamp: 1500 }] });
    const before = batch.buffer;
    assert.equal(assignOffsets(batch, 0, 2 ** 40), 2 ** 40 + 1);
    setPartitionLeaderEpoch(batch, 0, 12);
    assert.ok(batchCrcMatches(batch, 0, batch.length), 'offset and epoch sit outside the CRC');
    assert.equal(setLogAppendTime(batch, 0, 99_999), true);
    assert.equal(setLogAppendTime(batch, 0, 99_999), false, 'unchanged: no rewrite');
    assert.equal(batch.buffer, before);
    assert.ok(batchCrcMatches(batch, 0, batch.length), 'CRC recomputed after attributes/maxTimestamp change');
    const { header, records } = await decodeBatch(batch);
    assert.equal(header.baseOffset, 2 ** 40);
    assert.equal(header.partitionLeaderEpoch, 12);
    assert.equal(header.timestampType, TimestampType.LOG_APPEND_TIME);
    assert.deepEqual(records.map((r) => [r.offset, r.timestamp]), [[2 ** 40, 99_999], [2 ** 40 + 1, 99_999]]);
    // Back to CreateTime: record timestamps reappear.
    setMaxTimestamp(batch, 0, TimestampType.CREATE_TIME, 1500);
    assert.deepEqual((await decodeRecords(batch)).map((r) => r.timestamp), [1000, 1500]);
    assert.equal((await validateBatch(batch, 0, { origin: 'replication' })).ok, true);
  }
});

test('control batches carry Kafka transaction markers', async () => {
  const batch = encodeControlBatch({ type: ControlRecordType.COMMIT, producerId: 42, producerEpoch: 3, coordinatorEpoch: 9, baseOffset: 100, timestamp: 5 });
  const { header, records } = await decodeBatch(batch);
  assert.equal(header.isControl, true);
  assert.equal(header.isTransactional, true);
  assert.equal(header.producerId, 42);
  assert.equal(header.producerEpoch, 3);
  assert.equal(header.baseSequence, -1);
  assert.equal(records.length, 1);
  assert.deepEqual(decodeControlRecordKey(records[0]!.key), { version: 0, type: ControlRecordType.COMMIT });
  assert.deepEqual(decodeEndTransactionMarker(records[0]!.value), { version: 0, coordinatorEpoch: 9 });
  assert.equal(records[0]!.key!.toString('hex'), '00000001');
  assert.equal(records[0]!.value!.toString('hex'), '000000000009');
  // A client may not produce one; a replica fetch may carry one.
  const asClient = await validateBatch(batch, 0);
  assert.equal(asClient.ok, false);
  assert.equal((await validateBatch(batch, 0, { origin: 'replication' })).ok, true);
  assert.throws(() => decodeControlRecordKey(Buffer.from('00', 'hex')), { name: 'RecordBatchError' });
  assert.throws(() => decodeEndTransactionMarker(Buffer.from('ffff00000000', 'hex')), { name: 'RecordBatchError' });
});

test('iteration over concatenated batches reports a trailing partial batch instead of throwing', async () => {
  const batches = await Promise.all([1, 2, 3].map((n) => encodeBatch({ baseOffset: n * 10, records: Array.from({ length: n }, () => ({ value: Buffer.alloc(50) })) })));
  const all = Buffer.concat(batches);
  for (const cut of [0, 5, 12, 60, batches[2]!.length - 1]) {
    const buf = Buffer.concat([batches[0]!, batches[1]!, batches[2]!.subarray(0, cut)]);
    const seen: number[] = [];
    const result = forEachBatch(buf, (offset, size) => seen.push(readBatchHeader(buf, offset).baseOffset + 0 * size));
    assert.deepEqual(seen, [10, 20]);
    assert.equal(result.partialBytes, cut);
    assert.equal(result.end, batches[0]!.length + batches[1]!.length);
  }
  const scan = scanBatches(all);
  assert.deepEqual(scan.batches.map((b) => b.size), batches.map((b) => b.length));
  assert.equal(scan.partialBytes, 0);
  assert.equal(batchSizeAt(all, batches[0]!.length), batches[1]!.length);
  const broken = Buffer.from(all);
  broken.writeInt32BE(5, BatchLayout.BATCH_LENGTH);
  assert.throws(() => forEachBatch(broken, () => {}), { name: 'RecordBatchError' });
});

test('the non-throwing scanner frames whole batches and names what is wrong with bad ones', async () => {
  const batches = await Promise.all([1, 2].map((n) => encodeBatch({ baseOffset: n * 10, timestamp: 500 + n, records: Array.from({ length: n }, () => ({ value: Buffer.alloc(20) })) })));
  const all = Buffer.concat(batches);
  const split = splitBatches(all);
  assert.ok(Array.isArray(split));
  assert.deepEqual(split.map((h) => [h.position, h.size, h.baseOffset, h.lastOffset, h.recordCount, h.maxTimestamp]), [
    [0, batches[0]!.length, 10, 10, 1, 501],
    [batches[0]!.length, batches[1]!.length, 20, 21, 2, 502],
  ]);
  assert.equal(batchFrameSize(all, 0, all.length), batches[0]!.length);
  assert.ok(batchCrcMatches(all, batches[0]!.length, batches[1]!.length));
  assert.match(String(batchFrameSize(all, 0, 10)), /only 10 bytes left/);
  const badLength = Buffer.from(all);
  badLength.writeInt32BE(5, BatchLayout.BATCH_LENGTH);
  assert.match(String(batchFrameSize(badLength, 0, badLength.length)), /batchLength 5 is outside/);
  const badMagic = Buffer.from(all);
  badMagic[BatchLayout.MAGIC] = 1;
  assert.match(String(batchFrameSize(badMagic, 0, badMagic.length)), /magic 1 is not 2/);
  const negative = Buffer.from(all);
  negative.writeInt32BE(-1, BatchLayout.BASE_OFFSET);
  assert.match(String(scanBatchHeader(negative, 0, 0, batches[0]!.length)), /baseOffset -\d+ is negative/);
  const corrupt = Buffer.from(all);
  corrupt[corrupt.length - 1] = corrupt[corrupt.length - 1]! ^ 1;
  assert.equal(batchCrcMatches(corrupt, batches[0]!.length, batches[1]!.length), false);
  assert.match(String(splitBatches(all.subarray(0, all.length - 1))), /claims \d+ bytes but only \d+ remain/);
  assert.equal(splitBatches(Buffer.alloc(0)), 'no batches');
});

test('compacted-style batches (offset gaps, explicit lastOffsetDelta) decode and pass replication checks', async () => {
  const batch = encodeBatchSync({ baseOffset: 1000, lastOffsetDelta: 9, records: [{ offset: 1002, key: Buffer.from('k1') }, { offset: 1007, key: Buffer.from('k2'), value: null }] });
  const records = decodeRecordsSync(batch);
  assert.deepEqual(records.map((r) => r.offset), [1002, 1007]);
  assert.equal(readBatchHeader(batch, 0).lastOffset, 1009);
  assert.equal((await validateBatch(batch, 0, { origin: 'replication' })).ok, true);
});

test('encodeBatch deleteHorizonMs: attribute bit 6, baseTimestamp = horizon, record timestamps unchanged', async () => {
  const batch = await encodeBatch({ baseOffset: 10, deleteHorizonMs: 5_000_000, records: [{ offset: 10, timestamp: 1_000_000, key: Buffer.from('k'), value: null }, { offset: 12, timestamp: 1_000_500, key: Buffer.from('j'), value: Buffer.from('v') }], lastOffsetDelta: 3 });
  const { header, records } = decodeBatchSync(batch);
  assert.equal(header.hasDeleteHorizon, true);
  assert.equal(header.baseTimestamp, 5_000_000);
  assert.equal(header.maxTimestamp, 1_000_500);
  assert.equal(header.lastOffset, 13);
  assert.deepEqual(records.map((r) => [r.offset, r.timestamp]), [[10, 1_000_000], [12, 1_000_500]]);
});

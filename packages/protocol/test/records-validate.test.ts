import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../src/errors.js';
import { BatchLayout, CompressionType, writeInt64 } from '../src/records/batch-layout.js';
import { TimestampType } from '../src/records/batch-constants.js';
import { encodeBatch, encodeBatchSync } from '../src/records/batch-encode.js';
import { decodeRecords } from '../src/records/batch-decode.js';
import { computeBatchCrc, readBatchHeader } from '../src/records/batch-header.js';
import { type BatchValidationOptions, validateBatch } from '../src/records/batch-validate.js';
import { RecordBatchError } from '../src/records/record-batch-error.js';
import { writeVarint } from '../src/records/record-codec.js';

function sample(count = 3, compression: CompressionType = CompressionType.NONE): Promise<Buffer> {
  return encodeBatch({
    compression,
    timestamp: 1_700_000_000_000,
    records: Array.from({ length: count }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`value-${i}`), headers: [{ key: 'h', value: Buffer.from('v') }] })),
  });
}

/** Rewrites the CRC so that a test reaches the checks behind it. */
function reseal(batch: Buffer): Buffer {
  batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), BatchLayout.CRC);
  return batch;
}

async function expectError(batch: Buffer, errorCode: number, pattern?: RegExp, options?: BatchValidationOptions): Promise<void> {
  const result = await validateBatch(batch, 0, options);
  assert.equal(result.ok, false, 'expected a validation failure');
  if (result.ok) return;
  assert.equal(result.errorCode, errorCode, result.message);
  if (pattern) assert.match(result.message, pattern);
}

test('a good batch of every codec validates', async () => {
  for (const compression of [0, 1, 2, 3, 4] as const) {
    const result = await validateBatch(await sample(5, compression), 0);
    assert.ok(result.ok, result.ok ? '' : result.message);
  }
});

test('corrupted CRC -> CORRUPT_MESSAGE', async () => {
  const batch = await sample();
  batch[batch.length - 2] ^= 0x01;
  await expectError(batch, ErrorCode.CORRUPT_MESSAGE, /CRC/);
});

test('truncated, undersized and oversized batches', async () => {
  const batch = await sample();
  await expectError(batch.subarray(0, 8), ErrorCode.INVALID_RECORD);
  await expectError(batch.subarray(0, batch.length - 1), ErrorCode.INVALID_RECORD, /only/);
  const small = Buffer.from(batch);
  small.writeInt32BE(30, BatchLayout.BATCH_LENGTH);
  await expectError(small, ErrorCode.CORRUPT_MESSAGE, /minimum/);
  await expectError(batch, ErrorCode.MESSAGE_TOO_LARGE, /exceeds/, { maxBatchBytes: batch.length - 1 });
});

test('magic 0/1 -> INVALID_RECORD (Kafka 4 produce), other magic -> CORRUPT_MESSAGE', async () => {
  for (const [magic, code] of [[0, ErrorCode.INVALID_RECORD], [1, ErrorCode.INVALID_RECORD], [3, ErrorCode.CORRUPT_MESSAGE], [-1, ErrorCode.CORRUPT_MESSAGE]] as const) {
    const batch = await sample();
    batch.writeInt8(magic, BatchLayout.MAGIC);
    await expectError(batch, code, /magic/);
  }
  const legacy = await sample();
  legacy.writeInt8(1, BatchLayout.MAGIC);
  assert.throws(() => readBatchHeader(legacy, 0), (err) => err instanceof RecordBatchError && /not supported/.test(err.message));
});

test('wrong counts and offsets -> INVALID_RECORD', async () => {
  const more = await sample(3);
  more.writeInt32BE(4, BatchLayout.RECORD_COUNT);
  await expectError(reseal(more), ErrorCode.INVALID_RECORD, /lastOffsetDelta/);
  const both = await sample(3);
  both.writeInt32BE(3, BatchLayout.LAST_OFFSET_DELTA);
  both.writeInt32BE(4, BatchLayout.RECORD_COUNT);
  await expectError(reseal(both), ErrorCode.INVALID_RECORD);
  const fewer = await sample(3);
  fewer.writeInt32BE(1, BatchLayout.LAST_OFFSET_DELTA);
  fewer.writeInt32BE(2, BatchLayout.RECORD_COUNT);
  await expectError(reseal(fewer), ErrorCode.INVALID_RECORD, /records section ends/);
  const zero = await sample(1);
  zero.writeInt32BE(-1, BatchLayout.LAST_OFFSET_DELTA);
  zero.writeInt32BE(0, BatchLayout.RECORD_COUNT);
  await expectError(reseal(zero), ErrorCode.INVALID_RECORD);
  const based = await sample();
  writeInt64(based, BatchLayout.BASE_OFFSET, 5);
  await expectError(based, ErrorCode.INVALID_RECORD, /baseOffset/);
  const gaps = encodeBatchSync({ lastOffsetDelta: 1, records: [{ offset: 0 }, { offset: 2 }] });
  gaps.writeInt32BE(1, BatchLayout.LAST_OFFSET_DELTA);
  await expectError(reseal(gaps), ErrorCode.INVALID_RECORD, /offsetDelta/);
  const noSequence = await encodeBatch({ producerId: 7, producerEpoch: 0, baseSequence: -1, records: [{}] });
  await expectError(noSequence, ErrorCode.INVALID_RECORD, /baseSequence/);
});

test('bad record framing -> INVALID_RECORD with the record index', async () => {
  const batch = await sample(3);
  // Record 0 starts right after the header with its length varint; make it claim one more byte.
  const length = batch.readInt8(BatchLayout.RECORDS) >> 1;
  writeVarint(batch, BatchLayout.RECORDS, length + 1);
  const result = await validateBatch(reseal(batch), 0);
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.errorCode, ErrorCode.INVALID_RECORD);
    assert.equal(result.recordIndex, 0);
  }
  await assert.rejects(decodeRecords(batch), (err) => err instanceof RecordBatchError && err.errorCode === ErrorCode.INVALID_RECORD);
});

test('codec checks: unknown id, zstd before produce v7, garbage payload, bomb', async () => {
  const unknown = await sample();
  unknown.writeInt16BE(6, BatchLayout.ATTRIBUTES);
  await expectError(reseal(unknown), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  await expectError(await sample(2, CompressionType.ZSTD), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, /v7/, { produceVersion: 6 });
  assert.ok((await validateBatch(await sample(2, CompressionType.ZSTD), 0, { produceVersion: 7 })).ok);
  const garbage = await sample(3, CompressionType.LZ4);
  garbage.fill(0x55, BatchLayout.RECORDS + 8);
  await expectError(reseal(garbage), ErrorCode.CORRUPT_MESSAGE);
  const bomb = await encodeBatch({ compression: CompressionType.GZIP, records: Array.from({ length: 300 }, () => ({ value: Buffer.alloc(100_000) })) });
  assert.ok(bomb.length < 200_000);
  await expectError(bomb, ErrorCode.MESSAGE_TOO_LARGE, /limit/, { maxDecompressedBytes: 1024 * 1024 });
});

test('topic rules: compacted keys, timestamps, LogAppendTime from a producer', async () => {
  const nullKey = await encodeBatch({ records: [{ key: Buffer.from('a') }, { key: null, value: Buffer.from('x') }] });
  const result = await validateBatch(nullKey, 0, { compacted: true, topicPartition: 'c-0' });
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.errorCode, ErrorCode.INVALID_RECORD);
    assert.deepEqual(result.recordErrors, [{ batchIndex: 1, message: 'Compacted topic cannot accept message without key in topic partition c-0' }]);
  }
  const old = await encodeBatch({ timestamp: 1000, records: [{}] });
  await expectError(old, ErrorCode.INVALID_TIMESTAMP, /invalid timestamp/, { nowMs: 10_000_000, timestampBeforeMaxMs: 3600_000 });
  assert.ok((await validateBatch(old, 0, { nowMs: 10_000_000, timestampBeforeMaxMs: 3600_000, timestampType: TimestampType.LOG_APPEND_TIME })).ok);
  const lat = await encodeBatch({ timestampType: TimestampType.LOG_APPEND_TIME, logAppendTime: 5000, records: [{ key: Buffer.from('kk'), value: Buffer.from('vvv') }] });
  const refused = await validateBatch(lat, 0, { timestampType: TimestampType.LOG_APPEND_TIME });
  assert.equal(refused.ok, false);
  if (!refused.ok) {
    assert.equal(refused.errorCode, ErrorCode.INVALID_TIMESTAMP);
    assert.deepEqual(refused.recordErrors, [{
      batchIndex: 0,
      message: 'Invalid timestamp type in message DefaultRecord(offset=0, timestamp=5000, key=2 bytes, value=3 bytes). Producer should not set timestamp type to LogAppendTime.',
    }]);
  }
  // Kafka range-checks a producer's LogAppendTime batch in a CreateTime topic and lets it in.
  assert.ok((await validateBatch(lat, 0, {})).ok);
});

test('per-record refusals list every refused record, as Kafka\'s record_errors do', async () => {
  const now = 1_700_000_000_000;
  const records = Array.from({ length: 100 }, (_, i) => ({
    key: i % 10 === 3 ? null : Buffer.from(`k${i}`),
    value: Buffer.from(`v${i}`),
    timestamp: i === 50 ? now - 7200_000 : now,
  }));
  for (const compression of [CompressionType.NONE, CompressionType.GZIP, CompressionType.ZSTD]) {
    const batch = await encodeBatch({ compression, records });
    const keys = await validateBatch(batch, 0, { compacted: true, topicPartition: 't-0' });
    assert.equal(keys.ok, false);
    if (keys.ok) continue;
    assert.equal(keys.errorCode, ErrorCode.INVALID_RECORD);
    assert.deepEqual(keys.recordErrors!.map((e) => e.batchIndex), [3, 13, 23, 33, 43, 53, 63, 73, 83, 93]);
    const one = "RecordError(batchIndex=%d, message='Compacted topic cannot accept message without key in topic partition t-0')";
    assert.equal(
      keys.message,
      `One or more records have been rejected due to 10 record errors in total, and only showing the first three errors at most: [${[3, 13, 23].map((i) => one.replace('%d', String(i))).join(', ')}]`,
    );
    // A key error and a timestamp error in one batch: the batch is INVALID_TIMESTAMP; record 50
    // has both problems and reports the key (Kafka checks the key first).
    const both = await validateBatch(batch, 0, { compacted: true, nowMs: now, timestampBeforeMaxMs: 3600_000, topicPartition: 't-0' });
    assert.equal(both.ok, false);
    if (both.ok) continue;
    assert.equal(both.errorCode, ErrorCode.INVALID_TIMESTAMP);
    assert.equal(both.message, 'One or more records have been rejected due to invalid timestamp');
    assert.equal(both.recordErrors!.length, 11);
    const times = await validateBatch(batch, 0, { nowMs: now, timestampBeforeMaxMs: 3600_000 });
    assert.equal(times.ok, false);
    if (times.ok) continue;
    // Kafka prints the window in Java long arithmetic: now + Long.MAX_VALUE wraps.
    const wrapped = BigInt.asIntN(64, BigInt(now) + 9223372036854775807n);
    assert.deepEqual(times.recordErrors, [{
      batchIndex: 50,
      message: `Timestamp ${now - 7200_000} of message with offset 50 is out of range. The timestamp should be within [${now - 3600_000}, ${wrapped}]`,
    }]);
  }
});

test('fuzz: validateBatch never throws and decodeRecords throws only RecordBatchError', async () => {
  const template = await sample(4);
  const check = async (bytes: Buffer) => {
    const result = await validateBatch(bytes, 0, { origin: 'replication' });
    assert.equal(typeof result.ok, 'boolean');
    try {
      await decodeRecords(bytes, 0, { verifyCrc: false, maxDecompressedBytes: 1 << 20 });
    } catch (err) {
      assert.ok(err instanceof RecordBatchError, String((err as Error).stack));
    }
  };
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), (a) => check(Buffer.from(a))), { numRuns: 500 });
  // Mutations of a real batch reach far deeper than random bytes; the CRC is resealed so the
  // record walk sees them.
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.nat(template.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.constantFrom(0, 1, 2, 3, 4), async (edits, codec) => {
      const bytes = Buffer.from(template);
      bytes.writeInt16BE(codec, BatchLayout.ATTRIBUTES);
      for (const [at, value] of edits) if (at >= BatchLayout.CRC_START) bytes[at] = value;
      reseal(bytes);
      await check(bytes);
    }),
    { numRuns: 1000 },
  );
  for (let i = 0; i < 200; i++) await check(Buffer.concat([template.subarray(0, BatchLayout.RECORDS), randomBytes(i)]));
});

// Message formats v0/v1: reading, writing, conversion to and from v2 batches, and the
// checks on untrusted bytes. No sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from '@node-rs/crc32';
import {
  CompressionType,
  ErrorCode,
  TimestampType,
  decodeBatchSync,
  downConvertBatches,
  encodeBatchSync,
  encodeLegacyMessageSetSync,
  legacyMessageSetToBatch,
  readLegacyMessageSet,
  xxh32Short,
} from '../src/index.js';

const b = (s: string) => Buffer.from(s);
const three = [
  { offset: 10, key: b('a'), value: b('1'), timestamp: 1000 },
  { offset: 11, key: null, value: b('2'), timestamp: 3000 },
  { offset: 12, key: b('c'), value: null, timestamp: 2000 },
];

test('xxh32 of short inputs matches the reference vectors; the LZ4 header checksums are Kafka\'s', () => {
  assert.equal(xxh32Short(Buffer.alloc(0)), 0x02cc5d05);
  assert.equal(xxh32Short(b('a')), 0x550d7456);
  assert.equal(xxh32Short(b('abc')), 0x32d153ff);
  assert.equal(xxh32Short(b('Nobody inspects')), 0x9759cd1a); // 15 bytes: three words and three tail bytes
  assert.equal(xxh32Short(Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40])), 0xc8581a3a);
  // The frame descriptor Kafka writes (FLG 0x60, BD 0x40): 0x82 per the LZ4 frame format,
  // 0x1a when computed over the frame magic too (magic 0, as kafka-python's old-Kafka encoder).
  assert.equal((xxh32Short(Buffer.from([0x60, 0x40])) >>> 8) & 0xff, 0x82);
  assert.equal((xxh32Short(Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40])) >>> 8) & 0xff, 0x1a);
  const wrapper = encodeLegacyMessageSetSync(three, { magic: 0, compression: CompressionType.LZ4 });
  const valueAt = 12 + 4 + 1 + 1 + 4 + 4; // log overhead, crc, magic, attributes, null key, value length
  assert.equal(wrapper.subarray(valueAt, valueAt + 7).toString('hex'), '04224d1860401a');
});

test('every magic and codec round-trips through v2 and back; offsets, timestamps and wrappers as Kafka writes them', async () => {
  for (const magic of [0, 1] as const) {
    for (const compression of [CompressionType.NONE, CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4]) {
      const what = `magic ${magic}, codec ${compression}`;
      const set = encodeLegacyMessageSetSync(three, { magic, compression });
      const read = readLegacyMessageSet(set);
      assert.ok(read.ok, what);
      assert.deepEqual(read.messages.map((m) => [m.offset, m.timestamp, m.compression]), three.map((m) => [m.offset, magic === 0 ? -1 : m.timestamp, compression]), what);
      if (compression !== CompressionType.NONE) {
        // One wrapper whose offset is the last inner one; magic 1 timestamp = the largest.
        assert.equal(Number(set.readBigInt64BE(0)), 12, what);
        assert.equal(12 + set.readInt32BE(8), set.length, what);
        if (magic === 1) assert.equal(Number(set.readBigInt64BE(18)), 3000, what);
      }
      const up = legacyMessageSetToBatch(set);
      assert.ok(up.ok, what);
      const batch = decodeBatchSync(up.batch);
      assert.deepEqual([batch.header.compression, batch.header.producerId, batch.header.recordCount, batch.header.maxTimestamp], [compression, -1, 3, magic === 0 ? -1 : 3000], what);
      assert.deepEqual(batch.records.map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString() ?? null]), [[0, 'a', '1'], [1, null, '2'], [2, 'c', null]], what);
      const down = await downConvertBatches(up.batch, magic, 0);
      assert.ok(down.ok, what);
      const again = readLegacyMessageSet(down.records);
      assert.ok(again.ok, what);
      assert.deepEqual(again.messages.map((m) => [m.offset, m.timestamp, m.key?.toString() ?? null, m.value?.toString() ?? null]), [[0, magic === 0 ? -1 : 1000, 'a', '1'], [1, magic === 0 ? -1 : 3000, null, '2'], [2, magic === 0 ? -1 : 2000, 'c', null]], what);
    }
  }
});

test('magic 1 wrappers use relative inner offsets; LogAppendTime wrappers stand for their inner timestamps', () => {
  const set = encodeLegacyMessageSetSync(three, { magic: 1, compression: CompressionType.GZIP, timestampType: TimestampType.LOG_APPEND_TIME, logAppendTime: 9999 });
  assert.equal(set[17], CompressionType.GZIP | 0x08);
  const read = readLegacyMessageSet(set);
  assert.ok(read.ok);
  assert.deepEqual(read.messages.map((m) => [m.offset, m.timestamp, m.timestampType]), [[10, 9999, 1], [11, 9999, 1], [12, 9999, 1]]);
});

test('down-conversion skips control batches and records before the fetch offset, refuses zstd, and cuts at whole messages', async () => {
  const records = Array.from({ length: 10 }, (_, i) => ({ value: Buffer.alloc(100, i), timestamp: 5 }));
  const data = encodeBatchSync({ baseOffset: 100, records });
  const control = encodeBatchSync({ baseOffset: 110, isControl: true, records: [{ key: Buffer.from([0, 0, 0, 0]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }] });
  const down = await downConvertBatches(Buffer.concat([data, control]), 1, 104);
  assert.ok(down.ok);
  const read = readLegacyMessageSet(down.records);
  assert.ok(read.ok);
  assert.deepEqual(read.messages.map((m) => m.offset), [104, 105, 106, 107, 108, 109]);

  // Magic 0 messages of 100-byte values are 126 bytes; the v2 batch is smaller than ten of
  // them, so the answer stops at the last whole message that fits in the bytes read.
  const cut = await downConvertBatches(Buffer.concat([data, data]), 0, 0);
  assert.ok(cut.ok);
  assert.ok(cut.records.length <= data.length * 2);
  assert.equal(cut.records.length % 126, 0);

  const zstd = await downConvertBatches(Buffer.from(encodeBatchSync({ records: [{ value: b('x') }] })), 1, 0);
  assert.ok(zstd.ok);
  const { encodeBatch } = await import('../src/index.js');
  const z = await downConvertBatches(await encodeBatch({ records: [{ value: b('x') }], compression: CompressionType.ZSTD }), 1, 0);
  assert.deepEqual(z.ok ? 'ok' : z.errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
});

test('untrusted message sets give error codes, never throws', () => {
  const set = encodeLegacyMessageSetSync(three, { magic: 1 });
  const flipped = Buffer.from(set);
  flipped[30]! ^= 1;
  assert.deepEqual(code(flipped), ErrorCode.CORRUPT_MESSAGE, 'CRC-32 mismatch');

  const tooSmall = Buffer.from(set);
  tooSmall.writeInt32BE(5, 8);
  assert.equal(code(tooSmall), ErrorCode.CORRUPT_MESSAGE, 'size below the v0 overhead');

  // A trailing partial message is ignored, as Kafka's reader does.
  const partial = readLegacyMessageSet(set.subarray(0, set.length - 3));
  assert.ok(partial.ok);
  assert.equal(partial.messages.length, 2);
  assert.equal(code(set.subarray(0, 20)), ErrorCode.INVALID_RECORD, 'no complete message');

  const badKey = Buffer.from(encodeLegacyMessageSetSync([{ offset: 0, key: b('k'), value: b('v') }], { magic: 0 }));
  badKey.writeInt32BE(1000, 18);
  badKey.writeUInt32BE(crc32(badKey.subarray(16)) >>> 0, 12);
  assert.equal(code(badKey), ErrorCode.CORRUPT_MESSAGE, 'key length past the message');

  // A wrapper whose inner message is itself compressed.
  const inner = encodeLegacyMessageSetSync([{ offset: 0, value: b('v') }], { magic: 1, compression: CompressionType.GZIP });
  const nested = encodeLegacyMessageSetSync([{ offset: 0, value: inner }], { magic: 1 });
  nested[17] = CompressionType.GZIP; // claim the outer one is gzip too, over non-gzip bytes
  nested.writeUInt32BE(crc32(nested.subarray(16)) >>> 0, 12);
  assert.equal(code(nested), ErrorCode.CORRUPT_MESSAGE, 'value that is not gzip');

  // Kafka's LogValidator: one magic per set, one wrapper per compressed set.
  const v0 = encodeLegacyMessageSetSync([{ offset: 0, value: b('a') }], { magic: 0 });
  const v1 = encodeLegacyMessageSetSync([{ offset: 1, value: b('b'), timestamp: 1 }], { magic: 1 });
  assert.equal(code(Buffer.concat([v0, v1])), ErrorCode.INVALID_RECORD, 'mixed magic');
  const gz = encodeLegacyMessageSetSync([{ offset: 0, value: b('c'), timestamp: 1 }], { magic: 1, compression: CompressionType.GZIP });
  assert.equal(code(Buffer.concat([gz, gz])), ErrorCode.INVALID_RECORD, 'two wrappers');
  assert.equal(code(Buffer.concat([v1, gz])), ErrorCode.INVALID_RECORD, 'a message and a wrapper');
  assert.equal(code(Buffer.concat([v1, v1])), 'ok', 'two uncompressed messages');

  for (let i = 0; i < 2000; i++) {
    const junk = Buffer.from(set);
    for (let j = 0; j < 3; j++) junk[Math.floor(Math.random() * junk.length)] = Math.floor(Math.random() * 256);
    legacyMessageSetToBatch(junk); // must not throw
  }
});

function code(set: Buffer): number | 'ok' {
  const r = legacyMessageSetToBatch(set);
  return r.ok ? 'ok' : r.errorCode;
}

/**
 * Reader/Writer primitives: varint and varlong edge values against known encodings, uuid
 * text form, int64 as number, bounds errors (always ProtocolDecodeError, with a position),
 * length checks before allocation, by-reference appends and size-prefix patching.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtocolDecodeError, ProtocolEncodeError } from '../src/codec/errors.js';
import { Reader } from '../src/codec/reader.js';
import { Writer } from '../src/codec/writer.js';

function bytesOf(fn: (w: Writer) => void): Buffer {
  const w = new Writer(4);
  fn(w);
  return w.finish();
}

function isDecodeError(e: unknown): boolean {
  return e instanceof ProtocolDecodeError && e.code === 'TRIB_ERR_PROTOCOL_DECODE';
}

test('uvarint: known encodings and edges', () => {
  const cases: [number, number[]][] = [
    [0, [0]], [1, [1]], [127, [0x7f]], [128, [0x80, 1]], [300, [0xac, 2]],
    [16383, [0xff, 0x7f]], [16384, [0x80, 0x80, 1]], [2 ** 31 - 1, [0xff, 0xff, 0xff, 0xff, 7]],
    [2 ** 32 - 1, [0xff, 0xff, 0xff, 0xff, 0x0f]],
  ];
  for (const [v, enc] of cases) {
    assert.deepEqual(bytesOf((w) => w.uvarint(v)), Buffer.from(enc), `uvarint ${v}`);
    const r = new Reader(Buffer.from(enc));
    assert.equal(r.uvarint(), v);
    assert.equal(r.pos, enc.length);
  }
  assert.throws(() => new Reader(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x10])).uvarint(), isDecodeError);
  assert.throws(() => new Reader(Buffer.from([0x80, 0x80])).uvarint(), isDecodeError);
  assert.throws(() => new Reader(Buffer.alloc(0)).uvarint(), isDecodeError);
});

test('varint and varlong: zig-zag edges', () => {
  const ints = [0, -1, 1, -64, 63, 64, -65, 2147483647, -2147483648];
  for (const v of ints) {
    const b = bytesOf((w) => w.varint(v));
    assert.equal(new Reader(b).varint(), v, `varint ${v}`);
  }
  assert.deepEqual(bytesOf((w) => w.varint(-1)), Buffer.from([1]));
  assert.deepEqual(bytesOf((w) => w.varint(1)), Buffer.from([2]));
  assert.deepEqual(bytesOf((w) => w.varint(-2147483648)), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
  const longs = [0, -1, 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 40 + 3, -(2 ** 40) - 3, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
  for (const v of longs) {
    const b = bytesOf((w) => w.varlong(v));
    const r = new Reader(b);
    assert.equal(r.varlong(), v, `varlong ${v}`);
    assert.equal(r.pos, b.length);
  }
  // 2^63-1 and -2^63 are 10-byte varlongs; they decode (rounded) without error.
  const max = Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  assert.equal(new Reader(max).varlong(), 2 ** 63);
  const min = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  assert.equal(new Reader(min).varlong(), -(2 ** 63));
  // Same bytes as the zig-zag reference (Kafka's ByteUtils.writeVarlong) for a 53-bit value.
  const ref = (x: bigint): Buffer => {
    let z = (x << 1n) ^ (x >> 63n);
    z = BigInt.asUintN(64, z);
    const out: number[] = [];
    while (z >= 0x80n) { out.push(Number(z & 0x7fn) | 0x80); z >>= 7n; }
    out.push(Number(z));
    return Buffer.from(out);
  };
  for (const v of longs) assert.deepEqual(bytesOf((w) => w.varlong(v)), ref(BigInt(v)), `varlong bytes ${v}`);
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])).varlong(), isDecodeError);
  assert.throws(() => new Reader(Buffer.alloc(11, 0xff)).varlong(), isDecodeError);
});

test('fixed-width integers, int64 as number, float64', () => {
  const b = bytesOf((w) => {
    w.int8(-2); w.int16(-3); w.uint16(65535); w.int32(-4); w.uint32(4294967295);
    w.int64(-1); w.int64(Number.MAX_SAFE_INTEGER); w.int64(-(2 ** 40)); w.float64(1.5); w.bool(true);
  });
  const r = new Reader(b);
  assert.equal(r.int8(), -2);
  assert.equal(r.int16(), -3);
  assert.equal(r.uint16(), 65535);
  assert.equal(r.int32(), -4);
  assert.equal(r.uint32(), 4294967295);
  assert.equal(r.int64(), -1);
  assert.equal(r.int64(), Number.MAX_SAFE_INTEGER);
  assert.equal(r.int64(), -(2 ** 40));
  assert.equal(r.float64(), 1.5);
  assert.equal(r.bool(), true);
  assert.equal(r.remaining, 0);
  assert.equal(b.readBigInt64BE(13), -1n);
  // Beyond 2^53 the value is rounded, never an error.
  assert.equal(new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).int64(), 2 ** 63);
});

test('uuid: Kafka Uuid.toString form, round trip, zero uuid', () => {
  const raw = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const s = new Reader(raw).uuid();
  assert.equal(s, 'ABEiM0RVZneImaq7zN3u_w');
  assert.equal(s.length, 22);
  assert.deepEqual(bytesOf((w) => w.uuid(s)), raw);
  assert.equal(new Reader(Buffer.alloc(16)).uuid(), 'AAAAAAAAAAAAAAAAAAAAAA');
  assert.throws(() => bytesOf((w) => w.uuid('short')), ProtocolEncodeError);
  assert.throws(() => new Reader(Buffer.alloc(15)).uuid(), isDecodeError);
});

test('strings and bytes: nullable, compact, UTF-8, slices not copies', () => {
  const b = bytesOf((w) => {
    w.string('héllo'); w.nullableString(null); w.compactString('日本'); w.compactNullableString(null);
    w.bytes(Buffer.from([1, 2])); w.nullableBytes(null); w.compactBytes(Buffer.from([3])); w.compactNullableBytes(null);
    w.string('x'.repeat(20000)); w.compactString('y'.repeat(300));
  });
  const r = new Reader(b);
  assert.equal(r.string(), 'héllo');
  assert.equal(r.nullableString(), null);
  assert.equal(r.compactString(), '日本');
  assert.equal(r.compactNullableString(), null);
  const bytes = r.bytes();
  assert.deepEqual(bytes, Buffer.from([1, 2]));
  assert.equal(bytes.buffer, b.buffer, 'bytes are a slice of the input');
  assert.equal(r.nullableBytes(), null);
  assert.deepEqual(r.compactBytes(), Buffer.from([3]));
  assert.equal(r.compactNullableBytes(), null);
  assert.equal(r.string(), 'x'.repeat(20000));
  assert.equal(r.compactString(), 'y'.repeat(300));
  assert.equal(r.remaining, 0);
  assert.throws(() => bytesOf((w) => w.string('z'.repeat(40000))), ProtocolEncodeError);
  assert.throws(() => bytesOf((w) => w.string(null as unknown as string)), ProtocolEncodeError);
  // A null where a non-nullable string is expected is a decode error.
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff])).string(), isDecodeError);
  assert.throws(() => new Reader(Buffer.from([0])).compactString(), isDecodeError);
});

test('bounds: every read past the end is a ProtocolDecodeError naming the position', () => {
  const r = new Reader(Buffer.from([0, 1, 2]), 1);
  try {
    r.int32();
    assert.fail('no error');
  } catch (e) {
    assert.ok(isDecodeError(e));
    assert.match((e as Error).message, /int32.*byte 1.*2 remain/);
  }
  for (const read of ['int8', 'int16', 'int32', 'int64', 'uint16', 'uint32', 'float64', 'bool', 'uuid'] as const) {
    assert.throws(() => new Reader(Buffer.alloc(0))[read](), isDecodeError, read);
  }
  // Lengths are checked against what remains before anything is allocated.
  assert.throws(() => new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff])).bytes(), isDecodeError);
  assert.throws(() => new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff])).arrayLength(), isDecodeError);
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xfe])).arrayLength(), isDecodeError);
  assert.equal(new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff])).arrayLength(), -1);
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])).compactArrayLength(), isDecodeError);
  assert.throws(() => new Reader(Buffer.from([0, 0, 0, 2, 0, 0, 0, 0])).arrayLength(4), isDecodeError);
  assert.throws(() => new Reader(Buffer.from([0x80, 0x01, 0])).taggedFieldCount(), isDecodeError);
  assert.throws(() => new Reader(Buffer.from([0x7f, 0xff])).string(), isDecodeError);
});

test('tagged fields: unknown ones survive a round trip in tag order', () => {
  const fields = [{ tag: 3, data: Buffer.from([1]) }, { tag: 9, data: Buffer.alloc(0) }];
  const b = bytesOf((w) => w.unknownTaggedFields(fields));
  assert.deepEqual(b, Buffer.from([2, 3, 1, 1, 9, 0]));
  assert.deepEqual(new Reader(b).unknownTaggedFields(), fields);
  assert.equal(new Reader(Buffer.from([0])).unknownTaggedFields(), undefined);
  const w = new Writer();
  let i = w.unknownTaggedFieldsBefore(fields, 0, 5);
  w.taggedField(5, Buffer.from([7]));
  i = w.unknownTaggedFieldsBefore(fields, i, Infinity);
  assert.equal(i, 2);
  assert.deepEqual(w.finish(), Buffer.from([3, 1, 1, 5, 1, 7, 9, 0]));
});

test('writer: bytesRef appends large buffers by reference, size prefix patching, chunks', () => {
  const big = Buffer.alloc(4096, 1);
  const w = new Writer(16);
  const slot = w.reserveInt32();
  w.int16(5);
  w.bytesRef(big);
  w.bytesRef(Buffer.from([9, 9]));
  w.int32(7);
  w.endSizePrefix(slot);
  assert.equal(w.length, 4 + 2 + 4096 + 2 + 4);
  const chunks = w.chunks();
  assert.ok(chunks.includes(big), 'large buffer kept by reference');
  const out = w.finish();
  assert.equal(out.length, w.length);
  assert.equal(out.readInt32BE(0), w.length - 4);
  assert.deepEqual(Buffer.concat(chunks), out);
  // Growing past the first buffer keeps earlier bytes and the reserved slot intact.
  const w2 = new Writer(1);
  const s2 = w2.reserveInt32();
  for (let i = 0; i < 1000; i++) w2.int32(i);
  w2.endSizePrefix(s2);
  const o2 = w2.finish();
  assert.equal(o2.readInt32BE(0), 4000);
  assert.equal(o2.readInt32BE(4 + 4 * 999), 999);
  // A single-segment writer returns a slice, not a copy.
  const w3 = new Writer(64);
  w3.int32(1);
  assert.equal(w3.chunks().length, 1);
});

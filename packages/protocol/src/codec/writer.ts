/**
 * Writer for Kafka's primitive wire types (layouts: see reader.ts), growing as it goes.
 *
 * Output is a list of segments: slices of the writer's own buffers, plus large caller
 * Buffers appended by reference (`bytesRef`, used for record data so that a Fetch response
 * never copies the log's bytes). `chunks()` hands the segments to socket.writev without a
 * copy; `finish()` returns one Buffer, with at most one Buffer.concat.
 *
 * A frame's 4-byte size prefix is reserved with `reserveInt32()` and filled in at the end
 * with `endSizePrefix()`. Integers are written with plain bit operations: out-of-range
 * numbers are truncated to the field's width, as a cast would in Kafka's Java code.
 */
import { ProtocolEncodeError } from './errors.js';
import type { TaggedField } from './tagged-field.js';

const STRING_LENGTH_MAX = 0x7fff;
const TWO_POW_32 = 4294967296;
/** Below this size, appending by reference costs more (an extra writev segment) than a copy. */
const BYTES_REF_MIN = 1024;
/** Growth doubles the last buffer up to this size; large messages then grow in 1 MiB steps. */
const BUFFER_GROWTH_MAX = 1 << 20;

/** A reserved int32 (see reserveInt32): where it lives and where the bytes after it start. */
export interface Int32Slot {
  readonly buf: Buffer;
  readonly offset: number;
  /** `length` of the writer just after the slot. */
  readonly after: number;
}

export class Writer {
  private buf: Buffer;
  private pos = 0;
  /** Start of the current, not yet committed segment of `buf`. */
  private start = 0;
  private readonly segments: Buffer[] = [];
  private committed = 0;

  constructor(initialCapacity = 256) {
    this.buf = Buffer.allocUnsafe(initialCapacity);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.committed + this.pos - this.start;
  }

  private commit(): void {
    if (this.pos > this.start) {
      this.segments.push(this.buf.subarray(this.start, this.pos));
      this.committed += this.pos - this.start;
      this.start = this.pos;
    }
  }

  private ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    this.commit();
    const size = Math.max(n, Math.min(this.buf.length * 2, BUFFER_GROWTH_MAX), 256);
    this.buf = Buffer.allocUnsafe(size);
    this.pos = 0;
    this.start = 0;
  }

  int8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  int16(v: number): void {
    this.ensure(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = (v >>> 8) & 0xff;
    b[p + 1] = v & 0xff;
    this.pos = p + 2;
  }

  uint16(v: number): void {
    this.int16(v);
  }

  int32(v: number): void {
    this.ensure(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = (v >>> 24) & 0xff;
    b[p + 1] = (v >>> 16) & 0xff;
    b[p + 2] = (v >>> 8) & 0xff;
    b[p + 3] = v & 0xff;
    this.pos = p + 4;
  }

  uint32(v: number): void {
    this.int32(v);
  }

  /** int64 from a number (exact within ±2^53). */
  int64(v: number): void {
    this.ensure(8);
    const b = this.buf;
    const p = this.pos;
    const hi = Math.floor(v / TWO_POW_32);
    const lo = v - hi * TWO_POW_32;
    b[p] = (hi >>> 24) & 0xff;
    b[p + 1] = (hi >>> 16) & 0xff;
    b[p + 2] = (hi >>> 8) & 0xff;
    b[p + 3] = hi & 0xff;
    b[p + 4] = (lo >>> 24) & 0xff;
    b[p + 5] = (lo >>> 16) & 0xff;
    b[p + 6] = (lo >>> 8) & 0xff;
    b[p + 7] = lo & 0xff;
    this.pos = p + 8;
  }

  float64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  /** Unsigned varint of a 32-bit value (0 .. 2^32-1). */
  uvarint(v: number): void {
    this.ensure(5);
    const b = this.buf;
    let p = this.pos;
    let u = v >>> 0;
    while (u >= 0x80) {
      b[p++] = (u & 0x7f) | 0x80;
      u >>>= 7;
    }
    b[p++] = u;
    this.pos = p;
  }

  /** Zig-zag varint of a 32-bit value. */
  varint(v: number): void {
    this.uvarint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  /**
   * Zig-zag varlong of a number (exact within ±2^53). The zig-zag value 2|v| (-1) needs one
   * bit more than a double holds exactly, so the first byte takes the sign and the low six
   * bits of the magnitude, and the rest is written from the magnitude.
   */
  varlong(v: number): void {
    if (v >= -0x40000000 && v < 0x40000000) {
      this.varint(v);
      return;
    }
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    const negative = v < 0;
    let u = negative ? -v - 1 : v;
    const first = ((u % 64) * 2) | (negative ? 1 : 0);
    u = Math.floor(u / 64);
    if (u === 0) {
      b[p++] = first;
    } else {
      b[p++] = first | 0x80;
      while (u >= 0x80) {
        b[p++] = (u % 128) | 0x80;
        u = Math.floor(u / 128);
      }
      b[p++] = u;
    }
    this.pos = p;
  }

  /** Copies `src` into the output. */
  raw(src: Buffer): void {
    const n = src.length;
    this.ensure(n);
    src.copy(this.buf, this.pos);
    this.pos += n;
  }

  /**
   * Appends `src` by reference when it is large (the caller must not change it until the
   * output has been written out), by copy when it is small.
   */
  bytesRef(src: Buffer): void {
    if (src.length < BYTES_REF_MIN) {
      this.raw(src);
      return;
    }
    this.commit();
    this.segments.push(src);
    this.committed += src.length;
  }

  private notNull(v: unknown, type: string): void {
    if (v === null || v === undefined) {
      throw new ProtocolEncodeError(`cannot write null as a non-nullable ${type}`);
    }
  }

  private tooLong(n: number): ProtocolEncodeError {
    return new ProtocolEncodeError(`string of ${n} UTF-8 bytes exceeds the ${STRING_LENGTH_MAX}-byte limit`);
  }

  /** UTF-8 with an int16 length. */
  string(s: string): void {
    this.notNull(s, 'string');
    // A UTF-16 unit never takes more than 3 UTF-8 bytes: reserve the worst case, write the
    // text once, then fill in the length (one pass instead of byteLength + write).
    const worst = s.length * 3;
    if (worst <= STRING_LENGTH_MAX) {
      this.ensure(2 + worst);
      const p = this.pos;
      const n = s.length === 0 ? 0 : this.buf.write(s, p + 2, worst, 'utf8');
      this.buf[p] = n >>> 8;
      this.buf[p + 1] = n & 0xff;
      this.pos = p + 2 + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    if (n > STRING_LENGTH_MAX) throw this.tooLong(n);
    this.int16(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  nullableString(s: string | null): void {
    if (s === null) this.int16(-1);
    else this.string(s);
  }

  /** UTF-8 with a uvarint length+1. */
  compactString(s: string): void {
    this.notNull(s, 'compact string');
    const worst = s.length * 3;
    if (worst < 0x7f) {
      // length+1 fits in one varint byte.
      this.ensure(1 + worst);
      const p = this.pos;
      const n = s.length === 0 ? 0 : this.buf.write(s, p + 1, worst, 'utf8');
      this.buf[p] = n + 1;
      this.pos = p + 1 + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    if (n > STRING_LENGTH_MAX) throw this.tooLong(n);
    this.uvarint(n + 1);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  compactNullableString(s: string | null): void {
    if (s === null) this.uvarint(0);
    else this.compactString(s);
  }

  bytes(b: Buffer): void {
    this.notNull(b, 'bytes');
    this.int32(b.length);
    this.raw(b);
  }

  nullableBytes(b: Buffer | null): void {
    if (b === null) this.int32(-1);
    else this.bytes(b);
  }

  compactBytes(b: Buffer): void {
    this.notNull(b, 'compact bytes');
    this.uvarint(b.length + 1);
    this.raw(b);
  }

  compactNullableBytes(b: Buffer | null): void {
    if (b === null) this.uvarint(0);
    else this.compactBytes(b);
  }

  /** Record data in a version where it may not be null. */
  nonNullRecords(b: Buffer): void {
    this.notNull(b, 'records');
    this.records(b);
  }

  compactNonNullRecords(b: Buffer): void {
    this.notNull(b, 'compact records');
    this.compactRecords(b);
  }

  /** Record data (int32 length, -1 = null), appended by reference when large. */
  records(b: Buffer | null): void {
    if (b === null) {
      this.int32(-1);
      return;
    }
    this.int32(b.length);
    this.bytesRef(b);
  }

  compactRecords(b: Buffer | null): void {
    if (b === null) {
      this.uvarint(0);
      return;
    }
    this.uvarint(b.length + 1);
    this.bytesRef(b);
  }

  /** A uuid given as Kafka's Uuid.toString() (22 chars of URL-safe base64). */
  uuid(s: string): void {
    this.notNull(s, 'uuid');
    this.ensure(16);
    const n = s.length === 22 ? this.buf.write(s, this.pos, 16, 'base64url') : 0;
    if (n !== 16) throw new ProtocolEncodeError(`uuid ${JSON.stringify(s)} is not 22 characters of URL-safe base64`);
    this.pos += 16;
  }

  /** int32 array length, -1 for null. */
  arrayLength(a: readonly unknown[] | null): void {
    this.int32(a === null ? -1 : a.length);
  }

  compactArrayLength(a: readonly unknown[] | null): void {
    this.uvarint(a === null ? 0 : a.length + 1);
  }

  /** One raw tagged field: uvarint tag, uvarint size, bytes. */
  taggedField(tag: number, data: Buffer): void {
    this.uvarint(tag);
    this.uvarint(data.length);
    this.raw(data);
  }

  /** The tagged-field section of a struct with no known tagged fields in this version. */
  unknownTaggedFields(fields: readonly TaggedField[] | undefined): void {
    if (fields === undefined || fields.length === 0) {
      this.ensure(1);
      this.buf[this.pos++] = 0;
      return;
    }
    this.uvarint(fields.length);
    for (let i = 0; i < fields.length; i++) this.taggedField(fields[i]!.tag, fields[i]!.data);
  }

  /**
   * Writes the unknown tagged fields from `index` on whose tag is below `beforeTag`, so
   * that they interleave in tag order with known ones (as Kafka's RawTaggedFieldWriter).
   * Returns the index of the first field not written.
   */
  unknownTaggedFieldsBefore(fields: readonly TaggedField[] | undefined, index: number, beforeTag: number): number {
    if (fields === undefined) return index;
    let i = index;
    while (i < fields.length && fields[i]!.tag < beforeTag) {
      this.taggedField(fields[i]!.tag, fields[i]!.data);
      i++;
    }
    return i;
  }

  /** Reserves 4 bytes to be filled in later (a frame's size prefix). */
  reserveInt32(): Int32Slot {
    this.ensure(4);
    const slot: Int32Slot = { buf: this.buf, offset: this.pos, after: this.length + 4 };
    this.pos += 4;
    return slot;
  }

  patchInt32(slot: Int32Slot, v: number): void {
    slot.buf.writeInt32BE(v | 0, slot.offset);
  }

  /** Fills a reserved slot with the number of bytes written after it. */
  endSizePrefix(slot: Int32Slot): void {
    this.patchInt32(slot, this.length - slot.after);
  }

  /** The output as segments, for socket.writev (no copy). */
  chunks(): Buffer[] {
    const out = this.segments.slice();
    if (this.pos > this.start) out.push(this.buf.subarray(this.start, this.pos));
    return out;
  }

  /** The output as one Buffer (a slice when it is one segment, one concat otherwise). */
  finish(): Buffer {
    if (this.segments.length === 0) return this.buf.subarray(this.start, this.pos);
    return Buffer.concat(this.chunks(), this.length);
  }
}

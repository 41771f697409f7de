/**
 * Minimal big-endian reader and writer for the `__consumer_offsets` record formats.
 *
 * Why not the protocol package's primitives: they were not written yet. The reader validates
 * every length against the remaining bytes, because these records come from disk (a torn or
 * foreign record must raise CoordinatorRecordError, never a RangeError from Buffer).
 */
export class CoordinatorRecordError extends Error {
  readonly code = 'TRIB_ERR_COORDINATOR_RECORD';
  constructor(message: string) {
    super(message);
    this.name = 'CoordinatorRecordError';
  }
}

export class ByteReader {
  private pos = 0;
  constructor(private readonly buf: Buffer, private readonly what: string) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, field: string): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      throw new CoordinatorRecordError(
        `${this.what}: reading ${field} needs ${n} bytes at position ${this.pos}, but the record has ${this.buf.length} bytes`,
      );
    }
  }

  int8(field: string): number {
    this.need(1, field);
    return this.buf.readInt8(this.pos++);
  }

  int16(field: string): number {
    this.need(2, field);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(field: string): number {
    this.need(4, field);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** int64 as a number; offsets and timestamps stay below 2^53 (checked, not assumed). */
  int64(field: string): number {
    this.need(8, field);
    const hi = this.buf.readInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    const v = hi * 0x1_0000_0000 + lo;
    if (!Number.isSafeInteger(v)) throw new CoordinatorRecordError(`${this.what}: ${field} ${v} is outside the exact number range`);
    return v;
  }

  unsignedVarint(field: string): number {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = this.int8(field) & 0xff;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) throw new CoordinatorRecordError(`${this.what}: varint ${field} is longer than 5 bytes`);
    }
    return value;
  }

  private bytesOfLength(n: number, field: string): Buffer {
    this.need(n, field);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A string: int16 length (classic) or unsigned varint length+1 (compact). -1 / 0 mean null. */
  nullableString(field: string, compact: boolean): string | null {
    const n = compact ? this.unsignedVarint(field) - 1 : this.int16(field);
    if (n < 0) return null;
    return this.bytesOfLength(n, field).toString('utf8');
  }

  string(field: string, compact: boolean): string {
    const s = this.nullableString(field, compact);
    if (s === null) throw new CoordinatorRecordError(`${this.what}: ${field} is null but the format does not allow it`);
    return s;
  }

  bytes(field: string, compact: boolean): Buffer {
    const n = compact ? this.unsignedVarint(field) - 1 : this.int32(field);
    if (n < 0) throw new CoordinatorRecordError(`${this.what}: ${field} is null but the format does not allow it`);
    return Buffer.from(this.bytesOfLength(n, field));
  }

  arrayLength(field: string, compact: boolean): number {
    const n = compact ? this.unsignedVarint(field) - 1 : this.int32(field);
    if (n < 0) throw new CoordinatorRecordError(`${this.what}: ${field} is null but the format does not allow it`);
    // Every element takes at least one byte; a larger count is corrupt, and checking here keeps
    // a bad count from allocating a huge array.
    if (n > this.remaining) throw new CoordinatorRecordError(`${this.what}: ${field} claims ${n} elements in ${this.remaining} bytes`);
    return n;
  }

  /** Skips a tagged-field section (flexible versions); no tags are known in these formats. */
  skipTaggedFields(): void {
    const count = this.unsignedVarint('tagged field count');
    for (let i = 0; i < count; i++) {
      this.unsignedVarint('tag');
      const size = this.unsignedVarint('tagged field size');
      this.bytesOfLength(size, 'tagged field');
    }
  }
}

export class ByteWriter {
  private buf = Buffer.allocUnsafe(128);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  int64(v: number): this {
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }

  nullableString(s: string | null): this {
    if (s === null) return this.int16(-1);
    const n = Buffer.byteLength(s, 'utf8');
    if (n > 0x7fff) throw new CoordinatorRecordError(`a string of ${n} bytes does not fit an int16 length`);
    this.int16(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    return this;
  }

  bytes(b: Buffer): this {
    this.int32(b.length);
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
    return this;
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

import { ErrorCode } from '../errors.js';
import { RecordBatchError, RecordBatchErrorCode } from './record-batch-error.js';

/**
 * A cursor over the records section of a batch, reading Kafka's zigzag varints inline.
 *
 * Validation walks every record of every produced batch, so the reader is one small object
 * per batch with monomorphic methods V8 inlines; nothing is allocated per record. Any read
 * past `end` or any overlong varint throws a RecordBatchError (INVALID_RECORD), which is
 * what Kafka answers for a record it cannot parse ("Found invalid record structure").
 */
export class RecordReader {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** Zigzag varint of at most 5 bytes (Java's ByteUtils.readVarint), as a signed int32. */
  varint(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos < this.end) {
      const b = buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return (b >>> 1) ^ -(b & 1);
      }
    }
    let value = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      if (pos >= this.end) this.fail(`varint at byte ${this.pos} runs past the end of the records`);
      const b = buf[pos++]!;
      value |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return (value >>> 1) ^ -(value & 1);
      }
    }
    return this.fail(`varint at byte ${this.pos} is longer than 5 bytes`);
  }

  /**
   * Zigzag varint of at most 10 bytes (Java's readVarlong) as a number. Exact within
   * +/-2^53, which covers every timestamp delta a real producer writes.
   */
  varlong(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos < this.end) {
      const b = buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return (b >>> 1) ^ -(b & 1);
      }
    }
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= this.end) this.fail(`varlong at byte ${this.pos} runs past the end of the records`);
      const b = buf[pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = pos;
        return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      }
      scale *= 128;
    }
    return this.fail(`varlong at byte ${this.pos} is longer than 10 bytes`);
  }

  /** Skips a length-prefixed field; returns its length (-1 for null). */
  skipBytesField(what: string, allowNull: boolean): number {
    const length = this.varint();
    if (length < 0) {
      if (length === -1 && allowNull) return -1;
      this.fail(`${what} length ${length} is invalid`);
    }
    if (length > this.end - this.pos) {
      this.fail(`${what} length ${length} at byte ${this.pos} exceeds the ${this.end - this.pos} bytes left`);
    }
    this.pos += length;
    return length;
  }

  fail(message: string): never {
    throw new RecordBatchError(RecordBatchErrorCode.BAD_RECORD, message, ErrorCode.INVALID_RECORD);
  }
}

import { RecordReader } from './record-reader.js';

/**
 * Building and reading individual records (the layout is written out in record-walk.ts).
 * Decoded keys, values and header values are slices of the input, not copies.
 */

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/**
 * One record as producers and consumers see it. Named KafkaRecord rather than Record so
 * that importing it does not shadow TypeScript's built-in Record<K, V>.
 */
export interface KafkaRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface DecodedRecord extends KafkaRecord {
  attributes: number;
  offsetDelta: number;
  timestampDelta: number;
}

/** What encodeBatch takes per record; every field is optional. */
export interface RecordInput {
  /** Absolute offset; its delta from baseOffset becomes offsetDelta. Default: baseOffset + index. */
  offset?: number;
  /** Default: the batch's `timestamp` option. */
  timestamp?: number;
  key?: Buffer | null;
  value?: Buffer | null;
  headers?: RecordHeader[];
}

/** Reads `count` records of a records section. Throws RecordBatchError on bad framing. */
export function readRecords(
  buf: Buffer,
  start: number,
  end: number,
  count: number,
  baseOffset: number,
  baseTimestamp: number,
  logAppendTime: number | null,
): DecodedRecord[] {
  const reader = new RecordReader(buf, start, end);
  const records: DecodedRecord[] = [];
  for (let i = 0; i < count; i++) {
    const length = reader.varint();
    const bodyStart = reader.pos;
    if (length <= 0 || length > end - bodyStart) {
      reader.fail(`record ${i} at byte ${bodyStart} declares ${length} bytes, ${end - bodyStart} remain`);
    }
    reader.end = bodyStart + length;
    const attributes = buf.readInt8(reader.pos++);
    const timestampDelta = reader.varlong();
    const offsetDelta = reader.varint();
    const key = readBytesField(reader, 'key', true);
    const value = readBytesField(reader, 'value', true);
    const headerCount = reader.varint();
    if (headerCount < 0 || headerCount > reader.end - reader.pos) {
      reader.fail(`record ${i} declares ${headerCount} headers in ${reader.end - reader.pos} bytes`);
    }
    const headers: RecordHeader[] = [];
    for (let h = 0; h < headerCount; h++) {
      const headerKey = readBytesField(reader, 'header key', false)!;
      headers.push({ key: headerKey.toString('utf8'), value: readBytesField(reader, 'header value', true) });
    }
    if (reader.pos !== reader.end) {
      reader.fail(`record ${i} declares ${length} bytes but its fields take ${reader.pos - bodyStart}`);
    }
    reader.end = end;
    records.push({
      offset: baseOffset + offsetDelta,
      timestamp: logAppendTime ?? baseTimestamp + timestampDelta,
      key,
      value,
      headers,
      attributes,
      offsetDelta,
      timestampDelta,
    });
  }
  if (reader.pos !== end) {
    reader.fail(`${count} records end at byte ${reader.pos} but the records section ends at ${end}`);
  }
  return records;
}

function readBytesField(reader: RecordReader, what: string, allowNull: boolean): Buffer | null {
  const length = reader.skipBytesField(what, allowNull);
  if (length < 0) return null;
  return reader.buf.subarray(reader.pos - length, reader.pos);
}

/** Bytes of a zigzag varint. */
export function sizeOfVarint(value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0;
  let size = 1;
  while (v >= 0x80) {
    v >>>= 7;
    size++;
  }
  return size;
}

/** Bytes of a zigzag varlong (value within +/-2^53). */
export function sizeOfVarlong(value: number): number {
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  let size = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    size++;
  }
  return size;
}

export function writeVarint(buf: Buffer, at: number, value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0;
  while (v >= 0x80) {
    buf[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[at++] = v;
  return at;
}

export function writeVarlong(buf: Buffer, at: number, value: number): number {
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  while (v >= 128) {
    buf[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[at++] = v;
  return at;
}

/** A record reduced to what its bytes need; computed once so sizing and writing agree. */
interface PreparedRecord {
  timestampDelta: number;
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headerKeys: Buffer[];
  headerValues: (Buffer | null)[];
  bodySize: number;
}

export function prepareRecord(input: RecordInput, offsetDelta: number, timestampDelta: number): PreparedRecord {
  const key = input.key ?? null;
  const value = input.value ?? null;
  const headers = input.headers ?? [];
  const headerKeys: Buffer[] = [];
  const headerValues: (Buffer | null)[] = [];
  let bodySize =
    1 +
    sizeOfVarlong(timestampDelta) +
    sizeOfVarint(offsetDelta) +
    (key === null ? 1 : sizeOfVarint(key.length) + key.length) +
    (value === null ? 1 : sizeOfVarint(value.length) + value.length) +
    sizeOfVarint(headers.length);
  for (const header of headers) {
    const headerKey = Buffer.from(header.key, 'utf8');
    headerKeys.push(headerKey);
    headerValues.push(header.value);
    bodySize += sizeOfVarint(headerKey.length) + headerKey.length;
    bodySize += header.value === null ? 1 : sizeOfVarint(header.value.length) + header.value.length;
  }
  return { timestampDelta, offsetDelta, key, value, headerKeys, headerValues, bodySize };
}

export function preparedRecordSize(record: PreparedRecord): number {
  return sizeOfVarint(record.bodySize) + record.bodySize;
}

export function writePreparedRecord(buf: Buffer, at: number, record: PreparedRecord): number {
  at = writeVarint(buf, at, record.bodySize);
  buf[at++] = 0; // attributes: unused in magic 2
  at = writeVarlong(buf, at, record.timestampDelta);
  at = writeVarint(buf, at, record.offsetDelta);
  at = writeBytesField(buf, at, record.key);
  at = writeBytesField(buf, at, record.value);
  at = writeVarint(buf, at, record.headerKeys.length);
  for (let h = 0; h < record.headerKeys.length; h++) {
    at = writeBytesField(buf, at, record.headerKeys[h]!);
    at = writeBytesField(buf, at, record.headerValues[h]!);
  }
  return at;
}

function writeBytesField(buf: Buffer, at: number, bytes: Buffer | null): number {
  if (bytes === null) return writeVarint(buf, at, -1);
  at = writeVarint(buf, at, bytes.length);
  return at + bytes.copy(buf, at);
}

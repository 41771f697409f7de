import { crc32 } from '@node-rs/crc32';
import { compress, compressSync, decompress, decompressSync } from '../compression/codec.js';
import { CompressionError } from '../compression/compression-error.js';
import { ErrorCode } from '../errors.js';
import { BatchLayout, CompressionType, readInt64, writeInt64 } from './batch-layout.js';
import { RecordBatchDefaults, TimestampType } from './batch-constants.js';
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from './batch-decode.js';
import { encodeBatchSync } from './batch-encode.js';
import { type RecordBatchHeader, readBatchHeader } from './batch-header.js';
import { RecordReader } from './record-reader.js';
import type { RecordInput } from './record-codec.js';

/**
 * Message sets of message formats v0 and v1 (magic 0 and 1), which Produce v0-2 carry and
 * Fetch v0-3 answer with (Kafka's LegacyRecord and AbstractLegacyRecordBatch). The broker
 * stores only v2 batches: produced sets are converted up on append, and fetched batches
 * are converted down for old fetchers, as Kafka 3.x does with message.format.version 3.0.
 *
 * One entry of a message set:
 *
 *   offset  size  field
 *   0       8     offset       int64 (for compressed wrappers, see below)
 *   8       4     size         int32: bytes of the message that follow
 *   12      4     crc          uint32 CRC-32 (IEEE, not the CRC-32C of v2) of bytes 16..end
 *   16      1     magic        0 or 1 (at the same place as a v2 batch's magic)
 *   17      1     attributes   bits 0-2 codec (0 none, 1 gzip, 2 snappy, 3 lz4);
 *                              bit 3 (magic 1 only): timestamp is LogAppendTime
 *   18      8     timestamp    int64, magic 1 only
 *   ..      4+n   key          int32 length (-1: null), bytes
 *   ..      4+n   value        int32 length (-1: null), bytes
 *
 * A compressed set is a "wrapper" message whose value is the codec's output over an inner
 * set of uncompressed messages. Magic 1 (KIP-31): the wrapper's offset is the absolute
 * offset of the last inner message and inner offsets are relative to the first; the
 * wrapper's timestamp is the largest inner one, or with bit 3 the log append time, which
 * then stands for every inner timestamp. Magic 0: inner offsets are absolute.
 * LZ4 under magic 0 carries a frame header checksum computed over the frame's magic number
 * as well (KAFKA-3160); Kafka ignores it when reading and writes it that way for magic 0.
 */

export const LEGACY_LOG_OVERHEAD = 12;
/** crc, magic, attributes, key length, value length. */
export const LEGACY_RECORD_OVERHEAD_V0 = 14;
/** v0 plus the timestamp. */
export const LEGACY_RECORD_OVERHEAD_V1 = 22;
const MAGIC_AT = 16;
const ATTRIBUTES_AT = 17;
const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_BIT = 0x08;

export interface LegacyMessage {
  /** Absolute offset as the sender wrote it (inner offsets of magic 1 wrappers resolved). */
  offset: number;
  magic: number;
  /** -1 for magic 0. */
  timestamp: number;
  timestampType: TimestampType;
  /** Codec of the wrapper the message came in (NONE for a top-level message). */
  compression: number;
  key: Buffer | null;
  value: Buffer | null;
}

export interface LegacyFailure {
  ok: false;
  errorCode: number;
  message: string;
}

export interface LegacyReadOptions {
  /** Bound on each wrapper's decompressed inner set. Default DEFAULT_MAX_DECOMPRESSED_BYTES. */
  maxDecompressedBytes?: number;
}

function fail(errorCode: number, message: string): LegacyFailure {
  return { ok: false, errorCode, message };
}

/** True when the set's first entry is a v0/v1 message (a v2 batch has magic 2 there). */
export function isLegacyMessageSet(buf: Buffer): boolean {
  return buf.length > MAGIC_AT && buf[MAGIC_AT]! < 2;
}

/**
 * Reads every message of a v0/v1 set, unwrapping compressed wrappers. Bad bytes are a
 * result, never a throw: a short or oversized entry, a CRC-32 mismatch, a bad key or value
 * length or an undecompressable wrapper is CORRUPT_MESSAGE, an unknown codec (zstd has none
 * in these formats) UNSUPPORTED_COMPRESSION_TYPE, nested compression or a v2 batch among
 * legacy messages INVALID_RECORD. A trailing partial entry is ignored, as Kafka's
 * ByteBufferLogInputStream does.
 */
export function readLegacyMessageSet(buf: Buffer, options: LegacyReadOptions = {}): { ok: true; messages: LegacyMessage[] } | LegacyFailure {
  const messages: LegacyMessage[] = [];
  const maxDecompressed = options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  let at = 0;
  while (buf.length - at >= LEGACY_LOG_OVERHEAD) {
    const size = buf.readInt32BE(at + 8);
    if (size < LEGACY_RECORD_OVERHEAD_V0) return fail(ErrorCode.CORRUPT_MESSAGE, `message at byte ${at} declares ${size} bytes, below the minimum of ${LEGACY_RECORD_OVERHEAD_V0}`);
    if (size > buf.length - at - LEGACY_LOG_OVERHEAD) break;
    const parsed = parseMessage(buf, at, size);
    if (!parsed.ok) return parsed;
    const m = parsed.message;
    if (m.compression === CompressionType.NONE) {
      messages.push(m);
    } else {
      const inner = unwrap(m, maxDecompressed);
      if (!inner.ok) return inner;
      for (const x of inner.messages) messages.push(x);
    }
    at += LEGACY_LOG_OVERHEAD + size;
  }
  return { ok: true, messages };
}

function parseMessage(buf: Buffer, at: number, size: number): { ok: true; message: LegacyMessage } | LegacyFailure {
  const end = at + LEGACY_LOG_OVERHEAD + size;
  const magic = buf.readInt8(at + MAGIC_AT);
  if (magic !== 0 && magic !== 1) return fail(ErrorCode.INVALID_RECORD, `entry at byte ${at} has magic ${magic} inside a message set of magic 0/1 messages`);
  if (magic === 1 && size < LEGACY_RECORD_OVERHEAD_V1) return fail(ErrorCode.CORRUPT_MESSAGE, `magic 1 message at byte ${at} declares ${size} bytes, below the minimum of ${LEGACY_RECORD_OVERHEAD_V1}`);
  const storedCrc = buf.readUInt32BE(at + LEGACY_LOG_OVERHEAD);
  const computedCrc = crc32(buf.subarray(at + MAGIC_AT, end)) >>> 0;
  if (storedCrc !== computedCrc) return fail(ErrorCode.CORRUPT_MESSAGE, `message at byte ${at} is corrupt: stored CRC-32 ${storedCrc}, computed ${computedCrc}`);
  const attributes = buf[at + ATTRIBUTES_AT]!;
  let p = at + ATTRIBUTES_AT + 1;
  let timestamp: number = RecordBatchDefaults.NO_TIMESTAMP;
  if (magic === 1) {
    timestamp = readInt64(buf, p);
    p += 8;
  }
  const key = readBytes(buf, p, end);
  if (key === undefined) return fail(ErrorCode.CORRUPT_MESSAGE, `message at byte ${at} has a key length that does not fit its ${size} bytes`);
  p = key.next;
  const value = readBytes(buf, p, end);
  if (value === undefined || value.next !== end) return fail(ErrorCode.CORRUPT_MESSAGE, `message at byte ${at} has a value length that does not fill its ${size} bytes`);
  return {
    ok: true,
    message: {
      offset: readInt64(buf, at),
      magic,
      timestamp,
      timestampType: magic === 1 && (attributes & TIMESTAMP_TYPE_BIT) !== 0 ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
      compression: attributes & COMPRESSION_MASK,
      key: key.bytes,
      value: value.bytes,
    },
  };
}

function readBytes(buf: Buffer, at: number, end: number): { bytes: Buffer | null; next: number } | undefined {
  if (end - at < 4) return undefined;
  const length = buf.readInt32BE(at);
  if (length === -1) return { bytes: null, next: at + 4 };
  if (length < 0 || length > end - at - 4) return undefined;
  return { bytes: buf.subarray(at + 4, at + 4 + length), next: at + 4 + length };
}

function unwrap(wrapper: LegacyMessage, maxDecompressed: number): { ok: true; messages: LegacyMessage[] } | LegacyFailure {
  const codec = wrapper.compression;
  if (codec > CompressionType.LZ4) return fail(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `message format v${wrapper.magic} has no compression codec ${codec}`);
  if (wrapper.value === null) return fail(ErrorCode.CORRUPT_MESSAGE, `compressed wrapper message at offset ${wrapper.offset} has a null value`);
  let compressed = wrapper.value;
  if (codec === CompressionType.LZ4 && wrapper.magic === 0) compressed = withFixedLz4HeaderChecksum(compressed);
  let plain: Buffer;
  try {
    plain = decompressSync(codec, compressed, maxDecompressed);
  } catch (err) {
    const reason = err instanceof CompressionError ? err.message : String(err);
    return fail(ErrorCode.CORRUPT_MESSAGE, `compressed wrapper message at offset ${wrapper.offset} does not decompress: ${reason}`);
  }
  const inner: LegacyMessage[] = [];
  let at = 0;
  while (plain.length - at >= LEGACY_LOG_OVERHEAD) {
    const size = plain.readInt32BE(at + 8);
    if (size < LEGACY_RECORD_OVERHEAD_V0 || size > plain.length - at - LEGACY_LOG_OVERHEAD) {
      return fail(ErrorCode.CORRUPT_MESSAGE, `inner message at byte ${at} of the wrapper at offset ${wrapper.offset} declares ${size} bytes`);
    }
    const parsed = parseMessage(plain, at, size);
    if (!parsed.ok) return parsed;
    const m = parsed.message;
    if (m.compression !== CompressionType.NONE) {
      return fail(ErrorCode.INVALID_RECORD, 'Compressed outer record should not have an inner record with a compression attribute set');
    }
    if (m.magic !== wrapper.magic) {
      return fail(ErrorCode.INVALID_RECORD, `inner message ${inner.length} has magic ${m.magic}, which does not match its wrapper's magic ${wrapper.magic}`);
    }
    m.compression = codec;
    if (wrapper.timestampType === TimestampType.LOG_APPEND_TIME) {
      m.timestamp = wrapper.timestamp;
      m.timestampType = TimestampType.LOG_APPEND_TIME;
    }
    inner.push(m);
    at += LEGACY_LOG_OVERHEAD + size;
  }
  if (at !== plain.length || inner.length === 0) {
    return fail(ErrorCode.CORRUPT_MESSAGE, `compressed wrapper message at offset ${wrapper.offset} holds ${inner.length} messages and ${plain.length - at} stray bytes`);
  }
  if (wrapper.magic === 1) {
    // Relative inner offsets: the wrapper's offset is the last inner message's.
    const last = inner[inner.length - 1]!.offset;
    for (const m of inner) m.offset = wrapper.offset - last + m.offset;
  }
  return { ok: true, messages: inner };
}

// ---------------------------------------------------------------------------- up-conversion

export interface LegacyToBatchOptions extends LegacyReadOptions {
  /** The topic's message.timestamp.type. */
  topicTimestampType?: TimestampType;
}

/**
 * Produce v0-2: turns a partition's v0/v1 message set into the one v2 batch the broker
 * stores (Kafka's LogValidator.convertAndAssignOffsetsNonCompressed and, for compressed
 * sets, validateMessagesAndAssignOffsetsCompressed without in-place assignment): every
 * message becomes a record with its key, value and (magic 1) timestamp, magic 0 messages
 * get no timestamp (-1), and the batch is compressed with the codec the producer used (the
 * last compressed wrapper's, as Kafka's sourceCompression). The sender's offsets are
 * ignored; the log assigns new ones. No producer id: old producers have none.
 *
 * As in Kafka, every entry must have the same magic, and a compressed set must be a single
 * wrapper (INVALID_RECORD). A magic 1 message that claims LogAppendTime is refused with INVALID_TIMESTAMP when Kafka
 * would (LogValidator.validateTimestamp): in a LogAppendTime topic, or without a timestamp.
 * Runs synchronously (gzip too) so that the append keeps its place in request order.
 */
export function legacyMessageSetToBatch(buf: Buffer, options: LegacyToBatchOptions = {}): { ok: true; batch: Buffer; messages: number } | LegacyFailure {
  const read = readLegacyMessageSet(buf, options);
  if (!read.ok) return read;
  const messages = read.messages;
  if (messages.length === 0) return fail(ErrorCode.INVALID_RECORD, `message set of ${buf.length} bytes holds no complete message`);
  const shape = checkShape(buf);
  if (shape !== undefined) return shape;
  let compression = CompressionType.NONE as number;
  const records: RecordInput[] = new Array(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.compression !== CompressionType.NONE) compression = m.compression;
    if (m.timestampType === TimestampType.LOG_APPEND_TIME && (options.topicTimestampType === TimestampType.LOG_APPEND_TIME || m.timestamp === RecordBatchDefaults.NO_TIMESTAMP)) {
      return fail(ErrorCode.INVALID_TIMESTAMP, `Invalid timestamp type in message ${i}: producers should not set the timestamp type to LogAppendTime`);
    }
    records[i] = { key: m.key, value: m.value, timestamp: m.magic === 0 ? RecordBatchDefaults.NO_TIMESTAMP : m.timestamp };
  }
  const batch = encodeBatchSync({ records, compression: compression as CompressionType, timestamp: RecordBatchDefaults.NO_TIMESTAMP });
  return { ok: true, batch, messages: messages.length };
}

/**
 * Kafka's LogValidator rules on the top-level entries of a produced set: one magic for all
 * of them, and a compressed set is exactly one wrapper (INVALID_RECORD otherwise). Called
 * once the set has read cleanly, so every entry is whole.
 */
function checkShape(buf: Buffer): LegacyFailure | undefined {
  let entries = 0;
  let compressed = false;
  let firstMagic = -1;
  for (let at = 0; buf.length - at >= LEGACY_LOG_OVERHEAD; entries++) {
    const size = buf.readInt32BE(at + 8);
    if (size > buf.length - at - LEGACY_LOG_OVERHEAD) break;
    const magic = buf[at + MAGIC_AT]!;
    if (firstMagic === -1) firstMagic = magic;
    else if (magic !== firstMagic) return fail(ErrorCode.INVALID_RECORD, `Batch magic ${magic} is not the same as the first batch's magic byte ${firstMagic}`);
    if ((buf[at + ATTRIBUTES_AT]! & COMPRESSION_MASK) !== CompressionType.NONE) compressed = true;
    at += LEGACY_LOG_OVERHEAD + size;
  }
  if (compressed && entries > 1) return fail(ErrorCode.INVALID_RECORD, `Compressed outer record has more than one batch (${entries} entries)`);
  return undefined;
}

// ---------------------------------------------------------------------------- encoding

export interface LegacyMessageInput {
  offset: number;
  timestamp?: number;
  key?: Buffer | null;
  value?: Buffer | null;
}

export interface LegacyEncodeOptions {
  magic: 0 | 1;
  compression?: number;
  /** Magic 1: attribute bit 3, and with logAppendTime every timestamp written as it. */
  timestampType?: TimestampType;
  logAppendTime?: number;
}

function messageSize(magic: number, key: Buffer | null | undefined, value: Buffer | null | undefined): number {
  return (magic === 0 ? LEGACY_RECORD_OVERHEAD_V0 : LEGACY_RECORD_OVERHEAD_V1) + (key?.length ?? 0) + (value?.length ?? 0);
}

function attributesOf(magic: number, compression: number, timestampType: TimestampType): number {
  let attributes = compression & COMPRESSION_MASK;
  if (magic > 0 && timestampType === TimestampType.LOG_APPEND_TIME) attributes |= TIMESTAMP_TYPE_BIT;
  return attributes;
}

function writeMessage(out: Buffer, at: number, offset: number, magic: number, attributes: number, timestamp: number, key: Buffer | null | undefined, value: Buffer | null | undefined): number {
  const size = messageSize(magic, key, value);
  writeInt64(out, at, offset);
  out.writeInt32BE(size, at + 8);
  out[at + MAGIC_AT] = magic;
  out[at + ATTRIBUTES_AT] = attributes;
  let p = at + ATTRIBUTES_AT + 1;
  if (magic === 1) {
    writeInt64(out, p, timestamp);
    p += 8;
  }
  for (const bytes of [key, value]) {
    if (bytes === null || bytes === undefined) {
      out.writeInt32BE(-1, p);
      p += 4;
    } else {
      out.writeInt32BE(bytes.length, p);
      bytes.copy(out, p + 4);
      p += 4 + bytes.length;
    }
  }
  out.writeUInt32BE(crc32(out.subarray(at + MAGIC_AT, p)) >>> 0, at + LEGACY_LOG_OVERHEAD);
  return p;
}

/** Uncompressed messages at the offsets given (relative ones inside a magic 1 wrapper). */
function encodePlain(messages: readonly LegacyMessageInput[], magic: number, timestampType: TimestampType, logAppendTime: number | undefined, offsetBase: number): Buffer {
  let total = 0;
  for (const m of messages) total += LEGACY_LOG_OVERHEAD + messageSize(magic, m.key, m.value);
  const out = Buffer.allocUnsafe(total);
  const attributes = attributesOf(magic, CompressionType.NONE, timestampType);
  let at = 0;
  for (const m of messages) {
    const timestamp = timestampType === TimestampType.LOG_APPEND_TIME && logAppendTime !== undefined ? logAppendTime : m.timestamp ?? RecordBatchDefaults.NO_TIMESTAMP;
    at = writeMessage(out, at, m.offset - offsetBase, magic, attributes, timestamp, m.key, m.value);
  }
  return out;
}

function wrapperOf(messages: readonly LegacyMessageInput[], options: LegacyEncodeOptions, compressed: Buffer): Buffer {
  const timestampType = options.timestampType ?? TimestampType.CREATE_TIME;
  let maxTimestamp: number = RecordBatchDefaults.NO_TIMESTAMP;
  for (const m of messages) if ((m.timestamp ?? -1) > maxTimestamp) maxTimestamp = m.timestamp!;
  const timestamp = timestampType === TimestampType.LOG_APPEND_TIME && options.logAppendTime !== undefined ? options.logAppendTime : maxTimestamp;
  const compression = options.compression!;
  let value = compressed;
  if (compression === CompressionType.LZ4 && options.magic === 0) value = withBrokenLz4HeaderChecksum(value);
  const out = Buffer.allocUnsafe(LEGACY_LOG_OVERHEAD + messageSize(options.magic, null, value));
  writeMessage(out, 0, messages[messages.length - 1]!.offset, options.magic, attributesOf(options.magic, compression, timestampType), timestamp, null, value);
  return out;
}

function innerBase(messages: readonly LegacyMessageInput[], magic: number): number {
  return magic === 1 ? messages[0]!.offset : 0;
}

function checkEncodable(messages: readonly LegacyMessageInput[], options: LegacyEncodeOptions): number {
  const compression = options.compression ?? CompressionType.NONE;
  if (compression > CompressionType.LZ4 || compression < 0) {
    throw new RangeError(`message format v${options.magic} has no compression codec ${compression} (zstd needs v2)`);
  }
  if (messages.length === 0) throw new RangeError('a message set needs at least one message');
  return compression;
}

/**
 * Builds a v0/v1 message set, as an old producer (or the broker's down-conversion) writes
 * it: one message per input when uncompressed, else one wrapper. Synchronous; gzip runs on
 * the calling thread.
 */
export function encodeLegacyMessageSetSync(messages: readonly LegacyMessageInput[], options: LegacyEncodeOptions): Buffer {
  const compression = checkEncodable(messages, options);
  const timestampType = options.timestampType ?? TimestampType.CREATE_TIME;
  if (compression === CompressionType.NONE) return encodePlain(messages, options.magic, timestampType, options.logAppendTime, 0);
  const inner = encodePlain(messages, options.magic, timestampType, options.logAppendTime, innerBase(messages, options.magic));
  return wrapperOf(messages, { ...options, compression }, compressSync(compression, inner));
}

/** encodeLegacyMessageSetSync with gzip off the event loop. */
export async function encodeLegacyMessageSet(messages: readonly LegacyMessageInput[], options: LegacyEncodeOptions): Promise<Buffer> {
  const compression = checkEncodable(messages, options);
  const timestampType = options.timestampType ?? TimestampType.CREATE_TIME;
  if (compression === CompressionType.NONE) return encodePlain(messages, options.magic, timestampType, options.logAppendTime, 0);
  const inner = encodePlain(messages, options.magic, timestampType, options.logAppendTime, innerBase(messages, options.magic));
  return wrapperOf(messages, { ...options, compression }, await compress(compression, inner));
}

// ---------------------------------------------------------------------------- down-conversion

export interface DownConversion {
  ok: true;
  records: Buffer;
  /** Records converted (for metrics and benchmarks). */
  recordsConverted: number;
}

/**
 * Fetch v0-3: converts fetched v2 batches to magic 0 (Fetch v0-1) or 1 (Fetch v2-3), as
 * Kafka's RecordsUtil.downConvert / LazyDownConversionRecords do:
 * - control batches are dropped (old consumers know no transactions); records of aborted
 *   transactions are delivered, since an old fetcher reads uncommitted;
 * - an uncompressed batch becomes one message per record, leaving out records before
 *   `fetchOffset` (old consumers expect the first message at or after it); a compressed
 *   one becomes one wrapper of all its records, recompressed with the same codec;
 * - headers, producer ids and sequences are lost; timestamps and their type survive in
 *   magic 1, magic 0 has neither;
 * - a zstd batch cannot be expressed: UNSUPPORTED_COMPRESSION_TYPE for the partition.
 * The result is cut at a message boundary so that it is no larger than the largest of the
 * v2 bytes read, `sizeLimit` (the fetch's partition limit: Kafka's bound is the slice of
 * the log it read, which ends there) and the first converted entry; Kafka cuts at that size
 * mid-message (padding with an unreadable "overflow" message), which old clients skip alike.
 */
export async function downConvertBatches(buf: Buffer, toMagic: 0 | 1, fetchOffset: number, sizeLimit = 0): Promise<DownConversion | LegacyFailure> {
  const limit = Math.max(buf.length, sizeLimit);
  const entries: Buffer[] = [];
  let size = 0;
  let recordsConverted = 0;
  let at = 0;
  while (buf.length - at >= BatchLayout.HEADER_SIZE) {
    const batchSize = BatchLayout.LOG_OVERHEAD + buf.readInt32BE(at + BatchLayout.BATCH_LENGTH);
    if (batchSize < BatchLayout.HEADER_SIZE || batchSize > buf.length - at) break;
    const header = readBatchHeader(buf, at);
    const batch = buf.subarray(at, at + batchSize);
    at += batchSize;
    if (header.isControl) continue;
    if (header.compression === CompressionType.ZSTD) {
      return fail(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 'Down-conversion of zstandard-compressed batches is not supported');
    }
    const compressed = header.compression !== CompressionType.NONE;
    const section = batch.subarray(BatchLayout.RECORDS);
    // Data read from our own log: its CRC was checked on the way in.
    const plain = compressed ? await decompress(header.compression, section, DEFAULT_MAX_DECOMPRESSED_BYTES) : section;
    const logAppendTime = header.timestampType === TimestampType.LOG_APPEND_TIME ? header.maxTimestamp : undefined;
    const converted = convertRecords(plain, header, toMagic, compressed ? -Infinity : fetchOffset, logAppendTime);
    if (converted.count === 0) continue;
    let entry = converted.set;
    if (compressed) {
      if (toMagic === 1) relativizeOffsets(entry, converted.firstOffset);
      let value = await compress(header.compression, entry);
      if (header.compression === CompressionType.LZ4 && toMagic === 0) value = withBrokenLz4HeaderChecksum(value);
      const wrapper = Buffer.allocUnsafe(LEGACY_LOG_OVERHEAD + messageSize(toMagic, null, value));
      const timestamp = logAppendTime ?? converted.maxTimestamp;
      writeMessage(wrapper, 0, converted.lastOffset, toMagic, attributesOf(toMagic, header.compression, header.timestampType), timestamp, null, value);
      entry = wrapper;
    }
    if (entries.length > 0 && size + entry.length > limit) {
      // Uncompressed: keep the messages that still fit.
      if (!compressed) size += pushFitting(entries, entry, limit - size);
      break;
    }
    entries.push(entry);
    size += entry.length;
    recordsConverted += converted.count;
  }
  return { ok: true, records: entries.length === 1 ? entries[0]! : Buffer.concat(entries, size), recordsConverted };
}

/**
 * Writes the records of a v2 records section (`plain`: decompressed if need be) as
 * uncompressed messages of magic `toMagic` with absolute offsets, leaving out those below
 * `minOffset`, walking the bytes once without building record objects (the hot part of
 * down-conversion). Headers are skipped: the old formats have none.
 */
function convertRecords(plain: Buffer, header: RecordBatchHeader, toMagic: 0 | 1, minOffset: number, logAppendTime: number | undefined): { set: Buffer; count: number; firstOffset: number; lastOffset: number; maxTimestamp: number } {
  const reader = new RecordReader(plain, 0, plain.length);
  // Each record becomes at most its key and value plus a message's overhead.
  const out = Buffer.allocUnsafe(header.recordCount * (LEGACY_LOG_OVERHEAD + LEGACY_RECORD_OVERHEAD_V1) + plain.length);
  const attributes = attributesOf(toMagic, CompressionType.NONE, header.timestampType);
  let at = 0;
  let count = 0;
  let firstOffset = -1;
  let lastOffset = -1;
  let maxTimestamp: number = RecordBatchDefaults.NO_TIMESTAMP;
  for (let i = 0; i < header.recordCount; i++) {
    const length = reader.varint();
    const bodyStart = reader.pos;
    if (length <= 0 || length > plain.length - bodyStart) reader.fail(`record ${i} at byte ${bodyStart} declares ${length} bytes`);
    reader.end = bodyStart + length;
    reader.pos++; // attributes: nothing in them survives in the old formats
    const timestampDelta = reader.varlong();
    const offset = header.baseOffset + reader.varint();
    const keyLength = reader.skipBytesField('key', true);
    const keyAt = reader.pos - Math.max(0, keyLength);
    const valueLength = reader.skipBytesField('value', true);
    const valueAt = reader.pos - Math.max(0, valueLength);
    reader.pos = reader.end;
    reader.end = plain.length;
    if (offset < minOffset) continue;
    const timestamp = logAppendTime ?? header.baseTimestamp + timestampDelta;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    const start = at;
    const size = (toMagic === 0 ? LEGACY_RECORD_OVERHEAD_V0 : LEGACY_RECORD_OVERHEAD_V1) + Math.max(0, keyLength) + Math.max(0, valueLength);
    writeInt64(out, at, offset);
    out.writeInt32BE(size, at + 8);
    out[at + MAGIC_AT] = toMagic;
    out[at + ATTRIBUTES_AT] = attributes;
    at += ATTRIBUTES_AT + 1;
    if (toMagic === 1) {
      writeInt64(out, at, timestamp);
      at += 8;
    }
    out.writeInt32BE(keyLength, at);
    at += 4;
    if (keyLength > 0) at += plain.copy(out, at, keyAt, keyAt + keyLength);
    out.writeInt32BE(valueLength, at);
    at += 4;
    if (valueLength > 0) at += plain.copy(out, at, valueAt, valueAt + valueLength);
    out.writeUInt32BE(crc32(out.subarray(start + MAGIC_AT, at)) >>> 0, start + LEGACY_LOG_OVERHEAD);
    if (count === 0) firstOffset = offset;
    lastOffset = offset;
    count++;
  }
  return { set: out.subarray(0, at), count, firstOffset, lastOffset, maxTimestamp };
}

/** Magic 1 inner messages carry offsets relative to the first (the CRC does not cover offsets). */
function relativizeOffsets(set: Buffer, base: number): void {
  for (let at = 0; at < set.length; at += LEGACY_LOG_OVERHEAD + set.readInt32BE(at + 8)) {
    writeInt64(set, at, readInt64(set, at) - base);
  }
}

/** Pushes the whole messages of an uncompressed set that fit in `room` bytes; returns their size. */
function pushFitting(entries: Buffer[], set: Buffer, room: number): number {
  let at = 0;
  while (at < set.length) {
    const next = at + LEGACY_LOG_OVERHEAD + set.readInt32BE(at + 8);
    if (next > room) break;
    at = next;
  }
  if (at > 0) entries.push(set.subarray(0, at));
  return at;
}

// ---------------------------------------------------------------------------- LZ4 under magic 0

const LZ4_FRAME_MAGIC_SIZE = 4;
const LZ4_FLG_CONTENT_SIZE = 0x08;

/** Where the frame's header checksum byte is, and the descriptor it covers. */
function lz4Descriptor(frame: Buffer): { hcAt: number } | undefined {
  if (frame.length < LZ4_FRAME_MAGIC_SIZE + 3) return undefined;
  const flg = frame[LZ4_FRAME_MAGIC_SIZE]!;
  const descriptorSize = 2 + ((flg & LZ4_FLG_CONTENT_SIZE) !== 0 ? 8 : 0);
  const hcAt = LZ4_FRAME_MAGIC_SIZE + descriptorSize;
  return hcAt < frame.length ? { hcAt } : undefined;
}

/** A magic 0 LZ4 frame with the header checksum the frame format defines, for our decoder. */
function withFixedLz4HeaderChecksum(frame: Buffer): Buffer {
  const d = lz4Descriptor(frame);
  if (d === undefined) return frame;
  const out = Buffer.from(frame);
  out[d.hcAt] = (xxh32Short(out.subarray(LZ4_FRAME_MAGIC_SIZE, d.hcAt)) >>> 8) & 0xff;
  return out;
}

/** Kafka's magic 0 LZ4 header checksum: over the frame magic number and the descriptor. */
function withBrokenLz4HeaderChecksum(frame: Buffer): Buffer {
  const d = lz4Descriptor(frame);
  if (d === undefined) return frame;
  const out = Buffer.from(frame);
  out[d.hcAt] = (xxh32Short(out.subarray(0, d.hcAt)) >>> 8) & 0xff;
  return out;
}

const PRIME1 = 0x9e3779b1;
const PRIME2 = 0x85ebca77;
const PRIME3 = 0xc2b2ae3d;
const PRIME4 = 0x27d4eb2f;
const PRIME5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

/** XXH32 with seed 0 of fewer than 16 bytes (an LZ4 frame descriptor, at most 14). */
export function xxh32Short(input: Uint8Array): number {
  if (input.length >= 16) throw new RangeError(`xxh32Short takes fewer than 16 bytes, got ${input.length}`);
  let h = (PRIME5 + input.length) >>> 0;
  let i = 0;
  for (; i + 4 <= input.length; i += 4) {
    const word = (input[i]! | (input[i + 1]! << 8) | (input[i + 2]! << 16) | (input[i + 3]! << 24)) >>> 0;
    h = (h + Math.imul(word, PRIME3)) >>> 0;
    h = Math.imul(rotl(h, 17), PRIME4) >>> 0;
  }
  for (; i < input.length; i++) {
    h = (h + Math.imul(input[i]!, PRIME5)) >>> 0;
    h = Math.imul(rotl(h, 11), PRIME1) >>> 0;
  }
  h ^= h >>> 15;
  h = Math.imul(h, PRIME2) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, PRIME3) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

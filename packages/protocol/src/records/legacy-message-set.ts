import { crc32 } from '@node-rs/crc32';
import { compress, compressSync, decompressSync } from '../compression/codec.js';
import { CompressionError } from '../compression/compression-error.js';
import { withBrokenLz4HeaderChecksum, withFixedLz4HeaderChecksum } from '../compression/lz4-legacy.js';
import { ErrorCode } from '../errors.js';
import { CompressionType, readInt64, writeInt64 } from './batch-layout.js';
import { RecordBatchDefaults, TimestampType } from './batch-constants.js';
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from './batch-decode.js';

/**
 * Message sets of message formats v0 and v1 (magic 0 and 1), which Produce v0-2 carry and
 * Fetch v0-3 answer with (Kafka's LegacyRecord and AbstractLegacyRecordBatch): reading and
 * writing them. The broker stores only v2 batches; legacy-conversion.ts converts produced
 * sets up and fetched batches down, as Kafka 3.x does with message.format.version 3.0.
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
 * LZ4 under magic 0 carries a non-standard frame header checksum: see lz4-legacy.ts.
 */

export const LEGACY_LOG_OVERHEAD = 12;
/** crc, magic, attributes, key length, value length. */
export const LEGACY_RECORD_OVERHEAD_V0 = 14;
/** v0 plus the timestamp. */
export const LEGACY_RECORD_OVERHEAD_V1 = 22;
/** Where magic and attributes sit in an entry (magic at the same place as in a v2 batch). */
export const LEGACY_MAGIC_AT = 16;
export const LEGACY_ATTRIBUTES_AT = 17;
export const LEGACY_COMPRESSION_MASK = 0x07;
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

export function legacyFailure(errorCode: number, message: string): LegacyFailure {
  return { ok: false, errorCode, message };
}

/** True when the set's first entry is a v0/v1 message (a v2 batch has magic 2 there). */
export function isLegacyMessageSet(buf: Buffer): boolean {
  return buf.length > LEGACY_MAGIC_AT && buf[LEGACY_MAGIC_AT]! < 2;
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
    if (size < LEGACY_RECORD_OVERHEAD_V0) return legacyFailure(ErrorCode.CORRUPT_MESSAGE, `message at byte ${at} declares ${size} bytes, below the minimum of ${LEGACY_RECORD_OVERHEAD_V0}`);
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
  const magic = buf.readInt8(at + LEGACY_MAGIC_AT);
  if (magic !== 0 && magic !== 1) return legacyFailure(ErrorCode.INVALID_RECORD, `entry at byte ${at} has magic ${magic} inside a message set of magic 0/1 messages`);
  if (magic === 1 && size < LEGACY_RECORD_OVERHEAD_V1) return legacyFailure(ErrorCode.CORRUPT_MESSAGE, `magic 1 message at byte ${at} declares ${size} bytes, below the minimum of ${LEGACY_RECORD_OVERHEAD_V1}`);
  const storedCrc = buf.readUInt32BE(at + LEGACY_LOG_OVERHEAD);
  const computedCrc = crc32(buf.subarray(at + LEGACY_MAGIC_AT, end)) >>> 0;
  if (storedCrc !== computedCrc) return legacyFailure(ErrorCode.CORRUPT_MESSAGE, `message at byte ${at} is corrupt: stored CRC-32 ${storedCrc}, computed ${computedCrc}`);
  const attributes = buf[at + LEGACY_ATTRIBUTES_AT]!;
  let p = at + LEGACY_ATTRIBUTES_AT + 1;
  let timestamp: number = RecordBatchDefaults.NO_TIMESTAMP;
  if (magic === 1) {
    timestamp = readInt64(buf, p);
    p += 8;
  }
  const key = readBytes(buf, p, end);
  if (key === undefined) return legacyFailure(ErrorCode.CORRUPT_MESSAGE, `message at byte ${at} has a key length that does not fit its ${size} bytes`);
  p = key.next;
  const value = readBytes(buf, p, end);
  if (value === undefined || value.next !== end) return legacyFailure(ErrorCode.CORRUPT_MESSAGE, `message at byte ${at} has a value length that does not fill its ${size} bytes`);
  return {
    ok: true,
    message: {
      offset: readInt64(buf, at),
      magic,
      timestamp,
      timestampType: magic === 1 && (attributes & TIMESTAMP_TYPE_BIT) !== 0 ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
      compression: attributes & LEGACY_COMPRESSION_MASK,
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
  if (codec > CompressionType.LZ4) return legacyFailure(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `message format v${wrapper.magic} has no compression codec ${codec}`);
  if (wrapper.value === null) return legacyFailure(ErrorCode.CORRUPT_MESSAGE, `compressed wrapper message at offset ${wrapper.offset} has a null value`);
  let compressed = wrapper.value;
  if (codec === CompressionType.LZ4 && wrapper.magic === 0) compressed = withFixedLz4HeaderChecksum(compressed);
  let plain: Buffer;
  try {
    plain = decompressSync(codec, compressed, maxDecompressed);
  } catch (err) {
    const reason = err instanceof CompressionError ? err.message : String(err);
    return legacyFailure(ErrorCode.CORRUPT_MESSAGE, `compressed wrapper message at offset ${wrapper.offset} does not decompress: ${reason}`);
  }
  const inner: LegacyMessage[] = [];
  let at = 0;
  while (plain.length - at >= LEGACY_LOG_OVERHEAD) {
    const size = plain.readInt32BE(at + 8);
    if (size < LEGACY_RECORD_OVERHEAD_V0 || size > plain.length - at - LEGACY_LOG_OVERHEAD) {
      return legacyFailure(ErrorCode.CORRUPT_MESSAGE, `inner message at byte ${at} of the wrapper at offset ${wrapper.offset} declares ${size} bytes`);
    }
    const parsed = parseMessage(plain, at, size);
    if (!parsed.ok) return parsed;
    const m = parsed.message;
    if (m.compression !== CompressionType.NONE) {
      return legacyFailure(ErrorCode.INVALID_RECORD, 'Compressed outer record should not have an inner record with a compression attribute set');
    }
    if (m.magic !== wrapper.magic) {
      return legacyFailure(ErrorCode.INVALID_RECORD, `inner message ${inner.length} has magic ${m.magic}, which does not match its wrapper's magic ${wrapper.magic}`);
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
    return legacyFailure(ErrorCode.CORRUPT_MESSAGE, `compressed wrapper message at offset ${wrapper.offset} holds ${inner.length} messages and ${plain.length - at} stray bytes`);
  }
  if (wrapper.magic === 1) {
    // Relative inner offsets: the wrapper's offset is the last inner message's.
    const last = inner[inner.length - 1]!.offset;
    for (const m of inner) m.offset = wrapper.offset - last + m.offset;
  }
  return { ok: true, messages: inner };
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

export function legacyMessageSize(magic: number, key: Buffer | null | undefined, value: Buffer | null | undefined): number {
  return (magic === 0 ? LEGACY_RECORD_OVERHEAD_V0 : LEGACY_RECORD_OVERHEAD_V1) + (key?.length ?? 0) + (value?.length ?? 0);
}

export function legacyAttributes(magic: number, compression: number, timestampType: TimestampType): number {
  let attributes = compression & LEGACY_COMPRESSION_MASK;
  if (magic > 0 && timestampType === TimestampType.LOG_APPEND_TIME) attributes |= TIMESTAMP_TYPE_BIT;
  return attributes;
}

export function writeLegacyMessage(out: Buffer, at: number, offset: number, magic: number, attributes: number, timestamp: number, key: Buffer | null | undefined, value: Buffer | null | undefined): number {
  const size = legacyMessageSize(magic, key, value);
  writeInt64(out, at, offset);
  out.writeInt32BE(size, at + 8);
  out[at + LEGACY_MAGIC_AT] = magic;
  out[at + LEGACY_ATTRIBUTES_AT] = attributes;
  let p = at + LEGACY_ATTRIBUTES_AT + 1;
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
  out.writeUInt32BE(crc32(out.subarray(at + LEGACY_MAGIC_AT, p)) >>> 0, at + LEGACY_LOG_OVERHEAD);
  return p;
}

/** Uncompressed messages at the offsets given (relative ones inside a magic 1 wrapper). */
function encodePlain(messages: readonly LegacyMessageInput[], magic: number, timestampType: TimestampType, logAppendTime: number | undefined, offsetBase: number): Buffer {
  let total = 0;
  for (const m of messages) total += LEGACY_LOG_OVERHEAD + legacyMessageSize(magic, m.key, m.value);
  const out = Buffer.allocUnsafe(total);
  const attributes = legacyAttributes(magic, CompressionType.NONE, timestampType);
  let at = 0;
  for (const m of messages) {
    const timestamp = timestampType === TimestampType.LOG_APPEND_TIME && logAppendTime !== undefined ? logAppendTime : m.timestamp ?? RecordBatchDefaults.NO_TIMESTAMP;
    at = writeLegacyMessage(out, at, m.offset - offsetBase, magic, attributes, timestamp, m.key, m.value);
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
  const out = Buffer.allocUnsafe(LEGACY_LOG_OVERHEAD + legacyMessageSize(options.magic, null, value));
  writeLegacyMessage(out, 0, messages[messages.length - 1]!.offset, options.magic, legacyAttributes(options.magic, compression, timestampType), timestamp, null, value);
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

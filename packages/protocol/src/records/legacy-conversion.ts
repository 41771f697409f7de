import { crc32 } from '@node-rs/crc32';
import { compress, decompress } from '../compression/codec.js';
import { withBrokenLz4HeaderChecksum } from '../compression/lz4-legacy.js';
import { ErrorCode } from '../errors.js';
import { BatchLayout, CompressionType, readInt64, writeInt64 } from './batch-layout.js';
import { RecordBatchDefaults, TimestampType } from './batch-constants.js';
import { DEFAULT_MAX_DECOMPRESSED_BYTES } from './batch-decode.js';
import { encodeBatchSync } from './batch-encode.js';
import { type RecordBatchHeader, readBatchHeader } from './batch-header.js';
import {
  LEGACY_ATTRIBUTES_AT,
  LEGACY_COMPRESSION_MASK,
  LEGACY_LOG_OVERHEAD,
  LEGACY_MAGIC_AT,
  LEGACY_RECORD_OVERHEAD_V0,
  LEGACY_RECORD_OVERHEAD_V1,
  legacyAttributes,
  legacyFailure,
  legacyMessageSize,
  readLegacyMessageSet,
  writeLegacyMessage,
  type LegacyFailure,
  type LegacyReadOptions,
} from './legacy-message-set.js';
import type { RecordInput } from './record-codec.js';
import { RecordReader } from './record-reader.js';

/**
 * Conversions between message formats v0/v1 (legacy-message-set.ts) and the v2 batches the
 * broker stores: up on Produce v0-2, down on Fetch v0-3, as Kafka 3.x does (LogValidator,
 * RecordsUtil.downConvert).
 */

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
 * wrapper (INVALID_RECORD). A magic 1 message that claims LogAppendTime is refused with
 * INVALID_TIMESTAMP when Kafka would (LogValidator.validateTimestamp): in a LogAppendTime
 * topic, or without a timestamp.
 * Runs synchronously (gzip too) so that the append keeps its place in request order.
 */
export function legacyMessageSetToBatch(buf: Buffer, options: LegacyToBatchOptions = {}): { ok: true; batch: Buffer; messages: number } | LegacyFailure {
  const read = readLegacyMessageSet(buf, options);
  if (!read.ok) return read;
  const messages = read.messages;
  if (messages.length === 0) return legacyFailure(ErrorCode.INVALID_RECORD, `message set of ${buf.length} bytes holds no complete message`);
  const shape = checkShape(buf);
  if (shape !== undefined) return shape;
  let compression = CompressionType.NONE as number;
  const records: RecordInput[] = new Array(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.compression !== CompressionType.NONE) compression = m.compression;
    if (m.timestampType === TimestampType.LOG_APPEND_TIME && (options.topicTimestampType === TimestampType.LOG_APPEND_TIME || m.timestamp === RecordBatchDefaults.NO_TIMESTAMP)) {
      return legacyFailure(ErrorCode.INVALID_TIMESTAMP, `Invalid timestamp type in message ${i}: producers should not set the timestamp type to LogAppendTime`);
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
    const magic = buf[at + LEGACY_MAGIC_AT]!;
    if (firstMagic === -1) firstMagic = magic;
    else if (magic !== firstMagic) return legacyFailure(ErrorCode.INVALID_RECORD, `Batch magic ${magic} is not the same as the first batch's magic byte ${firstMagic}`);
    if ((buf[at + LEGACY_ATTRIBUTES_AT]! & LEGACY_COMPRESSION_MASK) !== CompressionType.NONE) compressed = true;
    at += LEGACY_LOG_OVERHEAD + size;
  }
  if (compressed && entries > 1) return legacyFailure(ErrorCode.INVALID_RECORD, `Compressed outer record has more than one batch (${entries} entries)`);
  return undefined;
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
      return legacyFailure(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 'Down-conversion of zstandard-compressed batches is not supported');
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
      const wrapper = Buffer.allocUnsafe(LEGACY_LOG_OVERHEAD + legacyMessageSize(toMagic, null, value));
      const timestamp = logAppendTime ?? converted.maxTimestamp;
      writeLegacyMessage(wrapper, 0, converted.lastOffset, toMagic, legacyAttributes(toMagic, header.compression, header.timestampType), timestamp, null, value);
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
  const attributes = legacyAttributes(toMagic, CompressionType.NONE, header.timestampType);
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
    out[at + LEGACY_MAGIC_AT] = toMagic;
    out[at + LEGACY_ATTRIBUTES_AT] = attributes;
    at += LEGACY_ATTRIBUTES_AT + 1;
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
    out.writeUInt32BE(crc32(out.subarray(start + LEGACY_MAGIC_AT, at)) >>> 0, start + LEGACY_LOG_OVERHEAD);
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


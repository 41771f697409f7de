import { ErrorCode } from '../errors.js';
import { BatchAttributes, BatchLayout, CURRENT_MAGIC, readInt64 } from './batch-layout.js';
import { TimestampType } from './batch-constants.js';
import { crc32c } from './crc32c.js';
import { RecordBatchError, RecordBatchErrorCode } from './record-batch-error.js';

/**
 * Reading batch headers and walking buffers of concatenated batches (the layout is in
 * batch-layout.ts). Nothing here decodes records.
 */

export interface RecordBatchHeader {
  baseOffset: number;
  /** Bytes after the batchLength field; the whole batch is `size` = 12 + batchLength. */
  batchLength: number;
  size: number;
  partitionLeaderEpoch: number;
  magic: number;
  /** Stored CRC-32C, unsigned. */
  crc: number;
  attributes: number;
  compression: number;
  timestampType: TimestampType;
  isTransactional: boolean;
  isControl: boolean;
  hasDeleteHorizon: boolean;
  lastOffsetDelta: number;
  /** baseOffset + lastOffsetDelta. */
  lastOffset: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/**
 * Size of the batch at `offset` (12 + batchLength) from its first 12 bytes. Does not check
 * that the buffer holds the whole batch.
 */
export function batchSizeAt(buf: Buffer, offset: number): number {
  if (offset < 0 || buf.length - offset < BatchLayout.LOG_OVERHEAD) {
    throw new RecordBatchError(
      RecordBatchErrorCode.TRUNCATED,
      `batch at byte ${offset} needs ${BatchLayout.LOG_OVERHEAD} bytes for its size, ${Math.max(0, buf.length - offset)} remain`,
    );
  }
  return BatchLayout.LOG_OVERHEAD + buf.readInt32BE(offset + BatchLayout.BATCH_LENGTH);
}

/** Reads every header field of the magic-2 batch at `offset`. */
export function readBatchHeader(buf: Buffer, offset: number): RecordBatchHeader {
  if (offset < 0 || buf.length - offset < BatchLayout.HEADER_SIZE) {
    // Old formats have shorter headers; report the magic if it is there, since that is the
    // more useful message.
    if (offset >= 0 && buf.length - offset > BatchLayout.MAGIC) checkMagic(buf[offset + BatchLayout.MAGIC]!, offset);
    throw new RecordBatchError(
      RecordBatchErrorCode.TRUNCATED,
      `batch header at byte ${offset} needs ${BatchLayout.HEADER_SIZE} bytes, ${Math.max(0, buf.length - offset)} remain`,
    );
  }
  const magic = buf.readInt8(offset + BatchLayout.MAGIC);
  checkMagic(magic, offset);
  const baseOffset = readInt64(buf, offset + BatchLayout.BASE_OFFSET);
  const batchLength = buf.readInt32BE(offset + BatchLayout.BATCH_LENGTH);
  const attributes = buf.readInt16BE(offset + BatchLayout.ATTRIBUTES);
  const lastOffsetDelta = buf.readInt32BE(offset + BatchLayout.LAST_OFFSET_DELTA);
  return {
    baseOffset,
    batchLength,
    size: BatchLayout.LOG_OVERHEAD + batchLength,
    partitionLeaderEpoch: buf.readInt32BE(offset + BatchLayout.PARTITION_LEADER_EPOCH),
    magic,
    crc: buf.readUInt32BE(offset + BatchLayout.CRC),
    attributes,
    compression: attributes & BatchAttributes.COMPRESSION_MASK,
    timestampType: attributes & BatchAttributes.TIMESTAMP_TYPE_LOG_APPEND ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
    isTransactional: (attributes & BatchAttributes.TRANSACTIONAL) !== 0,
    isControl: (attributes & BatchAttributes.CONTROL) !== 0,
    hasDeleteHorizon: (attributes & BatchAttributes.DELETE_HORIZON) !== 0,
    lastOffsetDelta,
    lastOffset: baseOffset + lastOffsetDelta,
    baseTimestamp: readInt64(buf, offset + BatchLayout.BASE_TIMESTAMP),
    maxTimestamp: readInt64(buf, offset + BatchLayout.MAX_TIMESTAMP),
    producerId: readInt64(buf, offset + BatchLayout.PRODUCER_ID),
    producerEpoch: buf.readInt16BE(offset + BatchLayout.PRODUCER_EPOCH),
    baseSequence: buf.readInt32BE(offset + BatchLayout.BASE_SEQUENCE),
    recordCount: buf.readInt32BE(offset + BatchLayout.RECORD_COUNT),
  };
}

function checkMagic(magic: number, offset: number): void {
  if (magic === CURRENT_MAGIC) return;
  // Kafka 4 answers a produce of magic 0/1 with INVALID_RECORD (ProduceRequest.validateRecords:
  // "only allowed to contain record batches with magic version 2"); any other value is
  // corruption (ByteBufferLogInputStream: "Invalid magic found in record").
  const legacy = magic === 0 || magic === 1;
  throw new RecordBatchError(
    RecordBatchErrorCode.UNSUPPORTED_MAGIC,
    legacy
      ? `batch at byte ${offset} has magic ${magic} (message format v${magic}), which is not supported; only magic 2 is`
      : `batch at byte ${offset} has magic ${magic}, expected 2`,
    legacy ? ErrorCode.INVALID_RECORD : ErrorCode.CORRUPT_MESSAGE,
  );
}

/** CRC-32C of the batch's bytes from attributes to its end, as stored in the header. */
export function computeBatchCrc(buf: Buffer, offset: number, size: number): number {
  return crc32c(buf.subarray(offset + BatchLayout.CRC_START, offset + size));
}

export interface BatchSpan {
  offset: number;
  size: number;
}

export interface BatchScanResult {
  /** Offset just past the last complete batch. */
  end: number;
  /** Bytes after `end` that do not form a whole batch (a fetch response may end in one). */
  partialBytes: number;
}

/**
 * Calls `visit` for each complete batch in buf[start, end). A trailing partial batch is
 * reported in the result, not thrown: Kafka fetch responses cut the last batch at the
 * partition's max bytes. A size field below the batch header size is corruption and throws.
 */
export function forEachBatch(
  buf: Buffer,
  visit: (offset: number, size: number) => void,
  start = 0,
  end = buf.length,
): BatchScanResult {
  let at = start;
  while (end - at >= BatchLayout.LOG_OVERHEAD) {
    const size = BatchLayout.LOG_OVERHEAD + buf.readInt32BE(at + BatchLayout.BATCH_LENGTH);
    if (size < BatchLayout.HEADER_SIZE) {
      throw new RecordBatchError(
        RecordBatchErrorCode.BAD_SIZE,
        `batch at byte ${at} declares ${size} bytes, below the ${BatchLayout.HEADER_SIZE}-byte batch header`,
      );
    }
    if (size > end - at) break;
    visit(at, size);
    at += size;
  }
  return { end: at, partialBytes: end - at };
}

/** The complete batches of buf[start, end) as spans, plus the trailing partial byte count. */
export function scanBatches(buf: Buffer, start = 0, end = buf.length): BatchScanResult & { batches: BatchSpan[] } {
  const batches: BatchSpan[] = [];
  const result = forEachBatch(buf, (offset, size) => batches.push({ offset, size }), start, end);
  return { ...result, batches };
}

/**
 * Walking record batches in a byte range. The byte layout is protocol's `BatchLayout`
 * (magic 2 only); storage reads just the header fields it needs:
 *
 *   0  baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32 | 16 magic int8
 *   17 crc uint32 (CRC-32C of [21, end)) | 23 lastOffsetDelta int32 | 35 maxTimestamp int64
 *   57 recordCount int32
 *
 * Bytes read back from disk are untrusted (torn writes, bit rot): every check here returns
 * a reason string instead of throwing, and recovery truncates at the first bad batch.
 */
import { crc32c } from '@node-rs/crc32';
import { BatchLayout, readInt64 } from '@tributary/protocol';

export interface BatchHeader {
  /** File (or buffer) position of the batch's first byte. */
  position: number;
  /** Total bytes of the batch including the 12-byte log overhead. */
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  recordCount: number;
}

const INT32_MAX = 2147483647;

/**
 * Size of the batch framed at `at`, or a reason it cannot be one. Needs the 17 bytes up to
 * and including magic. A batch can never be smaller than its header.
 */
export function frameSize(buf: Buffer, at: number, end: number): number | string {
  if (end - at < BatchLayout.MAGIC + 1) return `only ${end - at} bytes left, a batch header needs ${BatchLayout.HEADER_SIZE}`;
  const batchLength = buf.readInt32BE(at + BatchLayout.BATCH_LENGTH);
  const size = batchLength + BatchLayout.LOG_OVERHEAD;
  if (batchLength < BatchLayout.HEADER_SIZE - BatchLayout.LOG_OVERHEAD || size > INT32_MAX) {
    return `batchLength ${batchLength} is outside [${BatchLayout.HEADER_SIZE - BatchLayout.LOG_OVERHEAD}, ${INT32_MAX - BatchLayout.LOG_OVERHEAD}]`;
  }
  const magic = buf.readInt8(at + BatchLayout.MAGIC);
  if (magic !== 2) return `magic ${magic} is not 2`;
  return size;
}

/** Parses the header of a batch whose first HEADER_SIZE bytes are in `buf` at `at`. */
export function readHeader(buf: Buffer, at: number, position: number, size: number): BatchHeader | string {
  const baseOffset = readInt64(buf, at + BatchLayout.BASE_OFFSET);
  const lastOffsetDelta = buf.readInt32BE(at + BatchLayout.LAST_OFFSET_DELTA);
  const recordCount = buf.readInt32BE(at + BatchLayout.RECORD_COUNT);
  if (baseOffset < 0 || !Number.isSafeInteger(baseOffset)) return `baseOffset ${baseOffset} is negative or beyond 2^53`;
  if (lastOffsetDelta < 0) return `lastOffsetDelta ${lastOffsetDelta} is negative`;
  if (recordCount < 0) return `recordCount ${recordCount} is negative`;
  return {
    position,
    size,
    baseOffset,
    lastOffset: baseOffset + lastOffsetDelta,
    maxTimestamp: readInt64(buf, at + BatchLayout.MAX_TIMESTAMP),
    recordCount,
  };
}

/** True when the CRC-32C stored in the batch matches its bytes [21, size). */
export function crcMatches(batch: Buffer): boolean {
  const stored = batch.readUInt32BE(BatchLayout.CRC);
  return crc32c(batch.subarray(BatchLayout.CRC_START)) >>> 0 === stored;
}

/**
 * Splits a buffer that must hold whole batches back to back. Returns the headers, or a
 * reason when the bytes do not frame exactly (used on appends: the broker validated them,
 * this is the storage layer's own guard against writing something it cannot read back).
 */
export function splitBatches(buf: Buffer): BatchHeader[] | string {
  const out: BatchHeader[] = [];
  let at = 0;
  while (at < buf.length) {
    const size = frameSize(buf, at, buf.length);
    if (typeof size === 'string') return `batch at byte ${at}: ${size}`;
    if (at + size > buf.length || buf.length - at < BatchLayout.HEADER_SIZE) {
      return `batch at byte ${at} claims ${size} bytes but only ${buf.length - at} remain`;
    }
    const header = readHeader(buf, at, at, size);
    if (typeof header === 'string') return `batch at byte ${at}: ${header}`;
    out.push(header);
    at += size;
  }
  if (out.length === 0) return 'no batches';
  return out;
}

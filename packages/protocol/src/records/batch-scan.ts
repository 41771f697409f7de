import { BatchLayout, CURRENT_MAGIC, readInt64 } from './batch-layout.js';
import { computeBatchCrc } from './batch-header.js';
import { INT32_MAX } from '../codec/constants.js';

/**
 * Walking record batches in bytes that may be damaged, without throwing: the log's
 * recovery and reads (bytes read back from disk: torn writes, bit rot) and the log's own
 * guard on appends. Every check returns a reason string instead of throwing, so a walk over
 * a gigabyte of segments stops at the first bad batch with no exception machinery; strings
 * are built only when a check fails. The layout is in batch-layout.ts; only the header
 * fields a log needs are read, into one small object per batch.
 *
 * readBatchHeader/validateBatch are the broker-facing counterparts: they read every field
 * and answer with Kafka's error codes for a produced batch.
 */

/** The header fields a log needs to place, index and find a batch. */
export interface BatchSummary {
  /** Position of the batch's first byte in the file (or buffer) it was scanned from. */
  position: number;
  /** Total bytes of the batch including the 12-byte log overhead. */
  size: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  recordCount: number;
}

/**
 * Size of the batch framed at buf[at] (12 + batchLength), or a reason it cannot be one:
 * fewer than the 17 bytes up to and including magic before `end`, a size below the batch
 * header or beyond int32, or a magic other than 2. Does not check that the whole batch is
 * in `buf`.
 */
export function batchFrameSize(buf: Buffer, at: number, end: number): number | string {
  if (end - at < BatchLayout.MAGIC + 1) return `only ${end - at} bytes left, a batch header needs ${BatchLayout.HEADER_SIZE}`;
  const batchLength = buf.readInt32BE(at + BatchLayout.BATCH_LENGTH);
  const size = batchLength + BatchLayout.LOG_OVERHEAD;
  if (batchLength < BatchLayout.HEADER_SIZE - BatchLayout.LOG_OVERHEAD || size > INT32_MAX) {
    return `batchLength ${batchLength} is outside [${BatchLayout.HEADER_SIZE - BatchLayout.LOG_OVERHEAD}, ${INT32_MAX - BatchLayout.LOG_OVERHEAD}]`;
  }
  const magic = buf.readInt8(at + BatchLayout.MAGIC);
  if (magic !== CURRENT_MAGIC) return `magic ${magic} is not ${CURRENT_MAGIC}`;
  return size;
}

/**
 * The summary of a batch whose first HEADER_SIZE bytes are in `buf` at `at` and whose size
 * batchFrameSize returned; `position` is where it sits in its file. A negative or
 * unsafe baseOffset, a negative lastOffsetDelta or recordCount is a reason.
 */
export function scanBatchHeader(buf: Buffer, at: number, position: number, size: number): BatchSummary | string {
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

/** True when the CRC-32C stored in the batch at buf[at] matches its bytes [at+21, at+size). */
export function batchCrcMatches(buf: Buffer, at: number, size: number): boolean {
  return computeBatchCrc(buf, at, size) === buf.readUInt32BE(at + BatchLayout.CRC);
}

/**
 * Splits a buffer that must hold whole batches back to back: their summaries (positions
 * relative to `buf`), or a reason when the bytes do not frame exactly.
 */
export function splitBatches(buf: Buffer): BatchSummary[] | string {
  const out: BatchSummary[] = [];
  let at = 0;
  while (at < buf.length) {
    const size = batchFrameSize(buf, at, buf.length);
    if (typeof size === 'string') return `batch at byte ${at}: ${size}`;
    if (at + size > buf.length || buf.length - at < BatchLayout.HEADER_SIZE) {
      return `batch at byte ${at} claims ${size} bytes but only ${buf.length - at} remain`;
    }
    const header = scanBatchHeader(buf, at, at, size);
    if (typeof header === 'string') return `batch at byte ${at}: ${header}`;
    out.push(header);
    at += size;
  }
  if (out.length === 0) return 'no batches';
  return out;
}

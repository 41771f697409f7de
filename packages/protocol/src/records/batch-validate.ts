import { decompress } from '../compression/codec.js';
import { ErrorCode } from '../errors.js';
import { BatchLayout, CURRENT_MAGIC, CompressionType, readInt64 } from './batch-layout.js';
import { LEGACY_RECORD_OVERHEAD_V0 } from './legacy-message-set.js';
import { MIN_RECORD_SIZE, TimestampType } from './batch-constants.js';
import { type RecordBatchHeader, computeBatchCrc, readBatchHeader } from './batch-header.js';
import { DEFAULT_MAX_DECOMPRESSED_BYTES, compressionFailure } from './batch-decode.js';
import { RecordBatchError } from './record-batch-error.js';
import { type RecordError, type RecordWalkChecks, walkRecords } from './record-walk.js';

/**
 * The broker's check of one produced (or replicated) batch before it is appended, in the
 * order Kafka applies them (ByteBufferLogInputStream, UnifiedLog.analyzeAndValidateRecords,
 * ProduceRequest.validateRecords, LogValidator), each with the error code Kafka answers:
 *
 *   fewer than 12 bytes, or fewer than the declared size   INVALID_RECORD (87)
 *   size below the 61-byte header                          CORRUPT_MESSAGE (2)
 *   size above maxBatchBytes (message.max.bytes)           MESSAGE_TOO_LARGE (10)
 *   magic 0 or 1                                           INVALID_RECORD (87)
 *   any other magic but 2                                  CORRUPT_MESSAGE (2)
 *   client batch with baseOffset != 0                      INVALID_RECORD (87)
 *   CRC-32C mismatch                                       CORRUPT_MESSAGE (2)
 *   client: count <= 0 or != lastOffsetDelta + 1           INVALID_RECORD (87)
 *   client: control batch                                  INVALID_RECORD (87)
 *   client: producerId set but baseSequence < 0            INVALID_RECORD (87)
 *   codec id 5-7, or zstd below produce v7                 UNSUPPORTED_COMPRESSION_TYPE (76)
 *   payload that does not decompress                       CORRUPT_MESSAGE (2)
 *   payload decompressing past maxDecompressedBytes        MESSAGE_TOO_LARGE (10)
 *   bad record framing / count / offset deltas             INVALID_RECORD (87)
 *   then, per record (LogValidator.validateRecord), every refused record listed in
 *   `recordErrors` with Kafka's message, the batch failing as a whole:
 *   null key in a compacted topic                          INVALID_RECORD (87)
 *   record timestamp outside the configured window         INVALID_TIMESTAMP (32)
 *   client LogAppendTime batch (LogAppendTime topic, or
 *     timestamp -1)                                        INVALID_TIMESTAMP (32)
 *   The batch's code is INVALID_TIMESTAMP if any record has that error, else INVALID_RECORD,
 *   and its message is Kafka's RecordValidationException message.
 *
 * Deliberate difference: Kafka accepts an uncompressed client batch whose offset deltas are
 * not 0..n-1 (and rewrites a compressed one); we refuse it with INVALID_RECORD, since every
 * producer writes 0..n-1 and anything else would give consumers gaps or duplicates.
 * Compressed batches are decompressed to be checked; the records come back in the result
 * (`decompressed`) for a broker that rebuilds the batch in its topic's codec
 * (recompressBatch), and are otherwise dropped, the stored bytes staying as sent.
 *
 * Bad bytes never throw: the result carries the code and a message that quotes the values.
 */

export interface BatchValidationOptions {
  /** Largest batch accepted, counting the 12-byte log overhead. Default 1048588 (Kafka's message.max.bytes). */
  maxBatchBytes?: number;
  /** Bound on a compressed batch's decompressed records. Default DEFAULT_MAX_DECOMPRESSED_BYTES. */
  maxDecompressedBytes?: number;
  /** 'client' applies the checks Kafka makes on producer input; 'replication' only integrity. Default 'client'. */
  origin?: 'client' | 'replication';
  /** Produce request version; below 7 zstd is refused, as in Kafka. */
  produceVersion?: number;
  /** cleanup.policy includes compact: records need keys. */
  compacted?: boolean;
  /** The topic's message.timestamp.type. Default CreateTime. */
  timestampType?: TimestampType;
  /** With timestampBeforeMaxMs/AfterMaxMs: the window record timestamps must fall in (CreateTime). */
  nowMs?: number;
  timestampBeforeMaxMs?: number;
  timestampAfterMaxMs?: number;
  /** `<topic>-<partition>`, for Kafka's per-record messages ("... in topic partition t-0"). */
  topicPartition?: string;
}

export interface BatchValidationOk {
  ok: true;
  header: RecordBatchHeader;
  /** Largest record timestamp (-1 if none); Kafka rewrites maxTimestamp to it for CreateTime. */
  maxTimestamp: number;
  /** A compressed batch's records section, decompressed (for recompression); unset when uncompressed. */
  decompressed?: Buffer;
}

export interface BatchValidationFailure {
  ok: false;
  errorCode: number;
  message: string;
  /** The record where the bytes stopped making sense (diagnostics; Kafka reports no record_errors for it). */
  recordIndex?: number;
  /** Records refused by the per-record checks: ProduceResponse record_errors, in record order. */
  recordErrors?: { batchIndex: number; message: string }[];
}

export type BatchValidation = BatchValidationOk | BatchValidationFailure;

/** Kafka's default message.max.bytes (1 MiB + 12 bytes of log overhead). */
export const DEFAULT_MAX_BATCH_BYTES = 1048588;

export async function validateBatch(buf: Buffer, offset: number, options: BatchValidationOptions = {}): Promise<BatchValidation> {
  const envelope = checkEnvelope(buf, offset, options);
  if (!envelope.ok) return envelope;
  const header = envelope.header;
  if (header.compression === CompressionType.NONE) return validateRecords(header, buf, offset + BatchLayout.RECORDS, offset + header.size, options);
  let section: Buffer;
  try {
    section = await decompress(header.compression, buf.subarray(offset + BatchLayout.RECORDS, offset + header.size), maxDecompressed(options));
  } catch (err) {
    return fromError(compressionFailure(err, header.compression));
  }
  const result = validateRecords(header, section, 0, section.length, options);
  if (result.ok) result.decompressed = section;
  return result;
}

/**
 * validateBatch without a promise, for the produce fast path: the same verdict for an
 * uncompressed batch (or one that fails before its records), and `undefined` when the
 * records must be decompressed first (call validateBatch then).
 */
export function validateBatchSync(buf: Buffer, offset: number, options: BatchValidationOptions = {}): BatchValidation | undefined {
  const envelope = checkEnvelope(buf, offset, options);
  if (!envelope.ok) return envelope;
  const header = envelope.header;
  if (header.compression !== CompressionType.NONE) return undefined;
  return validateRecords(header, buf, offset + BatchLayout.RECORDS, offset + header.size, options);
}

/** The record walk over `section[start, end)` (the decompressed records of a compressed batch). */
function validateRecords(header: RecordBatchHeader, section: Buffer, start: number, end: number, options: BatchValidationOptions): BatchValidation {
  try {
    if (header.recordCount > (end - start) / MIN_RECORD_SIZE) {
      return fail(ErrorCode.INVALID_RECORD, `batch declares ${header.recordCount} records, impossible in ${end - start} bytes of records`);
    }
    const recordErrors: RecordError[] = [];
    const maxTimestamp = walkRecords(section, start, end, header.recordCount, header.baseTimestamp, header.lastOffsetDelta, recordChecks(header, options), recordErrors);
    if (recordErrors.length > 0) return recordValidationFailure(recordErrors);
    return { ok: true, header, maxTimestamp };
  } catch (err) {
    if (err instanceof RecordBatchError) return fromError(err);
    throw err;
  }
}

/**
 * The batch-level verdict for per-record refusals, as Kafka's LogValidator.processRecordErrors
 * words it (the message embeds at most three RecordError.toString()s).
 */
function recordValidationFailure(errors: RecordError[]): BatchValidationFailure {
  const recordErrors = errors.map((e) => ({ batchIndex: e.batchIndex, message: e.message }));
  if (errors.some((e) => e.errorCode === ErrorCode.INVALID_TIMESTAMP)) {
    return { ok: false, errorCode: ErrorCode.INVALID_TIMESTAMP, message: 'One or more records have been rejected due to invalid timestamp', recordErrors };
  }
  const shown = errors.slice(0, 3).map((e) => `RecordError(batchIndex=${e.batchIndex}, message='${e.message}')`);
  return {
    ok: false,
    errorCode: ErrorCode.INVALID_RECORD,
    message: `One or more records have been rejected due to ${errors.length} record errors in total, and only showing the first three errors at most: [${shown.join(', ')}]`,
    recordErrors,
  };
}

function fromError(err: RecordBatchError): BatchValidationFailure {
  const failure: BatchValidationFailure = { ok: false, errorCode: err.errorCode, message: err.message };
  if (err.recordIndex !== undefined) failure.recordIndex = err.recordIndex;
  return failure;
}

function maxDecompressed(options: BatchValidationOptions): number {
  return options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
}

function fail(errorCode: number, message: string): BatchValidationFailure {
  return { ok: false, errorCode, message };
}

/** Everything up to the records: sizes, magic, CRC, header consistency. */
function checkEnvelope(buf: Buffer, offset: number, options: BatchValidationOptions): { ok: true; header: RecordBatchHeader } | BatchValidationFailure {
  const available = buf.length - offset;
  if (offset < 0 || available < BatchLayout.LOG_OVERHEAD) {
    return fail(ErrorCode.INVALID_RECORD, `record set holds ${Math.max(0, available)} bytes, not a whole batch`);
  }
  const size = BatchLayout.LOG_OVERHEAD + buf.readInt32BE(offset + BatchLayout.BATCH_LENGTH);
  // A magic 0/1 message is shorter than a v2 header; Kafka reports its magic (INVALID_RECORD,
  // ProduceRequest.validateRecords) unless it is shorter than any message (CORRUPT_MESSAGE).
  const magic = available > BatchLayout.MAGIC ? buf[offset + BatchLayout.MAGIC]! : CURRENT_MAGIC;
  if ((magic === 0 || magic === 1) && size >= BatchLayout.LOG_OVERHEAD + LEGACY_RECORD_OVERHEAD_V0 && size < BatchLayout.HEADER_SIZE) {
    return fail(ErrorCode.INVALID_RECORD, `message at byte ${offset} has magic ${magic} (message format v${magic}); this produce version needs magic 2`);
  }
  if (size < BatchLayout.HEADER_SIZE) {
    return fail(ErrorCode.CORRUPT_MESSAGE, `batch size ${size} is below the minimum batch overhead of ${BatchLayout.HEADER_SIZE}`);
  }
  const maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  if (size > maxBatchBytes) {
    return fail(ErrorCode.MESSAGE_TOO_LARGE, `batch size ${size} exceeds the maximum of ${maxBatchBytes} bytes`);
  }
  if (size > available) {
    return fail(ErrorCode.INVALID_RECORD, `batch declares ${size} bytes but only ${available} were sent`);
  }
  let header: RecordBatchHeader;
  try {
    header = readBatchHeader(buf, offset);
  } catch (err) {
    if (err instanceof RecordBatchError) return fail(err.errorCode, err.message);
    throw err;
  }
  const client = (options.origin ?? 'client') === 'client';
  if (client && header.baseOffset !== 0) {
    return fail(ErrorCode.INVALID_RECORD, `batch baseOffset is ${header.baseOffset}; a producer must send 0`);
  }
  const crc = computeBatchCrc(buf, offset, size);
  if (crc !== header.crc) {
    return fail(ErrorCode.CORRUPT_MESSAGE, `batch is corrupt: stored CRC ${header.crc}, computed ${crc}`);
  }
  if (client) {
    if (header.recordCount <= 0) return fail(ErrorCode.INVALID_RECORD, `batch declares ${header.recordCount} records; a producer must send at least 1`);
    if (header.lastOffsetDelta + 1 !== header.recordCount) {
      return fail(ErrorCode.INVALID_RECORD, `batch lastOffsetDelta ${header.lastOffsetDelta} disagrees with its record count ${header.recordCount}`);
    }
    if (header.isControl) return fail(ErrorCode.INVALID_RECORD, 'producers may not write control batches');
    if (header.producerId >= 0 && header.baseSequence < 0) {
      return fail(ErrorCode.INVALID_RECORD, `batch of producerId ${header.producerId} has invalid baseSequence ${header.baseSequence}`);
    }
  } else if (header.recordCount < 0 || header.lastOffsetDelta < header.recordCount - 1) {
    return fail(ErrorCode.CORRUPT_MESSAGE, `batch declares ${header.recordCount} records within lastOffsetDelta ${header.lastOffsetDelta}`);
  }
  if (header.compression > CompressionType.ZSTD) {
    return fail(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `batch compression type ${header.compression} is unknown`);
  }
  if (header.compression === CompressionType.ZSTD && options.produceVersion !== undefined && options.produceVersion < 7) {
    return fail(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `produce v${options.produceVersion} may not use zstd (needs v7+)`);
  }
  return { ok: true, header };
}

function timestampWindow(options: BatchValidationOptions): { min: number; max: number } {
  if (options.nowMs === undefined) return { min: -Infinity, max: Infinity };
  return {
    min: options.timestampBeforeMaxMs === undefined ? -Infinity : options.nowMs - options.timestampBeforeMaxMs,
    max: options.timestampAfterMaxMs === undefined ? Infinity : options.nowMs + options.timestampAfterMaxMs,
  };
}

/** Kafka's Long.MAX_VALUE, the "no limit" of the timestamp configs; numbers at 2^53 and above stand for it. */
const LONG_MAX = 9223372036854775807n;

function toJavaLong(ms: number | undefined): bigint {
  return ms === undefined || ms >= Number.MAX_SAFE_INTEGER ? LONG_MAX : BigInt(Math.trunc(ms));
}

/** "[now - before, now + after]" in Java long arithmetic (wrapping), as Kafka's message prints it. */
function windowText(options: BatchValidationOptions): string {
  const now = BigInt(Math.trunc(options.nowMs ?? 0));
  const min = BigInt.asIntN(64, now - toJavaLong(options.timestampBeforeMaxMs));
  const max = BigInt.asIntN(64, now + toJavaLong(options.timestampAfterMaxMs));
  return `[${min}, ${max}]`;
}

function recordChecks(header: RecordBatchHeader, options: BatchValidationOptions): RecordWalkChecks {
  const client = (options.origin ?? 'client') === 'client';
  // Kafka checks record timestamps only for CreateTime topics; a LogAppendTime batch's
  // records all carry its maxTimestamp.
  const topicCreateTime = (options.timestampType ?? TimestampType.CREATE_TIME) === TimestampType.CREATE_TIME;
  const checkTimes = client && topicCreateTime;
  const window = checkTimes ? timestampWindow(options) : { min: -Infinity, max: Infinity };
  const checks: RecordWalkChecks = {
    contiguousOffsets: client,
    requireKey: client && options.compacted === true && !header.isControl,
    timestampMin: window.min,
    timestampMax: window.max,
  };
  if (options.topicPartition !== undefined) checks.topicPartition = options.topicPartition;
  if (window.min !== -Infinity || window.max !== Infinity) checks.timestampWindowText = () => windowText(options);
  if (client && header.timestampType === TimestampType.LOG_APPEND_TIME) {
    checks.producerLogAppendTime = { maxTimestamp: header.maxTimestamp, topicCreateTime };
  }
  return checks;
}

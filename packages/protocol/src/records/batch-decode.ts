import { CompressionError, CompressionErrorCode } from '../compression/compression-error.js';
import { decompress, decompressSync } from '../compression/codec.js';
import { ErrorCode } from '../errors.js';
import { BatchLayout, CompressionType } from './batch-layout.js';
import { MIN_RECORD_SIZE, TimestampType } from './batch-constants.js';
import { type RecordBatchHeader, computeBatchCrc, readBatchHeader } from './batch-header.js';
import { RecordBatchError, RecordBatchErrorCode } from './record-batch-error.js';
import { type DecodedRecord, readRecords } from './record-codec.js';

/**
 * Turning a batch back into records, as a consumer does. The CRC is checked by default
 * (Java's check.crcs=true); records of a compressed batch are slices of the decompressed
 * block, those of an uncompressed batch slices of the input.
 */

/**
 * Limit on the decompressed records section. A produce request is capped near 1 MiB by
 * message.max.bytes, and real producers reach 5-10x compression on text; 64 MiB leaves
 * room for extreme ratios while bounding what one hostile batch can make us allocate.
 */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

export interface DecodeOptions {
  maxDecompressedBytes?: number;
  /** Default true. */
  verifyCrc?: boolean;
}

export interface DecodedBatch {
  header: RecordBatchHeader;
  records: DecodedRecord[];
}

export async function decodeBatch(buf: Buffer, offset = 0, options: DecodeOptions = {}): Promise<DecodedBatch> {
  const header = checkBatch(buf, offset, options);
  const section = buf.subarray(offset + BatchLayout.RECORDS, offset + header.size);
  let plain: Buffer;
  try {
    plain = await decompress(header.compression, section, maxDecompressed(options));
  } catch (err) {
    throw compressionFailure(err, header.compression);
  }
  return { header, records: recordsOf(header, plain) };
}

/** Synchronous decodeBatch for every codec but zstd (which throws INVALID_ARGUMENT). */
export function decodeBatchSync(buf: Buffer, offset = 0, options: DecodeOptions = {}): DecodedBatch {
  const header = checkBatch(buf, offset, options);
  const section = buf.subarray(offset + BatchLayout.RECORDS, offset + header.size);
  let plain: Buffer;
  try {
    plain = decompressSync(header.compression, section, maxDecompressed(options));
  } catch (err) {
    throw compressionFailure(err, header.compression);
  }
  return { header, records: recordsOf(header, plain) };
}

export async function decodeRecords(buf: Buffer, offset = 0, options: DecodeOptions = {}): Promise<DecodedRecord[]> {
  return (await decodeBatch(buf, offset, options)).records;
}

export function decodeRecordsSync(buf: Buffer, offset = 0, options: DecodeOptions = {}): DecodedRecord[] {
  return decodeBatchSync(buf, offset, options).records;
}

function maxDecompressed(options: DecodeOptions): number {
  return options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
}

function checkBatch(buf: Buffer, offset: number, options: DecodeOptions): RecordBatchHeader {
  const header = readBatchHeader(buf, offset);
  if (header.size < BatchLayout.HEADER_SIZE) {
    throw new RecordBatchError(
      RecordBatchErrorCode.BAD_SIZE,
      `batch at byte ${offset} declares ${header.size} bytes, below the ${BatchLayout.HEADER_SIZE}-byte header`,
    );
  }
  if (header.size > buf.length - offset) {
    throw new RecordBatchError(
      RecordBatchErrorCode.TRUNCATED,
      `batch at byte ${offset} declares ${header.size} bytes, ${buf.length - offset} remain`,
    );
  }
  if (options.verifyCrc !== false && computeBatchCrc(buf, offset, header.size) !== header.crc) {
    throw new RecordBatchError(
      RecordBatchErrorCode.CRC_MISMATCH,
      `batch at byte ${offset} has CRC ${header.crc} but its bytes give ${computeBatchCrc(buf, offset, header.size)}`,
    );
  }
  const sectionBytes = header.compression === CompressionType.NONE ? header.size - BatchLayout.HEADER_SIZE : maxDecompressed(options);
  if (header.recordCount < 0 || header.recordCount > sectionBytes / MIN_RECORD_SIZE) {
    throw new RecordBatchError(
      RecordBatchErrorCode.BAD_RECORD,
      `batch at byte ${offset} declares ${header.recordCount} records, impossible in its ${sectionBytes} bytes`,
      ErrorCode.INVALID_RECORD,
    );
  }
  return header;
}

function recordsOf(header: RecordBatchHeader, plain: Buffer): DecodedRecord[] {
  const logAppendTime = header.timestampType === TimestampType.LOG_APPEND_TIME ? header.maxTimestamp : null;
  return readRecords(plain, 0, plain.length, header.recordCount, header.baseOffset, header.baseTimestamp, logAppendTime);
}

/** Maps a codec failure to the batch error (and Kafka code) the broker would answer with. */
export function compressionFailure(err: unknown, compression: number): RecordBatchError {
  if (!(err instanceof CompressionError)) {
    return new RecordBatchError(RecordBatchErrorCode.BAD_COMPRESSION, `decompression failed: ${String(err)}`, ErrorCode.CORRUPT_MESSAGE, { cause: err });
  }
  switch (err.code) {
    case CompressionErrorCode.TOO_LARGE:
      // A client that gets MESSAGE_TOO_LARGE splits its batch and retries, the right reaction.
      return new RecordBatchError(RecordBatchErrorCode.BAD_COMPRESSION, err.message, ErrorCode.MESSAGE_TOO_LARGE, { cause: err });
    case CompressionErrorCode.UNKNOWN_CODEC:
      return new RecordBatchError(RecordBatchErrorCode.BAD_COMPRESSION, err.message, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, { cause: err });
    case CompressionErrorCode.ASYNC_ONLY:
      return new RecordBatchError(
        RecordBatchErrorCode.INVALID_ARGUMENT,
        `batch compression ${compression} (zstd) needs the async API: ${err.message}`,
        ErrorCode.UNKNOWN_SERVER_ERROR,
        { cause: err },
      );
    default:
      return new RecordBatchError(RecordBatchErrorCode.BAD_COMPRESSION, err.message, ErrorCode.CORRUPT_MESSAGE, { cause: err });
  }
}

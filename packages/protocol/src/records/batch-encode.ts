import { compress, compressSync } from '../compression/codec.js';
import { BatchAttributes, BatchLayout, CURRENT_MAGIC, CompressionType, writeInt64 } from './batch-layout.js';
import { RecordBatchDefaults, TimestampType } from './batch-constants.js';
import { computeBatchCrc } from './batch-header.js';
import { RecordBatchError, RecordBatchErrorCode } from './record-batch-error.js';
import { type RecordInput, prepareRecord, preparedRecordSize, writePreparedRecord } from './record-codec.js';
import { ErrorCode } from '../errors.js';

/**
 * Building a magic-2 record batch, as a producer (or the broker, for control batches and
 * compaction) does. Records are laid out as in record-walk.ts, compressed as one block when
 * asked, and the header (batch-layout.ts) is written last, CRC included.
 *
 * baseTimestamp is the first record's timestamp and maxTimestamp the largest, as in Java's
 * MemoryRecordsBuilder. Offsets are baseOffset + index unless records give their own (a
 * compacted batch keeps gaps; lastOffsetDelta may then be given explicitly).
 */

export interface EncodeBatchOptions {
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  isControl?: boolean;
  compression?: CompressionType;
  timestampType?: TimestampType;
  /** Timestamp of records that give none. Default: Date.now() when the batch is built. */
  timestamp?: number;
  /** Defaults to the last record's offset delta (0 for an empty batch). */
  lastOffsetDelta?: number;
  /** For LogAppendTime batches: the broker's append time, written as maxTimestamp. */
  logAppendTime?: number;
  /**
   * The log cleaner's delete horizon (KIP-534): written as baseTimestamp with the
   * delete-horizon attribute bit; record timestamps stay exact (their deltas may go negative).
   */
  deleteHorizonMs?: number;
  records: RecordInput[];
}

interface PreparedBatch {
  header: Buffer;
  records: Buffer;
  compression: number;
}

/** Builds the batch; serves every codec. */
export async function encodeBatch(options: EncodeBatchOptions): Promise<Buffer> {
  const prepared = prepareBatch(options);
  const payload = await compress(prepared.compression, prepared.records);
  return assemble(prepared, payload);
}

/** Builds the batch synchronously; zstd throws (its binding is async only), use encodeBatch. */
export function encodeBatchSync(options: EncodeBatchOptions): Buffer {
  const prepared = prepareBatch(options);
  if (prepared.compression === CompressionType.ZSTD) {
    throw new RecordBatchError(
      RecordBatchErrorCode.INVALID_ARGUMENT,
      'encodeBatchSync cannot compress with zstd (async-only binding); use encodeBatch',
      ErrorCode.UNKNOWN_SERVER_ERROR,
    );
  }
  return assemble(prepared, compressSync(prepared.compression, prepared.records));
}

function prepareBatch(options: EncodeBatchOptions): PreparedBatch {
  const baseOffset = options.baseOffset ?? 0;
  const compression = options.compression ?? CompressionType.NONE;
  if (!(compression >= CompressionType.NONE && compression <= CompressionType.ZSTD)) {
    throw new RecordBatchError(
      RecordBatchErrorCode.INVALID_ARGUMENT,
      `compression ${compression} is not a codec id 0-4`,
      ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
    );
  }
  const inputs = options.records;
  const defaultTimestamp = options.timestamp ?? Date.now();
  const baseTimestamp = options.deleteHorizonMs ?? (inputs.length > 0 ? (inputs[0]!.timestamp ?? defaultTimestamp) : RecordBatchDefaults.NO_TIMESTAMP);
  let maxTimestamp: number = RecordBatchDefaults.NO_TIMESTAMP;
  let recordsSize = 0;
  let lastDelta = 0;
  const prepared = inputs.map((input, index) => {
    const timestamp = input.timestamp ?? defaultTimestamp;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    const offsetDelta = input.offset === undefined ? index : input.offset - baseOffset;
    lastDelta = offsetDelta;
    const record = prepareRecord(input, offsetDelta, timestamp - baseTimestamp);
    recordsSize += preparedRecordSize(record);
    return record;
  });
  const records = Buffer.allocUnsafe(recordsSize);
  let at = 0;
  for (const record of prepared) at = writePreparedRecord(records, at, record);

  const timestampType = options.timestampType ?? TimestampType.CREATE_TIME;
  let attributes = compression;
  if (timestampType === TimestampType.LOG_APPEND_TIME) attributes |= BatchAttributes.TIMESTAMP_TYPE_LOG_APPEND;
  if (options.transactional) attributes |= BatchAttributes.TRANSACTIONAL;
  if (options.isControl) attributes |= BatchAttributes.CONTROL;
  if (options.deleteHorizonMs !== undefined) attributes |= BatchAttributes.DELETE_HORIZON;
  if (timestampType === TimestampType.LOG_APPEND_TIME && options.logAppendTime !== undefined) {
    maxTimestamp = options.logAppendTime;
  }

  const header = Buffer.alloc(BatchLayout.HEADER_SIZE);
  writeInt64(header, BatchLayout.BASE_OFFSET, baseOffset);
  header.writeInt32BE(options.partitionLeaderEpoch ?? RecordBatchDefaults.NO_PARTITION_LEADER_EPOCH, BatchLayout.PARTITION_LEADER_EPOCH);
  header.writeInt8(CURRENT_MAGIC, BatchLayout.MAGIC);
  header.writeInt16BE(attributes, BatchLayout.ATTRIBUTES);
  header.writeInt32BE(options.lastOffsetDelta ?? lastDelta, BatchLayout.LAST_OFFSET_DELTA);
  writeInt64(header, BatchLayout.BASE_TIMESTAMP, baseTimestamp);
  writeInt64(header, BatchLayout.MAX_TIMESTAMP, maxTimestamp);
  writeInt64(header, BatchLayout.PRODUCER_ID, options.producerId ?? RecordBatchDefaults.NO_PRODUCER_ID);
  header.writeInt16BE(options.producerEpoch ?? RecordBatchDefaults.NO_PRODUCER_EPOCH, BatchLayout.PRODUCER_EPOCH);
  header.writeInt32BE(options.baseSequence ?? RecordBatchDefaults.NO_SEQUENCE, BatchLayout.BASE_SEQUENCE);
  header.writeInt32BE(inputs.length, BatchLayout.RECORD_COUNT);
  return { header, records, compression };
}

function assemble(prepared: PreparedBatch, payload: Buffer): Buffer {
  const size = BatchLayout.HEADER_SIZE + payload.length;
  const batch = Buffer.allocUnsafe(size);
  prepared.header.copy(batch, 0);
  payload.copy(batch, BatchLayout.HEADER_SIZE);
  batch.writeInt32BE(size - BatchLayout.LOG_OVERHEAD, BatchLayout.BATCH_LENGTH);
  batch.writeUInt32BE(computeBatchCrc(batch, 0, size), BatchLayout.CRC);
  return batch;
}

/**
 * Reading record timestamps inside a batch, for ListOffsets by time. The record layout and
 * its varints are protocol's (record-walk.ts, RecordReader); only the first three fields of
 * each record are read (length, attributes, timestampDelta, offsetDelta) and `length` skips
 * the rest. With LogAppendTime every record's timestamp is the batch's maxTimestamp.
 */
import {
  type RecordBatchHeader, BatchLayout, CompressionType, DEFAULT_MAX_DECOMPRESSED_BYTES, RecordBatchError, RecordReader, TimestampType,
  decompressSync, readBatchHeader,
} from '@tributary/protocol';

/** Decompresses a record block of a batch; returns null for a codec it cannot read synchronously. */
export type Decompressor = (compression: number, data: Buffer) => Buffer | null;

/**
 * Every codec protocol decompresses synchronously (all but zstd, whose binding is async
 * only; a zstd batch is then answered at batch level). Bounded like a produced batch.
 */
export const defaultDecompressor: Decompressor = (compression, data) => {
  if (compression === CompressionType.ZSTD) return null;
  return decompressSync(compression, data, DEFAULT_MAX_DECOMPRESSED_BYTES);
};

export interface RecordTimestamp { offset: number; timestamp: number }

/**
 * Calls `visit` with each record's offset and timestamp in order until it returns true;
 * returns that record, or null when none matched. Returns undefined when the records
 * cannot be read (unknown codec, malformed bytes) so the caller falls back to batch level.
 */
export function findRecord(
  batch: Buffer,
  visit: (r: RecordTimestamp) => boolean,
  decompress: Decompressor = defaultDecompressor,
): RecordTimestamp | null | undefined {
  let header: RecordBatchHeader;
  try {
    header = readBatchHeader(batch, 0);
  } catch (err) {
    if (err instanceof RecordBatchError) return undefined;
    throw err;
  }
  let records: Buffer | null = batch.subarray(BatchLayout.RECORDS, header.size);
  if (header.compression !== CompressionType.NONE) {
    try {
      records = decompress(header.compression, records);
    } catch {
      // A payload that does not decompress is answered at batch level, like an unknown codec.
      return undefined;
    }
    if (records === null) return undefined;
  }
  const logAppendTime = header.timestampType === TimestampType.LOG_APPEND_TIME;
  const reader = new RecordReader(records, 0, records.length);
  try {
    for (let i = 0; i < header.recordCount; i++) {
      const length = reader.varint();
      const end = reader.pos + length;
      if (length < 0 || end > records.length) return undefined;
      reader.pos += 1; // attributes
      const tsDelta = reader.varlong();
      const offsetDelta = reader.varint();
      if (reader.pos > end) return undefined;
      const r = { offset: header.baseOffset + offsetDelta, timestamp: logAppendTime ? header.maxTimestamp : header.baseTimestamp + tsDelta };
      if (visit(r)) return r;
      reader.pos = end;
    }
  } catch (err) {
    if (err instanceof RecordBatchError) return undefined;
    throw err;
  }
  return null;
}

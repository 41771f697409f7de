/**
 * Byte layout of a Kafka record batch, magic 2 (the only format Tributary serves).
 *
 *   offset  size  field
 *   0       8     baseOffset            int64   (outside the CRC: assigned in place by the broker)
 *   8       4     batchLength           int32   bytes after this field (total size - 12)
 *   12      4     partitionLeaderEpoch  int32   (outside the CRC: assigned in place by the broker)
 *   16      1     magic                 int8    always 2
 *   17      4     crc                   uint32  CRC-32C of bytes [21, end)
 *   21      2     attributes            int16   bits 0-2 compression, 3 timestamp type,
 *                                               4 transactional, 5 control, 6 delete horizon
 *   23      4     lastOffsetDelta       int32
 *   27      8     baseTimestamp         int64
 *   35      8     maxTimestamp          int64
 *   43      8     producerId            int64
 *   51      2     producerEpoch         int16
 *   53      4     baseSequence          int32
 *   57      4     recordCount           int32
 *   61      ...   records (possibly compressed as one block)
 *
 * Every module that reads or patches batch headers (records, storage, broker) takes its
 * offsets from here so that the layout is written down exactly once.
 */
export const BatchLayout = {
  BASE_OFFSET: 0,
  BATCH_LENGTH: 8,
  PARTITION_LEADER_EPOCH: 12,
  MAGIC: 16,
  CRC: 17,
  ATTRIBUTES: 21,
  LAST_OFFSET_DELTA: 23,
  BASE_TIMESTAMP: 27,
  MAX_TIMESTAMP: 35,
  PRODUCER_ID: 43,
  PRODUCER_EPOCH: 51,
  BASE_SEQUENCE: 53,
  RECORD_COUNT: 57,
  RECORDS: 61,
  /** Size of the header that precedes the records. */
  HEADER_SIZE: 61,
  /** Bytes before batchLength counts: baseOffset (8) + batchLength (4). */
  LOG_OVERHEAD: 12,
  /** The CRC covers everything from attributes to the end of the batch. */
  CRC_START: 21,
} as const;

export const BatchAttributes = {
  COMPRESSION_MASK: 0x07,
  TIMESTAMP_TYPE_LOG_APPEND: 0x08,
  TRANSACTIONAL: 0x10,
  CONTROL: 0x20,
  DELETE_HORIZON: 0x40,
} as const;

export const CompressionType = {
  NONE: 0,
  GZIP: 1,
  SNAPPY: 2,
  LZ4: 3,
  ZSTD: 4,
} as const;
export type CompressionType = (typeof CompressionType)[keyof typeof CompressionType];

export const CURRENT_MAGIC = 2;

/** Reads a signed int64 as a number; exact within +/-2^53, which every offset and timestamp is. */
export function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 4294967296 + buf.readUInt32BE(at + 4);
}

/** Writes a number as a signed int64 (big-endian). The value must be an integer within +/-2^53. */
export function writeInt64(buf: Buffer, at: number, value: number): void {
  const hi = Math.floor(value / 4294967296);
  buf.writeInt32BE(hi, at);
  buf.writeUInt32BE(value - hi * 4294967296, at + 4);
}

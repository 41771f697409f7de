import { BatchAttributes, BatchLayout, readInt64, writeInt64 } from './batch-layout.js';
import { TimestampType } from './batch-constants.js';
import { computeBatchCrc } from './batch-header.js';

/**
 * In-place changes the broker makes to a validated batch before appending it, without
 * copying it. baseOffset and partitionLeaderEpoch sit before the CRC'd range, so they are
 * free to patch; attributes and maxTimestamp are inside it, so changing them recomputes the
 * CRC (as Kafka's DefaultRecordBatch.setMaxTimestamp does). The caller has validated the
 * batch: these functions trust its size field.
 */

/** Sets the batch's baseOffset; returns its last offset (baseOffset + lastOffsetDelta). */
export function assignOffsets(buf: Buffer, offset: number, baseOffset: number): number {
  writeInt64(buf, offset + BatchLayout.BASE_OFFSET, baseOffset);
  return baseOffset + buf.readInt32BE(offset + BatchLayout.LAST_OFFSET_DELTA);
}

export function setPartitionLeaderEpoch(buf: Buffer, offset: number, partitionLeaderEpoch: number): void {
  buf.writeInt32BE(partitionLeaderEpoch, offset + BatchLayout.PARTITION_LEADER_EPOCH);
}

/**
 * Sets the timestamp-type bit and maxTimestamp and rewrites the CRC. Like Kafka, does
 * nothing (and skips the CRC pass) when both already hold these values.
 * Returns whether the batch changed.
 */
export function setMaxTimestamp(buf: Buffer, offset: number, timestampType: TimestampType, maxTimestamp: number): boolean {
  const attributesAt = offset + BatchLayout.ATTRIBUTES;
  const attributes = buf.readInt16BE(attributesAt);
  const logAppend = timestampType === TimestampType.LOG_APPEND_TIME;
  const wanted = logAppend
    ? attributes | BatchAttributes.TIMESTAMP_TYPE_LOG_APPEND
    : attributes & ~BatchAttributes.TIMESTAMP_TYPE_LOG_APPEND;
  const maxTimestampAt = offset + BatchLayout.MAX_TIMESTAMP;
  if (wanted === attributes && readInt64(buf, maxTimestampAt) === maxTimestamp) return false;
  buf.writeInt16BE(wanted, attributesAt);
  writeInt64(buf, maxTimestampAt, maxTimestamp);
  const size = BatchLayout.LOG_OVERHEAD + buf.readInt32BE(offset + BatchLayout.BATCH_LENGTH);
  buf.writeUInt32BE(computeBatchCrc(buf, offset, size), offset + BatchLayout.CRC);
  return true;
}

/** Marks the batch LogAppendTime with `timestampMs` as its max timestamp (topic config). */
export function setLogAppendTime(buf: Buffer, offset: number, timestampMs: number): boolean {
  return setMaxTimestamp(buf, offset, TimestampType.LOG_APPEND_TIME, timestampMs);
}

import { ErrorCode } from '../errors.js';
import { RecordBatchError, RecordBatchErrorCode } from './record-batch-error.js';
import { RecordReader } from './record-reader.js';

/**
 * Checks the framing of every record in a records section without building any record:
 *
 *   record (magic 2), all varints zigzag-encoded:
 *     length          varint   bytes after this field
 *     attributes      int8     unused, 0
 *     timestampDelta  varlong  from the batch's baseTimestamp
 *     offsetDelta     varint   from the batch's baseOffset
 *     keyLength       varint   -1 = null key
 *     key             bytes
 *     valueLength     varint   -1 = null value
 *     value           bytes
 *     headerCount     varint
 *     headers         [keyLength varint (>= 0), key utf8, valueLength varint (-1 = null), value]
 *
 * Each record must end exactly where its length says, `count` records must end exactly at
 * `end`, and the offset deltas must be strictly increasing and within lastOffsetDelta
 * (exactly 0..count-1 when `contiguousOffsets`, the shape every producer writes).
 * This is the broker's produce hot path: one reader object per call, none per record.
 */

export interface RecordWalkChecks {
  /** Offset deltas must be 0, 1, ..., count-1 (batches from producers). */
  contiguousOffsets: boolean;
  /** Compacted topics: every record needs a key (Kafka: INVALID_RECORD otherwise). */
  requireKey: boolean;
  /** Inclusive bounds on record timestamps (CreateTime topics); NO_TIMESTAMP (-1) is exempt. */
  timestampMin: number;
  timestampMax: number;
}

export const NO_RECORD_CHECKS: RecordWalkChecks = {
  contiguousOffsets: false,
  requireKey: false,
  timestampMin: -Infinity,
  timestampMax: Infinity,
};

/** Walks the records; returns the largest record timestamp (-1 when there are none). */
export function walkRecords(
  buf: Buffer,
  start: number,
  end: number,
  count: number,
  baseTimestamp: number,
  lastOffsetDelta: number,
  checks: RecordWalkChecks,
): number {
  const reader = new RecordReader(buf, start, end);
  const checkTimestamps = checks.timestampMin !== -Infinity || checks.timestampMax !== Infinity;
  let maxTimestamp = -1;
  let previousDelta = -1;
  for (let i = 0; i < count; i++) {
    const length = reader.varint();
    const bodyStart = reader.pos;
    if (length <= 0 || length > end - bodyStart) {
      fail(`record ${i} at byte ${bodyStart} declares ${length} bytes, ${end - bodyStart} remain`, i);
    }
    reader.end = bodyStart + length; // reads inside the record may not cross into the next one
    reader.pos += 1; // attributes
    const timestamp = baseTimestamp + reader.varlong();
    const offsetDelta = reader.varint();
    if (checks.contiguousOffsets ? offsetDelta !== i : offsetDelta <= previousDelta || offsetDelta > lastOffsetDelta) {
      fail(`record ${i} has offsetDelta ${offsetDelta}, expected ${checks.contiguousOffsets ? i : `above ${previousDelta} and at most ${lastOffsetDelta}`}`, i);
    }
    previousDelta = offsetDelta;
    const keyLength = reader.skipBytesField('key', true);
    if (keyLength < 0 && checks.requireKey) {
      fail(`record ${i} has a null key, which a compacted topic does not accept`, i);
    }
    reader.skipBytesField('value', true);
    const headerCount = reader.varint();
    if (headerCount < 0 || headerCount > reader.end - reader.pos) {
      fail(`record ${i} declares ${headerCount} headers in ${reader.end - reader.pos} bytes`, i);
    }
    for (let h = 0; h < headerCount; h++) {
      reader.skipBytesField('header key', false);
      reader.skipBytesField('header value', true);
    }
    if (reader.pos !== reader.end) {
      fail(`record ${i} declares ${length} bytes but its fields take ${reader.pos - bodyStart}`, i);
    }
    reader.end = end;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    if (checkTimestamps && timestamp !== -1 && (timestamp < checks.timestampMin || timestamp > checks.timestampMax)) {
      throw new RecordBatchError(
        RecordBatchErrorCode.BAD_RECORD,
        `record ${i} has timestamp ${timestamp}, outside the accepted range [${checks.timestampMin}, ${checks.timestampMax}]`,
        ErrorCode.INVALID_TIMESTAMP,
        { recordIndex: i },
      );
    }
  }
  if (reader.pos !== end) {
    fail(`${count} records end at byte ${reader.pos} but the records section ends at ${end}`, count);
  }
  return maxTimestamp;
}

function fail(message: string, recordIndex: number): never {
  throw new RecordBatchError(RecordBatchErrorCode.BAD_RECORD, message, ErrorCode.INVALID_RECORD, { recordIndex });
}

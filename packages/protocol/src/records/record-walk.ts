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
 * (exactly 0..count-1 when `contiguousOffsets`, the shape every producer writes). Then
 * the per-record rules of Kafka's LogValidator (keys in compacted topics, timestamps).
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
  /**
   * A LogAppendTime batch from a producer: its records' timestamps are its maxTimestamp
   * (as Kafka reads them). In a CreateTime topic they are range-checked like any other
   * (when not -1); otherwise each such record is an error, as in Kafka's LogValidator.
   */
  producerLogAppendTime?: { maxTimestamp: number; topicCreateTime: boolean };
  /** For messages: Kafka's "in topic partition <topic>-<partition>" suffix names this. */
  topicPartition?: string;
  /** For messages: the window as Kafka prints it, "[min, max]" (computed only on a refusal). */
  timestampWindowText?: () => string;
}

/**
 * A record refused by a per-record check (key, timestamp): Kafka's ApiRecordError. The
 * walk goes on after one, so that the Produce response lists every refused record, as
 * Kafka's `record_errors` does; framing errors still stop the walk (a batch whose bytes do
 * not parse has no "other records").
 */
export interface RecordError {
  batchIndex: number;
  errorCode: number;
  message: string;
}

export const NO_RECORD_CHECKS: RecordWalkChecks = {
  contiguousOffsets: false,
  requireKey: false,
  timestampMin: -Infinity,
  timestampMax: Infinity,
};

/**
 * Walks the records; returns the largest record timestamp (-1 when there are none).
 * Per-record refusals go into `recordErrors` (when given; otherwise the first one throws).
 */
export function walkRecords(
  buf: Buffer,
  start: number,
  end: number,
  count: number,
  baseTimestamp: number,
  lastOffsetDelta: number,
  checks: RecordWalkChecks,
  recordErrors?: RecordError[],
): number {
  const reader = new RecordReader(buf, start, end);
  // Locals, not property reads per record: `checks` comes in several shapes.
  const contiguousOffsets = checks.contiguousOffsets;
  const requireKey = checks.requireKey;
  const timestampMin = checks.timestampMin;
  const timestampMax = checks.timestampMax;
  const checkTimestamps = timestampMin !== -Infinity || timestampMax !== Infinity;
  const logAppend = checks.producerLogAppendTime;
  const logAppendTimestamp = logAppend === undefined ? 0 : logAppend.maxTimestamp;
  const checkTimestampValue = logAppend === undefined || logAppend.topicCreateTime;
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
    const timestampDelta = reader.varlong();
    const timestamp = logAppend === undefined ? baseTimestamp + timestampDelta : logAppendTimestamp;
    const offsetDelta = reader.varint();
    if (contiguousOffsets ? offsetDelta !== i : offsetDelta <= previousDelta || offsetDelta > lastOffsetDelta) {
      fail(`record ${i} has offsetDelta ${offsetDelta}, expected ${contiguousOffsets ? i : `above ${previousDelta} and at most ${lastOffsetDelta}`}`, i);
    }
    previousDelta = offsetDelta;
    const keyLength = reader.skipBytesField('key', true);
    const valueLength = reader.skipBytesField('value', true);
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
    // Kafka's LogValidator.validateRecord: the key first, then the timestamp; one error per record.
    if (keyLength < 0 && requireKey) {
      refuse(recordErrors, { batchIndex: i, errorCode: ErrorCode.INVALID_RECORD, message: `Compacted topic cannot accept message without key${checks.topicPartition === undefined ? '' : ` in topic partition ${checks.topicPartition}`}` });
    } else if (timestamp !== -1 && checkTimestampValue) {
      if (checkTimestamps && (timestamp < timestampMin || timestamp > timestampMax)) {
        refuse(recordErrors, {
          batchIndex: i,
          errorCode: ErrorCode.INVALID_TIMESTAMP,
          message: `Timestamp ${timestamp} of message with offset ${offsetDelta} is out of range. The timestamp should be within ${checks.timestampWindowText?.() ?? `[${checks.timestampMin}, ${checks.timestampMax}]`}`,
        });
      }
    } else if (logAppend !== undefined) {
      const record = `DefaultRecord(offset=${offsetDelta}, timestamp=${timestamp}, key=${Math.max(0, keyLength)} bytes, value=${Math.max(0, valueLength)} bytes)`;
      refuse(recordErrors, {
        batchIndex: i,
        errorCode: ErrorCode.INVALID_TIMESTAMP,
        message: `Invalid timestamp type in message ${record}. Producer should not set timestamp type to LogAppendTime.`,
      });
    }
  }
  if (reader.pos !== end) {
    fail(`${count} records end at byte ${reader.pos} but the records section ends at ${end}`, count);
  }
  return maxTimestamp;
}

function refuse(recordErrors: RecordError[] | undefined, error: RecordError): void {
  if (recordErrors === undefined) {
    throw new RecordBatchError(RecordBatchErrorCode.BAD_RECORD, error.message, error.errorCode, { recordIndex: error.batchIndex });
  }
  recordErrors.push(error);
}

function fail(message: string, recordIndex: number): never {
  throw new RecordBatchError(RecordBatchErrorCode.BAD_RECORD, message, ErrorCode.INVALID_RECORD, { recordIndex });
}

/**
 * Sentinel values of the record batch header, as Kafka's RecordBatch defines them. A batch
 * from a producer without idempotence carries all of them.
 */
export const RecordBatchDefaults = {
  NO_TIMESTAMP: -1,
  NO_PRODUCER_ID: -1,
  NO_PRODUCER_EPOCH: -1,
  NO_SEQUENCE: -1,
  NO_PARTITION_LEADER_EPOCH: -1,
} as const;

/** Attribute bit 3 of a batch: who set the timestamps. */
export const TimestampType = {
  CREATE_TIME: 0,
  LOG_APPEND_TIME: 1,
} as const;
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType];

/**
 * Smallest possible record: length varint (1) + attributes (1) + timestampDelta (1) +
 * offsetDelta (1) + key length (1) + value length (1) + header count (1).
 */
export const MIN_RECORD_SIZE = 7;

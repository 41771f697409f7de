/**
 * Errors raised by the storage layer. Every error carries a stable `code` string that never
 * changes meaning; the broker maps codes to Kafka error codes or takes the log directory
 * offline. Expected outcomes of a read (offset out of range) are results, not errors.
 */
export const StorageErrorCode = {
  /** An append's bytes are not a sequence of whole v2 batches. */
  INVALID_BATCH_FRAMING: 'STORAGE_INVALID_BATCH_FRAMING',
  /** A follower append started below the log end offset. */
  UNEXPECTED_APPEND_OFFSET: 'STORAGE_UNEXPECTED_APPEND_OFFSET',
  /** An offset argument was outside what the operation accepts (DeleteRecords beyond the high watermark...). */
  OFFSET_OUT_OF_RANGE: 'STORAGE_OFFSET_OUT_OF_RANGE',
  /** A checkpoint file does not follow Kafka's text format. */
  CORRUPT_CHECKPOINT: 'STORAGE_CORRUPT_CHECKPOINT',
  /** The log (or manager) was closed or deleted and can no longer be used. */
  LOG_CLOSED: 'STORAGE_LOG_CLOSED',
  /** createLog for a partition that already has a log. */
  LOG_EXISTS: 'STORAGE_LOG_EXISTS',
  /** A topic name or partition number cannot name a directory. */
  INVALID_PARTITION_NAME: 'STORAGE_INVALID_PARTITION_NAME',
  /** A file system call failed; the broker should take the log directory offline. */
  IO_ERROR: 'STORAGE_IO_ERROR',
  /**
   * The log's directory was taken offline after an I/O error (Kafka's KafkaStorageException):
   * nothing more is read, written or acknowledged from it until the broker restarts.
   */
  LOG_DIR_OFFLINE: 'STORAGE_LOG_DIR_OFFLINE',
  /**
   * A write found the disk full (ENOSPC/EDQUOT). The partial write was rolled back and the
   * log stays online: the request may be retried once space is freed.
   */
  NO_SPACE: 'STORAGE_NO_SPACE',
} as const;
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

export class StorageError extends Error {
  readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
    this.code = code;
  }
}

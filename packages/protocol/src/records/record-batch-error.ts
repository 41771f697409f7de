import { ErrorCode } from '../errors.js';

/** Stable string codes of {@link RecordBatchError}; each names one way a batch can be bad. */
export const RecordBatchErrorCode = {
  /** Fewer bytes than the batch header or its declared length. */
  TRUNCATED: 'TRB_RECORDS_TRUNCATED',
  /** batchLength below the header size or above the configured limit. */
  BAD_SIZE: 'TRB_RECORDS_BAD_SIZE',
  /** Magic 0 or 1 (message format v0/v1), which Kafka 4 no longer serves, or an unknown magic. */
  UNSUPPORTED_MAGIC: 'TRB_RECORDS_UNSUPPORTED_MAGIC',
  CRC_MISMATCH: 'TRB_RECORDS_CRC_MISMATCH',
  /** A record's framing (varints, lengths, counts, offset deltas) is inconsistent. */
  BAD_RECORD: 'TRB_RECORDS_BAD_RECORD',
  /** The compressed payload does not decompress, or decompresses past the size limit. */
  BAD_COMPRESSION: 'TRB_RECORDS_BAD_COMPRESSION',
  /** A control record whose key or value is not Kafka's control format. */
  BAD_CONTROL_RECORD: 'TRB_RECORDS_BAD_CONTROL_RECORD',
  /** The caller asked for something the API cannot do (for example zstd through a sync call). */
  INVALID_ARGUMENT: 'TRB_RECORDS_INVALID_ARGUMENT',
} as const;
export type RecordBatchErrorCode = (typeof RecordBatchErrorCode)[keyof typeof RecordBatchErrorCode];

/**
 * Raised when record batch bytes cannot be read or built. `errorCode` is the Kafka error
 * code a broker would answer with for the same problem, so a handler can turn a caught
 * error into a per-partition response without a second table.
 */
export class RecordBatchError extends Error {
  override readonly name = 'RecordBatchError';
  readonly code: RecordBatchErrorCode;
  readonly errorCode: number;
  /** Index of the offending record inside its batch, when one record is to blame. */
  readonly recordIndex: number | undefined;

  constructor(
    code: RecordBatchErrorCode,
    message: string,
    errorCode: number = ErrorCode.CORRUPT_MESSAGE,
    options?: { cause?: unknown; recordIndex?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errorCode = errorCode;
    this.recordIndex = options?.recordIndex;
  }
}

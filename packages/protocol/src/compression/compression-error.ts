/** Stable string codes of {@link CompressionError}. */
export const CompressionErrorCode = {
  /** Attribute bits 0-2 hold 5, 6 or 7, which name no codec. */
  UNKNOWN_CODEC: 'TRB_COMPRESSION_UNKNOWN_CODEC',
  /** The payload is not valid data for its codec (bad framing, corrupt block, truncated). */
  CORRUPT: 'TRB_COMPRESSION_CORRUPT',
  /** Decompressing would exceed the caller's limit: the guard against decompression bombs. */
  TOO_LARGE: 'TRB_COMPRESSION_TOO_LARGE',
  /** zstd has only an asynchronous binding here; a sync call cannot serve it. */
  ASYNC_ONLY: 'TRB_COMPRESSION_ASYNC_ONLY',
} as const;
export type CompressionErrorCode = (typeof CompressionErrorCode)[keyof typeof CompressionErrorCode];

export class CompressionError extends Error {
  override readonly name = 'CompressionError';
  readonly code: CompressionErrorCode;

  constructor(code: CompressionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A payload that is not valid data for its codec. */
export function corruptPayload(message: string, cause?: unknown): CompressionError {
  return new CompressionError(CompressionErrorCode.CORRUPT, message, cause === undefined ? undefined : { cause });
}

/** A payload whose declared sizes exceed the caller's limit: `what` names it, `claim` says how it does. */
export function payloadTooLarge(what: string, inputBytes: number, maxSize: number, claim = 'may decompress past'): CompressionError {
  return new CompressionError(CompressionErrorCode.TOO_LARGE, `${what} of ${inputBytes} bytes ${claim} the limit of ${maxSize} bytes`);
}

import { gunzip, gunzipSync, gzip, gzipSync } from 'node:zlib';

/**
 * Output step of inflation. zlib's default 16 KiB makes a large batch (or a decompression
 * bomb stopped at the size limit) cost thousands of callbacks on the main thread; 1 MiB
 * steps cut a 64 MiB inflate from ~340 ms to ~40 ms.
 */
const INFLATE_CHUNK_BYTES = 1024 * 1024;
/**
 * Largest output step of deflation, for the same reason: at zlib's 16 KiB, compressing a
 * 1 MiB batch on the thread pool still cost ~17 ms of event-loop time in output callbacks
 * (under load); at 1 MiB, ~3 ms. The step is sized to the input (deflate output is at most a
 * little larger), so a small batch does not allocate 1 MiB. The compressed bytes do not
 * depend on it.
 */
const DEFLATE_CHUNK_BYTES_MAX = 1024 * 1024;
/** zlib's own default step, the floor. */
const DEFLATE_CHUNK_BYTES_MIN = 16 * 1024;
/** Headroom for the gzip header, trailer and stored-block overhead of incompressible input. */
const DEFLATE_OVERHEAD_BYTES = 1024;
import { CompressionError, CompressionErrorCode } from './compression-error.js';

/**
 * gzip (compression type 1): RFC 1952 members through node:zlib, as Java's GZIPOutputStream
 * writes them. zlib's `maxOutputLength` stops inflation at the caller's limit, so a small
 * bomb never materialises its full output.
 */

export function gzipCompressSync(buf: Buffer): Buffer {
  return gzipSync(buf);
}

export function gzipCompress(buf: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunkSize = Math.min(DEFLATE_CHUNK_BYTES_MAX, Math.max(DEFLATE_CHUNK_BYTES_MIN, buf.length + DEFLATE_OVERHEAD_BYTES));
    gzip(buf, { chunkSize }, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

export function gzipDecompressSync(buf: Buffer, maxSize: number): Buffer {
  try {
    return gunzipSync(buf, { maxOutputLength: Math.max(1, maxSize), chunkSize: INFLATE_CHUNK_BYTES });
  } catch (err) {
    throw toCompressionError(err, buf.length, maxSize);
  }
}

export function gzipDecompress(buf: Buffer, maxSize: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(buf, { maxOutputLength: Math.max(1, maxSize), chunkSize: INFLATE_CHUNK_BYTES }, (err, out) =>
      err ? reject(toCompressionError(err, buf.length, maxSize)) : resolve(out),
    );
  });
}

function toCompressionError(err: unknown, inputBytes: number, maxSize: number): CompressionError {
  if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
    return new CompressionError(
      CompressionErrorCode.TOO_LARGE,
      `gzip payload of ${inputBytes} bytes inflates past the limit of ${maxSize} bytes`,
      { cause: err },
    );
  }
  return new CompressionError(
    CompressionErrorCode.CORRUPT,
    `gzip payload of ${inputBytes} bytes does not inflate: ${(err as Error).message}`,
    { cause: err },
  );
}

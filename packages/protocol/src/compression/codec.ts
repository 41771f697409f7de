import { CompressionType } from '../records/batch-layout.js';
import { CompressionError, CompressionErrorCode } from './compression-error.js';
import { gzipCompress, gzipCompressSync, gzipDecompress, gzipDecompressSync } from './gzip.js';
import { lz4Compress, lz4CompressSync, lz4DecompressSync } from './lz4.js';
import { snappyCompress, snappyCompressSync, snappyDecompressSync } from './snappy.js';
import { zstdCompress, zstdDecompress } from './zstd.js';

/**
 * One entry point per direction for the five codecs of a record batch's attribute bits 0-2.
 *
 * The async pair serves every codec (zstd has only an async binding; gzip runs on libuv's
 * thread pool). The sync pair serves none, gzip, snappy and lz4 and refuses zstd with
 * ASYNC_ONLY, so callers on a sync path can choose to handle zstd separately.
 * `maxSize` bounds the decompressed output; each codec enforces it before (snappy, lz4,
 * zstd: from declared sizes) or while (gzip: zlib's maxOutputLength) inflating.
 */

export function isSyncCompression(type: number): boolean {
  return type >= CompressionType.NONE && type <= CompressionType.LZ4;
}

export function compressionName(type: number): string {
  return ['none', 'gzip', 'snappy', 'lz4', 'zstd'][type] ?? `unknown(${type})`;
}

export function compressSync(type: number, buf: Buffer): Buffer {
  switch (type) {
    case CompressionType.NONE:
      return buf;
    case CompressionType.GZIP:
      return gzipCompressSync(buf);
    case CompressionType.SNAPPY:
      return snappyCompressSync(buf);
    case CompressionType.LZ4:
      return lz4CompressSync(buf);
    case CompressionType.ZSTD:
      throw asyncOnly();
    default:
      throw unknownCodec(type);
  }
}

export function decompressSync(type: number, buf: Buffer, maxSize: number): Buffer {
  switch (type) {
    case CompressionType.NONE:
      if (buf.length > maxSize) throw noneTooLarge(buf.length, maxSize);
      return buf;
    case CompressionType.GZIP:
      return gzipDecompressSync(buf, maxSize);
    case CompressionType.SNAPPY:
      return snappyDecompressSync(buf, maxSize);
    case CompressionType.LZ4:
      return lz4DecompressSync(buf, maxSize);
    case CompressionType.ZSTD:
      throw asyncOnly();
    default:
      throw unknownCodec(type);
  }
}

/**
 * Inputs from this size up are compressed with snappy and lz4 on libuv's thread pool by the
 * async compress(). Below it the hop to a thread costs more than compressing in place
 * (one 64 KiB lz4 block takes about 0.5 ms on the loop; a thread-pool round trip about
 * 0.05 ms but it delays the answer by a loop turn); above it a 1 MiB batch would hold the
 * loop for 10-20 ms (docs/benchmarks.md, "Recompression").
 */
export const OFF_LOOP_COMPRESSION_MIN_BYTES = 64 * 1024;

/** Every codec; gzip, zstd and (above OFF_LOOP_COMPRESSION_MIN_BYTES) snappy and lz4 compress off the event loop. */
export async function compress(type: number, buf: Buffer): Promise<Buffer> {
  if (type === CompressionType.GZIP) return gzipCompress(buf);
  if (type === CompressionType.ZSTD) return zstdCompress(buf);
  if (buf.length >= OFF_LOOP_COMPRESSION_MIN_BYTES) {
    if (type === CompressionType.LZ4) return lz4Compress(buf);
    if (type === CompressionType.SNAPPY) return snappyCompress(buf);
  }
  return compressSync(type, buf);
}

export async function decompress(type: number, buf: Buffer, maxSize: number): Promise<Buffer> {
  if (type === CompressionType.GZIP) return gzipDecompress(buf, maxSize);
  if (type === CompressionType.ZSTD) return zstdDecompress(buf, maxSize);
  return decompressSync(type, buf, maxSize);
}

function asyncOnly(): CompressionError {
  return new CompressionError(
    CompressionErrorCode.ASYNC_ONLY,
    'zstd has only an asynchronous binding; use compress()/decompress() instead of the sync variants',
  );
}

function unknownCodec(type: number): CompressionError {
  return new CompressionError(
    CompressionErrorCode.UNKNOWN_CODEC,
    `compression type ${type} is not one of 0 (none), 1 (gzip), 2 (snappy), 3 (lz4), 4 (zstd)`,
  );
}

function noneTooLarge(size: number, maxSize: number): CompressionError {
  return new CompressionError(CompressionErrorCode.TOO_LARGE, `payload of ${size} bytes exceeds the limit of ${maxSize} bytes`);
}

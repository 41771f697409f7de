import { snappyLib } from './native.js';
import { CompressionError, corruptPayload, payloadTooLarge } from './compression-error.js';

const tooLarge = (inputBytes: number, maxSize: number): CompressionError => payloadTooLarge('snappy payload', inputBytes, maxSize, 'declares more than');

/**
 * Snappy (compression type 2) in the xerial framing that Kafka's Java client writes through
 * org.xerial.snappy.SnappyOutputStream:
 *
 *   offset  size  field
 *   0       8     magic            0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
 *   8       4     version          int32 BE, 1
 *   12      4     compatVersion    int32 BE, 1
 *   16      ...   chunks: [int32 BE compressedLength][raw snappy block], each block holding
 *                 at most 32 KiB of input (SnappyOutputStream's default block size)
 *
 * Readers must also accept a bare raw snappy block (no header): Java's SnappyInputStream
 * falls back to that when the magic is absent, and librdkafka has produced it. A raw block
 * starts with its uncompressed length as a little-endian base-128 varint, which lets the
 * size guard run before anything is decompressed.
 */

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;
const XERIAL_VERSION = 1;
const XERIAL_COMPAT_VERSION = 1;
/** SnappyOutputStream.DEFAULT_BLOCK_SIZE: matching it keeps our output shaped like Java's. */
export const SNAPPY_XERIAL_BLOCK_SIZE = 32 * 1024;

export function snappyCompressSync(buf: Buffer): Buffer {
  return xerialFrame(xerialChunks(buf).map((chunk) => snappyLib().compressSync(chunk)));
}

/**
 * The same framing, its blocks compressed on libuv's thread pool (snappy's async API), so
 * that a large batch does not hold the event loop. The caller must not change `buf` until
 * the promise settles.
 */
export async function snappyCompress(buf: Buffer): Promise<Buffer> {
  return xerialFrame(await Promise.all(xerialChunks(buf).map((chunk) => snappyLib().compress(chunk))));
}

function xerialChunks(buf: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < buf.length; at += SNAPPY_XERIAL_BLOCK_SIZE) chunks.push(buf.subarray(at, Math.min(buf.length, at + SNAPPY_XERIAL_BLOCK_SIZE)));
  return chunks;
}

function xerialFrame(blocks: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.allocUnsafe(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_COMPAT_VERSION, 12);
  parts.push(header);
  for (const block of blocks) {
    const length = Buffer.allocUnsafe(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

export function isXerialFramed(buf: Buffer): boolean {
  return buf.length >= XERIAL_MAGIC.length && buf.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

export function snappyDecompressSync(buf: Buffer, maxSize: number): Buffer {
  if (!isXerialFramed(buf)) return decompressRawBlock(buf, maxSize);
  if (buf.length < XERIAL_HEADER_SIZE) {
    throw corruptPayload(`xerial snappy header needs ${XERIAL_HEADER_SIZE} bytes, payload has ${buf.length}`);
  }
  // First pass: check the framing and add up the declared sizes, so the limit holds before
  // any block is inflated.
  const blocks: Buffer[] = [];
  let total = 0;
  let at = XERIAL_HEADER_SIZE;
  while (at < buf.length) {
    if (at + 4 > buf.length) throw corruptPayload(`xerial snappy chunk length at byte ${at} is truncated`);
    const length = buf.readInt32BE(at);
    at += 4;
    if (length < 0 || at + length > buf.length) {
      throw corruptPayload(`xerial snappy chunk at byte ${at - 4} declares ${length} bytes, ${buf.length - at} remain`);
    }
    const block = buf.subarray(at, at + length);
    total += rawUncompressedLength(block);
    if (total > maxSize) throw tooLarge(buf.length, maxSize);
    blocks.push(block);
    at += length;
  }
  const out = Buffer.allocUnsafe(total);
  let written = 0;
  for (const block of blocks) {
    const plain = inflateBlock(block);
    plain.copy(out, written);
    written += plain.length;
  }
  return out;
}

function decompressRawBlock(buf: Buffer, maxSize: number): Buffer {
  if (rawUncompressedLength(buf) > maxSize) throw tooLarge(buf.length, maxSize);
  return inflateBlock(buf);
}

function inflateBlock(block: Buffer): Buffer {
  const declared = rawUncompressedLength(block);
  let plain: Buffer;
  try {
    plain = snappyLib().uncompressSync(block, { asBuffer: true }) as Buffer;
  } catch (err) {
    throw corruptPayload(`snappy block of ${block.length} bytes does not decompress: ${(err as Error).message}`, err);
  }
  if (plain.length !== declared) {
    throw corruptPayload(`snappy block declared ${declared} bytes but produced ${plain.length}`);
  }
  return plain;
}

/** The varint (at most 5 bytes, uint32) that opens every raw snappy block. */
function rawUncompressedLength(block: Buffer): number {
  let result = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw corruptPayload(`snappy block length varint is truncated (${block.length} bytes)`);
    const b = block[i]!;
    result += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return result;
  }
  throw corruptPayload('snappy block length varint is longer than 5 bytes');
}



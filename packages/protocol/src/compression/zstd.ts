import { zstdLib } from './native.js';
import { CompressionError, CompressionErrorCode, corruptPayload, payloadTooLarge } from './compression-error.js';

const tooLarge = (inputBytes: number, maxSize: number): CompressionError => payloadTooLarge('zstd payload', inputBytes, maxSize);

/**
 * zstd (compression type 4, produce v7+). The only binding that installs here
 * (@mongodb-js/zstd 1.2.2) is asynchronous, so every zstd path returns a promise.
 *
 * The binding has no output limit, so the size guard walks the frames first (RFC 8878):
 *
 *   frame:  magic 0xFD2FB528 (LE) | FHD | [window descriptor] | [dict id] | [content size]
 *           | blocks | [content checksum, 4]
 *   FHD:    bits 7-6 content-size field flag, bit 5 single segment, bit 3 reserved (0),
 *           bit 2 content checksum, bits 1-0 dictionary id flag
 *   block:  3-byte LE header: bit 0 last block, bits 1-2 type (0 raw, 1 RLE, 2 compressed,
 *           3 reserved), bits 3-23 size
 *
 * A raw block regenerates `size` bytes, an RLE block `size` bytes from one input byte, and a
 * compressed block at most min(window size, 128 KiB). Their sum bounds the output without
 * inflating anything. Skippable frames (magic 0x184D2A50..5F) are stepped over.
 */

const FRAME_MAGIC = 0xfd2fb528;
const BLOCK_SIZE_MAX = 128 * 1024;

export function zstdCompress(buf: Buffer): Promise<Buffer> {
  return zstdLib().compress(buf);
}

export async function zstdDecompress(buf: Buffer, maxSize: number): Promise<Buffer> {
  zstdOutputBound(buf, maxSize);
  let out: Buffer;
  try {
    out = await zstdLib().decompress(buf);
  } catch (err) {
    throw new CompressionError(
      CompressionErrorCode.CORRUPT,
      `zstd payload of ${buf.length} bytes does not decompress: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (out.length > maxSize) throw tooLarge(buf.length, maxSize);
  return out;
}

/** Walks every frame; throws if the framing is broken or the output could pass `maxSize`. */
export function zstdOutputBound(buf: Buffer, maxSize: number): number {
  let bound = 0;
  let at = 0;
  if (buf.length === 0) throw corruptPayload('zstd payload is empty');
  while (at < buf.length) {
    if (at + 4 > buf.length) throw corruptPayload(`zstd frame magic at byte ${at} is truncated`);
    const magic = buf.readUInt32LE(at);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      if (at + 8 > buf.length) throw corruptPayload(`zstd skippable frame at byte ${at} is truncated`);
      at += 8 + buf.readUInt32LE(at + 4);
      if (at > buf.length) throw corruptPayload('zstd skippable frame runs past the end of the payload');
      continue;
    }
    if (magic !== FRAME_MAGIC) throw corruptPayload(`zstd frame magic at byte ${at} is 0x${magic.toString(16)}`);
    at += 4;
    if (at >= buf.length) throw corruptPayload('zstd frame header is truncated');
    const fhd = buf[at++]!;
    if ((fhd & 0x08) !== 0) throw corruptPayload('zstd frame header sets the reserved bit');
    const singleSegment = (fhd & 0x20) !== 0;
    const fcsFlag = fhd >>> 6;
    const dictIdSize = [0, 1, 2, 4][fhd & 0x03]!;
    const fcsSize = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
    let windowSize = Infinity;
    if (!singleSegment) {
      if (at >= buf.length) throw corruptPayload('zstd window descriptor is truncated');
      const wd = buf[at++]!;
      const windowBase = 2 ** (10 + (wd >>> 3));
      windowSize = windowBase + (windowBase / 8) * (wd & 0x07);
    }
    at += dictIdSize;
    if (at + fcsSize > buf.length) throw corruptPayload('zstd frame header is truncated');
    if (fcsSize > 0) {
      const contentSize = readContentSize(buf, at, fcsSize);
      if (bound + contentSize > maxSize) throw tooLarge(buf.length, maxSize);
      if (singleSegment) windowSize = contentSize;
    }
    at += fcsSize;
    const blockMax = Math.min(windowSize, BLOCK_SIZE_MAX);
    for (;;) {
      if (at + 3 > buf.length) throw corruptPayload(`zstd block header at byte ${at} is truncated`);
      const header = buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16);
      at += 3;
      const last = (header & 1) !== 0;
      const type = (header >>> 1) & 0x03;
      const size = header >>> 3;
      if (type === 3) throw corruptPayload(`zstd block at byte ${at - 3} has the reserved type`);
      if (size > BLOCK_SIZE_MAX) throw corruptPayload(`zstd block at byte ${at - 3} declares ${size} bytes`);
      if (type === 1) {
        at += 1;
        bound += size;
      } else {
        at += size;
        bound += type === 0 ? size : blockMax;
      }
      if (at > buf.length) throw corruptPayload('zstd block runs past the end of the payload');
      // One block of slack: the last block of a frame is usually short, and the decoded
      // length is checked exactly afterwards.
      if (bound > maxSize + BLOCK_SIZE_MAX) throw tooLarge(buf.length, maxSize);
      if (last) break;
    }
    if ((fhd & 0x04) !== 0) {
      at += 4;
      if (at > buf.length) throw corruptPayload('zstd content checksum is truncated');
    }
  }
  return bound;
}

/** Frame_Content_Size: 1, 2 (stored minus 256), 4 or 8 bytes, little-endian. */
function readContentSize(buf: Buffer, at: number, size: number): number {
  if (size === 1) return buf[at]!;
  if (size === 2) return buf.readUInt16LE(at) + 256;
  if (size === 4) return buf.readUInt32LE(at);
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 4294967296;
}



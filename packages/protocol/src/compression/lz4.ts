import { lz4Lib } from './native.js';
import { CompressionError, CompressionErrorCode, corruptPayload, payloadTooLarge } from './compression-error.js';

const tooLarge = (inputBytes: number, maxSize: number): CompressionError => payloadTooLarge('lz4 frame', inputBytes, maxSize);

/**
 * LZ4 (compression type 3) in the LZ4 *frame* format, written the way Kafka's Java
 * Lz4BlockOutputStream writes it:
 *
 *   offset  size  field
 *   0       4     magic      0x184D2204, little-endian (04 22 4D 18)
 *   4       1     FLG        0x60: version 01, block independence; no checksums, no content size
 *   5       1     BD         0x40: block maximum size 64 KiB
 *   6       1     HC         (xxh32(FLG, BD) >> 8) & 0xff = 0x82
 *   7       ...   blocks: [uint32 LE size | 0x80000000 if stored uncompressed][data]
 *   ...     4     end mark   0x00000000 (Java writes no content checksum)
 *
 * lz4-napi's own frame writer picks 256 KiB blocks; Java and librdkafka accept those too, but
 * building the frame here from raw blocks keeps the output identical in shape to Java's.
 *
 * Reading accepts any valid frame (other block sizes, content size, block or content
 * checksums, linked blocks, which Java would refuse but librdkafka may read). Before
 * inflating, the frame is walked: every block decodes to at most the block maximum size, so
 * (compressed blocks x block maximum) + stored bytes bounds the output and the size guard
 * runs on that bound (with one block of slack for the short last block; the exact output
 * length is checked after decoding). A frame that flushes many short blocks can therefore be
 * refused although its real output fits; producers (Java, librdkafka) fill every block but
 * the last.
 */

const FRAME_MAGIC = 0x184d2204;
const KAFKA_FRAME_HEADER = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
/** Java's Lz4BlockOutputStream.BLOCKSIZE_64KB. */
export const LZ4_KAFKA_BLOCK_SIZE = 64 * 1024;
const UNCOMPRESSED_BIT = 0x80000000;
const END_MARK = Buffer.alloc(4);

export function lz4CompressSync(buf: Buffer): Buffer {
  const chunks = lz4Chunks(buf);
  return lz4Frame(chunks, chunks.map((chunk) => lz4Lib().compressSync(chunk)));
}

/**
 * The same frame, its blocks compressed on libuv's thread pool (lz4-napi's async API), so
 * that a large batch does not hold the event loop (about 10 ms per MiB on the loop).
 * The caller must not change `buf` until the promise settles.
 */
export async function lz4Compress(buf: Buffer): Promise<Buffer> {
  const chunks = lz4Chunks(buf);
  return lz4Frame(chunks, await Promise.all(chunks.map((chunk) => lz4Lib().compress(chunk))));
}

function lz4Chunks(buf: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < buf.length; at += LZ4_KAFKA_BLOCK_SIZE) chunks.push(buf.subarray(at, Math.min(buf.length, at + LZ4_KAFKA_BLOCK_SIZE)));
  return chunks;
}

/** `compressed[i]` is lz4-napi's output for `chunks[i]`: a raw block behind its uncompressed size. */
function lz4Frame(chunks: Buffer[], compressed: Buffer[]): Buffer {
  const parts: Buffer[] = [KAFKA_FRAME_HEADER];
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    // lz4-napi's block API prefixes the block with its uncompressed size (uint32 LE); the
    // frame format does not carry it, so the prefix is dropped.
    const block = compressed[i]!.subarray(4);
    const size = Buffer.allocUnsafe(4);
    if (block.length < chunk.length) {
      size.writeUInt32LE(block.length, 0);
      parts.push(size, block);
    } else {
      // Incompressible: store the bytes as they are, as the format (and Java) does.
      size.writeUInt32LE((chunk.length | UNCOMPRESSED_BIT) >>> 0, 0);
      parts.push(size, chunk);
    }
  }
  parts.push(END_MARK);
  return Buffer.concat(parts);
}

export function lz4DecompressSync(buf: Buffer, maxSize: number): Buffer {
  const frameEnd = walkFrame(buf, maxSize);
  let out: Buffer;
  try {
    // Bytes after the end of the first frame are ignored, as Java's Lz4BlockInputStream does.
    out = lz4Lib().decompressFrameSync(frameEnd === buf.length ? buf : buf.subarray(0, frameEnd));
  } catch (err) {
    throw new CompressionError(
      CompressionErrorCode.CORRUPT,
      `lz4 frame of ${buf.length} bytes does not decompress: ${String((err as Error)?.message ?? err)}`,
      { cause: err },
    );
  }
  if (out.length > maxSize) throw tooLarge(buf.length, maxSize);
  return out;
}

/**
 * Checks the frame structure and the output bound; returns the offset just past the frame.
 */
function walkFrame(buf: Buffer, maxSize: number): number {
  if (buf.length < 7) throw corruptPayload(`lz4 frame needs at least 7 bytes, payload has ${buf.length}`);
  if (buf.readUInt32LE(0) !== FRAME_MAGIC) {
    throw corruptPayload(`lz4 frame magic is 0x${buf.readUInt32LE(0).toString(16)}, expected 0x184d2204`);
  }
  const flg = buf[4]!;
  const bd = buf[5]!;
  if (flg >>> 6 !== 1) throw corruptPayload(`lz4 frame version is ${flg >>> 6}, expected 1`);
  if ((flg & 0x03) !== 0) throw corruptPayload('lz4 frame uses a dictionary id or reserved FLG bit, which Kafka never writes');
  const blockSizeId = (bd >>> 4) & 0x07;
  if (blockSizeId < 4 || (bd & 0x8f) !== 0) throw corruptPayload(`lz4 frame BD byte 0x${bd.toString(16)} is invalid`);
  const blockMax = 1 << (2 * blockSizeId + 8);
  const blockChecksums = (flg & 0x10) !== 0;
  const contentSizePresent = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;

  let at = 6;
  if (contentSizePresent) {
    if (at + 8 > buf.length) throw corruptPayload('lz4 frame content size is truncated');
    const contentSize = buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 4294967296;
    if (contentSize > maxSize) throw tooLarge(buf.length, maxSize);
    at += 8;
  }
  at += 1; // HC, verified by the decoder

  let bound = 0;
  for (;;) {
    if (at + 4 > buf.length) throw corruptPayload(`lz4 block size at byte ${at} is truncated`);
    const word = buf.readUInt32LE(at);
    at += 4;
    if (word === 0) break;
    const stored = (word & UNCOMPRESSED_BIT) !== 0;
    const size = word & 0x7fffffff;
    if (size > blockMax) throw corruptPayload(`lz4 block at byte ${at - 4} has ${size} bytes, above the frame's ${blockMax}`);
    at += size + (blockChecksums ? 4 : 0);
    if (at > buf.length) throw corruptPayload(`lz4 block of ${size} bytes runs past the end of the payload`);
    bound += stored ? size : blockMax;
    // The last block is usually short, so allow one block of slack here; the decoded
    // length is checked exactly afterwards.
    if (bound > maxSize + blockMax) throw tooLarge(buf.length, maxSize);
  }
  if (contentChecksum) {
    at += 4;
    if (at > buf.length) throw corruptPayload('lz4 frame content checksum is truncated');
  }
  return at;
}



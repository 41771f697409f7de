/**
 * LZ4 frames inside message format v0 (magic 0) wrappers. Kafka before 0.10 computed the
 * frame descriptor's header checksum (HC) over the frame's magic number as well as its
 * descriptor (KAFKA-3160); clients of that era (and Kafka, for magic 0) still write it so,
 * and Kafka ignores the HC when reading magic 0. lz4-napi checks it, so a frame read from
 * a magic 0 wrapper gets the standard HC first, and one written into a magic 0 wrapper
 * gets Kafka's.
 *
 *   offset  size  field
 *   0       4     frame magic 0x184D2204 (little-endian)
 *   4       1     FLG (bit 3: an 8-byte content size follows BD)
 *   5       1     BD
 *   6|14    1     HC = (xxh32(descriptor) >> 8) & 0xff; magic 0: xxh32(magic + descriptor)
 */
const LZ4_FRAME_MAGIC_SIZE = 4;
const LZ4_FLG_CONTENT_SIZE = 0x08;

/** Where the frame's header checksum byte is, and the descriptor it covers. */
function lz4Descriptor(frame: Buffer): { hcAt: number } | undefined {
  if (frame.length < LZ4_FRAME_MAGIC_SIZE + 3) return undefined;
  const flg = frame[LZ4_FRAME_MAGIC_SIZE]!;
  const descriptorSize = 2 + ((flg & LZ4_FLG_CONTENT_SIZE) !== 0 ? 8 : 0);
  const hcAt = LZ4_FRAME_MAGIC_SIZE + descriptorSize;
  return hcAt < frame.length ? { hcAt } : undefined;
}

/** A magic 0 LZ4 frame with the header checksum the frame format defines, for our decoder. */
export function withFixedLz4HeaderChecksum(frame: Buffer): Buffer {
  const d = lz4Descriptor(frame);
  if (d === undefined) return frame;
  const out = Buffer.from(frame);
  out[d.hcAt] = (xxh32Short(out.subarray(LZ4_FRAME_MAGIC_SIZE, d.hcAt)) >>> 8) & 0xff;
  return out;
}

/** Kafka's magic 0 LZ4 header checksum: over the frame magic number and the descriptor. */
export function withBrokenLz4HeaderChecksum(frame: Buffer): Buffer {
  const d = lz4Descriptor(frame);
  if (d === undefined) return frame;
  const out = Buffer.from(frame);
  out[d.hcAt] = (xxh32Short(out.subarray(0, d.hcAt)) >>> 8) & 0xff;
  return out;
}

const PRIME1 = 0x9e3779b1;
const PRIME2 = 0x85ebca77;
const PRIME3 = 0xc2b2ae3d;
const PRIME4 = 0x27d4eb2f;
const PRIME5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

/** XXH32 with seed 0 of fewer than 16 bytes (an LZ4 frame descriptor, at most 14). */
export function xxh32Short(input: Uint8Array): number {
  if (input.length >= 16) throw new RangeError(`xxh32Short takes fewer than 16 bytes, got ${input.length}`);
  let h = (PRIME5 + input.length) >>> 0;
  let i = 0;
  for (; i + 4 <= input.length; i += 4) {
    const word = (input[i]! | (input[i + 1]! << 8) | (input[i + 2]! << 16) | (input[i + 3]! << 24)) >>> 0;
    h = (h + Math.imul(word, PRIME3)) >>> 0;
    h = Math.imul(rotl(h, 17), PRIME4) >>> 0;
  }
  for (; i < input.length; i++) {
    h = (h + Math.imul(input[i]!, PRIME5)) >>> 0;
    h = Math.imul(rotl(h, 11), PRIME1) >>> 0;
  }
  h ^= h >>> 15;
  h = Math.imul(h, PRIME2) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, PRIME3) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

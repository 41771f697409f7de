/**
 * MD5 (RFC 1321) of a byte range, into four int32 words, allocating nothing: the cleaner
 * hashes every key it reads twice (offset map, then the copy), and node:crypto's one-shot
 * hash costs a native call and a Buffer per key, which made hashing the largest single
 * cost of a clean of small keys (bench/micro/cleaner.ts). Keys are short, so one or two
 * 64-byte blocks in plain int32 arithmetic are cheaper than the call. The digest is MD5,
 * Kafka's log.cleaner hash, byte for byte: `out` holds its 16 bytes as four little-endian
 * int32s (A, B, C, D). log-cleaner-md5.test.ts checks it against node:crypto.
 */

/** Per-step left rotations. */
const S = Int32Array.from([7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]);
/** K[i] = floor(|sin(i + 1)| * 2^32). */
const K = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);
/** Message word used by each step. */
const G = Int32Array.from({ length: 64 }, (_, i) => (i < 16 ? i : i < 32 ? (5 * i + 1) % 16 : i < 48 ? (3 * i + 5) % 16 : (7 * i) % 16));

/** The block being hashed, as 16 little-endian words (one per module: the cleaner is single-threaded per worker). */
const M = new Int32Array(16);
/** The padded tail (one or two blocks). */
const TAIL = new Uint8Array(128);

/** Chaining values A, B, C, D between blocks. */
const H = new Int32Array(4);

/** Writes MD5(buf[start, end)) into out[0..3]. */
export function md5Into(buf: Uint8Array, start: number, end: number, out: Int32Array): void {
  H[0] = 0x67452301;
  H[1] = 0xefcdab89 | 0;
  H[2] = 0x98badcfe | 0;
  H[3] = 0x10325476;
  const length = end - start;
  let at = start;
  // Whole blocks straight from the input.
  while (end - at >= 64) {
    for (let w = 0; w < 16; w++, at += 4) M[w] = buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24);
    block();
  }
  // The rest, 0x80, zeros, and the bit length (little-endian 64-bit) in one or two blocks.
  const rest = end - at;
  const tailBytes = rest < 56 ? 64 : 128;
  TAIL.fill(0, 0, tailBytes);
  for (let i = 0; i < rest; i++) TAIL[i] = buf[at + i]!;
  TAIL[rest] = 0x80;
  const bits = length * 8;
  const lo = bits >>> 0;
  const hi = Math.floor(bits / 2 ** 32) >>> 0;
  TAIL[tailBytes - 8] = lo & 0xff;
  TAIL[tailBytes - 7] = (lo >>> 8) & 0xff;
  TAIL[tailBytes - 6] = (lo >>> 16) & 0xff;
  TAIL[tailBytes - 5] = lo >>> 24;
  TAIL[tailBytes - 4] = hi & 0xff;
  TAIL[tailBytes - 3] = (hi >>> 8) & 0xff;
  TAIL[tailBytes - 2] = (hi >>> 16) & 0xff;
  TAIL[tailBytes - 1] = hi >>> 24;
  for (let t = 0; t < tailBytes; t += 64) {
    for (let w = 0, p = t; w < 16; w++, p += 4) M[w] = TAIL[p]! | (TAIL[p + 1]! << 8) | (TAIL[p + 2]! << 16) | (TAIL[p + 3]! << 24);
    block();
  }
  out[0] = H[0]!;
  out[1] = H[1]!;
  out[2] = H[2]!;
  out[3] = H[3]!;
}

/** The 64 steps over M, added into H; one loop per round so no step branches. */
function block(): void {
  let a = H[0]!;
  let b = H[1]!;
  let c = H[2]!;
  let d = H[3]!;
  let sum: number;
  let s: number;
  let t: number;
  for (let i = 0; i < 16; i++) {
    sum = (a + ((b & c) | (~b & d)) + K[i]! + M[i]!) | 0;
    s = S[i]!;
    t = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
    a = t;
  }
  for (let i = 16; i < 32; i++) {
    sum = (a + ((d & b) | (~d & c)) + K[i]! + M[G[i]!]!) | 0;
    s = S[i]!;
    t = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
    a = t;
  }
  for (let i = 32; i < 48; i++) {
    sum = (a + (b ^ c ^ d) + K[i]! + M[G[i]!]!) | 0;
    s = S[i]!;
    t = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
    a = t;
  }
  for (let i = 48; i < 64; i++) {
    sum = (a + (c ^ (b | ~d)) + K[i]! + M[G[i]!]!) | 0;
    s = S[i]!;
    t = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
    a = t;
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
}

/**
 * MD5 (RFC 1321) of a byte range, into four int32 words, allocating nothing: the cleaner
 * hashes every key it reads twice (offset map, then the copy), and node:crypto's one-shot
 * hash costs a native call and a Buffer per key, which made hashing the largest single
 * cost of a clean of small keys (bench/micro/cleaner.ts). Keys are short, so one or two
 * 64-byte blocks in plain int32 arithmetic are cheaper than the call. The digest is MD5,
 * Kafka's log.cleaner hash, byte for byte: `out` holds its 16 bytes as four little-endian
 * int32s (A, B, C, D). log-cleaner-md5.test.ts checks it against node:crypto.
 */

/** The block being hashed, as 16 little-endian words (one per module: the cleaner is single-threaded per worker). */
const M = new Int32Array(16);

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
  // The rest, 0x80, zeros and the bit length (little-endian 64-bit), in one block or two.
  const rest = end - at;
  M.fill(0);
  for (let i = 0; i < rest; i++) M[i >> 2]! |= buf[at + i]! << ((i & 3) * 8);
  M[rest >> 2]! |= 0x80 << ((rest & 3) * 8);
  const bits = length * 8;
  if (rest >= 56) {
    block();
    M.fill(0);
  }
  M[14] = bits | 0;
  M[15] = Math.floor(bits / 2 ** 32) | 0;
  block();
  out[0] = H[0]!;
  out[1] = H[1]!;
  out[2] = H[2]!;
  out[3] = H[3]!;
}

/** The 64 steps over M, added into H, unrolled (RFC 1321's order: each step updates the
 * variable in turn a, d, c, b). Generated once from the RFC's tables; md5 test vectors in
 * log-cleaner-read.test.ts check it against node:crypto. */
function block(): void {
  let a = H[0]!;
  let b = H[1]!;
  let c = H[2]!;
  let d = H[3]!;
  let t: number;
  const m0 = M[0]!;
  const m1 = M[1]!;
  const m2 = M[2]!;
  const m3 = M[3]!;
  const m4 = M[4]!;
  const m5 = M[5]!;
  const m6 = M[6]!;
  const m7 = M[7]!;
  const m8 = M[8]!;
  const m9 = M[9]!;
  const m10 = M[10]!;
  const m11 = M[11]!;
  const m12 = M[12]!;
  const m13 = M[13]!;
  const m14 = M[14]!;
  const m15 = M[15]!;
  t = (a + ((b & c) | (~b & d)) + m0 + -680876936) | 0;
  a = (b + ((t << 7) | (t >>> 25))) | 0;
  t = (d + ((a & b) | (~a & c)) + m1 + -389564586) | 0;
  d = (a + ((t << 12) | (t >>> 20))) | 0;
  t = (c + ((d & a) | (~d & b)) + m2 + 0x242070db) | 0;
  c = (d + ((t << 17) | (t >>> 15))) | 0;
  t = (b + ((c & d) | (~c & a)) + m3 + -1044525330) | 0;
  b = (c + ((t << 22) | (t >>> 10))) | 0;
  t = (a + ((b & c) | (~b & d)) + m4 + -176418897) | 0;
  a = (b + ((t << 7) | (t >>> 25))) | 0;
  t = (d + ((a & b) | (~a & c)) + m5 + 0x4787c62a) | 0;
  d = (a + ((t << 12) | (t >>> 20))) | 0;
  t = (c + ((d & a) | (~d & b)) + m6 + -1473231341) | 0;
  c = (d + ((t << 17) | (t >>> 15))) | 0;
  t = (b + ((c & d) | (~c & a)) + m7 + -45705983) | 0;
  b = (c + ((t << 22) | (t >>> 10))) | 0;
  t = (a + ((b & c) | (~b & d)) + m8 + 0x698098d8) | 0;
  a = (b + ((t << 7) | (t >>> 25))) | 0;
  t = (d + ((a & b) | (~a & c)) + m9 + -1958414417) | 0;
  d = (a + ((t << 12) | (t >>> 20))) | 0;
  t = (c + ((d & a) | (~d & b)) + m10 + -42063) | 0;
  c = (d + ((t << 17) | (t >>> 15))) | 0;
  t = (b + ((c & d) | (~c & a)) + m11 + -1990404162) | 0;
  b = (c + ((t << 22) | (t >>> 10))) | 0;
  t = (a + ((b & c) | (~b & d)) + m12 + 0x6b901122) | 0;
  a = (b + ((t << 7) | (t >>> 25))) | 0;
  t = (d + ((a & b) | (~a & c)) + m13 + -40341101) | 0;
  d = (a + ((t << 12) | (t >>> 20))) | 0;
  t = (c + ((d & a) | (~d & b)) + m14 + -1502002290) | 0;
  c = (d + ((t << 17) | (t >>> 15))) | 0;
  t = (b + ((c & d) | (~c & a)) + m15 + 0x49b40821) | 0;
  b = (c + ((t << 22) | (t >>> 10))) | 0;
  t = (a + ((d & b) | (~d & c)) + m1 + -165796510) | 0;
  a = (b + ((t << 5) | (t >>> 27))) | 0;
  t = (d + ((c & a) | (~c & b)) + m6 + -1069501632) | 0;
  d = (a + ((t << 9) | (t >>> 23))) | 0;
  t = (c + ((b & d) | (~b & a)) + m11 + 0x265e5a51) | 0;
  c = (d + ((t << 14) | (t >>> 18))) | 0;
  t = (b + ((a & c) | (~a & d)) + m0 + -373897302) | 0;
  b = (c + ((t << 20) | (t >>> 12))) | 0;
  t = (a + ((d & b) | (~d & c)) + m5 + -701558691) | 0;
  a = (b + ((t << 5) | (t >>> 27))) | 0;
  t = (d + ((c & a) | (~c & b)) + m10 + 0x2441453) | 0;
  d = (a + ((t << 9) | (t >>> 23))) | 0;
  t = (c + ((b & d) | (~b & a)) + m15 + -660478335) | 0;
  c = (d + ((t << 14) | (t >>> 18))) | 0;
  t = (b + ((a & c) | (~a & d)) + m4 + -405537848) | 0;
  b = (c + ((t << 20) | (t >>> 12))) | 0;
  t = (a + ((d & b) | (~d & c)) + m9 + 0x21e1cde6) | 0;
  a = (b + ((t << 5) | (t >>> 27))) | 0;
  t = (d + ((c & a) | (~c & b)) + m14 + -1019803690) | 0;
  d = (a + ((t << 9) | (t >>> 23))) | 0;
  t = (c + ((b & d) | (~b & a)) + m3 + -187363961) | 0;
  c = (d + ((t << 14) | (t >>> 18))) | 0;
  t = (b + ((a & c) | (~a & d)) + m8 + 0x455a14ed) | 0;
  b = (c + ((t << 20) | (t >>> 12))) | 0;
  t = (a + ((d & b) | (~d & c)) + m13 + -1444681467) | 0;
  a = (b + ((t << 5) | (t >>> 27))) | 0;
  t = (d + ((c & a) | (~c & b)) + m2 + -51403784) | 0;
  d = (a + ((t << 9) | (t >>> 23))) | 0;
  t = (c + ((b & d) | (~b & a)) + m7 + 0x676f02d9) | 0;
  c = (d + ((t << 14) | (t >>> 18))) | 0;
  t = (b + ((a & c) | (~a & d)) + m12 + -1926607734) | 0;
  b = (c + ((t << 20) | (t >>> 12))) | 0;
  t = (a + (b ^ c ^ d) + m5 + -378558) | 0;
  a = (b + ((t << 4) | (t >>> 28))) | 0;
  t = (d + (a ^ b ^ c) + m8 + -2022574463) | 0;
  d = (a + ((t << 11) | (t >>> 21))) | 0;
  t = (c + (d ^ a ^ b) + m11 + 0x6d9d6122) | 0;
  c = (d + ((t << 16) | (t >>> 16))) | 0;
  t = (b + (c ^ d ^ a) + m14 + -35309556) | 0;
  b = (c + ((t << 23) | (t >>> 9))) | 0;
  t = (a + (b ^ c ^ d) + m1 + -1530992060) | 0;
  a = (b + ((t << 4) | (t >>> 28))) | 0;
  t = (d + (a ^ b ^ c) + m4 + 0x4bdecfa9) | 0;
  d = (a + ((t << 11) | (t >>> 21))) | 0;
  t = (c + (d ^ a ^ b) + m7 + -155497632) | 0;
  c = (d + ((t << 16) | (t >>> 16))) | 0;
  t = (b + (c ^ d ^ a) + m10 + -1094730640) | 0;
  b = (c + ((t << 23) | (t >>> 9))) | 0;
  t = (a + (b ^ c ^ d) + m13 + 0x289b7ec6) | 0;
  a = (b + ((t << 4) | (t >>> 28))) | 0;
  t = (d + (a ^ b ^ c) + m0 + -358537222) | 0;
  d = (a + ((t << 11) | (t >>> 21))) | 0;
  t = (c + (d ^ a ^ b) + m3 + -722521979) | 0;
  c = (d + ((t << 16) | (t >>> 16))) | 0;
  t = (b + (c ^ d ^ a) + m6 + 0x4881d05) | 0;
  b = (c + ((t << 23) | (t >>> 9))) | 0;
  t = (a + (b ^ c ^ d) + m9 + -640364487) | 0;
  a = (b + ((t << 4) | (t >>> 28))) | 0;
  t = (d + (a ^ b ^ c) + m12 + -421815835) | 0;
  d = (a + ((t << 11) | (t >>> 21))) | 0;
  t = (c + (d ^ a ^ b) + m15 + 0x1fa27cf8) | 0;
  c = (d + ((t << 16) | (t >>> 16))) | 0;
  t = (b + (c ^ d ^ a) + m2 + -995338651) | 0;
  b = (c + ((t << 23) | (t >>> 9))) | 0;
  t = (a + (c ^ (b | ~d)) + m0 + -198630844) | 0;
  a = (b + ((t << 6) | (t >>> 26))) | 0;
  t = (d + (b ^ (a | ~c)) + m7 + 0x432aff97) | 0;
  d = (a + ((t << 10) | (t >>> 22))) | 0;
  t = (c + (a ^ (d | ~b)) + m14 + -1416354905) | 0;
  c = (d + ((t << 15) | (t >>> 17))) | 0;
  t = (b + (d ^ (c | ~a)) + m5 + -57434055) | 0;
  b = (c + ((t << 21) | (t >>> 11))) | 0;
  t = (a + (c ^ (b | ~d)) + m12 + 0x655b59c3) | 0;
  a = (b + ((t << 6) | (t >>> 26))) | 0;
  t = (d + (b ^ (a | ~c)) + m3 + -1894986606) | 0;
  d = (a + ((t << 10) | (t >>> 22))) | 0;
  t = (c + (a ^ (d | ~b)) + m10 + -1051523) | 0;
  c = (d + ((t << 15) | (t >>> 17))) | 0;
  t = (b + (d ^ (c | ~a)) + m1 + -2054922799) | 0;
  b = (c + ((t << 21) | (t >>> 11))) | 0;
  t = (a + (c ^ (b | ~d)) + m8 + 0x6fa87e4f) | 0;
  a = (b + ((t << 6) | (t >>> 26))) | 0;
  t = (d + (b ^ (a | ~c)) + m15 + -30611744) | 0;
  d = (a + ((t << 10) | (t >>> 22))) | 0;
  t = (c + (a ^ (d | ~b)) + m6 + -1560198380) | 0;
  c = (d + ((t << 15) | (t >>> 17))) | 0;
  t = (b + (d ^ (c | ~a)) + m13 + 0x4e0811a1) | 0;
  b = (c + ((t << 21) | (t >>> 11))) | 0;
  t = (a + (c ^ (b | ~d)) + m4 + -145523070) | 0;
  a = (b + ((t << 6) | (t >>> 26))) | 0;
  t = (d + (b ^ (a | ~c)) + m11 + -1120210379) | 0;
  d = (a + ((t << 10) | (t >>> 22))) | 0;
  t = (c + (a ^ (d | ~b)) + m2 + 0x2ad7d2bb) | 0;
  c = (d + ((t << 15) | (t >>> 17))) | 0;
  t = (b + (d ^ (c | ~a)) + m9 + -343485551) | 0;
  b = (c + ((t << 21) | (t >>> 11))) | 0;
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
}

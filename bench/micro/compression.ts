// Each codec compressing and decompressing 1 MiB of semi-compressible (text-like) data.
// Run: node --conditions=source --import tsx bench/micro/compression.ts
import { compress, compressSync, decompress, decompressSync } from '../../packages/protocol/src/compression/codec.js';
import { measure, row } from './measure.js';

/** Random words from a 512-word vocabulary: compresses roughly 3-4x, like JSON payloads. */
function semiCompressible(size: number): Buffer {
  const words = Array.from({ length: 512 }, (_, i) => `w${i.toString(36)}${'xyz'.slice(0, i % 3)}`);
  const out = Buffer.alloc(size);
  let at = 0;
  let seed = 12345;
  while (at < size) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    at += out.write(words[(seed >>> 16) % words.length]! + " ", at);
  }
  return out;
}

const input = semiCompressible(1024 * 1024);
const limit = 64 * 1024 * 1024;
console.log(`node ${process.version}; input ${input.length} bytes`);
for (const [name, type] of [['gzip', 1], ['snappy', 2], ['lz4', 3], ['zstd', 4]] as const) {
  const packed = await compress(type, input);
  const ratio = `ratio ${(input.length / packed.length).toFixed(2)}`;
  if (type === 4) {
    row(`${name} compress (async)`, await measure(input.length, () => compress(type, input)), ratio);
    row(`${name} decompress (async)`, await measure(input.length, () => decompress(type, packed, limit)));
  } else {
    row(`${name} compress (sync)`, await measure(input.length, () => compressSync(type, input)), ratio);
    row(`${name} decompress (sync)`, await measure(input.length, () => decompressSync(type, packed, limit)));
  }
}

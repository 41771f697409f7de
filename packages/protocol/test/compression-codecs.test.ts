import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { compressSync as snappyRaw } from 'snappy';
import { OFF_LOOP_COMPRESSION_MIN_BYTES, compress, compressSync, decompress, decompressSync } from '../src/compression/codec.js';
import { CompressionError, CompressionErrorCode } from '../src/compression/compression-error.js';
import { CompressionType } from '../src/records/batch-layout.js';

const ALL = [CompressionType.NONE, CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4, CompressionType.ZSTD];
const MiB = 1024 * 1024;

/** Text-like data that compresses about 3-4x: random words from a small vocabulary. */
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

function rejectsWith(code: string) {
  return (err: unknown) => err instanceof CompressionError && err.code === code;
}

test('every codec round-trips empty, small, incompressible and large inputs', async () => {
  const inputs = [Buffer.alloc(0), Buffer.from('x'), randomBytes(100_000), semiCompressible(MiB + 17)];
  for (const type of ALL) {
    for (const input of inputs) {
      const packed = await compress(type, input);
      assert.ok((await decompress(type, packed, input.length)).equals(input), `type ${type}, ${input.length} bytes`);
      if (type !== CompressionType.ZSTD) {
        assert.ok(decompressSync(type, compressSync(type, input), input.length).equals(input));
      }
    }
  }
});

test('snappy, lz4 and gzip compressed off the loop (large inputs) give the same bytes as on it', async () => {
  for (const type of [CompressionType.SNAPPY, CompressionType.LZ4, CompressionType.GZIP]) {
    for (const input of [semiCompressible(OFF_LOOP_COMPRESSION_MIN_BYTES), semiCompressible(MiB + 17), randomBytes(300_000)]) {
      const offLoop = await compress(type, input);
      assert.deepEqual(offLoop, compressSync(type, input), `codec ${type}, ${input.length} bytes`);
      assert.deepEqual(decompressSync(type, offLoop, 2 * MiB), input);
    }
  }
});

test('sync zstd refuses with ASYNC_ONLY, unknown codec ids with UNKNOWN_CODEC', () => {
  assert.throws(() => compressSync(CompressionType.ZSTD, Buffer.from('a')), rejectsWith(CompressionErrorCode.ASYNC_ONLY));
  assert.throws(() => decompressSync(5, Buffer.from('a'), 10), rejectsWith(CompressionErrorCode.UNKNOWN_CODEC));
});

test('snappy output is xerial-framed exactly as Java SnappyOutputStream writes it', () => {
  const input = semiCompressible(100_000);
  const out = compressSync(CompressionType.SNAPPY, input);
  assert.equal(out.subarray(0, 16).toString('hex'), '82534e41505059000000000100000001');
  // Chunks of 32 KiB input each: 100000 bytes -> 4 chunks.
  let at = 16;
  let chunks = 0;
  while (at < out.length) {
    const length = out.readInt32BE(at);
    at += 4 + length;
    chunks++;
  }
  assert.equal(at, out.length);
  assert.equal(chunks, Math.ceil(100_000 / 32768));
});

test('snappy reads a bare raw block too (what librdkafka may send)', () => {
  const input = semiCompressible(50_000);
  assert.ok(decompressSync(CompressionType.SNAPPY, snappyRaw(input), MiB).equals(input));
});

test('lz4 output is the frame format Kafka Java writes: FLG 0x60, BD 0x40 (64 KiB blocks), HC 0x82', () => {
  const input = semiCompressible(200_000);
  const out = compressSync(CompressionType.LZ4, input);
  assert.equal(out.subarray(0, 7).toString('hex'), '04224d18604082');
  let at = 7;
  let blocks = 0;
  for (;;) {
    const word = out.readUInt32LE(at);
    at += 4;
    if (word === 0) break;
    at += word & 0x7fffffff;
    blocks++;
  }
  assert.equal(at, out.length, 'no content checksum after the end mark');
  assert.equal(blocks, Math.ceil(200_000 / 65536));
});

test('lz4 frames written by the lz4 tool (content size, checksums, other block sizes) are read', () => {
  const input = semiCompressible(300_000);
  for (const flags of [['-B4'], ['-B7', '--content-size'], ['-B5', '-BX'], ['-B4', '-BD']]) {
    const frame = execFileSync('lz4', ['-c', ...flags], { input, stdio: ['pipe', 'pipe', 'ignore'] });
    assert.ok(decompressSync(CompressionType.LZ4, frame, MiB).equals(input), flags.join(' '));
    assert.ok(execFileSync('lz4', ['-d', '-c'], { input: compressSync(CompressionType.LZ4, input) }).equals(input));
  }
});

test('zstd frames from the zstd tool, with and without content size, are read', async () => {
  const input = semiCompressible(300_000);
  for (const flags of [[], ['--no-content-size'], ['--no-check', '-19']]) {
    const frame = execFileSync('zstd', ['-c', ...flags], { input, stdio: ['pipe', 'pipe', 'ignore'] });
    assert.ok((await decompress(CompressionType.ZSTD, frame, MiB)).equals(input), flags.join(' '));
  }
});

test('decompression bombs stop at the limit for every codec', async () => {
  const zeros = Buffer.alloc(64 * MiB);
  const limit = MiB;
  for (const type of [CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4, CompressionType.ZSTD]) {
    const bomb = await compress(type, zeros);
    assert.ok(bomb.length < 4 * MiB);
    await assert.rejects(decompress(type, bomb, limit), rejectsWith(CompressionErrorCode.TOO_LARGE), `type ${type}`);
  }
  // A zstd frame without content size still has its bound computed from the blocks.
  const streamed = execFileSync('zstd', ['-c', '--no-content-size'], { input: zeros, maxBuffer: 64 * MiB });
  await assert.rejects(decompress(CompressionType.ZSTD, streamed, limit), rejectsWith(CompressionErrorCode.TOO_LARGE));
  assert.throws(() => decompressSync(CompressionType.NONE, Buffer.alloc(10), 5), rejectsWith(CompressionErrorCode.TOO_LARGE));
});

test('corrupt payloads raise CORRUPT, never a foreign error', async () => {
  const input = semiCompressible(70_000);
  for (const type of [CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4, CompressionType.ZSTD]) {
    const good = await compress(type, input);
    for (const cut of [0, 1, 5, 17, Math.floor(good.length / 2), good.length - 1]) {
      await assert.rejects(decompress(type, good.subarray(0, cut), MiB), (err) => err instanceof CompressionError, `type ${type} cut ${cut}`);
    }
    const flipped = Buffer.from(good);
    flipped[flipped.length >> 1] ^= 0xff;
    try {
      const out = await decompress(type, flipped, MiB);
      assert.ok(out.length <= MiB); // some flips decode to other bytes; the batch CRC catches those
    } catch (err) {
      assert.ok(err instanceof CompressionError, `type ${type}: ${String(err)}`);
    }
  }
  await assert.rejects(decompress(CompressionType.GZIP, gzipSync(input).subarray(0, 100), MiB), rejectsWith(CompressionErrorCode.CORRUPT));
});

test('random bytes only ever raise CompressionError', async () => {
  for (let i = 0; i < 300; i++) {
    const junk = randomBytes(1 + (i % 200));
    if (i % 4 === 1 && junk.length >= 4) junk.writeUInt32LE(0x184d2204, 0); // lz4 magic
    if (i % 4 === 2 && junk.length >= 4) junk.writeUInt32LE(0xfd2fb528, 0); // zstd magic
    if (i % 4 === 3 && junk.length >= 16) Buffer.from('82534e41505059000000000100000001', 'hex').copy(junk);
    for (const type of ALL) {
      try {
        await decompress(type, junk, 64 * 1024);
      } catch (err) {
        assert.ok(err instanceof CompressionError, `type ${type} on ${junk.toString('hex')}: ${(err as Error).stack}`);
      }
    }
  }
});

// The broker's recompression of a produced batch into a topic's compression.type (Kafka's
// LogValidator rebuild): validateForAppend on a ~1 MiB batch of 1,024 text-like records,
// for the source -> target codec pairs that matter. Reports the wall time per batch and the
// event loop's busy time per batch (event-loop utilisation over the run / batches): the
// compression runs on libuv's thread pool (gzip, zstd, and snappy/lz4 from 64 KiB); the
// record walk, snappy/lz4 decompression and copies run on the loop.
// Run: node --conditions=source --import tsx bench/micro/recompression.ts
import { performance } from 'node:perf_hooks';
import { CompressionType, compressionName, encodeBatch } from '../../packages/protocol/src/index.js';
import { validateForAppend, type TargetCompression } from '../../packages/broker/src/replica/log-validator.js';

function text(seed: number, size: number): Buffer {
  const words = Array.from({ length: 512 }, (_, i) => `w${i.toString(36)}${'xyz'.slice(0, i % 3)}`);
  let out = '';
  let s = seed;
  while (out.length < size) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out += words[(s >>> 16) % words.length]! + ' ';
  }
  return Buffer.from(out.slice(0, size));
}

const records = Array.from({ length: 1024 }, (_, i) => ({ key: Buffer.from(`key-${i}`), value: text(i + 1, 1000), timestamp: Date.now() }));
const pairs: [CompressionType, TargetCompression][] = [
  [CompressionType.NONE, 'producer'],
  [CompressionType.NONE, CompressionType.LZ4],
  [CompressionType.NONE, CompressionType.SNAPPY],
  [CompressionType.NONE, CompressionType.ZSTD],
  [CompressionType.NONE, CompressionType.GZIP],
  [CompressionType.GZIP, CompressionType.NONE],
  [CompressionType.ZSTD, CompressionType.LZ4],
];
const durationMs = 3000;
console.log(`node ${process.version}; 1,024 records of 1,000 bytes`);
for (const [source, target] of pairs) {
  const batch = await encodeBatch({ compression: source, records });
  const options = { maxBatchBytes: 16 << 20, nowMs: Date.now() };
  for (let i = 0; i < 5; i++) await validateForAppend(batch, options, target, 16 << 20);
  const samples: number[] = [];
  const elu0 = performance.eventLoopUtilization();
  const started = performance.now();
  let outBytes = 0;
  while (performance.now() - started < durationMs) {
    const t0 = performance.now();
    const r = await validateForAppend(batch, options, target, 16 << 20);
    samples.push(performance.now() - t0);
    if (!r.validation.ok) throw new Error(r.validation.message);
    outBytes = r.records.length;
  }
  const elu = performance.eventLoopUtilization(elu0);
  samples.sort((a, b) => a - b);
  const median = samples[samples.length >> 1]!;
  const onLoop = (elu.active / samples.length);
  const name = `${compressionName(source)} -> ${target === 'producer' ? 'producer' : compressionName(target)}`;
  console.log(`${name.padEnd(20)} in ${String(batch.length).padStart(8)} B  out ${String(outBytes).padStart(8)} B  median ${median.toFixed(2).padStart(7)} ms/batch  loop busy ~${onLoop.toFixed(2).padStart(6)} ms/batch`);
}

// Durable-append throughput: P producers each append a batch and wait for its fsync
// (waitForFlush) before sending the next, as acks=all with an fsync-before-ack policy
// would. Compares the 'sync' and 'async' group-commit modes side by side.
// Run: node --conditions=source --import tsx packages/storage/bench/group-commit.bench.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogManager } from '@tributary/storage';
import type { FsyncMode } from '@tributary/storage';
import { makeBatch, quietLogger } from '../test/helpers.js';

const DURATION_MS = Number(process.env.BENCH_MS ?? 2000);
const template = makeBatch({ timestamps: [1, 2, 3, 4], valueBytes: 250 }); // ~1.1 KB

async function run(mode: FsyncMode, producers: number, partitions: number): Promise<string> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gc-bench-'));
  const m = await LogManager.open({ dataDir, schedulers: false, logger: quietLogger, fsyncMode: mode });
  const logs = Array.from({ length: partitions }, (_, p) => m.createLog('bench', p));
  let acks = 0;
  const lat: number[] = [];
  const deadline = performance.now() + DURATION_MS;
  await Promise.all(Array.from({ length: producers }, async (_, i) => {
    const log = logs[i % partitions]!;
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const r = log.append(Buffer.from(template), { leaderEpoch: 0 });
      await log.waitForFlush(r.logEndOffset);
      lat.push(performance.now() - t0);
      acks++;
    }
  }));
  const fsyncs = logs.reduce((n, l) => n + l.groupCommit.flushCount, 0);
  await m.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!.toFixed(2);
  return `| ${mode} | ${producers} | ${partitions} | ${Math.round((acks * 1000) / DURATION_MS)} | ${(acks / fsyncs).toFixed(1)} | ${q(0.5)} | ${q(0.99)} |`;
}

console.log('| mode | producers | partitions | acked batches/s | batches per fsync | p50 ms | p99 ms |');
console.log('|---|---|---|---|---|---|---|');
for (const [producers, partitions] of [[1, 1], [64, 1], [64, 8]] as const) {
  for (const mode of ['sync', 'async'] as const) console.log(await run(mode, producers, partitions));
}

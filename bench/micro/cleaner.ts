/**
 * CPU cost of one log clean (issue #18): cleaner CPU-seconds per MB of segments cleaned,
 * measured with process.cpuUsage() around cleanLog (log-cleaner-core.ts) run inline, on
 * segment files written straight to a temporary directory (page cache: the figure is the
 * cleaner's own CPU, not the disk's). The data is what bench/compaction/offsets.mjs fills
 * its `dirty` topic with: 1 KiB values over KEYS keys ("key-<i>"), uncompressed batches
 * of RECORDS_PER_BATCH records, 16 MiB segments.
 *
 *   node --conditions=source --import tsx bench/micro/cleaner.ts
 *   DIRTY_MB=200 KEYS=1000 RECORDS_PER_BATCH=100 ROUNDS=3 COMPRESSION=0 (defaults)
 *
 * Rounds: each round writes a fresh log of DIRTY_MB and cleans it once (all dirty), then
 * appends DIRTY_MB / 4 more and cleans again (a clean section before the dirty one: what
 * every clean after the first looks like). Prints CPU ms per MB of each, and the median.
 * With `--cpu-prof` (node flag) the profile covers the cleans too (bench/README.md).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeBatchSync } from '@tributary/protocol';
import type { CompressionType } from '@tributary/protocol';
import { cleanLog, nodeFileSystem } from '@tributary/storage';
import type { CleanTask } from '@tributary/storage';

const DIRTY_MB = Number(process.env['DIRTY_MB'] ?? 200);
const KEYS = Number(process.env['KEYS'] ?? 1000);
const RECORDS_PER_BATCH = Number(process.env['RECORDS_PER_BATCH'] ?? 100);
const ROUNDS = Number(process.env['ROUNDS'] ?? 3);
const COMPRESSION = Number(process.env['COMPRESSION'] ?? 0) as CompressionType;
const SEGMENT_BYTES = 16 * 1048576;
const value = Buffer.alloc(1024, 'v');

/** Appends `mb` MiB of batches as segment files of `dir`, from `offset`; returns the segments. */
function writeSegments(dir: string, segments: { baseOffset: number; size: number }[], offset: number, mb: number): number {
  let written = 0;
  let key = offset;
  while (written < mb * 1048576) {
    const baseOffset = offset;
    const parts: Buffer[] = [];
    let size = 0;
    while (size < SEGMENT_BYTES && written + size < mb * 1048576) {
      const records = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({ offset: offset + i, timestamp: 1_700_000_000_000, key: Buffer.from(`key-${key++ % KEYS}`), value, headers: [] }));
      const batch = encodeBatchSync({ baseOffset: offset, compression: COMPRESSION, timestamp: 1_700_000_000_000, records });
      parts.push(batch);
      size += batch.length;
      offset += RECORDS_PER_BATCH;
    }
    fs.writeFileSync(path.join(dir, `${String(baseOffset).padStart(20, '0')}.log`), Buffer.concat(parts));
    segments.push({ baseOffset, size });
    written += size;
  }
  return offset;
}

function task(dir: string, segments: { baseOffset: number; size: number }[], firstDirtyOffset: number): CleanTask {
  return {
    dir,
    topicPartition: 'bench-0',
    // The last segment plays the active one: not cleanable.
    segments: segments.slice(0, -1),
    segmentsEndOffset: segments[segments.length - 1]!.baseOffset,
    firstDirtyOffset,
    nowMs: Date.now(),
    deleteRetentionMs: 86_400_000,
    segmentBytes: 1 << 30,
    indexIntervalBytes: 4096,
    maxIndexBytes: 10 * 1048576,
    offsetMapBytes: 64 * 1024 * 1024,
    ioMaxBytesPerSecond: Infinity,
  };
}

/** Swaps the `.cleaned` files in, as Log.replaceCleanedSegments would (no indexes needed here). */
function swap(dir: string, segments: { baseOffset: number; size: number }[], groups: { oldBaseOffsets: number[]; size: number }[]): void {
  for (const g of groups) {
    for (const b of g.oldBaseOffsets) fs.rmSync(path.join(dir, `${String(b).padStart(20, '0')}.log`));
    const base = String(g.oldBaseOffsets[0]).padStart(20, '0');
    for (const name of fs.readdirSync(dir)) {
      if (name.startsWith(base) && name.endsWith('.cleaned')) fs.renameSync(path.join(dir, name), path.join(dir, name.slice(0, -'.cleaned'.length)));
    }
    const at = segments.findIndex((s) => s.baseOffset === g.oldBaseOffsets[0]);
    segments.splice(at, g.oldBaseOffsets.length, { baseOffset: g.oldBaseOffsets[0]!, size: g.size });
  }
}

async function timed(t: CleanTask): Promise<{ cpuMs: number; mb: number; wallMs: number; result: Awaited<ReturnType<typeof cleanLog>> }> {
  const mb = t.segments.reduce((n, s) => n + s.size, 0) / 1048576;
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const result = await cleanLog(t, nodeFileSystem);
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000, mb, wallMs: performance.now() - wall, result };
}

const firstRates: number[] = [];
const againRates: number[] = [];
console.log(`${DIRTY_MB} MiB, ${KEYS} keys, ${RECORDS_PER_BATCH} records of 1 KiB per batch, compression ${COMPRESSION}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (let round = 0; round < ROUNDS; round++) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-cleaner-bench-'));
  try {
    const segments: { baseOffset: number; size: number }[] = [];
    let end = writeSegments(dir, segments, 0, DIRTY_MB);
    end = writeSegments(dir, segments, end, 1);
    const first = await timed(task(dir, segments, 0));
    swap(dir, segments, first.result.groups);
    // The active segment rolls: it and more data become the dirty section after the clean one.
    end = writeSegments(dir, segments, end, DIRTY_MB / 4);
    end = writeSegments(dir, segments, end, 1);
    const again = await timed(task(dir, segments, first.result.endOffset));
    firstRates.push(first.cpuMs / first.mb);
    againRates.push(again.cpuMs / again.mb);
    console.log(
      `round ${round + 1}: first clean ${first.mb.toFixed(0)} MiB in ${first.cpuMs.toFixed(0)} CPU-ms (${(first.cpuMs / first.mb).toFixed(2)} ms/MiB, wall ${first.wallMs.toFixed(0)} ms, read ${(first.result.bytesRead / 1048576).toFixed(0)} MiB); ` +
        `next clean ${again.mb.toFixed(0)} MiB in ${again.cpuMs.toFixed(0)} CPU-ms (${(again.cpuMs / again.mb).toFixed(2)} ms/MiB, read ${(again.result.bytesRead / 1048576).toFixed(0)} MiB)`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`median CPU ms per MiB cleaned: first clean ${median(firstRates).toFixed(2)}, next clean ${median(againRates).toFixed(2)}`);

// Start-up cost: many partitions with data, closed cleanly (and once uncleanly), reopened
// and timed. Prints figures; asserts only correctness, never time. Scale it with
// STORAGE_STARTUP_PARTITIONS and STORAGE_STARTUP_MIB_PER_PARTITION. The default, 100
// partitions of 0.5 MiB (2-3 segments each), checks the behaviour; long mode
// (TRIBUTARY_LONG=1) writes the 200 x 1 MiB whose figures docs/benchmarks.md quotes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogManager, fromProperties } from '@tributary/storage';
import { makeBatch, quietLogger, tempDir } from './helpers.js';

const LONG = process.env.TRIBUTARY_LONG === '1';
const PARTITIONS = Number(process.env.STORAGE_STARTUP_PARTITIONS ?? (LONG ? 200 : 100));
const MIB_PER_PARTITION = Number(process.env.STORAGE_STARTUP_MIB_PER_PARTITION ?? (LONG ? 1 : 0.5));

test(`opening ${PARTITIONS} partitions x ${MIB_PER_PARTITION} MiB`, async (t) => {
  const dataDir = tempDir(t);
  const options = { dataDir, schedulers: false, logger: quietLogger };
  const template = makeBatch({ timestamps: Array.from({ length: 16 }, (_, i) => 1000 + i), valueBytes: 1000 });
  const perPartition = Math.ceil((MIB_PER_PARTITION * 1024 * 1024) / template.length);
  let t0 = performance.now();
  const m = await LogManager.open(options);
  for (let p = 0; p < PARTITIONS; p++) {
    const log = m.createLog('load', p, fromProperties({ 'segment.bytes': String(256 * 1024) }));
    for (let i = 0; i < perPartition; i++) log.append(Buffer.from(template), { leaderEpoch: 0 });
  }
  await m.close();
  const writeMs = performance.now() - t0;

  t0 = performance.now();
  const m2 = await LogManager.open(options);
  const cleanMs = performance.now() - t0;
  assert.equal(m2.allLogs().length, PARTITIONS);
  assert.ok(m2.openStats.cleanShutdown);
  for (const log of m2.allLogs()) assert.equal(log.logEndOffset, perPartition * 16);
  // A crash with 10 unflushed batches per partition: recovery reads only those.
  for (const log of m2.allLogs()) for (let i = 0; i < 10; i++) log.append(Buffer.from(template), { leaderEpoch: 0 });
  m2.checkpoint();
  m2.abandon();

  t0 = performance.now();
  const m3 = await LogManager.open(options);
  const crashMs = performance.now() - t0;
  assert.ok(!m3.openStats.cleanShutdown);
  for (const log of m3.allLogs()) assert.equal(log.logEndOffset, (perPartition + 10) * 16);
  await m3.close();
  const gib = (PARTITIONS * perPartition * template.length) / 2 ** 30;
  console.log(
    `startup: ${PARTITIONS} partitions, ${gib.toFixed(2)} GiB: write+close ${writeMs.toFixed(0)} ms, ` +
      `clean open ${cleanMs.toFixed(0)} ms, open after crash (10 unflushed batches each) ${crashMs.toFixed(0)} ms ` +
      `(${m3.openStats.recoveredSegments} segments recovered)`,
  );
});

/**
 * Restart cost of producer state (issue 17): 1,000 partitions written by 1,000 idempotent
 * producer ids (each producer writes to PARTITIONS_PER_PRODUCER partitions, so every
 * partition holds several producers), segments rolling every 256 KiB. Then:
 *  - clean restart: LogManager.open after close (every partition finds its close snapshot,
 *    replays nothing, and reads the snapshot on first use: timed separately);
 *  - crash restart: more batches after the last roll, abandon (kill -9), LogManager.open
 *    (recovery walks the unflushed tail, producer state loads the roll snapshot and
 *    replays the headers after it).
 * Prints the open times, the producer-state figures and whether every partition knows its
 * producers' last sequences afterwards.
 *
 *   node --conditions=source --import tsx bench/micro/producer-state-restart.ts
 *   PARTITIONS=1000 PRODUCERS=1000 PARTITIONS_PER_PRODUCER=10 BATCHES_PER_PRODUCER_PARTITION=20 (defaults)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeBatchSync } from '@tributary/protocol';
import { LogManager, fromProperties } from '@tributary/storage';

const PARTITIONS = Number(process.env['PARTITIONS'] ?? 1000);
const PRODUCERS = Number(process.env['PRODUCERS'] ?? 1000);
const PER_PRODUCER = Number(process.env['PARTITIONS_PER_PRODUCER'] ?? 10);
const BATCHES = Number(process.env['BATCHES_PER_PRODUCER_PARTITION'] ?? 20);
const quiet = { info: () => undefined, warn: () => undefined };

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-pstate-bench-'));
const options = { dataDir, schedulers: false, logger: quiet };
const config = fromProperties({ 'segment.bytes': String(256 * 1024) });
const value = Buffer.alloc(400, 7);
const seqs = new Map<string, number>();

function write(m: LogManager, rounds: number): void {
  for (let r = 0; r < rounds; r++) {
    for (let pid = 0; pid < PRODUCERS; pid++) {
      for (let k = 0; k < PER_PRODUCER; k++) {
        const p = (pid * PER_PRODUCER + k) % PARTITIONS;
        const key = `${pid}/${p}`;
        const seq = seqs.get(key) ?? 0;
        const batch = encodeBatchSync({ producerId: 5000 + pid, producerEpoch: 0, baseSequence: seq, records: [{ value }, { value }] });
        m.getLog('bench', p)!.append(batch, { leaderEpoch: 0 });
        seqs.set(key, seq + 2);
      }
    }
  }
}

function check(m: LogManager): number {
  let known = 0;
  for (const [key, next] of seqs) {
    const [pid, p] = key.split('/').map(Number);
    const c = m.getLog('bench', p!)!.producerState.checkAppend(5000 + pid!, 0, next - 2, 1, false);
    if (c.kind === 'duplicate') known++;
  }
  return known;
}

try {
  let t0 = performance.now();
  const m = await LogManager.open(options);
  for (let p = 0; p < PARTITIONS; p++) m.createLog('bench', p, config);
  write(m, BATCHES);
  await m.close();
  const writeMs = performance.now() - t0;
  const topicConfigs = new Map([['bench', config]]);

  t0 = performance.now();
  const m2 = await LogManager.open({ ...options, topicConfigs });
  const cleanMs = performance.now() - t0;
  const m2ps = m2.openStats.producerStateMs ?? 0;
  // After a clean shutdown each partition's snapshot is read on first use: time that too.
  t0 = performance.now();
  const producersLoaded = m2.allLogs().reduce((n, log) => n + log.producerState.size, 0);
  const firstUseMs = performance.now() - t0;
  const cleanKnown = check(m2);
  write(m2, 2);
  m2.checkpoint();
  m2.abandon();

  t0 = performance.now();
  const m3 = await LogManager.open({ ...options, topicConfigs });
  const crashMs = performance.now() - t0;
  const m3ps = m3.openStats.producerStateMs ?? 0;
  const crashKnown = check(m3);
  const segments = m3.allLogs().reduce((n, log) => n + log.segments.length, 0);
  await m3.close();
  console.log(`partitions ${PARTITIONS}, producer ids ${PRODUCERS} x ${PER_PRODUCER} partitions each, ${segments} segments, ${producersLoaded} producer entries (write + close ${writeMs.toFixed(0)} ms)`);
  console.log(`clean restart: LogManager.open ${cleanMs.toFixed(0)} ms, of which producer state ${m2ps.toFixed(0)} ms; first use of every partition's producer state (deferred snapshot reads) ${firstUseMs.toFixed(0)} ms; last batch known for ${cleanKnown}/${seqs.size} producer-partitions (load average ${os.loadavg()[0]!.toFixed(1)})`);
  console.log(`crash restart: LogManager.open ${crashMs.toFixed(0)} ms, of which producer state ${m3ps.toFixed(0)} ms (snapshot + header replay); last batch known for ${crashKnown}/${seqs.size}`);
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}

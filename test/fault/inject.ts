/**
 * Carries out one fault of a schedule (scheduler.ts) against the cluster (harness.ts),
 * keeps it for its `downMs`, and heals it: a killed process restarts on its data, a paused
 * one continues, a cut link carries bytes again, a filled disk is emptied, a slow disk is
 * fast again, a clock returns.
 * Returns what was done, for the report.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultCluster } from './harness.js';
import { SLOW_WRITE_DIVISOR, type Fault } from './scheduler.js';

/** The filler's write size: large to fill fast, then single pages for the last bytes. */
const FILL_CHUNK_BYTES = 1 << 20;
const FILL_TAIL_BYTES = 4096;

export interface Injected {
  /** What was done, in words (truncations, the etcd member hit, whether the broker stopped). */
  detail: string;
  /** disk-full only: the broker stopped (it must not: docs/compatibility.md, "Disk failures"). */
  stoppedOnFullDisk?: boolean;
}

export async function inject(cluster: FaultCluster, f: Fault, nodeId: number, topic: string, partitions: number): Promise<Injected> {
  const others = cluster.brokers.map((b) => b.nodeId).filter((id) => id !== nodeId).map((id) => `b${id}`);
  const self = `b${nodeId}`;
  const net = cluster.network;
  switch (f.kind) {
    case 'kill': {
      const b = cluster.broker(nodeId);
      await b.kill();
      await sleep(f.downMs);
      await b.start();
      return { detail: 'killed and restarted' };
    }
    case 'pause': {
      const b = cluster.broker(nodeId);
      b.pause();
      await sleep(f.downMs);
      b.resume();
      return { detail: 'paused and continued' };
    }
    case 'isolate':
    case 'isolate-etcd':
    case 'partition-brokers':
    case 'one-way': {
      if (f.kind === 'isolate') net.isolate(self, [...others, 'etcd']);
      else if (f.kind === 'isolate-etcd') net.cut(self, 'etcd');
      else if (f.kind === 'partition-brokers') net.isolate(self, others);
      else {
        // What this broker sends never arrives: its own fetch requests to the others, and
        // its answers to the others' fetches. What they send it does.
        for (const o of others) {
          net.cut(self, o, ['req']);
          net.cut(o, self, ['resp']);
        }
      }
      const rules = net.describe().join(' ');
      await sleep(f.downMs);
      net.healAll();
      return { detail: `cut ${rules}` };
    }
    case 'etcd-kill':
    case 'etcd-pause': {
      const role = 'etcd' in f.target ? f.target.etcd : 'leader';
      const leader = await cluster.etcd.leaderIndex();
      const count = cluster.etcd.members.length;
      // With one member, "a follower" does not exist: the leader is hit (and etcd is down).
      const i = role === 'leader' || count === 1 ? Math.max(0, leader) : (Math.max(0, leader) + 1) % count;
      if (f.kind === 'etcd-kill') {
        await cluster.etcd.kill(i);
        await sleep(f.downMs);
        await cluster.etcd.restart(i);
      } else {
        cluster.etcd.pause(i);
        await sleep(f.downMs);
        cluster.etcd.resume(i);
      }
      return { detail: `etcd member m${i} (${i === leader ? 'raft leader' : 'follower'}) ${f.kind === 'etcd-kill' ? 'killed and restarted' : 'paused and continued'}` };
    }
    case 'truncate': {
      const b = cluster.broker(nodeId);
      await b.kill();
      const cuts = truncateTails(b.dataDir, topic, partitions, f.n % 2 === 0 ? 'bytes' : 'half-batch');
      await sleep(f.downMs);
      await b.start();
      return { detail: `killed; ${cuts.join('; ')}; restarted` };
    }
    case 'disk-full': {
      // Tributary's documented choice (docs/compatibility.md, "Disk failures"; Kafka takes
      // the directory offline and halts): ENOSPC fails each write with the retriable
      // KAFKA_STORAGE_ERROR, rolled back, and the directory stays online. The broker must
      // stay up, and once the space is freed its writes succeed again.
      const b = cluster.broker(nodeId);
      const filler = join(b.dataDir, 'fault-filler');
      const bytes = fillDisk(filler);
      await sleep(f.downMs);
      const stopped = b.state === 'dead';
      unlinkSync(filler);
      if (stopped) await b.start();
      return { detail: `filled ${b.dataDir} with ${bytes} bytes for ${f.downMs} ms; broker ${stopped ? 'STOPPED (restarted)' : 'kept running'}; space freed`, stoppedOnFullDisk: stopped };
    }
    case 'slow-disk': {
      const b = cluster.broker(nodeId);
      const syncMs = f.slowMs ?? 0;
      const writeMs = Math.round(syncMs / SLOW_WRITE_DIVISOR);
      b.slowDisk(syncMs, writeMs);
      await sleep(f.downMs);
      b.slowDisk(0, 0);
      return { detail: `fsync +${syncMs} ms, write +${writeMs} ms under ${b.dataDir} for ${f.downMs} ms, then healthy` };
    }
    case 'clock': {
      const b = cluster.broker(nodeId);
      b.skewClock(f.skewMs ?? 0);
      await sleep(f.downMs);
      b.skewClock(0);
      return { detail: `wall clock moved by ${f.skewMs} ms for ${f.downMs} ms, then back` };
    }
  }
}

/** Writes `file` until the file system is full; returns the bytes written. */
function fillDisk(file: string): number {
  const fd = openSync(file, 'w');
  let written = 0;
  try {
    for (const size of [FILL_CHUNK_BYTES, FILL_TAIL_BYTES, 1]) {
      const chunk = Buffer.alloc(size, 0x55);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

/**
 * Cuts the tail of the newest segment of each partition of `topic` under `dataDir`: a few
 * bytes (a torn last batch), or half the last batch. Batch layout (DefaultRecordBatch):
 * baseOffset int64, batchLength int32 (bytes after this field), ... .
 */
export function truncateTails(dataDir: string, topic: string, partitions: number, how: 'bytes' | 'half-batch'): string[] {
  const out: string[] = [];
  for (let p = 0; p < partitions; p++) {
    const dir = join(dataDir, `${topic}-${p}`);
    if (!existsSync(dir)) continue;
    const segments = readdirSync(dir).filter((n) => n.endsWith('.log')).sort();
    const last = segments[segments.length - 1];
    if (last === undefined) continue;
    const file = join(dir, last);
    const size = statSync(file).size;
    const lastBatch = lastBatchStart(file, size);
    if (lastBatch === undefined) {
      out.push(`${topic}-${p}: empty`);
      continue;
    }
    const cutTo = how === 'bytes' ? lastBatch.start + lastBatch.length - 5 : lastBatch.start + Math.floor(lastBatch.length / 2);
    truncateSync(file, cutTo);
    out.push(`${topic}-${p}/${last} ${size} → ${cutTo} bytes`);
  }
  return out;
}

function lastBatchStart(file: string, size: number): { start: number; length: number } | undefined {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(12);
  let pos = 0;
  let last: { start: number; length: number } | undefined;
  try {
    while (pos + 12 <= size) {
      if (readSync(fd, head, 0, 12, pos) < 12) break;
      const length = 12 + head.readInt32BE(8);
      if (length <= 12 || pos + length > size) break;
      last = { start: pos, length };
      pos += length;
    }
  } finally {
    closeSync(fd);
  }
  return last;
}

/**
 * Broker start-up with producer state (issue 17): a broker with a 1,000-partition topic
 * written by 1,000 idempotent producer ids (each to PARTITIONS_PER_PRODUCER partitions;
 * segment.bytes 256 KiB, as in producer-state-restart.ts), closed cleanly, then started
 * again RESTARTS times. Each start is timed from startBroker() to "ready to serve": the
 * listener bound and an ApiVersions request answered over TCP. Every restart is clean (the
 * previous one closed the broker), and after each one every partition must know the last
 * batch of each of its producers. The broker runs in this process, so the figures leave out
 * Node's own start and module loading (the same for any data dir).
 *
 *   node --conditions=source --import tsx bench/micro/producer-state-restart-broker.ts
 *   PARTITIONS=1000 PRODUCERS=1000 PARTITIONS_PER_PRODUCER=10 BATCHES_PER_PRODUCER_PARTITION=20 RESTARTS=3 (defaults)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'node:net';
import { encodeBatchSync } from '@tributary/protocol';
import { createLogger, startBroker } from '../../packages/broker/src/index.js';
import type { RunningBroker } from '../../packages/broker/src/index.js';

const PARTITIONS = Number(process.env['PARTITIONS'] ?? 1000);
const PRODUCERS = Number(process.env['PRODUCERS'] ?? 1000);
const PER_PRODUCER = Number(process.env['PARTITIONS_PER_PRODUCER'] ?? 10);
const BATCHES = Number(process.env['BATCHES_PER_PRODUCER_PARTITION'] ?? 20);
const RESTARTS = Number(process.env['RESTARTS'] ?? 3);
const TOPIC = 'bench';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-pstate-broker-bench-'));
const logger = createLogger({ level: 'warn' });
const value = Buffer.alloc(400, 7);
const seqs = new Map<string, number>();

/** Sends ApiVersions v0 (header v1) and resolves when the answer's frame has arrived. */
function apiVersions(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      const clientId = Buffer.from('bench');
      const frame = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length);
      frame.writeInt32BE(frame.length - 4, 0);
      frame.writeInt16BE(18, 4); // ApiVersions
      frame.writeInt16BE(0, 6);
      frame.writeInt32BE(1, 8);
      frame.writeInt16BE(clientId.length, 12);
      clientId.copy(frame, 14);
      socket.write(frame);
    });
    let got = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
        socket.destroy();
        resolve();
      }
    });
    socket.once('error', reject);
  });
}

function known(broker: RunningBroker): number {
  let n = 0;
  for (const [key, next] of seqs) {
    const [pid, p] = key.split('/').map(Number);
    const c = broker.services.logManager.getLog(TOPIC, p!)!.producerState.checkAppend(5000 + pid!, 0, next - 2, 1, false);
    if (c.kind === 'duplicate') n++;
  }
  return n;
}

try {
  let broker = await startBroker({ dataDir, port: 0, logger });
  const created = await broker.services.topicManager.createTopics([{ name: TOPIC, numPartitions: PARTITIONS, replicationFactor: 1, configs: { 'segment.bytes': String(256 * 1024) } }], false);
  void created;
  const deadline = Date.now() + 120_000;
  while (broker.services.logManager.getLog(TOPIC, PARTITIONS - 1) === undefined) {
    if (Date.now() > deadline) throw new Error('the topic\'s logs were not created within 120 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  // Written straight into the logs (the produce path is not what is measured).
  for (let r = 0; r < BATCHES; r++) {
    for (let pid = 0; pid < PRODUCERS; pid++) {
      for (let k = 0; k < PER_PRODUCER; k++) {
        const p = (pid * PER_PRODUCER + k) % PARTITIONS;
        const key = `${pid}/${p}`;
        const seq = seqs.get(key) ?? 0;
        const batch = encodeBatchSync({ producerId: 5000 + pid, producerEpoch: 0, baseSequence: seq, records: [{ value }, { value }] });
        broker.services.logManager.getLog(TOPIC, p)!.append(batch, { leaderEpoch: 0 });
        seqs.set(key, seq + 2);
      }
    }
  }
  await broker.close();
  const rows: string[] = [];
  for (let i = 1; i <= RESTARTS; i++) {
    const load = os.loadavg()[0]!.toFixed(1);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    broker = await startBroker({ dataDir, port: 0, logger });
    const listeningMs = performance.now() - t0;
    await apiVersions(broker.port);
    const readyMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const open = broker.services.logManager.openStats;
    const k = known(broker);
    rows.push(`| ${i} | ${readyMs.toFixed(0)} | ${listeningMs.toFixed(0)} | ${open.elapsedMs.toFixed(0)} | ${(open.producerStateMs ?? 0).toFixed(0)} | ${((cpu.user + cpu.system) / 1000).toFixed(0)} | ${load} | ${k}/${seqs.size} |`);
    await broker.close();
  }
  console.log(`${PARTITIONS} partitions (+ __consumer_offsets), ${PRODUCERS} producer ids x ${PER_PRODUCER} partitions each, clean restarts:`);
  console.log('| restart | ApiVersions answered ms | listening ms | LogManager.open ms | of which producer state ms | CPU ms (user+sys) | load avg (1 min) | last batch known |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const row of rows) console.log(row);
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}

/**
 * The controller as librdkafka sees it (issue #15, controller duties): two in-process
 * brokers share one LocalMetadataStore; kcat's metadata names the controller and the
 * leader, a broker closing hands its leadership to the in-sync replica first (controlled
 * shutdown), and kcat then produces to and consumes from the new leader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '../../packages/broker/src/broker.js';
import type { RunningBroker } from '../../packages/broker/src/broker.js';
import { createLogger } from '../../packages/broker/src/logger.js';
import { LocalMetadataStore } from '../../packages/broker/src/metadata/local-metadata-store.js';
import type { MetadataStore } from '../../packages/broker/src/metadata/metadata-store.js';
import { requireTool, run } from './kit.js';

interface KcatMetadata {
  controllerid: number;
  brokers: { id: number }[];
  topics: { topic: string; partitions: { partition: number; leader: number; isrs: { id: number }[] }[] }[];
}

async function kcatMetadata(bootstrap: string, topic: string): Promise<KcatMetadata> {
  const r = await run('kcat', ['-b', bootstrap, '-L', '-J', '-t', topic], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString()) as KcatMetadata;
}

test('kcat: controller id, leadership handed over by controlled shutdown, produce and consume on the new leader', async (t) => {
  requireTool('kcat');
  const cleanups: (() => unknown)[] = [];
  t.after(async () => { while (cleanups.length > 0) await cleanups.pop()!(); });
  const storeDir = mkdtempSync(join(tmpdir(), 'trib-ctl-kcat-'));
  const store: MetadataStore = await LocalMetadataStore.open({ dataDir: storeDir, clusterId: 'AAAAAAAAAAAAAAAAAAAAAQ' });
  cleanups.push(async () => { await store.close(); rmSync(storeDir, { recursive: true, force: true }); });
  // Each broker's group coordinator loads __consumer_offsets at start-up and today must
  // lead it to do so: it is handed to each broker before that broker starts.
  await store.createTopic({ name: '__consumer_offsets', partitions: [{ replicas: [1, 2], leader: 1, isr: [1, 2] }], configs: { 'cleanup.policy': 'compact' } });
  const start = async (nodeId: number): Promise<RunningBroker> => {
    const offsets = store.topic('__consumer_offsets')!.partitions[0]!;
    await store.updatePartition({ topic: '__consumer_offsets', partition: 0, expectedPartitionEpoch: offsets.partitionEpoch, leader: nodeId, isr: [1, 2], bumpLeaderEpoch: true });
    const dir = mkdtempSync(join(tmpdir(), `trib-ctl-kcat-${nodeId}-`));
    const broker = await startBroker({ dataDir: dir, host: '127.0.0.1', port: 0, nodeId, metadataStore: store, config: { 'offsets.topic.num.partitions': 1 }, logger: createLogger({ level: 'warn' }) });
    cleanups.push(async () => { await broker.close(); rmSync(dir, { recursive: true, force: true }); });
    return broker;
  };
  const b1 = await start(1);
  const b2 = await start(2);
  await store.createTopic({ name: 'handover', partitions: [{ replicas: [2, 1], leader: 2, isr: [2, 1] }] });
  const bootstrap = `127.0.0.1:${b1.port}`;

  const before = await kcatMetadata(bootstrap, 'handover');
  assert.equal(before.controllerid, 1);
  assert.deepEqual(before.brokers.map((b) => b.id).sort(), [1, 2]);
  assert.equal(before.topics[0]!.partitions[0]!.leader, 2);

  await b2.close();
  const after = await kcatMetadata(bootstrap, 'handover');
  assert.deepEqual(after.brokers.map((b) => b.id), [1]);
  assert.equal(after.topics[0]!.partitions[0]!.leader, 1);
  assert.deepEqual(after.topics[0]!.partitions[0]!.isrs.map((r) => r.id), [1]);

  const produced = await run('kcat', ['-b', bootstrap, '-P', '-t', 'handover', '-p', '0', '-X', 'acks=all'], { input: 'one\ntwo\n', timeoutMs: 30_000 });
  assert.equal(produced.code, 0, produced.stderr);
  const consumed = await run('kcat', ['-b', bootstrap, '-C', '-t', 'handover', '-p', '0', '-o', 'beginning', '-e', '-q'], { timeoutMs: 30_000 });
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.equal(consumed.stdout.toString(), 'one\ntwo\n');
});

/**
 * One Partition object on its own, for unit tests of the replica code (no sockets): a
 * LocalMetadataStore and a LogManager in a temporary directory, every replica's broker
 * registered (followers join the ISR only while registered and not shutting down,
 * isr-eligibility.ts), a topic `t` with one partition led by broker 1, and the Partition
 * following the store's partition changes as the replica manager makes it. Everything is
 * closed, and the directory removed, when the test ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogManager, RecentAppendsBudget } from '@tributary/storage';
import { createLogger, LocalMetadataStore } from '../../src/index.js';
import { randomKafkaUuid } from '../../src/metadata/kafka-uuid.js';
import { Partition } from '../../src/replica/partition.js';
import { RECENT_APPENDS_BROKER_BYTES } from '../../src/replica/replica-manager.js';

/** The node id of the broker whose Partition the tests drive: the leader of `t`-0. */
export const SELF = 1;

/** A broker registration as the store keeps it (port 9000 + node id, never dialled). */
export function registration(nodeId: number, inControlledShutdown = false) {
  return { nodeId, endpoints: [{ listener: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + nodeId, securityProtocol: 'PLAINTEXT' as const }], rack: null, inControlledShutdown };
}

export interface LeaderPartitionOptions {
  /** The partition's replicas, SELF first (default 1, 2, 3). */
  replicas?: number[];
  /** Its ISR (default: every replica). */
  isr?: number[];
  /** Topic configs; `min.insync.replicas` is applied to the log too. */
  configs?: Record<string, string>;
}

export async function leaderPartition(t: { after(fn: () => unknown): void }, opts: LeaderPartitionOptions = {}) {
  const replicas = opts.replicas ?? [1, 2, 3];
  const isr = opts.isr ?? replicas;
  const configs = opts.configs ?? {};
  const dir = mkdtempSync(join(tmpdir(), 'trib-partition-'));
  const logger = createLogger({ level: 'silent' });
  const metadata = await LocalMetadataStore.open({ dataDir: join(dir, 'meta'), clusterId: randomKafkaUuid(), logger });
  const logManager = await LogManager.open({ dataDir: join(dir, 'logs'), schedulers: false, logger: { info: () => undefined, warn: () => undefined } });
  t.after(async () => {
    await logManager.close();
    await metadata.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const nodeId of replicas) await metadata.registerBroker(registration(nodeId));
  const topic = await metadata.createTopic({ name: 't', partitions: [{ replicas, leader: SELF, isr }], configs });
  const log = logManager.createLog('t', 0);
  if (configs['min.insync.replicas'] !== undefined) log.config = { ...log.config, minInsyncReplicas: Number(configs['min.insync.replicas']) };
  const partition = new Partition({ nodeId: SELF, metadata, logManager, logger, recentAppendsBudget: new RecentAppendsBudget(RECENT_APPENDS_BROKER_BYTES) }, log, topic, topic.partitions[0]!);
  partition.update(topic, topic.partitions[0]!);
  const unsubscribe = metadata.subscribe((change) => {
    if (change.type === 'partition-changed') partition.update(change.topic, change.after);
  });
  t.after(unsubscribe);
  return { metadata, logManager, log, partition };
}

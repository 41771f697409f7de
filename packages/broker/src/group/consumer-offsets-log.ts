/**
 * The group coordinator's view of `__consumer_offsets`: appends of key/value records to
 * one partition, and replay of a partition at start-up.
 *
 * Records go in as ordinary v2 batches (uncompressed, CreateTime = now), so tools that read
 * the topic (kcat, Burrow) see what Kafka would write. Appends go through the partition's
 * own append path like any produce (Partition.appendAsCoordinator: its append queue, its
 * high watermark, acks=all over the ISR within offsets.commit.timeout.ms, min.insync.replicas
 * and the topic's flush.durable.acks), as Kafka's coordinator appends with acks=-1 and
 * origin COORDINATOR.
 */
import { decodeBatchSync, encodeBatchSync, readBatchHeader } from '@tributary/protocol';
import type { Log } from '@tributary/storage';
import type { CoordinatorLog } from './coordinator-log.js';
import type { ReplicaManager } from '../replica/replica-manager.js';
import type { GroupCoordinator } from './coordinator.js';
import type { Logger } from '../logger.js';
import { forEachLogBatch } from '../replica/log-batches.js';

const REPLAY_CHUNK_BYTES = 4 * 1024 * 1024;

export class ConsumerOffsetsLog implements CoordinatorLog {
  constructor(
    private readonly replicaManager: ReplicaManager,
    private readonly topic: string,
    /** offsets.commit.timeout.ms: how long an append waits for the ISR. */
    private readonly commitTimeoutMs: number,
  ) {}

  private log(partition: number): Log {
    const view = this.replicaManager.partition(this.topic, partition);
    if ('errorCode' in view) throw Object.assign(new Error(`${this.topic}-${partition} is not available here`), { errorCode: view.errorCode });
    return view.log;
  }

  async append(partition: number, records: { key: Buffer; value: Buffer | null }[]): Promise<void> {
    if (records.length === 0) return;
    const view = this.replicaManager.partition(this.topic, partition);
    if ('errorCode' in view) throw Object.assign(new Error(`${this.topic}-${partition} is not available here`), { errorCode: view.errorCode });
    const now = Date.now();
    const batch = encodeBatchSync({ baseOffset: 0, timestamp: now, records: records.map((r) => ({ key: r.key, value: r.value, timestamp: now })) });
    await view.partition.appendAsCoordinator(batch, this.commitTimeoutMs);
  }

  async replay(partition: number, onRecord: (key: Buffer, value: Buffer | null) => void): Promise<void> {
    const log = this.log(partition);
    forEachLogBatch(log, log.logStartOffset, REPLAY_CHUNK_BYTES, (buf, at, size, readFrom) => {
      if (readBatchHeader(buf, at).isControl) return;
      const { records } = decodeBatchSync(buf.subarray(at, at + size));
      for (const r of records) {
        if (r.offset < readFrom || r.key === null) continue;
        onRecord(r.key, r.value);
      }
    });
  }
}

/**
 * Starts the group coordinator on the partitions of `__consumer_offsets` this broker leads
 * (all of them on a single node: the coordinator's own startup), then keeps it in step with
 * leadership, as Kafka's onLeadershipChange: a partition this broker becomes leader of is
 * loaded (its groups answer COORDINATOR_LOAD_IN_PROGRESS meanwhile), one it stops leading is
 * unloaded (its groups answer NOT_COORDINATOR). Returns a function that stops following.
 */
export async function startGroupCoordinator(coordinator: GroupCoordinator, replicaManager: ReplicaManager, topic: string, logger?: Logger): Promise<() => void> {
  const partitions = replicaManager.metadataTopic(topic)?.partitions ?? [];
  const led = partitions.filter((p) => !('errorCode' in replicaManager.partition(topic, p.partition)));
  const loaded = new Set(led.map((p) => p.partition));
  if (led.length === partitions.length) {
    await coordinator.startup();
  } else {
    coordinator.activate();
    for (const p of led) await coordinator.loadPartition(p.partition);
  }
  return replicaManager.onLeadershipChange((changed, partition, isLeader) => {
    if (changed !== topic) return;
    if (isLeader) {
      if (loaded.has(partition)) return;
      loaded.add(partition);
      coordinator.loadPartition(partition).catch((err: unknown) => {
        loaded.delete(partition);
        logger?.error('Loading a partition of the group coordinator failed', { topic, partition, err });
      });
    } else if (loaded.delete(partition)) {
      coordinator.unloadPartition(partition);
    }
  });
}

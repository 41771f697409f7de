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
import { ControlRecordType, decodeBatchSync, decodeControlRecordKey, encodeBatchSync, readBatchHeader } from '@tributary/protocol';
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

  append(partition: number, records: { key: Buffer; value: Buffer | null }[]): Promise<void> {
    return this.appendBatch(partition, records, null);
  }

  appendTransactional(partition: number, records: { key: Buffer; value: Buffer | null }[], producerId: number, producerEpoch: number): Promise<void> {
    return this.appendBatch(partition, records, { producerId, producerEpoch });
  }

  private async appendBatch(partition: number, records: { key: Buffer; value: Buffer | null }[], producer: { producerId: number; producerEpoch: number } | null): Promise<void> {
    if (records.length === 0) return;
    const view = this.replicaManager.partition(this.topic, partition);
    if ('errorCode' in view) throw Object.assign(new Error(`${this.topic}-${partition} is not available here`), { errorCode: view.errorCode });
    const now = Date.now();
    // A transactional batch carries no sequence: the coordinator, not the producer, writes it
    // (Kafka's GroupMetadataManager builds it the same way, with NO_SEQUENCE).
    const batch = encodeBatchSync({
      baseOffset: 0,
      timestamp: now,
      ...(producer !== null ? { producerId: producer.producerId, producerEpoch: producer.producerEpoch, baseSequence: -1, transactional: true } : {}),
      records: records.map((r) => ({ key: r.key, value: r.value, timestamp: now })),
    });
    await view.partition.appendAsCoordinator(batch, this.commitTimeoutMs);
  }

  async replay(partition: number, onRecord: (key: Buffer, value: Buffer | null) => void, onOpenTxnRecord?: (producerId: number, key: Buffer, value: Buffer | null) => void): Promise<void> {
    const log = this.log(partition);
    // Records of transactions not yet ended, by producer id, in log order.
    const open = new Map<number, { key: Buffer; value: Buffer | null }[]>();
    forEachLogBatch(log, log.logStartOffset, REPLAY_CHUNK_BYTES, (buf, at, size, readFrom) => {
      const header = readBatchHeader(buf, at);
      const { records } = decodeBatchSync(buf.subarray(at, at + size));
      if (header.isControl) {
        const pending = open.get(header.producerId);
        if (pending === undefined) return;
        open.delete(header.producerId);
        const marker = records[0];
        if (marker === undefined) return;
        let type: number;
        try {
          type = decodeControlRecordKey(marker.key).type;
        } catch {
          return;
        }
        if (type === ControlRecordType.COMMIT) for (const r of pending) onRecord(r.key, r.value);
        return;
      }
      for (const r of records) {
        if (r.offset < readFrom || r.key === null) continue;
        if (header.isTransactional) {
          let pending = open.get(header.producerId);
          if (pending === undefined) open.set(header.producerId, (pending = []));
          // Copied: a pending record outlives the read buffer it came from.
          pending.push({ key: Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value) });
        } else {
          onRecord(r.key, r.value);
        }
      }
    });
    if (onOpenTxnRecord !== undefined) for (const [producerId, pending] of open) for (const r of pending) onOpenTxnRecord(producerId, r.key, r.value);
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
  // No topic yet (a cluster creates it once enough brokers have registered): partitions load
  // as this broker comes to lead them.
  if (partitions.length > 0 && led.length === partitions.length) {
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

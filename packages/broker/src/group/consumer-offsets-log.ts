/**
 * The group coordinator's view of `__consumer_offsets`: appends of key/value records to
 * one partition, and replay of a partition at start-up.
 *
 * Records go in as ordinary v2 batches (uncompressed, CreateTime = now), so tools that read
 * the topic (kcat, Burrow) see what Kafka would write. Appends are synchronous writes to
 * the log, answered in call order; like the rest of the single-node broker they survive
 * kill -9 from the page cache, and `flush.durable.acks` (broker-wide) adds an fdatasync.
 */
import { decodeBatchSync, encodeBatchSync, readBatchHeader } from '@tributary/protocol';
import type { Log } from '@tributary/storage';
import type { CoordinatorLog } from './coordinator-log.js';
import type { ReplicaManager } from '../replica/replica-manager.js';
import { forEachLogBatch } from '../replica/log-batches.js';

const REPLAY_CHUNK_BYTES = 4 * 1024 * 1024;

export class ConsumerOffsetsLog implements CoordinatorLog {
  constructor(
    private readonly replicaManager: ReplicaManager,
    private readonly topic: string,
    private readonly durable: () => boolean,
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
    view.log.append(batch, { leaderEpoch: view.state.leaderEpoch });
    this.replicaManager.appended(view.log);
    if (this.durable()) await view.log.waitForFlush(view.log.logEndOffset);
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

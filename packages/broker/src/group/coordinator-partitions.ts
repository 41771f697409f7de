/**
 * What the group and transaction coordinators share about the partitions of their internal
 * topic (`__consumer_offsets`, `__transaction_state`): which of them this broker owns or is
 * loading, the coordinator error a key's partition answers with, and the load itself, which
 * replays a compacted partition from its log start (Kafka's CoordinatorLoader /
 * doLoadGroupsAndOffsets / loadTransactionMetadata). Each coordinator keeps what it makes of
 * the records.
 */
import { ErrorCode } from '@tributary/protocol';
import type { Logger } from '../logger.js';
import type { CoordinatorLog } from './coordinator-log.js';

export type CoordinatorPartitionStatus = 'loading' | 'owned';

export class CoordinatorPartitions {
  private readonly statuses = new Map<number, CoordinatorPartitionStatus>();

  set(partition: number, status: CoordinatorPartitionStatus | null): void {
    if (status === null) this.statuses.delete(partition);
    else this.statuses.set(partition, status);
  }

  /** Loaded or loading. */
  has(partition: number): boolean {
    return this.statuses.has(partition);
  }

  isOwned(partition: number): boolean {
    return this.statuses.get(partition) === 'owned';
  }

  get anyLoading(): boolean {
    for (const s of this.statuses.values()) if (s === 'loading') return true;
    return false;
  }

  /** Partitions loaded or loading. */
  partitions(): number[] {
    return [...this.statuses.keys()];
  }

  /**
   * NONE when this broker serves keys of `partition`, else why not, as Kafka answers:
   * COORDINATOR_NOT_AVAILABLE while the coordinator is not running, COORDINATOR_LOAD_IN_PROGRESS
   * while the partition loads, NOT_COORDINATOR when it is not ours.
   */
  errorFor(partition: number, active: boolean): number {
    if (!active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const status = this.statuses.get(partition);
    if (status === 'loading') return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    if (status === undefined) return ErrorCode.NOT_COORDINATOR;
    return ErrorCode.NONE;
  }

  /** Marks `partition` loading, runs `load`, then owns it; a failed load forgets it (not ours to serve). */
  async load<T>(partition: number, load: () => Promise<T>): Promise<T> {
    this.set(partition, 'loading');
    try {
      const result = await load();
      this.set(partition, 'owned');
      return result;
    } catch (error) {
      this.set(partition, null);
      throw error;
    }
  }
}

export interface ReplaySummary {
  /** Records read (transactional ones once their COMMIT marker is reached). */
  records: number;
  /** Records that did not decode, or that `onRecord` declined (returned false); each logged. */
  skipped: number;
}

/**
 * Replays one partition of a coordinator's compacted internal topic (CoordinatorLog.replay),
 * giving each record to `onRecord`. A record `onRecord` throws on does not decode (a foreign
 * or newer format): it is logged and skipped rather than failing the whole partition, so the
 * coordinator keeps serving every other key. `onOpenTxnRecord` gets the records of
 * transactions still open at the log end, likewise guarded.
 */
export async function replayCoordinatorPartition(
  log: CoordinatorLog,
  partition: number,
  context: { readonly topic: string; readonly logger: Logger },
  onRecord: (key: Buffer, value: Buffer | null) => boolean | void,
  onOpenTxnRecord?: (producerId: number, key: Buffer, value: Buffer | null) => void,
): Promise<ReplaySummary> {
  const summary: ReplaySummary = { records: 0, skipped: 0 };
  await log.replay(partition, (key, value) => {
    summary.records += 1;
    try {
      if (onRecord(key, value) === false) summary.skipped += 1;
    } catch (error) {
      summary.skipped += 1;
      context.logger.error(`undecodable ${context.topic} record; ignoring it`, { partition, error });
    }
  }, onOpenTxnRecord && ((producerId, key, value) => {
    try {
      onOpenTxnRecord(producerId, key, value);
    } catch (error) {
      context.logger.error(`undecodable transactional ${context.topic} record; ignoring it`, { partition, error });
    }
  }));
  return summary;
}

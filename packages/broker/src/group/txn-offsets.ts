/**
 * Transactional offset commits (TxnOffsetCommit), Kafka's GroupMetadataManager
 * pendingTransactionalOffsetCommits.
 *
 * A TxnOffsetCommit is validated against the group like a commit (a v3+ request with member id
 * and generation must match the group; older ones only need the group to be usable), written
 * to the group's `__consumer_offsets` partition in a transactional batch of the producer, and
 * kept pending: OffsetFetch does not see it (RequireStable answers UNSTABLE_OFFSET_COMMIT) until
 * the transaction's COMMIT marker lands on that partition, which materializes it; an ABORT
 * marker drops it. After a restart the replay does the same from the markers in the log, and
 * offsets of transactions still open are pending again (group-loader.ts).
 */
import { ErrorCode, encodeOffsetCommitRecordKey, encodeOffsetCommitRecordValue } from '@tributary/protocol';
import type { CommittedOffset } from './classic-group.js';
import { GroupState } from './group-state.js';
import { offsetAppendError, type GroupStore } from './group-store.js';
import type { Membership } from './membership.js';
import type { CoordinatorLogRecord } from './coordinator-log.js';
import type { OffsetCommitPartitionParams, PartitionErrors } from './offset-manager.js';

export interface TxnOffsetCommitParams {
  transactionalId: string;
  groupId: string;
  producerId: number;
  producerEpoch: number;
  /** -1 (and memberId "") below v3, or when the producer does not know its consumer's generation. */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  topics: { name: string; partitions: OffsetCommitPartitionParams[] }[];
}

/** One pending offset of a transaction. */
interface PendingTxnOffset {
  groupId: string;
  topic: string;
  partition: number;
  committed: CommittedOffset;
}

const UNKNOWN_MEMBER_ID = '';

/** Pending offsets by producer id, then by `group\0topic\0partition`. */
export type PendingTxnOffsets = Map<number, Map<string, PendingTxnOffset>>;

function pendingKey(groupId: string, topic: string, partition: number): string {
  return `${groupId}\u0000${topic}\u0000${partition}`;
}

export class TxnOffsets {
  readonly pending: PendingTxnOffsets = new Map();

  constructor(
    private readonly store: GroupStore,
    private readonly membership: Membership,
  ) {}

  async commit(p: TxnOffsetCommitParams): Promise<PartitionErrors[]> {
    const all = (errorCode: number): PartitionErrors[] => p.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((x) => ({ partitionIndex: x.partitionIndex, errorCode })) }));
    const status = this.store.validateGroupStatus(p.groupId, false);
    if (status !== ErrorCode.NONE) return all(status);
    const group = this.store.getOrCreateGroup(p.groupId);
    // Kafka's GroupCoordinator.doTxnCommitOffsets.
    if (group.is(GroupState.Dead)) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (p.memberId !== UNKNOWN_MEMBER_ID || p.groupInstanceId !== null) {
      const error = this.membership.validateCurrentMember(group, p.memberId, p.groupInstanceId);
      if (error !== ErrorCode.NONE) return all(error);
    }
    if (p.generationId >= 0 && p.generationId !== group.generationId) return all(ErrorCode.ILLEGAL_GENERATION);
    const appendTransactional = this.store.log.appendTransactional?.bind(this.store.log);
    if (appendTransactional === undefined) return all(ErrorCode.UNSUPPORTED_VERSION);

    const now = this.store.now();
    const maxBytes = this.store.config.offsetMetadataMaxBytes;
    const tooLarge = (m: string | null) => m !== null && m.length > maxBytes;
    const records: CoordinatorLogRecord[] = [];
    const staged: PendingTxnOffset[] = [];
    for (const t of p.topics) {
      for (const part of t.partitions) {
        if (tooLarge(part.committedMetadata)) continue;
        const committed: CommittedOffset = {
          offset: part.committedOffset,
          leaderEpoch: part.committedLeaderEpoch,
          metadata: part.committedMetadata ?? '',
          commitTimestamp: now,
          expireTimestamp: -1,
          seq: this.store.nextSeq(),
        };
        staged.push({ groupId: p.groupId, topic: t.name, partition: part.partitionIndex, committed });
        records.push({ key: encodeOffsetCommitRecordKey({ group: p.groupId, topic: t.name, partition: part.partitionIndex }), value: encodeOffsetCommitRecordValue(committed) });
      }
    }
    let error: number = ErrorCode.NONE;
    if (records.length > 0) {
      try {
        await appendTransactional(this.store.partitionFor(p.groupId), records, p.producerId, p.producerEpoch);
        for (const s of staged) this.addPending(p.producerId, s);
      } catch (e) {
        error = offsetAppendError(e);
        this.store.logger.warn('transactional offset commit append failed', { groupId: p.groupId, errorCode: error });
      }
    }
    return p.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((part) => ({ partitionIndex: part.partitionIndex, errorCode: tooLarge(part.committedMetadata) ? ErrorCode.OFFSET_METADATA_TOO_LARGE : error })),
    }));
  }

  addPending(producerId: number, offset: PendingTxnOffset): void {
    let byKey = this.pending.get(producerId);
    if (byKey === undefined) this.pending.set(producerId, (byKey = new Map()));
    byKey.set(pendingKey(offset.groupId, offset.topic, offset.partition), offset);
  }

  /** True when a transaction holds an offset for this group partition that is not decided yet. */
  hasPending(groupId: string, topic: string, partition: number): boolean {
    if (this.pending.size === 0) return false;
    const key = pendingKey(groupId, topic, partition);
    for (const byKey of this.pending.values()) if (byKey.has(key)) return true;
    return false;
  }

  /**
   * The marker of `producerId`'s transaction is in `__consumer_offsets` partition
   * `offsetsPartition`: materialize (commit) or drop (abort) its offsets for the groups there.
   */
  complete(offsetsPartition: number, producerId: number, commit: boolean): void {
    const byKey = this.pending.get(producerId);
    if (byKey === undefined) return;
    for (const [key, o] of byKey) {
      if (this.store.partitionFor(o.groupId) !== offsetsPartition) continue;
      byKey.delete(key);
      if (!commit) continue;
      const group = this.store.getOrCreateGroup(o.groupId);
      if (group.is(GroupState.Dead)) continue;
      const current = group.offset(o.topic, o.partition);
      // A plain commit written after the transactional one wins (Kafka compares log offsets).
      if (current !== undefined && current.seq > o.committed.seq) continue;
      group.putOffset(o.topic, o.partition, o.committed);
    }
    if (byKey.size === 0) this.pending.delete(producerId);
  }
}

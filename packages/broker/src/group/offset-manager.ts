/**
 * Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete and retention-based expiry.
 *
 * A commit is validated against the group (Kafka's validateOffsetCommit), written to
 * `__consumer_offsets`, and becomes visible to OffsetFetch only once the append is durable;
 * the response is sent at that moment too. While a commit is in flight, OffsetFetch with
 * RequireStable answers UNSTABLE_OFFSET_COMMIT for its partitions (Kafka's rule).
 *
 * Expiry (offsets.retention.minutes, Kafka 3.x rules): offsets of a group with a protocol type
 * expire once the group has been Empty for the retention period; offsets of a simple group
 * (commits only, no protocol type) expire by commit timestamp; a Stable consumer group
 * expires offsets of topics nobody subscribes to any more, by commit timestamp; a commit with
 * an explicit retention (v2-v4) expires at its own expire timestamp. An Empty group without
 * offsets dies and its metadata is tombstoned.
 */
import { ErrorCode, encodeGroupMetadataRecordKey, encodeOffsetCommitRecordKey, encodeOffsetCommitRecordValue } from '@tributary/protocol';
import { GroupState } from './group-state.js';
import type { ClassicGroup, CommittedOffset } from './classic-group.js';
import type { GroupStore } from './group-store.js';
import type { Membership } from './membership.js';
import type { CoordinatorLogRecord } from './coordinator-log.js';
import { offsetAppendError } from './group-store.js';

export interface OffsetCommitPartitionParams {
  partitionIndex: number;
  committedOffset: number;
  /** -1 when unknown (before v6). */
  committedLeaderEpoch: number;
  /** v1 only; -1 = now. */
  commitTimestamp: number;
  committedMetadata: string | null;
}

export interface OffsetCommitParams {
  groupId: string;
  /** -1 for a simple (non-member) commit. */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** v2-v4; -1 = broker retention. */
  retentionTimeMs: number;
  /** The request version: v9 answers GROUP_ID_NOT_FOUND where older versions say ILLEGAL_GENERATION. */
  apiVersion: number;
  topics: { name: string; partitions: OffsetCommitPartitionParams[] }[];
}

export interface PartitionErrors {
  name: string;
  partitions: { partitionIndex: number; errorCode: number }[];
}

export interface FetchedPartition {
  partitionIndex: number;
  committedOffset: number;
  committedLeaderEpoch: number;
  metadata: string;
  errorCode: number;
}

export interface OffsetFetchGroupResult {
  groupId: string;
  errorCode: number;
  topics: { name: string; partitions: FetchedPartition[] }[];
}

export interface OffsetDeleteResult {
  errorCode: number;
  topics: PartitionErrors[];
}

function allPartitions(topics: { name: string; partitions: { partitionIndex: number }[] }[], errorCode: number): PartitionErrors[] {
  return topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) }));
}

function noOffset(partitionIndex: number, errorCode: number = ErrorCode.NONE): FetchedPartition {
  return { partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode };
}

export class OffsetManager {
  constructor(
    private readonly store: GroupStore,
    private readonly membership: Membership,
    /** Offsets of transactions not decided yet (txn-offsets.ts): unstable for RequireStable. */
    private readonly hasPendingTxnOffset: (groupId: string, topic: string, partition: number) => boolean = () => false,
  ) {}

  // ---------------------------------------------------------------- OffsetCommit

  async commitOffsets(p: OffsetCommitParams): Promise<PartitionErrors[]> {
    const status = this.store.validateGroupStatus(p.groupId, true);
    if (status !== ErrorCode.NONE) return allPartitions(p.topics, status);
    let group = this.store.getGroup(p.groupId);
    if (group === undefined) {
      if (p.generationId >= 0) {
        // A member commit for a group that is gone: a stale generation, as older clients
        // understand it; v9 clients (KIP-848 era) get the precise error.
        return allPartitions(p.topics, p.apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION);
      }
      // Not using group management (assign() consumers, admin tools): a "simple" group.
      group = this.store.getOrCreateGroup(p.groupId);
    }
    const error = this.validateOffsetCommit(group, p);
    if (error !== ErrorCode.NONE) return allPartitions(p.topics, error);
    if (group.is(GroupState.Stable) || group.is(GroupState.PreparingRebalance)) {
      // A commit proves the member is alive, as a heartbeat does.
      const member = group.members.get(p.memberId);
      if (member !== undefined) this.membership.scheduleExpiration(group, member, member.sessionTimeoutMs);
    }
    return this.storeOffsets(group, p);
  }

  private validateOffsetCommit(group: ClassicGroup, p: OffsetCommitParams): number {
    if (group.is(GroupState.Dead)) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    // Generation -1 comes from admin clients and consumers without group management; they may
    // commit while nobody is a member.
    if (p.generationId < 0 && group.is(GroupState.Empty)) return ErrorCode.NONE;
    if (p.generationId >= 0 || p.memberId !== '' || p.groupInstanceId !== null) {
      const error = this.membership.validateCurrentMember(group, p.memberId, p.groupInstanceId);
      if (error !== ErrorCode.NONE) return error;
      if (p.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    } else if (!group.is(GroupState.Empty)) {
      // Without member id and generation, commits are only accepted when the group is empty.
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    // The member knows the new generation (it got its JoinGroup response) but not its
    // assignment yet; it should not commit now.
    if (group.is(GroupState.CompletingRebalance)) return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  private async storeOffsets(group: ClassicGroup, p: OffsetCommitParams): Promise<PartitionErrors[]> {
    const now = this.store.now();
    const maxBytes = this.store.config.offsetMetadataMaxBytes;
    const expireTimestamp = p.retentionTimeMs === -1 ? -1 : now + p.retentionTimeMs;
    const records: CoordinatorLogRecord[] = [];
    const staged: { topic: string; partition: number; committed: CommittedOffset }[] = [];
    // Kafka compares String.length (UTF-16 code units) with offset.metadata.max.bytes, and so
    // does JavaScript's length; the limit is therefore on characters, as in Kafka.
    const tooLarge = (m: string | null) => m !== null && m.length > maxBytes;
    for (const t of p.topics) {
      for (const part of t.partitions) {
        if (tooLarge(part.committedMetadata)) continue;
        const committed: CommittedOffset = {
          offset: part.committedOffset,
          leaderEpoch: part.committedLeaderEpoch,
          metadata: part.committedMetadata ?? '',
          commitTimestamp: part.commitTimestamp === -1 ? now : part.commitTimestamp,
          expireTimestamp,
          seq: this.store.nextSeq(),
        };
        staged.push({ topic: t.name, partition: part.partitionIndex, committed });
        records.push({
          key: encodeOffsetCommitRecordKey({ group: group.groupId, topic: t.name, partition: part.partitionIndex }),
          value: encodeOffsetCommitRecordValue(committed),
        });
      }
    }
    let error: number = ErrorCode.NONE;
    if (records.length > 0) {
      for (const s of staged) group.changePendingOffsetCommit(s.topic, s.partition, 1);
      error = await this.store.append(group.groupId, records, offsetAppendError);
      for (const s of staged) group.changePendingOffsetCommit(s.topic, s.partition, -1);
      if (error === ErrorCode.NONE && !group.is(GroupState.Dead)) {
        for (const s of staged) group.putOffset(s.topic, s.partition, s.committed);
      }
    }
    return p.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((part) => ({
        partitionIndex: part.partitionIndex,
        errorCode: tooLarge(part.committedMetadata) ? ErrorCode.OFFSET_METADATA_TOO_LARGE : error,
      })),
    }));
  }

  // ---------------------------------------------------------------- OffsetFetch

  /**
   * Offsets of one group; `topics === null` asks for every committed partition. A group that
   * does not exist has no offsets (-1), which is not an error: consumers fetch before their
   * group's first commit.
   */
  fetchOffsets(groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null, requireStable: boolean): OffsetFetchGroupResult {
    const status = this.store.validateGroupStatus(groupId, true);
    if (status !== ErrorCode.NONE) return { groupId, errorCode: status, topics: [] };
    const group = this.store.getGroup(groupId);
    if (group === undefined || group.is(GroupState.Dead)) {
      return { groupId, errorCode: ErrorCode.NONE, topics: (topics ?? []).map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((i) => noOffset(i)) })) };
    }
    const wanted = topics ?? [...group.offsets].map(([name, byPartition]) => ({ name, partitionIndexes: [...byPartition.keys()] }));
    return {
      groupId,
      errorCode: ErrorCode.NONE,
      topics: wanted.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((i) => {
          if (requireStable && (group.hasPendingOffsetCommit(t.name, i) || this.hasPendingTxnOffset(groupId, t.name, i))) return noOffset(i, ErrorCode.UNSTABLE_OFFSET_COMMIT);
          const c = group.offset(t.name, i);
          if (c === undefined) return noOffset(i);
          return { partitionIndex: i, committedOffset: c.offset, committedLeaderEpoch: c.leaderEpoch, metadata: c.metadata, errorCode: ErrorCode.NONE };
        }),
      })),
    };
  }

  // ---------------------------------------------------------------- OffsetDelete

  async deleteOffsets(groupId: string, topics: { name: string; partitions: number[] }[]): Promise<OffsetDeleteResult> {
    const status = this.store.validateGroupStatus(groupId, false);
    if (status !== ErrorCode.NONE) return { errorCode: status, topics: [] };
    const group = this.store.getGroup(groupId);
    if (group === undefined || group.is(GroupState.Dead)) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, topics: [] };

    let eligible: (topic: string) => boolean;
    if (group.is(GroupState.Empty)) {
      eligible = () => true;
    } else if (group.isConsumerGroup) {
      // Deleting the offsets of a topic the members consume would rewind them on the next
      // rebalance; Kafka refuses per topic.
      eligible = (topic) => !group.isSubscribedToTopic(topic);
    } else {
      return { errorCode: ErrorCode.NON_EMPTY_GROUP, topics: [] };
    }

    const removed: { topic: string; partition: number }[] = [];
    const result: PartitionErrors[] = topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((partitionIndex) => {
        if (!eligible(t.name)) return { partitionIndex, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC };
        if (group.removeOffset(t.name, partitionIndex)) removed.push({ topic: t.name, partition: partitionIndex });
        return { partitionIndex, errorCode: ErrorCode.NONE };
      }),
    }));
    const error = await this.writeTombstones(group, removed);
    if (error !== ErrorCode.NONE) return { errorCode: error, topics: [] };
    return { errorCode: ErrorCode.NONE, topics: result };
  }

  /**
   * Tombstones for removed offsets, plus the group's own tombstone when removing them left an
   * Empty group with nothing: such a group is dead (Kafka's cleanupGroupMetadata). A group that
   * never had a generation (commits only) never wrote a metadata record, so it gets none.
   */
  async writeTombstones(group: ClassicGroup, removed: { topic: string; partition: number }[]): Promise<number> {
    const records: CoordinatorLogRecord[] = removed.map((r) => ({
      key: encodeOffsetCommitRecordKey({ group: group.groupId, topic: r.topic, partition: r.partition }),
      value: null,
    }));
    if (group.is(GroupState.Empty) && !group.hasOffsets) {
      group.transitionTo(GroupState.Dead, this.store.now());
      this.membership.onGroupDead(group);
      if (this.store.removeGroup(group) && group.generationId > 0) {
        records.push({ key: encodeGroupMetadataRecordKey({ group: group.groupId }), value: null });
      }
    }
    if (records.length === 0) return ErrorCode.NONE;
    return this.store.append(group.groupId, records, offsetAppendError);
  }

  // ---------------------------------------------------------------- expiry

  /** Removes and tombstones expired offsets of every group; returns how many expired. */
  async expireOffsets(): Promise<number> {
    const now = this.store.now();
    const retentionMs = this.store.config.offsetsRetentionMs;
    const writes: Promise<number>[] = [];
    let expired = 0;
    for (const group of [...this.store.groups.values()]) {
      const removed = this.removeExpiredOffsets(group, now, retentionMs);
      expired += removed.length;
      writes.push(this.writeTombstones(group, removed));
    }
    await Promise.all(writes);
    if (expired > 0) this.store.logger.info('expired committed offsets', { count: expired });
    return expired;
  }

  private removeExpiredOffsets(group: ClassicGroup, now: number, retentionMs: number): { topic: string; partition: number }[] {
    let base: ((c: CommittedOffset) => number) | null = null;
    if (group.protocolType === null) {
      base = (c) => c.commitTimestamp;
    } else if (group.is(GroupState.Empty)) {
      // Retention counts from the moment the group became empty; old records without that
      // timestamp fall back to the commit time.
      const since = group.currentStateTimestamp;
      base = (c) => since ?? c.commitTimestamp;
    } else if (group.isConsumerGroup && group.subscribedTopics !== null && group.is(GroupState.Stable)) {
      base = (c) => c.commitTimestamp;
    }
    if (base === null) return [];
    const removed: { topic: string; partition: number }[] = [];
    for (const [topic, byPartition] of group.offsets) {
      if (group.isSubscribedToTopic(topic)) continue;
      for (const [partition, c] of byPartition) {
        if (group.hasPendingOffsetCommit(topic, partition)) continue;
        const isExpired = c.expireTimestamp !== -1 ? now >= c.expireTimestamp : now - base(c) >= retentionMs;
        if (isExpired) removed.push({ topic, partition });
      }
    }
    for (const r of removed) group.removeOffset(r.topic, r.partition);
    return removed;
  }
}

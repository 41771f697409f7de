/**
 * What the parts of the coordinator share: the groups this broker coordinates, which
 * partitions of `__consumer_offsets` it owns or is loading, the log those partitions live in,
 * and the conversion of append failures into the error codes Kafka answers with.
 */
import type { Logger } from '../logger.js';
import type { GroupCoordinatorConfig } from './config.js';
import type { CoordinatorLog, CoordinatorLogRecord } from './coordinator-log.js';
import { CoordinatorPartitions } from './coordinator-partitions.js';
import type { Scheduler } from './scheduler.js';
import { ClassicGroup } from './classic-group.js';
import { AssertionError, ErrorCode, encodeGroupMetadataRecordKey, encodeGroupMetadataRecordValue } from '@tributary/protocol';
import { GroupState } from './group-state.js';
import { partitionForGroup } from './partition-for.js';
import type { GroupMetadataMemberValue } from './records.js';
import { EMPTY_BYTES } from './member.js';

function appendErrorCode(error: unknown): number {
  const code = (error as { errorCode?: unknown } | null)?.errorCode;
  // A failure without a Kafka code is an I/O failure of the log, which Kafka reports as
  // KAFKA_STORAGE_ERROR; the client should look for the coordinator again.
  return typeof code === 'number' ? code : ErrorCode.KAFKA_STORAGE_ERROR;
}

/** Kafka's GroupMetadataManager.storeGroup mapping of append errors. */
export function groupAppendError(error: unknown): number {
  const code = appendErrorCode(error);
  if (code === ErrorCode.REQUEST_TIMED_OUT) return ErrorCode.REBALANCE_IN_PROGRESS;
  return coordinatorAppendError(code, ErrorCode.UNKNOWN_SERVER_ERROR);
}

/** Kafka's GroupMetadataManager.maybeConvertOffsetCommitError. */
export function offsetAppendError(error: unknown): number {
  return coordinatorAppendError(appendErrorCode(error), ErrorCode.INVALID_COMMIT_OFFSET_SIZE);
}

/** The part both mappings share; they differ in what a too-large append becomes. */
function coordinatorAppendError(code: number, tooLarge: number): number {
  switch (code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return tooLarge;
    default:
      return code;
  }
}

export class GroupStore {
  readonly groups = new Map<string, ClassicGroup>();
  private readonly partitions = new CoordinatorPartitions();
  private seq = 0;
  active = false;

  constructor(
    readonly config: GroupCoordinatorConfig,
    readonly log: CoordinatorLog,
    readonly scheduler: Scheduler,
    readonly logger: Logger,
  ) {}

  now(): number {
    return this.scheduler.now();
  }

  /** A number that orders every offset record this coordinator writes or replays. */
  nextSeq(): number {
    return ++this.seq;
  }

  partitionFor(groupId: string): number {
    return partitionForGroup(groupId, this.config.offsetsTopicNumPartitions);
  }

  /** Loads a partition of `__consumer_offsets` with `load` (its groups answer COORDINATOR_LOAD_IN_PROGRESS meanwhile). */
  loadPartition<T>(partition: number, load: () => Promise<T>): Promise<T> {
    return this.partitions.load(partition, load);
  }

  /** Its groups answer NOT_COORDINATOR from now on. */
  unloadPartition(partition: number): void {
    this.partitions.set(partition, null);
  }

  get isLoading(): boolean {
    return this.partitions.anyLoading;
  }

  /**
   * Kafka's validateGroupStatus: a usable group id, a running coordinator, and a partition that
   * is ours and loaded. OffsetCommit, OffsetFetch, DescribeGroups and DeleteGroups accept the
   * empty group id (old clients commit under ""); the membership APIs do not.
   */
  validateGroupStatus(groupId: string | null, allowEmptyGroupId: boolean): number {
    if (groupId === null || (!allowEmptyGroupId && groupId.length === 0)) return ErrorCode.INVALID_GROUP_ID;
    return this.partitions.errorFor(this.partitionFor(groupId), this.active);
  }

  getGroup(groupId: string): ClassicGroup | undefined {
    return this.groups.get(groupId);
  }

  getOrCreateGroup(groupId: string): ClassicGroup {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = new ClassicGroup(groupId, GroupState.Empty, this.now());
      this.groups.set(groupId, group);
    }
    return group;
  }

  /** Removes a group from the cache if it is still the cached instance. */
  removeGroup(group: ClassicGroup): boolean {
    if (this.groups.get(group.groupId) !== group) return false;
    this.groups.delete(group.groupId);
    return true;
  }

  /** Appends to the group's partition; resolves to an error code instead of rejecting. */
  async append(groupId: string, records: CoordinatorLogRecord[], mapError: (e: unknown) => number): Promise<number> {
    try {
      await this.log.append(this.partitionFor(groupId), records);
      return ErrorCode.NONE;
    } catch (error) {
      const code = mapError(error);
      this.logger.warn('append to __consumer_offsets failed', { groupId, error, errorCode: code });
      return code;
    }
  }

  /**
   * Writes the group's metadata record (state as of this call) and resolves to an error code.
   * `assignment` gives each member's assignment; members missing from it are written with an
   * empty one.
   */
  storeGroup(group: ClassicGroup, assignment: ReadonlyMap<string, Buffer>): Promise<number> {
    const protocol = group.protocolName;
    const members: GroupMetadataMemberValue[] = [];
    for (const m of group.members.values()) {
      if (protocol === null) throw new AssertionError(`group ${group.groupId} has members but no protocol`);
      members.push({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeout: m.rebalanceTimeoutMs,
        sessionTimeout: m.sessionTimeoutMs,
        subscription: m.metadata(protocol),
        assignment: assignment.get(m.memberId) ?? EMPTY_BYTES,
      });
    }
    const value = encodeGroupMetadataRecordValue({
      protocolType: group.protocolType ?? '',
      generation: group.generationId,
      protocol,
      leader: group.leaderId,
      currentStateTimestamp: group.currentStateTimestamp ?? -1,
      members,
    });
    return this.append(group.groupId, [{ key: encodeGroupMetadataRecordKey({ group: group.groupId }), value }], groupAppendError);
  }
}

/**
 * The classic group coordinator: the one object the broker's group handlers talk to. Pure
 * logic, no sockets. It owns the groups of the `__consumer_offsets` partitions it has loaded,
 * persists through a CoordinatorLog, and keeps time through an injected Scheduler.
 *
 * Lifecycle: `startup()` loads every partition (single broker) or `loadPartition(p)` one at a
 * time (the broker became leader of p); requests for a loading partition get
 * COORDINATOR_LOAD_IN_PROGRESS, for a partition not ours NOT_COORDINATOR. `shutdown()` stops
 * the timers and answers every parked request with NOT_COORDINATOR.
 *
 * Membership (join/sync/heartbeat/leave) lives in membership.ts, offsets in
 * offset-manager.ts, replay in group-loader.ts; this file adds the group-level admin APIs
 * (DescribeGroups, ListGroups, DeleteGroups) and the periodic offset expiry.
 */
import { silentLogger, type Logger } from '../logger.js';
import { defaultGroupCoordinatorConfig, type GroupCoordinatorConfig } from './config.js';
import type { CoordinatorLog } from './coordinator-log.js';
import { ErrorCode } from '@tributary/protocol';
import { GroupState } from './group-state.js';
import { GroupStore } from './group-store.js';
import { loadGroupsAndOffsets, type LoadSummary } from './group-loader.js';
import { Membership, type HeartbeatParams, type JoinGroupParams, type LeaveGroupMember, type LeaveGroupResult, type SyncGroupParams } from './membership.js';
import type { JoinGroupResult, SyncGroupResult } from './member.js';
import {
  OffsetManager,
  type OffsetCommitParams,
  type OffsetDeleteResult,
  type OffsetFetchGroupResult,
  type PartitionErrors,
} from './offset-manager.js';
import { systemScheduler, type Scheduler } from './scheduler.js';
import { TxnOffsets, type TxnOffsetCommitParams } from './txn-offsets.js';
import { EMPTY_BYTES } from './member.js';

export interface GroupCoordinatorOptions {
  log: CoordinatorLog;
  config?: Partial<GroupCoordinatorConfig>;
  scheduler?: Scheduler;
  logger?: Logger;
}

export interface DescribedGroupMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  memberMetadata: Buffer;
  memberAssignment: Buffer;
}

export interface DescribedGroup {
  errorCode: number;
  groupId: string;
  /** Kafka's state names: Empty, PreparingRebalance, CompletingRebalance, Stable, Dead ("" on error). */
  groupState: string;
  protocolType: string;
  /** The selected protocol (assignor) when Stable, else "". */
  protocolData: string;
  members: DescribedGroupMember[];
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  groupState: string;
  groupType: string;
}

/** Every classic group is of type "classic" (KIP-848's ListGroups v5 type filter). */
export const CLASSIC_GROUP_TYPE = 'classic';

export class GroupCoordinator {
  readonly config: GroupCoordinatorConfig;
  private readonly store: GroupStore;
  private readonly membership: Membership;
  private readonly offsets: OffsetManager;
  private readonly txnOffsets: TxnOffsets;
  private cancelExpiry: (() => void) | null = null;

  constructor(options: GroupCoordinatorOptions) {
    this.config = { ...defaultGroupCoordinatorConfig, ...options.config };
    this.store = new GroupStore(this.config, options.log, options.scheduler ?? systemScheduler, options.logger ?? silentLogger);
    this.membership = new Membership(this.store);
    this.txnOffsets = new TxnOffsets(this.store, this.membership);
    this.offsets = new OffsetManager(this.store, this.membership, (g, t, p) => this.txnOffsets.hasPending(g, t, p));
  }

  // ---------------------------------------------------------------- lifecycle

  /** Loads every partition of `__consumer_offsets` and starts offset expiry. */
  async startup(): Promise<LoadSummary[]> {
    this.store.active = true;
    const summaries: LoadSummary[] = [];
    const started = performance.now();
    for (let p = 0; p < this.config.offsetsTopicNumPartitions; p++) summaries.push(await this.loadPartition(p));
    this.scheduleExpiry();
    const total = (key: 'records' | 'skipped' | 'groups' | 'offsets') => summaries.reduce((n, s) => n + s[key], 0);
    this.store.logger.info('Loaded __consumer_offsets', {
      partitions: summaries.length,
      records: total('records'),
      skipped: total('skipped'),
      groups: total('groups'),
      offsets: total('offsets'),
      elapsedMs: Math.round(performance.now() - started),
    });
    return summaries;
  }

  /** Marks the coordinator running without loading anything (partitions are loaded one by one). */
  activate(): void {
    this.store.active = true;
    this.scheduleExpiry();
  }

  /** Becomes coordinator for one partition: replays it, then serves its groups. */
  async loadPartition(partition: number): Promise<LoadSummary> {
    const summary = await this.store.loadPartition(partition, () => loadGroupsAndOffsets(this.store, this.membership, partition, (producerId, groupId, topic, p, committed) =>
      this.txnOffsets.addPending(producerId, { groupId, topic, partition: p, committed }),
    ));
    this.store.logger.debug('Loaded __consumer_offsets partition', { ...summary });
    return summary;
  }

  /** Stops coordinating one partition: its groups are dropped and their parked requests answered. */
  unloadPartition(partition: number): void {
    this.store.unloadPartition(partition);
    for (const group of [...this.store.groups.values()]) {
      if (this.store.partitionFor(group.groupId) !== partition) continue;
      this.membership.onGroupUnloaded(group);
      this.store.removeGroup(group);
    }
  }

  shutdown(): void {
    this.cancelExpiry?.();
    this.cancelExpiry = null;
    for (let p = 0; p < this.config.offsetsTopicNumPartitions; p++) this.unloadPartition(p);
    this.store.active = false;
  }

  private scheduleExpiry(): void {
    this.cancelExpiry?.();
    this.cancelExpiry = this.store.scheduler.schedule(this.config.offsetsRetentionCheckIntervalMs, () => {
      // Re-arm first: the next check must not depend on this one's appends completing.
      this.scheduleExpiry();
      void this.offsets.expireOffsets().catch((error: unknown) => this.store.logger.error('offset expiry failed', { error }));
    });
  }

  /** Runs offset expiry now (also runs every offsets.retention.check.interval.ms). */
  expireOffsets(): Promise<number> {
    return this.offsets.expireOffsets();
  }

  /** Partition of `__consumer_offsets` that owns `groupId`. */
  partitionFor(groupId: string): number {
    return this.store.partitionFor(groupId);
  }

  // ---------------------------------------------------------------- membership

  joinGroup(p: JoinGroupParams): Promise<JoinGroupResult> {
    return this.membership.joinGroup(p);
  }

  syncGroup(p: SyncGroupParams): Promise<SyncGroupResult> {
    return this.membership.syncGroup(p);
  }

  heartbeat(p: HeartbeatParams): number {
    return this.membership.heartbeat(p);
  }

  leaveGroup(groupId: string, members: LeaveGroupMember[]): LeaveGroupResult {
    return this.membership.leaveGroup(groupId, members);
  }

  // ---------------------------------------------------------------- offsets

  commitOffsets(p: OffsetCommitParams): Promise<PartitionErrors[]> {
    return this.offsets.commitOffsets(p);
  }

  /** TxnOffsetCommit: the offsets stay pending until the transaction's marker (txn-offsets.ts). */
  commitTxnOffsets(p: TxnOffsetCommitParams): Promise<PartitionErrors[]> {
    return this.txnOffsets.commit(p);
  }

  /** A transaction marker of `producerId` was written to `__consumer_offsets` partition `offsetsPartition`. */
  completeTxnOffsets(offsetsPartition: number, producerId: number, commit: boolean): void {
    this.txnOffsets.complete(offsetsPartition, producerId, commit);
  }

  fetchOffsets(groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null, requireStable: boolean): OffsetFetchGroupResult {
    return this.offsets.fetchOffsets(groupId, topics, requireStable);
  }

  deleteOffsets(groupId: string, topics: { name: string; partitions: number[] }[]): Promise<OffsetDeleteResult> {
    return this.offsets.deleteOffsets(groupId, topics);
  }

  // ---------------------------------------------------------------- admin

  describeGroups(groupIds: string[]): DescribedGroup[] {
    return groupIds.map((groupId) => {
      const status = this.store.validateGroupStatus(groupId, true);
      if (status !== ErrorCode.NONE) return { errorCode: status, groupId, groupState: '', protocolType: '', protocolData: '', members: [] };
      const group = this.store.getGroup(groupId);
      if (group === undefined) return { errorCode: ErrorCode.NONE, groupId, groupState: GroupState.Dead, protocolType: '', protocolData: '', members: [] };
      // Metadata and assignments are shown only when Stable: in other states they belong to a
      // generation that is being replaced.
      const protocol = group.is(GroupState.Stable) ? group.protocolName : null;
      return {
        errorCode: ErrorCode.NONE,
        groupId,
        groupState: group.state,
        protocolType: group.protocolType ?? '',
        protocolData: protocol ?? '',
        members: [...group.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: protocol === null ? EMPTY_BYTES : m.metadata(protocol),
          memberAssignment: protocol === null ? EMPTY_BYTES : m.assignment,
        })),
      };
    });
  }

  /** ListGroups; filters compare case-insensitively, as Kafka's do. Empty filter = no filter. */
  listGroups(statesFilter: string[], typesFilter: string[]): { errorCode: number; groups: ListedGroup[] } {
    if (!this.store.active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] };
    const errorCode = this.store.isLoading ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE;
    const states = new Set(statesFilter.map((s) => s.trim().toLowerCase()));
    const types = new Set(typesFilter.map((t) => t.trim().toLowerCase()));
    if (types.size > 0 && !types.has(CLASSIC_GROUP_TYPE)) return { errorCode, groups: [] };
    const groups: ListedGroup[] = [];
    for (const g of this.store.groups.values()) {
      if (g.is(GroupState.Dead)) continue;
      if (states.size > 0 && !states.has(g.state.toLowerCase())) continue;
      groups.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.state, groupType: CLASSIC_GROUP_TYPE });
    }
    return { errorCode, groups };
  }

  /** DeleteGroups: only Empty groups can be deleted; their offsets go with them. */
  async deleteGroups(groupIds: string[]): Promise<{ groupId: string; errorCode: number }[]> {
    const unique = [...new Set(groupIds)];
    return Promise.all(
      unique.map(async (groupId) => {
        const status = this.store.validateGroupStatus(groupId, true);
        if (status !== ErrorCode.NONE) return { groupId, errorCode: status };
        const group = this.store.getGroup(groupId);
        if (group === undefined || group.is(GroupState.Dead)) return { groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND };
        if (!group.is(GroupState.Empty)) return { groupId, errorCode: ErrorCode.NON_EMPTY_GROUP };
        const removed: { topic: string; partition: number }[] = [];
        for (const [topic, byPartition] of group.offsets) for (const partition of byPartition.keys()) removed.push({ topic, partition });
        for (const r of removed) group.removeOffset(r.topic, r.partition);
        // In-flight commits would otherwise keep the group alive; they are dropped on arrival
        // because the group is dead by then.
        group.pendingOffsetCommits.clear();
        const errorCode = await this.offsets.writeTombstones(group, removed);
        return { groupId, errorCode };
      }),
    );
  }

  // ---------------------------------------------------------------- introspection (tests, metrics)

  /** Number of groups in the cache. */
  get groupCount(): number {
    return this.store.groups.size;
  }

  /** State of a group, or null when the coordinator does not have it. */
  groupState(groupId: string): string | null {
    return this.store.getGroup(groupId)?.state ?? null;
  }
}

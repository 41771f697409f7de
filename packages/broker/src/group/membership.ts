/**
 * Classic group membership: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, and the timers that
 * drive rebalances (join completion, initial delay, pending sync, session expiry).
 *
 * It follows Kafka's GroupCoordinator (core/.../coordinator/group/GroupCoordinator.scala) path
 * for path, because clients observe every branch: which error a request gets in which state,
 * when a parked JoinGroup is answered, who becomes leader. Kafka's purgatories become timers
 * from the injected Scheduler:
 * - join timer: DelayedJoin (completes early once every member rejoined, else after the
 *   largest rebalance timeout) or InitialDelayedJoin (only by timeout, extended while new
 *   members keep arriving);
 * - sync timer: DelayedSync (members that do not SyncGroup within the rebalance timeout are
 *   removed and the group rebalances);
 * - one expiration timer per member: the session timeout (5 minutes for a member still in its
 *   first JoinGroup), restarted by every heartbeat, commit or completed join/sync.
 *
 * Deliberate differences from Kafka: a request that is superseded while parked (a member sends
 * JoinGroup or SyncGroup again before the first is answered, or is removed while its SyncGroup
 * waits) is answered (REBALANCE_IN_PROGRESS / UNKNOWN_MEMBER_ID) instead of being left without
 * a response.
 */
import { randomUUID } from 'node:crypto';
import { NEW_MEMBER_JOIN_TIMEOUT_MS } from './config.js';
import { AssertionError, ErrorCode } from '@tributary/protocol';
import { GroupState } from './group-state.js';
import type { ClassicGroup } from './classic-group.js';
import type { GroupStore } from './group-store.js';
import {
  ClassicMember,
  EMPTY_BYTES,
  joinError,
  syncError,
  type GroupProtocol,
  type JoinGroupResult,
  type SyncGroupResult,
} from './member.js';

export interface JoinGroupParams {
  groupId: string;
  /** "" for a member joining for the first time. */
  memberId: string;
  groupInstanceId: string | null;
  /** JoinGroup v4+: an unknown dynamic member first gets MEMBER_ID_REQUIRED and a member id. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+: a rejoining static leader may be told to skip the assignment. */
  supportSkippingAssignment: boolean;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
  reason: string | null;
}

export interface SyncGroupParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface HeartbeatParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface LeaveGroupMember {
  memberId: string;
  groupInstanceId: string | null;
  reason: string | null;
}

export interface LeaveGroupResult {
  errorCode: number;
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[];
}

export class Membership {
  /** Expiration timers of pending members (MEMBER_ID_REQUIRED handed out, not yet rejoined). */
  private readonly pendingMemberTimers = new Map<string, () => void>();

  constructor(private readonly store: GroupStore) {}

  private get log() {
    return this.store.logger;
  }

  // ---------------------------------------------------------------- JoinGroup

  joinGroup(p: JoinGroupParams): Promise<JoinGroupResult> {
    return new Promise((respond) => this.handleJoinGroup(p, respond));
  }

  private handleJoinGroup(p: JoinGroupParams, respond: (r: JoinGroupResult) => void): void {
    const status = this.store.validateGroupStatus(p.groupId, false);
    if (status !== ErrorCode.NONE) return respond(joinError(p.memberId, status));
    const cfg = this.store.config;
    if (p.sessionTimeoutMs < cfg.groupMinSessionTimeoutMs || p.sessionTimeoutMs > cfg.groupMaxSessionTimeoutMs) {
      return respond(joinError(p.memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    const isUnknownMember = p.memberId === '';
    // The group is created by an unknown member's join; a known member id for a group that
    // does not exist is stale (the group expired or moved).
    const group = isUnknownMember ? this.store.getOrCreateGroup(p.groupId) : this.store.getGroup(p.groupId);
    if (group === undefined) return respond(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));

    if (!this.acceptJoiningMember(group, p.memberId)) {
      const rejected = group.members.get(p.memberId);
      rejected?.cancelExpiration?.();
      group.remove(p.memberId);
      respond(joinError('', ErrorCode.GROUP_MAX_SIZE_REACHED));
    } else if (isUnknownMember) {
      this.doNewMemberJoinGroup(group, p, respond);
    } else {
      this.doCurrentMemberJoinGroup(group, p, respond);
    }
    if (group.is(GroupState.PreparingRebalance)) this.tryCompleteJoin(group);
  }

  /**
   * group.max.size: while rebalancing, count members that already rejoined (the group may be
   * above a lowered limit, and this kicks out the last to rejoin); otherwise count members.
   */
  private acceptJoiningMember(group: ClassicGroup, memberId: string): boolean {
    const max = this.store.config.groupMaxSize;
    switch (group.state) {
      case GroupState.Empty:
      case GroupState.Dead:
        return true;
      case GroupState.PreparingRebalance:
        return (group.has(memberId) && group.get(memberId).isAwaitingJoin) || group.numAwaiting < max;
      default:
        return group.has(memberId) || group.size < max;
    }
  }

  private doNewMemberJoinGroup(group: ClassicGroup, p: JoinGroupParams, respond: (r: JoinGroupResult) => void): void {
    if (group.is(GroupState.Dead)) return respond(joinError('', ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(p.protocolType, p.protocols)) return respond(joinError('', ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    // Kafka's member id: the group.instance.id (static) or client.id (dynamic), a dash, a UUID.
    const newMemberId = `${p.groupInstanceId ?? p.clientId}-${randomUUID()}`;
    if (p.groupInstanceId !== null) {
      const oldMemberId = group.staticMembers.get(p.groupInstanceId);
      if (oldMemberId !== undefined) {
        this.log.info('static member rejoins with a new member id', { groupId: group.groupId, groupInstanceId: p.groupInstanceId, oldMemberId, newMemberId });
        this.updateStaticMemberAndRebalance(group, oldMemberId, newMemberId, p, respond);
      } else {
        this.addMemberAndRebalance(group, newMemberId, p, respond);
      }
    } else if (p.requireKnownMemberId) {
      // Hand out a member id and wait for the member to come back with it, so that a client
      // whose JoinGroup times out does not leave an orphan member behind in the group.
      group.pendingMembers.add(newMemberId);
      this.schedulePendingMemberExpiration(group, newMemberId, p.sessionTimeoutMs);
      respond(joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
    } else {
      this.addMemberAndRebalance(group, newMemberId, p, respond);
    }
  }

  private doCurrentMemberJoinGroup(group: ClassicGroup, p: JoinGroupParams, respond: (r: JoinGroupResult) => void): void {
    if (group.is(GroupState.Dead)) return respond(joinError(p.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(p.protocolType, p.protocols)) return respond(joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    if (group.pendingMembers.has(p.memberId)) {
      // Pending members are dynamic by construction; Kafka fails such a request with an
      // internal error (IllegalStateException), and so do we, without throwing.
      if (p.groupInstanceId !== null) return respond(joinError(p.memberId, ErrorCode.UNKNOWN_SERVER_ERROR));
      this.cancelPendingMemberExpiration(group, p.memberId);
      return this.addMemberAndRebalance(group, p.memberId, p, respond);
    }
    const error = this.validateCurrentMember(group, p.memberId, p.groupInstanceId);
    if (error !== ErrorCode.NONE) return respond(joinError(p.memberId, error));
    const member = group.get(p.memberId);
    switch (group.state) {
      case GroupState.PreparingRebalance:
        return this.updateMemberAndRebalance(group, member, p, respond);
      case GroupState.CompletingRebalance:
        // Same metadata: the member probably lost the JoinGroup response; send it again.
        if (member.matches(p.protocols)) return respond(this.currentGenerationResult(group, member.memberId, group.isLeader(member.memberId)));
        return this.updateMemberAndRebalance(group, member, p, respond);
      case GroupState.Stable:
        // A leader's JoinGroup always rebalances: that is how a leader reacts to metadata
        // changes (new partitions) that do not change any member's subscription.
        if (group.isLeader(member.memberId) || !member.matches(p.protocols)) return this.updateMemberAndRebalance(group, member, p, respond);
        return respond(this.currentGenerationResult(group, member.memberId, false));
      default:
        return respond(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  private currentGenerationResult(group: ClassicGroup, memberId: string, withMembers: boolean): JoinGroupResult {
    return {
      errorCode: ErrorCode.NONE,
      memberId,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      skipAssignment: false,
      members: withMembers ? group.currentMemberMetadata() : [],
    };
  }

  /**
   * Kafka's validateCurrentMember: a group.instance.id, when given, must be known and owned by
   * this member id (another member id means this one was replaced: fenced); the member id must
   * be in the group.
   */
  validateCurrentMember(group: ClassicGroup, memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const current = group.staticMembers.get(groupInstanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (current !== memberId) {
        this.log.info('static member fenced', { groupId: group.groupId, groupInstanceId, memberId, currentMemberId: current });
        return ErrorCode.FENCED_INSTANCE_ID;
      }
    }
    return group.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  private addMemberAndRebalance(group: ClassicGroup, memberId: string, p: JoinGroupParams, respond: (r: JoinGroupResult) => void): void {
    const member = new ClassicMember(
      memberId,
      p.groupInstanceId,
      p.clientId,
      p.clientHost,
      p.rebalanceTimeoutMs,
      p.sessionTimeoutMs,
      p.protocolType,
      p.protocols,
    );
    member.isNew = true;
    // A member arriving during the initial delayed rebalance extends the delay.
    if (group.is(GroupState.PreparingRebalance) && group.generationId === 0) group.newMemberAdded = true;
    group.add(member, respond);
    this.scheduleExpiration(group, member, NEW_MEMBER_JOIN_TIMEOUT_MS);
    this.maybePrepareRebalance(group, `adding new member ${memberId}`);
  }

  private updateMemberAndRebalance(group: ClassicGroup, member: ClassicMember, p: JoinGroupParams, respond: (r: JoinGroupResult) => void): void {
    // A JoinGroup that replaces a parked one: the old request is answered so it never hangs.
    const previous = member.awaitingJoin;
    group.updateMember(member, p.protocols, p.rebalanceTimeoutMs, p.sessionTimeoutMs, respond);
    previous?.(joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    this.maybePrepareRebalance(group, `member ${member.memberId} rejoins in ${group.state}`);
  }

  /**
   * A static member came back under a new member id (its process restarted). It takes over the
   * old member's place; the group rebalances only if it must.
   */
  private updateStaticMemberAndRebalance(
    group: ClassicGroup,
    oldMemberId: string,
    newMemberId: string,
    p: JoinGroupParams,
    respond: (r: JoinGroupResult) => void,
  ): void {
    const instanceId = p.groupInstanceId!;
    const currentLeader = group.leaderId ?? '';
    const fenced = { join: joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID), sync: syncError(ErrorCode.FENCED_INSTANCE_ID) };
    const member = group.replaceStaticMember(instanceId, oldMemberId, newMemberId, fenced);
    this.scheduleExpiration(group, member, member.sessionTimeoutMs);
    const oldProtocols = member.protocols;
    const oldRebalanceTimeoutMs = member.rebalanceTimeoutMs;
    const oldSessionTimeoutMs = member.sessionTimeoutMs;
    group.updateMember(member, p.protocols, p.rebalanceTimeoutMs, p.sessionTimeoutMs, respond);

    switch (group.state) {
      case GroupState.Stable: {
        // If the protocol the group would select does not change, keep the generation and the
        // assignment: persist the new member id and answer at once, without a rebalance.
        if (group.protocolName !== group.selectProtocol()) {
          return this.maybePrepareRebalance(group, `static member ${instanceId} rejoins with a protocol change`);
        }
        const assignment = new Map([...group.members.values()].map((m) => [m.memberId, m.assignment] as const));
        void this.store.storeGroup(group, assignment).then((error) => {
          if (error !== ErrorCode.NONE) {
            if (group.members.get(newMemberId) !== member) {
              // Removed meanwhile (session expiry, LeaveGroup) and already answered.
              return;
            }
            // Could not persist the new member id: put the old one back.
            group.updateMember(member, oldProtocols, oldRebalanceTimeoutMs, oldSessionTimeoutMs, null);
            const noop = { join: joinError(newMemberId, error), sync: syncError(error) };
            const restored = group.replaceStaticMember(instanceId, newMemberId, oldMemberId, noop);
            this.scheduleExpiration(group, restored, restored.sessionTimeoutMs);
            respond({
              errorCode: error,
              memberId: '',
              generationId: group.generationId,
              protocolType: group.protocolType,
              protocolName: group.protocolName,
              leader: currentLeader,
              skipAssignment: false,
              members: [],
            });
          } else if (p.supportSkippingAssignment) {
            // JoinGroup v9+: tell a static leader it leads, but that it must not reassign (the
            // group is stable and would ignore a new assignment).
            const isLeader = group.isLeader(newMemberId);
            group.maybeInvokeJoin(member, { ...this.currentGenerationResult(group, newMemberId, isLeader), skipAssignment: isLeader });
          } else {
            // Older clients: report the previous leader id so a rejoining leader does not run
            // the assignor (its assignment would not be used).
            group.maybeInvokeJoin(member, { ...this.currentGenerationResult(group, newMemberId, false), leader: currentLeader });
          }
        });
        return;
      }
      case GroupState.CompletingRebalance:
        // The leader may already be assigning to the old member id; start over.
        return this.prepareRebalance(group, `static member ${instanceId} rejoins during CompletingRebalance`);
      case GroupState.PreparingRebalance:
        return;
      default:
        throw new AssertionError(`group ${group.groupId}: static member ${instanceId} rejoined in unexpected state ${group.state}`);
    }
  }

  // ---------------------------------------------------------------- rebalance

  private maybePrepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.canRebalance) this.prepareRebalance(group, reason);
  }

  prepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.is(GroupState.CompletingRebalance)) this.resetAndPropagateAssignmentError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    this.removeSyncExpiration(group);
    const wasEmpty = group.is(GroupState.Empty);
    group.transitionTo(GroupState.PreparingRebalance, this.store.now());
    this.log.info('preparing to rebalance group', { groupId: group.groupId, generationId: group.generationId, reason });
    if (wasEmpty) {
      const delayMs = this.store.config.groupInitialRebalanceDelayMs;
      this.scheduleInitialJoin(group, delayMs, Math.max(group.rebalanceTimeoutMs - delayMs, 0));
    } else {
      this.scheduleJoin(group, group.rebalanceTimeoutMs);
    }
  }

  private scheduleJoin(group: ClassicGroup, timeoutMs: number): void {
    group.cancelJoinTimer?.();
    group.joinTimerIsInitial = false;
    group.cancelJoinTimer = this.store.scheduler.schedule(timeoutMs, () => {
      group.cancelJoinTimer = null;
      this.onCompleteJoin(group);
    });
    this.tryCompleteJoin(group);
  }

  /** Kafka's InitialDelayedJoin: completes only by timeout, re-armed while members keep arriving. */
  private scheduleInitialJoin(group: ClassicGroup, delayMs: number, remainingMs: number): void {
    group.cancelJoinTimer?.();
    group.joinTimerIsInitial = true;
    group.cancelJoinTimer = this.store.scheduler.schedule(delayMs, () => {
      group.cancelJoinTimer = null;
      if (group.newMemberAdded && remainingMs !== 0) {
        group.newMemberAdded = false;
        const nextDelayMs = Math.min(this.store.config.groupInitialRebalanceDelayMs, remainingMs);
        this.scheduleInitialJoin(group, nextDelayMs, Math.max(remainingMs - delayMs, 0));
      } else {
        this.onCompleteJoin(group);
      }
    });
  }

  /** DelayedJoin.tryComplete: finish the join phase as soon as every member has rejoined. */
  private tryCompleteJoin(group: ClassicGroup): void {
    if (group.cancelJoinTimer === null || group.joinTimerIsInitial) return;
    if (!group.hasAllMembersJoined) return;
    group.cancelJoinTimer();
    group.cancelJoinTimer = null;
    this.onCompleteJoin(group);
  }

  private onCompleteJoin(group: ClassicGroup): void {
    // Dynamic members that did not rejoin in time are gone; static members stay (their
    // session timeout decides), which is the point of static membership.
    for (const m of [...group.members.values()]) {
      if (!m.isAwaitingJoin && !m.isStatic) {
        group.remove(m.memberId);
        m.cancelExpiration?.();
      }
    }
    if (group.is(GroupState.Dead)) return;
    if (!group.maybeElectNewJoinedLeader() && group.size > 0) {
      // Nobody rejoined: wait another rebalance timeout, until session expiry removes the
      // silent members.
      this.log.warn('group could not complete rebalance because no members rejoined', { groupId: group.groupId });
      return this.scheduleJoin(group, group.rebalanceTimeoutMs);
    }
    group.initNextGeneration(this.store.now());
    if (group.is(GroupState.Empty)) {
      // Persist the empty generation; failing is harmless (there are no members to mislead).
      void this.store.storeGroup(group, new Map()).then((error) => {
        if (error !== ErrorCode.NONE) this.log.warn('failed to write empty group metadata', { groupId: group.groupId, errorCode: error });
      });
      return;
    }
    this.log.info('group stabilized', { groupId: group.groupId, generationId: group.generationId, members: group.size });
    for (const member of group.members.values()) {
      group.maybeInvokeJoin(member, this.currentGenerationResult(group, member.memberId, group.isLeader(member.memberId)));
      this.scheduleExpiration(group, member, member.sessionTimeoutMs);
      member.isNew = false;
      group.pendingSyncMembers.add(member.memberId);
    }
    this.schedulePendingSync(group);
  }

  private schedulePendingSync(group: ClassicGroup): void {
    group.cancelSyncTimer?.();
    const generationId = group.generationId;
    group.cancelSyncTimer = this.store.scheduler.schedule(group.rebalanceTimeoutMs, () => {
      group.cancelSyncTimer = null;
      this.onExpirePendingSync(group, generationId);
    });
  }

  private removeSyncExpiration(group: ClassicGroup): void {
    group.pendingSyncMembers.clear();
    group.cancelSyncTimer?.();
    group.cancelSyncTimer = null;
  }

  private removePendingSyncMember(group: ClassicGroup, memberId: string): void {
    group.pendingSyncMembers.delete(memberId);
    if (group.pendingSyncMembers.size === 0 && group.cancelSyncTimer !== null) {
      group.cancelSyncTimer();
      group.cancelSyncTimer = null;
    }
  }

  private onExpirePendingSync(group: ClassicGroup, generationId: number): void {
    if (generationId !== group.generationId) return;
    if (!group.is(GroupState.CompletingRebalance) && !group.is(GroupState.Stable)) return;
    if (group.pendingSyncMembers.size === 0) return;
    const missing = [...group.pendingSyncMembers];
    for (const memberId of missing) {
      const member = group.members.get(memberId);
      if (member !== undefined) {
        group.maybeInvokeJoin(member, joinError('', ErrorCode.UNKNOWN_MEMBER_ID));
        member.cancelExpiration?.();
      }
      group.remove(memberId);
    }
    this.prepareRebalance(group, `members ${missing.join(', ')} did not send SyncGroup in time`);
  }

  private setAndPropagateAssignment(group: ClassicGroup, assignment: ReadonlyMap<string, Buffer>): void {
    for (const m of group.members.values()) m.assignment = assignment.get(m.memberId) ?? EMPTY_BYTES;
    this.propagateAssignment(group, ErrorCode.NONE);
  }

  private resetAndPropagateAssignmentError(group: ClassicGroup, error: number): void {
    for (const m of group.members.values()) m.assignment = EMPTY_BYTES;
    this.propagateAssignment(group, error);
  }

  private propagateAssignment(group: ClassicGroup, error: number): void {
    const ok = error === ErrorCode.NONE;
    for (const m of group.members.values()) {
      const answered = group.maybeInvokeSync(m, {
        errorCode: error,
        protocolType: ok ? group.protocolType : null,
        protocolName: ok ? group.protocolName : null,
        assignment: m.assignment,
      });
      // Restart the session clock: a member's expiry is ignored while it waits for the
      // assignment, so it needs a fresh deadline now.
      if (answered) this.scheduleExpiration(group, m, m.sessionTimeoutMs);
    }
  }

  // ---------------------------------------------------------------- session expiry

  /** Kafka's completeAndScheduleNextExpiration: the member is alive now; expect it again within timeoutMs. */
  scheduleExpiration(group: ClassicGroup, member: ClassicMember, timeoutMs: number): void {
    member.cancelExpiration?.();
    const memberId = member.memberId;
    member.cancelExpiration = this.store.scheduler.schedule(timeoutMs, () => {
      if (group.is(GroupState.Dead)) return;
      const current = group.members.get(memberId);
      if (current !== member) return;
      member.cancelExpiration = null;
      // A member that is waiting on the coordinator (parked JoinGroup or SyncGroup) cannot
      // heartbeat, so it is not expired; it gets a new deadline when it is answered. A member
      // still in its first join has no such excuse.
      if (!member.isNew && (member.isAwaitingJoin || member.isAwaitingSync)) return;
      this.log.info('member session expired', { groupId: group.groupId, memberId });
      this.removeMemberAndUpdateGroup(group, member, `member ${memberId} session expired`);
    });
  }

  private schedulePendingMemberExpiration(group: ClassicGroup, memberId: string, timeoutMs: number): void {
    const key = `${group.groupId}\0${memberId}`;
    this.pendingMemberTimers.get(key)?.();
    this.pendingMemberTimers.set(
      key,
      this.store.scheduler.schedule(timeoutMs, () => {
        this.pendingMemberTimers.delete(key);
        if (group.is(GroupState.Dead) || !group.pendingMembers.has(memberId)) return;
        this.removePendingMemberAndUpdateGroup(group, memberId);
      }),
    );
  }

  private cancelPendingMemberExpiration(group: ClassicGroup, memberId: string): void {
    const key = `${group.groupId}\0${memberId}`;
    this.pendingMemberTimers.get(key)?.();
    this.pendingMemberTimers.delete(key);
  }

  private removeMemberAndUpdateGroup(group: ClassicGroup, member: ClassicMember, reason: string): void {
    // A new member may be removed while its JoinGroup is parked: answer it so the client
    // retries with a fresh join.
    group.maybeInvokeJoin(member, joinError('', ErrorCode.UNKNOWN_MEMBER_ID));
    group.maybeInvokeSync(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    member.cancelExpiration?.();
    member.cancelExpiration = null;
    group.remove(member.memberId);
    switch (group.state) {
      case GroupState.Stable:
      case GroupState.CompletingRebalance:
        return this.maybePrepareRebalance(group, reason);
      case GroupState.PreparingRebalance:
        return this.tryCompleteJoin(group);
      default:
        return;
    }
  }

  private removePendingMemberAndUpdateGroup(group: ClassicGroup, memberId: string): void {
    this.cancelPendingMemberExpiration(group, memberId);
    group.remove(memberId);
    if (group.is(GroupState.PreparingRebalance)) this.tryCompleteJoin(group);
  }

  // ---------------------------------------------------------------- SyncGroup

  syncGroup(p: SyncGroupParams): Promise<SyncGroupResult> {
    return new Promise((respond) => this.handleSyncGroup(p, respond));
  }

  private handleSyncGroup(p: SyncGroupParams, respond: (r: SyncGroupResult) => void): void {
    const status = this.store.validateGroupStatus(p.groupId, false);
    // While loading, the state of the rebalance is lost: REBALANCE_IN_PROGRESS sends the member
    // back to JoinGroup (old clients do not expect COORDINATOR_LOAD_IN_PROGRESS here).
    if (status === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return respond(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    if (status !== ErrorCode.NONE) return respond(syncError(status));
    const group = this.store.getGroup(p.groupId);
    if (group === undefined) return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (group.is(GroupState.Dead)) return respond(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    let error = this.validateCurrentMember(group, p.memberId, p.groupInstanceId);
    if (error === ErrorCode.NONE && p.generationId !== group.generationId) error = ErrorCode.ILLEGAL_GENERATION;
    if (error === ErrorCode.NONE && p.protocolType !== null && p.protocolType !== group.protocolType) error = ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
    if (error === ErrorCode.NONE && p.protocolName !== null && p.protocolName !== group.protocolName) error = ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
    if (error !== ErrorCode.NONE) return respond(syncError(error));

    switch (group.state) {
      case GroupState.Empty:
        return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case GroupState.PreparingRebalance:
        return respond(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case GroupState.CompletingRebalance: {
        const member = group.get(p.memberId);
        const previous = member.awaitingSync;
        member.awaitingSync = respond;
        previous?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        this.removePendingSyncMember(group, p.memberId);
        if (group.isLeader(p.memberId)) this.storeLeaderAssignment(group, p);
        return;
      }
      case GroupState.Stable: {
        this.removePendingSyncMember(group, p.memberId);
        const member = group.get(p.memberId);
        respond({ errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment });
        return this.scheduleExpiration(group, member, member.sessionTimeoutMs);
      }
      default:
        return respond(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    }
  }

  private storeLeaderAssignment(group: ClassicGroup, p: SyncGroupParams): void {
    const assignment = new Map<string, Buffer>();
    for (const a of p.assignments) assignment.set(a.memberId, a.assignment);
    // Members the leader left out get an empty assignment, as in Kafka.
    for (const memberId of group.members.keys()) if (!assignment.has(memberId)) assignment.set(memberId, EMPTY_BYTES);
    const generationId = group.generationId;
    void this.store.storeGroup(group, assignment).then((error) => {
      // Another join may have started a new rebalance while the write was in flight.
      if (!group.is(GroupState.CompletingRebalance) || group.generationId !== generationId) return;
      if (error !== ErrorCode.NONE) {
        this.resetAndPropagateAssignmentError(group, error);
        this.maybePrepareRebalance(group, `error ${error} storing the assignment of generation ${generationId}`);
      } else {
        this.setAndPropagateAssignment(group, assignment);
        group.transitionTo(GroupState.Stable, this.store.now());
      }
    });
  }

  // ---------------------------------------------------------------- Heartbeat

  heartbeat(p: HeartbeatParams): number {
    const status = this.store.validateGroupStatus(p.groupId, false);
    // While loading, answer blindly: the member will learn of any rebalance afterwards.
    if (status === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return ErrorCode.NONE;
    if (status !== ErrorCode.NONE) return status;
    const group = this.store.getGroup(p.groupId);
    if (group === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is(GroupState.Dead)) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const error = this.validateCurrentMember(group, p.memberId, p.groupInstanceId);
    if (error !== ErrorCode.NONE) return error;
    if (p.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    switch (group.state) {
      case GroupState.Empty:
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case GroupState.PreparingRebalance: {
        const member = group.get(p.memberId);
        this.scheduleExpiration(group, member, member.sessionTimeoutMs);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      }
      default: {
        // CompletingRebalance (members may heartbeat right after their JoinGroup) and Stable.
        const member = group.get(p.memberId);
        this.scheduleExpiration(group, member, member.sessionTimeoutMs);
        return ErrorCode.NONE;
      }
    }
  }

  // ---------------------------------------------------------------- LeaveGroup

  leaveGroup(groupId: string, leaving: LeaveGroupMember[]): LeaveGroupResult {
    const status = this.store.validateGroupStatus(groupId, false);
    if (status !== ErrorCode.NONE) return { errorCode: status, members: [] };
    const group = this.store.getGroup(groupId);
    const answer = (m: LeaveGroupMember, errorCode: number) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode });
    if (group === undefined) return { errorCode: ErrorCode.NONE, members: leaving.map((m) => answer(m, ErrorCode.UNKNOWN_MEMBER_ID)) };
    if (group.is(GroupState.Dead)) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const members = leaving.map((m) => {
      const reason = `member left the group: ${m.reason ?? 'not provided'}`;
      if (m.memberId === '') {
        // Administrative removal by group.instance.id (kafka-consumer-groups --delete-members).
        const current = m.groupInstanceId === null ? undefined : group.staticMembers.get(m.groupInstanceId);
        if (current === undefined) return answer(m, ErrorCode.UNKNOWN_MEMBER_ID);
        this.removeMemberAndUpdateGroup(group, group.get(current), reason);
        return answer(m, ErrorCode.NONE);
      }
      if (group.pendingMembers.has(m.memberId)) {
        this.removePendingMemberAndUpdateGroup(group, m.memberId);
        return answer(m, ErrorCode.NONE);
      }
      const error = this.validateCurrentMember(group, m.memberId, m.groupInstanceId);
      if (error !== ErrorCode.NONE) return answer(m, error);
      this.removeMemberAndUpdateGroup(group, group.get(m.memberId), reason);
      return answer(m, ErrorCode.NONE);
    });
    return { errorCode: ErrorCode.NONE, members };
  }

  // ---------------------------------------------------------------- load / unload

  /** A group just read from the log: start its members' session clocks. */
  onGroupLoaded(group: ClassicGroup): void {
    for (const m of group.members.values()) this.scheduleExpiration(group, m, m.sessionTimeoutMs);
    if (group.size > this.store.config.groupMaxSize) {
      this.prepareRebalance(group, `loaded group is over capacity (${this.store.config.groupMaxSize})`);
    }
  }

  /** The group is no longer ours (partition unloaded or broker stopping): answer everyone parked. */
  onGroupUnloaded(group: ClassicGroup): void {
    const previous = group.state;
    group.transitionTo(GroupState.Dead, this.store.now());
    group.cancelJoinTimer?.();
    group.cancelJoinTimer = null;
    this.removeSyncExpiration(group);
    for (const m of group.members.values()) {
      m.cancelExpiration?.();
      m.cancelExpiration = null;
      if (previous === GroupState.PreparingRebalance) group.maybeInvokeJoin(m, joinError(m.memberId, ErrorCode.NOT_COORDINATOR));
      group.maybeInvokeSync(m, syncError(ErrorCode.NOT_COORDINATOR));
    }
    for (const memberId of group.pendingMembers) this.cancelPendingMemberExpiration(group, memberId);
  }

  /** Called when a group dies (deleted, expired): stop its timers. */
  onGroupDead(group: ClassicGroup): void {
    group.cancelJoinTimer?.();
    group.cancelJoinTimer = null;
    this.removeSyncExpiration(group);
    for (const memberId of group.pendingMembers) this.cancelPendingMemberExpiration(group, memberId);
  }
}

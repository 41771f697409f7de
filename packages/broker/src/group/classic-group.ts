/**
 * The state of one classic group: membership (members, static members, pending members,
 * protocol support counts), the generation, and its committed offsets. Pure bookkeeping:
 * timers, persistence and request answering live in the coordinator.
 *
 * Invariants kept here:
 * - `numAwaitingJoin` equals the number of members whose JoinGroup is parked.
 * - `supportedProtocols[p]` equals the number of members listing protocol p, so "supported by
 *   every member" is a count comparison.
 * - `staticMembers` maps each group.instance.id to the member id that currently owns it.
 */
import { AssertionError, INT32_MAX, assertBelow } from '@tributary/protocol';
import { canTransition, GroupState, type GroupStateName } from './group-state.js';
import { ClassicMember, type GroupProtocol, type JoinGroupResult, type JoinGroupResultMember, type SyncGroupResult } from './member.js';
import { CONSUMER_PROTOCOL_TYPE, parseSubscriptionTopics } from './consumer-protocol.js';

export interface CommittedOffset {
  offset: number;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** -1 unless the commit asked for an explicit retention (OffsetCommit v1-v4). */
  expireTimestamp: number;
  /** Order of the commit in the log; a late-resolving older append must not overwrite a newer one. */
  seq: number;
}

export class ClassicGroup {
  state: GroupStateName;
  /** When the group entered its current state; null when unknown (old records). */
  currentStateTimestamp: number | null;
  protocolType: string | null = null;
  protocolName: string | null = null;
  generationId = 0;
  leaderId: string | null = null;
  /** Set when a member joins during the initial delayed rebalance, to extend the delay. */
  newMemberAdded = false;

  readonly members = new Map<string, ClassicMember>();
  readonly staticMembers = new Map<string, string>();
  readonly pendingMembers = new Set<string>();
  readonly pendingSyncMembers = new Set<string>();
  private readonly supportedProtocols = new Map<string, number>();
  private numAwaitingJoin = 0;
  /** Topics the members subscribe to (consumer protocol only); null when unknown. */
  subscribedTopics: Set<string> | null = null;

  /** topic -> partition -> committed offset. */
  readonly offsets = new Map<string, Map<number, CommittedOffset>>();
  /** "topic\0partition" -> number of commits appended but not yet durable. */
  readonly pendingOffsetCommits = new Map<string, number>();

  /** Cancels the pending join completion timer (DelayedJoin / InitialDelayedJoin). */
  cancelJoinTimer: (() => void) | null = null;
  /** True while the join timer is Kafka's InitialDelayedJoin, which only completes by timeout. */
  joinTimerIsInitial = false;
  /** Cancels the pending sync expiration timer. */
  cancelSyncTimer: (() => void) | null = null;

  constructor(readonly groupId: string, state: GroupStateName, nowMs: number) {
    this.state = state;
    this.currentStateTimestamp = nowMs;
  }

  is(state: GroupStateName): boolean {
    return this.state === state;
  }

  transitionTo(state: GroupStateName, nowMs: number): void {
    if (!canTransition(this.state, state)) {
      throw new AssertionError(`group ${this.groupId}: transition from ${this.state} to ${state} is not allowed`);
    }
    this.state = state;
    this.currentStateTimestamp = nowMs;
  }

  get size(): number {
    return this.members.size;
  }

  get numAwaiting(): number {
    return this.numAwaitingJoin;
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  get(memberId: string): ClassicMember {
    const m = this.members.get(memberId);
    if (m === undefined) throw new AssertionError(`group ${this.groupId} has no member ${memberId}`);
    return m;
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  get isConsumerGroup(): boolean {
    return this.protocolType === CONSUMER_PROTOCOL_TYPE;
  }

  get canRebalance(): boolean {
    return canTransition(this.state, GroupState.PreparingRebalance);
  }

  get hasAllMembersJoined(): boolean {
    return this.members.size === this.numAwaitingJoin && this.pendingMembers.size === 0;
  }

  get rebalanceTimeoutMs(): number {
    let timeout = 0;
    for (const m of this.members.values()) timeout = Math.max(timeout, m.rebalanceTimeoutMs);
    return timeout;
  }

  add(member: ClassicMember, callback: ((r: JoinGroupResult) => void) | null): void {
    if (member.groupInstanceId !== null) {
      if (this.staticMembers.has(member.groupInstanceId)) {
        throw new AssertionError(`group ${this.groupId} already has static member ${member.groupInstanceId}`);
      }
      this.staticMembers.set(member.groupInstanceId, member.memberId);
    }
    if (this.members.size === 0) this.protocolType = member.protocolType;
    if (this.leaderId === null) this.leaderId = member.memberId;
    this.members.set(member.memberId, member);
    this.changeProtocolCounts(member.protocols, 1);
    member.awaitingJoin = callback;
    if (callback !== null) this.numAwaitingJoin += 1;
    this.pendingMembers.delete(member.memberId);
  }

  remove(memberId: string): void {
    const member = this.members.get(memberId);
    if (member !== undefined) {
      this.members.delete(memberId);
      this.changeProtocolCounts(member.protocols, -1);
      if (member.isAwaitingJoin) this.numAwaitingJoin -= 1;
      if (member.groupInstanceId !== null) this.staticMembers.delete(member.groupInstanceId);
    }
    if (this.isLeader(memberId)) {
      const next = this.members.keys().next();
      this.leaderId = next.done === true ? null : next.value;
    }
    this.pendingMembers.delete(memberId);
    this.pendingSyncMembers.delete(memberId);
  }

  updateMember(
    member: ClassicMember,
    protocols: GroupProtocol[],
    rebalanceTimeoutMs: number,
    sessionTimeoutMs: number,
    callback: ((r: JoinGroupResult) => void) | null,
  ): void {
    this.changeProtocolCounts(member.protocols, -1);
    member.protocols = protocols;
    this.changeProtocolCounts(member.protocols, 1);
    member.rebalanceTimeoutMs = rebalanceTimeoutMs;
    member.sessionTimeoutMs = sessionTimeoutMs;
    if (callback !== null && !member.isAwaitingJoin) this.numAwaitingJoin += 1;
    else if (callback === null && member.isAwaitingJoin) this.numAwaitingJoin -= 1;
    member.awaitingJoin = callback;
  }

  /** Answers a parked JoinGroup, if any. */
  maybeInvokeJoin(member: ClassicMember, result: JoinGroupResult): void {
    const callback = member.awaitingJoin;
    if (callback === null) return;
    member.awaitingJoin = null;
    // A removed member was already uncounted by remove().
    if (this.members.get(member.memberId) === member) this.numAwaitingJoin -= 1;
    callback(result);
  }

  /** Answers a parked SyncGroup, if any; true if one was answered. */
  maybeInvokeSync(member: ClassicMember, result: SyncGroupResult): boolean {
    const callback = member.awaitingSync;
    if (callback === null) return false;
    member.awaitingSync = null;
    callback(result);
    return true;
  }

  /**
   * A static member came back with a new member id: the member keeps everything (assignment,
   * protocols) under the new id, and whoever was waiting under the old id is fenced.
   */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string, fenced: { join: JoinGroupResult; sync: SyncGroupResult }): ClassicMember {
    const member = this.get(oldMemberId);
    this.maybeInvokeJoin(member, fenced.join);
    this.maybeInvokeSync(member, fenced.sync);
    this.members.delete(oldMemberId);
    member.memberId = newMemberId;
    this.members.set(newMemberId, member);
    if (this.isLeader(oldMemberId)) this.leaderId = newMemberId;
    if (this.pendingSyncMembers.delete(oldMemberId)) this.pendingSyncMembers.add(newMemberId);
    this.staticMembers.set(groupInstanceId, newMemberId);
    return member;
  }

  /**
   * Check whether the leader rejoined; if not, make any rejoined member the leader. False when
   * no member rejoined (the rebalance cannot complete yet).
   */
  maybeElectNewJoinedLeader(): boolean {
    if (this.leaderId === null) return false;
    const leader = this.members.get(this.leaderId);
    if (leader !== undefined && leader.isAwaitingJoin) return true;
    for (const m of this.members.values()) {
      if (m.isAwaitingJoin) {
        this.leaderId = m.memberId;
        return true;
      }
    }
    return false;
  }

  /** Protocols every member supports. */
  private candidateProtocols(): Set<string> {
    const out = new Set<string>();
    for (const [name, count] of this.supportedProtocols) if (count === this.members.size) out.add(name);
    return out;
  }

  /** The protocol with most first-choice votes among those all members support (Kafka's rule). */
  selectProtocol(): string {
    if (this.members.size === 0) throw new AssertionError(`cannot select a protocol for empty group ${this.groupId}`);
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const p = m.vote(candidates);
      votes.set(p, (votes.get(p) ?? 0) + 1);
    }
    let best = '';
    let bestVotes = -1;
    for (const [p, n] of votes) {
      if (n > bestVotes) {
        best = p;
        bestVotes = n;
      }
    }
    return best;
  }

  /** Whether a member with this protocol type and these protocols may join. */
  supportsProtocols(protocolType: string, protocols: GroupProtocol[]): boolean {
    if (this.is(GroupState.Empty)) return protocolType.length > 0 && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    return protocols.some((p) => this.supportedProtocols.get(p.name) === this.members.size);
  }

  private changeProtocolCounts(protocols: GroupProtocol[], delta: number): void {
    // A member listing a protocol twice counts once, as Kafka's set-based bookkeeping does.
    const seen = new Set<string>();
    for (const p of protocols) {
      if (seen.has(p.name)) continue;
      seen.add(p.name);
      const n = (this.supportedProtocols.get(p.name) ?? 0) + delta;
      if (n === 0) this.supportedProtocols.delete(p.name);
      else this.supportedProtocols.set(p.name, n);
    }
  }

  initNextGeneration(nowMs: number): void {
    // generationId is an int32 on the wire; past its maximum the next one would not increase.
    assertBelow(this.generationId, INT32_MAX, 'group generation ids increase within int32');
    this.generationId += 1;
    if (this.members.size > 0) {
      this.protocolName = this.selectProtocol();
      this.subscribedTopics = this.computeSubscribedTopics();
      this.transitionTo(GroupState.CompletingRebalance, nowMs);
    } else {
      this.protocolName = null;
      this.subscribedTopics = this.computeSubscribedTopics();
      this.transitionTo(GroupState.Empty, nowMs);
    }
    this.pendingSyncMembers.clear();
  }

  /** The members' metadata for the selected protocol, sent to the leader. */
  currentMemberMetadata(): JoinGroupResultMember[] {
    const protocol = this.protocolName;
    if (protocol === null) throw new AssertionError(`group ${this.groupId} has no protocol selected`);
    return [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata(protocol) }));
  }

  computeSubscribedTopics(): Set<string> | null {
    if (this.protocolType !== CONSUMER_PROTOCOL_TYPE) return null;
    if (this.members.size === 0) return new Set();
    if (this.protocolName === null) return null;
    const topics = new Set<string>();
    for (const m of this.members.values()) {
      const parsed = parseSubscriptionTopics(m.metadata(this.protocolName));
      if (parsed === null) return null;
      for (const t of parsed) topics.add(t);
    }
    return topics;
  }

  /** Whether the members consume `topic`; when unknown, a consumer group says yes to be safe. */
  isSubscribedToTopic(topic: string): boolean {
    if (this.subscribedTopics !== null) return this.subscribedTopics.has(topic);
    return this.isConsumerGroup;
  }

  // ---- offsets ----

  offset(topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(topic)?.get(partition);
  }

  putOffset(topic: string, partition: number, committed: CommittedOffset): void {
    let byPartition = this.offsets.get(topic);
    if (byPartition === undefined) {
      byPartition = new Map();
      this.offsets.set(topic, byPartition);
    }
    const current = byPartition.get(partition);
    if (current === undefined || current.seq < committed.seq) byPartition.set(partition, committed);
  }

  removeOffset(topic: string, partition: number): boolean {
    const byPartition = this.offsets.get(topic);
    if (byPartition === undefined) return false;
    const removed = byPartition.delete(partition);
    if (byPartition.size === 0) this.offsets.delete(topic);
    return removed;
  }

  get numOffsets(): number {
    let n = 0;
    for (const m of this.offsets.values()) n += m.size;
    return n;
  }

  hasPendingOffsetCommit(topic: string, partition: number): boolean {
    return this.pendingOffsetCommits.has(`${topic}\0${partition}`);
  }

  changePendingOffsetCommit(topic: string, partition: number, delta: number): void {
    const key = `${topic}\0${partition}`;
    const n = (this.pendingOffsetCommits.get(key) ?? 0) + delta;
    if (n <= 0) this.pendingOffsetCommits.delete(key);
    else this.pendingOffsetCommits.set(key, n);
  }

  get hasOffsets(): boolean {
    return this.offsets.size > 0 || this.pendingOffsetCommits.size > 0;
  }
}

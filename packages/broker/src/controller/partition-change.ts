/**
 * How the controller changes one partition's leader, ISR and replicas: pure functions
 * from a PartitionState and the cluster's live brokers to the PartitionChange to write (or
 * null when nothing changes). The rules are KRaft's PartitionChangeBuilder (pre-ELR,
 * Kafka 3.x):
 *
 * - Leader election picks the first replica, in replica order, that is in the ISR and
 *   live (registered and not in controlled shutdown). With none, and unclean election
 *   allowed, the first live replica in replica order becomes leader with ISR = [itself]
 *   (it may lack acknowledged records: that is what "unclean" means). Else the partition
 *   goes offline: leader -1.
 * - Brokers that are gone (or shutting down) leave the ISR, but the ISR never becomes
 *   empty: when the last member goes, it stays recorded (leader -1) so that it can lead
 *   again, cleanly, when it comes back; that is why Kafka shows "Leader: none, Isr: 3".
 * - A leader in controlled shutdown that no one can replace keeps leading until it is
 *   gone (moving leadership nowhere would only make the partition offline earlier).
 * - Every leader change bumps the leader epoch; every change bumps the partition epoch
 *   (done by the store), the compare-and-swap token.
 * - A reassignment completes once every target replica is in the ISR: the removing
 *   replicas are dropped from replicas and ISR, and a removed leader is replaced.
 */
import type { PartitionChange, PartitionState } from '../metadata/metadata-store.js';

/** Which brokers may hold leadership and stay in ISRs. */
export interface ClusterView {
  /** Registered brokers. */
  readonly live: ReadonlySet<number>;
  /** Registered brokers in controlled shutdown: alive, but leadership moves away. */
  readonly shuttingDown: ReadonlySet<number>;
}

/** The partition's fields a change may set (the store adds the epochs). */
export type PartitionTarget = Omit<PartitionChange, 'topic' | 'partition' | 'expectedPartitionEpoch'>;

export const NO_LEADER = -1;

/** May `id` lead or stay in the ISR? */
export function isActive(view: ClusterView, id: number): boolean {
  return view.live.has(id) && !view.shuttingDown.has(id);
}

export function addingOf(state: PartitionState): readonly number[] {
  return state.addingReplicas ?? [];
}

export function removingOf(state: PartitionState): readonly number[] {
  return state.removingReplicas ?? [];
}

/** The replicas a reassignment in progress moves to (all replicas when none is). */
export function targetReplicasOf(state: PartitionState): number[] {
  const removing = removingOf(state);
  return state.replicas.filter((id) => !removing.includes(id));
}

export function isReassigning(state: PartitionState): boolean {
  return addingOf(state).length > 0 || removingOf(state).length > 0;
}

/**
 * The change that brings `state` in line with the cluster: gone brokers out of the ISR,
 * a leader that is gone or shutting down replaced, an offline partition given a leader
 * when one is eligible again, a finished reassignment completed. Null when all is well.
 */
export function reconcile(state: PartitionState, view: ClusterView, uncleanAllowed: boolean): PartitionTarget | null {
  let replicas: readonly number[] = state.replicas;
  let adding = addingOf(state);
  let removing = removingOf(state);
  let isr = state.isr.filter((id) => isActive(view, id));
  const leaderStays = state.leader !== NO_LEADER && view.live.has(state.leader) && view.shuttingDown.has(state.leader) && isr.length === 0;
  if (leaderStays) {
    // The only in-sync replica is shutting down: it leads until it is gone.
    isr = [state.leader];
  }

  // A reassignment completes once every target replica is in sync.
  if ((adding.length > 0 || removing.length > 0) && isr.length > 0) {
    const target = targetReplicasOf(state);
    if (target.every((id) => isr.includes(id))) {
      replicas = target;
      isr = isr.filter((id) => target.includes(id));
      adding = [];
      removing = [];
    }
  }

  let leader = state.leader;
  let uncleanIsr: number[] | null = null;
  if (leader === NO_LEADER || !isr.includes(leader) || !replicas.includes(leader)) {
    const clean = replicas.find((id) => isr.includes(id) && isActive(view, id));
    if (clean !== undefined) {
      leader = clean;
    } else if (uncleanAllowed && !leaderStays) {
      const unclean = replicas.find((id) => isActive(view, id) && !adding.includes(id));
      leader = unclean ?? NO_LEADER;
      if (unclean !== undefined) uncleanIsr = [unclean];
    } else {
      leader = NO_LEADER;
    }
  }
  if (uncleanIsr !== null) isr = uncleanIsr;
  // The ISR never becomes empty: its last member stays recorded while the partition is offline.
  if (isr.length === 0) isr = lastIsr(state, replicas);

  return diff(state, { replicas, isr, leader, adding, removing });
}

/** The ISR of an offline partition: the old one restricted to the replicas, never empty. */
function lastIsr(state: PartitionState, replicas: readonly number[]): number[] {
  const kept = state.isr.filter((id) => replicas.includes(id));
  if (kept.length > 0) return state.leader !== NO_LEADER && kept.includes(state.leader) ? [state.leader] : kept.slice(0, 1);
  return [replicas[0]!];
}

export interface Desired {
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leader: number;
  readonly adding: readonly number[];
  readonly removing: readonly number[];
}

/** The change from `state` to `desired`, or null when they are the same. */
export function diff(state: PartitionState, desired: Desired): PartitionTarget | null {
  const change: { -readonly [K in keyof PartitionTarget]: PartitionTarget[K] } = {};
  if (!sameList(desired.replicas, state.replicas)) change.replicas = [...desired.replicas];
  if (!sameList(desired.isr, state.isr)) change.isr = [...desired.isr];
  if (desired.leader !== state.leader) {
    change.leader = desired.leader;
    change.bumpLeaderEpoch = true;
  }
  if (!sameList(desired.adding, addingOf(state))) change.addingReplicas = [...desired.adding];
  if (!sameList(desired.removing, removingOf(state))) change.removingReplicas = [...desired.removing];
  return Object.keys(change).length === 0 ? null : change;
}

export function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * The change for a broker registered under a new incarnation (restarted, or registered again
 * after its session ended), which Kafka fences before it serves again (ClusterControlManager:
 * a new incarnation id is an unclean shutdown, ReplicationControlManager removes the broker
 * from every ISR and leadership): reconcile() as if `id` had unregistered, then as registered
 * again, in one write. It leaves every ISR (it rejoins by catching up, in case its restart
 * lost data), and a partition it led gets a new leader epoch even when it is elected again
 * (it was the last ISR member): a new incarnation never leads in an epoch its previous one
 * led in. Null when the partition does not name it.
 */
export function fenceIncarnation(state: PartitionState, view: ClusterView, id: number, uncleanAllowed: boolean): PartitionTarget | null {
  if (state.leader !== id && !state.isr.includes(id)) return null;
  const without: ClusterView = { live: new Set([...view.live].filter((b) => b !== id)), shuttingDown: view.shuttingDown };
  const gone = reconcile(state, without, uncleanAllowed);
  const mid: PartitionState = {
    ...state,
    replicas: gone?.replicas ?? state.replicas,
    isr: gone?.isr ?? state.isr,
    leader: gone?.leader ?? state.leader,
    addingReplicas: gone?.addingReplicas ?? addingOf(state),
    removingReplicas: gone?.removingReplicas ?? removingOf(state),
  };
  const desired = desiredOf(reconcile(mid, view, uncleanAllowed), mid);
  const change: { -readonly [K in keyof PartitionTarget]: PartitionTarget[K] } = { ...diff(state, desired) };
  if (state.leader === id) {
    change.leader = desired.leader;
    change.bumpLeaderEpoch = true;
  }
  return Object.keys(change).length === 0 ? null : change;
}

/** Kafka's outcome of one partition's election (ElectLeaders). */
export type ElectionOutcome =
  | { readonly ok: true; readonly change: PartitionTarget }
  | { readonly ok: false; readonly reason: 'ELECTION_NOT_NEEDED' | 'PREFERRED_LEADER_NOT_AVAILABLE' | 'ELIGIBLE_LEADERS_NOT_AVAILABLE' };

/**
 * Preferred election: the first replica (of the target replicas during a reassignment)
 * becomes leader if it is live and in the ISR. When it cannot, a partition whose leader
 * is missing gets the next eligible target replica instead (Kafka's
 * PartitionChangeBuilder.electPreferredLeader); one with a working leader keeps it and
 * the answer is PREFERRED_LEADER_NOT_AVAILABLE.
 */
export function electPreferred(state: PartitionState, view: ClusterView): ElectionOutcome {
  const target = targetReplicasOf(state);
  const preferred = target[0]!;
  if (state.leader === preferred) return { ok: false, reason: 'ELECTION_NOT_NEEDED' };
  const eligible = (id: number): boolean => isActive(view, id) && state.isr.includes(id);
  if (eligible(preferred)) return { ok: true, change: { leader: preferred, bumpLeaderEpoch: true } };
  if (state.leader !== NO_LEADER && eligible(state.leader)) return { ok: false, reason: 'PREFERRED_LEADER_NOT_AVAILABLE' };
  const other = target.slice(1).find(eligible);
  if (other === undefined) return { ok: false, reason: 'PREFERRED_LEADER_NOT_AVAILABLE' };
  return { ok: true, change: { leader: other, bumpLeaderEpoch: true } };
}

/**
 * Unclean election (ElectLeaders UNCLEAN): only for a partition without a leader; a live
 * ISR member is still preferred, else any live replica (ISR = [it]), whatever
 * unclean.leader.election.enable says: the operator asked for exactly this.
 */
export function electUnclean(state: PartitionState, view: ClusterView): ElectionOutcome {
  if (state.leader !== NO_LEADER && view.live.has(state.leader)) return { ok: false, reason: 'ELECTION_NOT_NEEDED' };
  const change = reconcile(state, view, true);
  if (change === null || change.leader === undefined || change.leader === NO_LEADER) return { ok: false, reason: 'ELIGIBLE_LEADERS_NOT_AVAILABLE' };
  return { ok: true, change };
}

/**
 * The change that starts (or replaces) a reassignment to `target`, KRaft's way: the
 * original replicas are the current ones minus any still being added by a previous
 * reassignment; replicas become target followed by the original replicas not in it;
 * adding = target - original, removing = original - target. If every target replica is
 * already in the ISR the reassignment completes in the same change.
 */
export function startReassignment(state: PartitionState, target: readonly number[], view: ClusterView, uncleanAllowed: boolean): PartitionTarget | null {
  const previousAdding = addingOf(state);
  const original = state.replicas.filter((id) => !previousAdding.includes(id));
  const replicas = [...target, ...original.filter((id) => !target.includes(id))];
  const adding = target.filter((id) => !original.includes(id));
  const removing = original.filter((id) => !target.includes(id));
  let isr = state.isr.filter((id) => replicas.includes(id));
  if (isr.length === 0) isr = [...state.isr];
  const next: PartitionState = { ...state, replicas, isr, addingReplicas: adding, removingReplicas: removing };
  return diff(state, desiredOf(reconcile(next, view, uncleanAllowed), next));
}

/**
 * The change that cancels a reassignment in progress: back to the original replicas (the
 * current ones minus those being added), the added ones out of the ISR, and a leader
 * among them replaced.
 */
export function cancelReassignment(state: PartitionState, view: ClusterView, uncleanAllowed: boolean): PartitionTarget | null {
  const adding = addingOf(state);
  const replicas = state.replicas.filter((id) => !adding.includes(id));
  let isr = state.isr.filter((id) => replicas.includes(id));
  if (isr.length === 0) isr = [replicas[0]!];
  const leader = replicas.includes(state.leader) && isr.includes(state.leader) ? state.leader : NO_LEADER;
  const next: PartitionState = { ...state, replicas, isr, leader, addingReplicas: [], removingReplicas: [] };
  return diff(state, desiredOf(reconcile(next, view, uncleanAllowed), next));
}

/** `next` with `change` applied (the desired end state of a two-step computation). */
function desiredOf(change: PartitionTarget | null, next: PartitionState): Desired {
  return {
    replicas: change?.replicas ?? next.replicas,
    isr: change?.isr ?? next.isr,
    leader: change?.leader ?? next.leader,
    adding: change?.addingReplicas ?? addingOf(next),
    removing: change?.removingReplicas ?? removingOf(next),
  };
}

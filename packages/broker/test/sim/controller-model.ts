/**
 * The controller side of the simulation: a model of the etcd metadata store plus the
 * controller duties (packages/broker/src/controller/controller.ts), for one partition.
 *
 * - Partition state changes are compare-and-swap on the partition epoch, applied exactly
 *   as LocalMetadataStore.updatePartition / the etcd store apply them: a stale epoch is
 *   refused with TRIB_ERR_STALE_PARTITION_EPOCH, every change bumps the partition epoch,
 *   `bumpLeaderEpoch` bumps the leader epoch.
 * - Liveness is registration with a lease: a broker's keep-alives (heartbeats here) renew
 *   it; `sessionTimeoutMs` without one unregisters the broker. A broker registering or
 *   unregistering queues a full reconcile pass (Controller.onChange), which runs the REAL
 *   rules: controller/partition-change.ts reconcile() (leader from the live ISR, gone
 *   brokers out of the ISR, never an empty ISR, no unclean election).
 * - Leader-written ISR changes (the leader's AlterPartition, Partition.alterIsr) do not
 *   trigger a reconcile, as in Controller.onChange (only reassignments do).
 * - Preferred-leader elections (auto.leader.rebalance / ElectLeaders) use the REAL
 *   electPreferred().
 * - Every committed change goes to every broker on its watch stream (ordered, Network.sendOrdered).
 *
 * Not modelled: the controller's own failover (a new controller reads the same store; the
 * start-up grace period); etcd faults (the `faults` suite covers them); reassignment.
 */
import { MetadataError, type PartitionChange, type PartitionState } from '../../src/metadata/metadata-store.js';
import { electPreferred, fenceIncarnation, reconcile, type ClusterView, type PartitionTarget } from '../../src/controller/partition-change.js';

export const CONTROLLER_ID = 0;

export interface ControllerHooks {
  /** A change was committed: publish it on the watch streams. */
  readonly published: (state: PartitionState, why: string) => void;
  readonly trace: (line: string) => void;
}

export class ControllerModel {
  private current: PartitionState;
  private readonly live = new Set<number>();
  private readonly lastHeartbeatMs = new Map<number, number>();
  private readonly incarnations = new Map<number, number>();
  /** Every state ever committed, in order (the checker reads leader epochs from it). */
  readonly history: PartitionState[] = [];

  constructor(
    initial: PartitionState,
    private readonly sessionTimeoutMs: number,
    private readonly hooks: ControllerHooks,
    /** unclean.leader.election.enable: off, as by default; the self-test turns it on to see the checker catch the loss. */
    private readonly uncleanLeaderElection = false,
  ) {
    this.current = initial;
    this.history.push(initial);
  }

  get state(): PartitionState {
    return this.current;
  }

  get liveBrokers(): ReadonlySet<number> {
    return this.live;
  }

  /** A broker registered at start (before the simulation runs). */
  registerAtStart(id: number, nowMs: number): void {
    this.live.add(id);
    this.lastHeartbeatMs.set(id, nowMs);
  }

  /**
   * A lease keep-alive; a new incarnation or an unregistered broker registers (again). A new
   * incarnation is fenced first (Controller.queueFence: the real fenceIncarnation), whether
   * its previous one's lease still lived or had expired (then it was seen unregistering).
   */
  heartbeat(id: number, incarnation: number, nowMs: number): void {
    this.lastHeartbeatMs.set(id, nowMs);
    const known = this.incarnations.get(id);
    const wasLive = this.live.has(id);
    const registered = wasLive && known === incarnation;
    this.incarnations.set(id, incarnation);
    if (registered) return;
    this.live.add(id);
    this.hooks.trace(`controller: broker ${id} registered (incarnation ${incarnation})`);
    this.reconcile(`broker ${id} registered`);
    // Controller.onChange: an incarnation id other than the one seen, or a registration after one seen ending.
    if (known !== undefined && (known !== incarnation || !wasLive)) {
      const change = fenceIncarnation(this.current, this.view(), id, this.uncleanLeaderElection);
      if (change !== null) this.commit(change, `broker ${id} fenced (new incarnation ${incarnation})`);
    }
  }

  /** The lease check: brokers silent for sessionTimeoutMs are unregistered. */
  expireLeases(nowMs: number): void {
    for (const id of [...this.live]) {
      if (nowMs - (this.lastHeartbeatMs.get(id) ?? 0) <= this.sessionTimeoutMs) continue;
      this.live.delete(id);
      this.hooks.trace(`controller: broker ${id} lease expired`);
      this.reconcile(`broker ${id} unregistered`);
    }
  }

  /** The full pass (Controller.reconcilePartition): the real reconcile() rules. */
  private reconcile(why: string): void {
    const change = reconcile(this.current, this.view(), this.uncleanLeaderElection);
    if (change !== null) this.commit(change, why);
  }

  /** A preferred-leader election (auto.leader.rebalance.enable or ElectLeaders PREFERRED). */
  electPreferred(): void {
    const outcome = electPreferred(this.current, this.view());
    if (outcome.ok) this.commit(outcome.change, 'preferred leader election');
  }

  private view(): ClusterView {
    return { live: this.live, shuttingDown: new Set() };
  }

  /** A broker's MetadataStore.updatePartition: compare-and-swap on the partition epoch. */
  updatePartition(change: PartitionChange, from: number): PartitionState {
    if (change.expectedPartitionEpoch !== this.current.partitionEpoch) {
      this.hooks.trace(`controller: stale AlterPartition from ${from} (expected partition epoch ${change.expectedPartitionEpoch}, at ${this.current.partitionEpoch})`);
      throw new MetadataError('TRIB_ERR_STALE_PARTITION_EPOCH', `Partition is at partition epoch ${this.current.partitionEpoch}, the change expected ${change.expectedPartitionEpoch}`);
    }
    const { topic: _t, partition: _p, expectedPartitionEpoch: _e, ...target } = change;
    return this.commit(target, `AlterPartition from ${from}`);
  }

  /** LocalMetadataStore.updatePartition's new state (the epochs), then the watch. */
  private commit(change: PartitionTarget, why: string): PartitionState {
    const before = this.current;
    const after: PartitionState = {
      partition: before.partition,
      replicas: [...(change.replicas ?? before.replicas)],
      leader: change.leader ?? before.leader,
      leaderEpoch: change.bumpLeaderEpoch ? before.leaderEpoch + 1 : before.leaderEpoch,
      isr: [...(change.isr ?? before.isr)],
      partitionEpoch: before.partitionEpoch + 1,
    };
    this.current = after;
    this.history.push(after);
    this.hooks.trace(`controller: ${why}: leader ${after.leader} epoch ${after.leaderEpoch} isr [${after.isr.join(',')}] partition epoch ${after.partitionEpoch}`);
    this.hooks.published(after, why);
    return after;
  }
}

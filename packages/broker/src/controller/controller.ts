/**
 * The controller's duties over the MetadataStore (Kafka's QuorumController /
 * ReplicationControlManager, reduced to what the store does not do itself):
 *
 * - Leader failover: when a broker unregisters (lease lost, shut down) every partition it
 *   led gets a new leader from the ISR, and it leaves every ISR (partition-change.ts).
 * - Controlled shutdown: a broker registered with `inControlledShutdown` loses leadership
 *   and ISR membership the same way while it still serves, so clients move before it stops.
 * - Offline partitions get a leader again when an eligible replica registers (or when
 *   unclean.leader.election.enable is turned on for them).
 * - Reassignments complete once every target replica is in the ISR (the leader's ISR
 *   expansion is the partition change that triggers the check).
 * - Automatic preferred-leader balancing (auto.leader.rebalance.enable): every
 *   leader.imbalance.check.interval.seconds, for each broker whose share of preferred
 *   partitions it does not lead exceeds leader.imbalance.per.broker.percentage, those
 *   partitions are moved back to it where it is live and in the ISR.
 *
 * A newly started controller gives brokers that the partition metadata names but that are
 * not registered `broker.session.timeout.ms` to register before it fails their partitions
 * over (KRaft's controller likewise times brokers' sessions from its activation), so a
 * cluster restarting broker by broker does not shrink every ISR to the first broker up. A
 * broker seen unregistering while this controller runs, or while its broker watched before
 * it took over (the controller died with it, or before it), is failed over at once: the
 * lease expiry or shutdown that unregistered it was its session ending. The grace is for
 * brokers this broker never saw leave: a cold start of the cluster.
 *
 * A broker registering under a new incarnation (restarted, or registered again after its
 * session ended) is fenced first, as Kafka's
 * controller treats a new incarnation id as an unclean shutdown: it leaves every ISR and
 * every partition it led gets a new leader epoch (partition-change.ts fenceIncarnation),
 * so it never leads in an epoch its previous incarnation led in; its replica manager does
 * not lead a partition it found itself leading at start until that happens (and once
 * registered, writes the same fence itself for what is still waiting, in case no controller
 * saw the new incarnation: replica/restart-fence.ts). A broker absent at this controller's
 * start (a cold start) has only the partitions it leads fenced: it may be registering for the
 * first time, named in ISRs written before any controller ran.
 *
 * Work runs one task at a time (a promise chain), never inside a store listener (the
 * store's listeners run inside its writes). Every write is a compare-and-swap on the
 * partition epoch (partition-writer.ts). start() reconciles every partition, which is how
 * a newly elected controller picks up whatever happened while no one was controller.
 *
 * Deliberate differences from Kafka:
 * - Brokers are not fenced by missed heartbeats: liveness is registration (a lease in etcd).
 * - The imbalance check uses the per-broker percentage as ZooKeeper-mode Kafka did (KRaft
 *   ignores the percentage and balances any imbalanced partition).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logger.js';
import type { Scheduler } from '../group/scheduler.js';
import { systemScheduler } from '../group/scheduler.js';
import type { MetadataChange, MetadataStore, TopicMetadata } from '../metadata/metadata-store.js';
import { MetadataError } from '../metadata/metadata-store.js';
import type { ClusterView } from './partition-change.js';
import { electPreferred, fenceIncarnation, isReassigning, reconcile } from './partition-change.js';
import { writePartition } from './partition-writer.js';

/**
 * Partitions checked per turn of the event loop in a full pass: a check is microseconds,
 * a change one metadata write (an fsync locally), so a pass over tens of thousands of
 * partitions, or a failover that moves thousands, leaves room for requests in between.
 */
const RECONCILE_PARTITIONS_PER_TURN = 100;
/** Partition writes a full pass keeps in flight: enough to hide etcd's round trip, few enough not to flood it. */
const RECONCILE_CONCURRENCY = 16;

/** Started and stopped by runControllerDuties (metadata/controller-election.ts) as the membership decides. */
import type { ControllerDuties } from '../metadata/controller-election.js';
export type { ControllerDuties } from '../metadata/controller-election.js';

export interface ControllerDeps {
  readonly metadata: MetadataStore;
  readonly nodeId: number;
  /** The effective config of the broker running the controller (cluster-wide defaults included). */
  readonly config: () => BrokerConfig;
  readonly logger: Logger;
  /** Time for the balance check and the start-up grace period; Node timers by default (tests: a manual clock). */
  readonly scheduler?: Scheduler;
}

/** The cluster's brokers as the controller sees them now. */
export function clusterView(metadata: MetadataStore): ClusterView {
  const brokers = metadata.brokers();
  return {
    live: new Set(brokers.map((b) => b.nodeId)),
    shuttingDown: new Set(brokers.filter((b) => b.inControlledShutdown === true).map((b) => b.nodeId)),
  };
}

/** unclean.leader.election.enable for `topic`: its override, else the broker's. */
export function uncleanLeaderElectionEnabled(topic: TopicMetadata, config: BrokerConfig): boolean {
  const override = topic.configs['unclean.leader.election.enable'];
  if (override !== undefined) return override.trim().toLowerCase() === 'true';
  return config.boolean('unclean.leader.election.enable');
}

export class Controller implements ControllerDuties {
  private readonly metadata: MetadataStore;
  private readonly nodeId: number;
  private readonly config: () => BrokerConfig;
  private readonly logger: Logger;
  private readonly scheduler: Scheduler;
  private unsubscribe: (() => void) | null = null;
  private cancelBalance: (() => void) | null = null;
  private queue: Promise<void> = Promise.resolve();
  /** A full pass is queued and not started yet: further triggers join it. */
  private fullPassQueued = false;
  private running = false;
  /** Brokers absent since start whose grace period (broker.session.timeout.ms) runs. */
  private readonly awaitingRegistration = new Set<number>();
  private cancelGrace: (() => void) | null = null;
  /**
   * When this broker's controller was created (at broker start when the etcd election runs
   * it). The start-up grace is counted from here: a broker up for broker.session.timeout.ms
   * has watched registrations that long, so a broker absent when it takes over is dead (its
   * lease expired), not still starting, and its partitions fail over at once.
   */
  private readonly createdAtMs: number;
  /** Each registered broker's incarnation id as this controller last saw it. */
  private readonly incarnations = new Map<number, string | undefined>();
  /** Brokers seen unregistering: their next registration is a new incarnation. */
  private readonly unregisteredSeen = new Set<number>();

  /**
   * Brokers seen unregistering (and not registered again) since this broker started, watched
   * from construction on, before this controller runs: known dead when it takes over.
   */
  private readonly seenGone = new Set<number>();

  constructor(deps: ControllerDeps) {
    this.metadata = deps.metadata;
    this.nodeId = deps.nodeId;
    this.config = deps.config;
    this.logger = deps.logger;
    this.scheduler = deps.scheduler ?? systemScheduler;
    this.createdAtMs = this.scheduler.now();
    // For the broker's lifetime, as the controller is (the store closes with the broker).
    this.metadata.subscribe((change) => {
      if (change.type === 'broker-unregistered') this.seenGone.add(change.nodeId);
      else if (change.type === 'broker-registered') this.seenGone.delete(change.broker.nodeId);
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.metadata.subscribe((change) => this.onChange(change));
    const live = new Set(this.metadata.brokers().map((b) => b.nodeId));
    for (const b of this.metadata.brokers()) this.incarnations.set(b.nodeId, b.incarnationId);
    for (const topic of this.metadata.topics()) {
      for (const p of topic.partitions) {
        for (const id of [p.leader, ...p.isr]) if (id !== -1 && !live.has(id)) this.awaitingRegistration.add(id);
      }
    }
    // Seen leaving while this broker watched: dead, no grace (its partitions fail over now).
    for (const id of this.seenGone) {
      this.awaitingRegistration.delete(id);
      this.unregisteredSeen.add(id);
    }
    const graceMs = Math.max(0, this.createdAtMs + this.config().number('broker.session.timeout.ms') - this.scheduler.now());
    if (graceMs === 0) this.awaitingRegistration.clear();
    if (this.awaitingRegistration.size > 0) {
      this.logger.info('Controller waits for brokers to register before failing their partitions over', { brokers: [...this.awaitingRegistration], graceMs });
      this.cancelGrace = this.scheduler.schedule(graceMs, () => {
        this.cancelGrace = null;
        this.awaitingRegistration.clear();
        this.queueFullPass();
      });
    }
    this.queueFullPass();
    this.scheduleBalanceCheck();
    this.logger.info('Controller duties started', { nodeId: this.nodeId });
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.cancelBalance?.();
    this.cancelBalance = null;
    this.cancelGrace?.();
    this.cancelGrace = null;
    this.awaitingRegistration.clear();
    this.incarnations.clear();
    this.unregisteredSeen.clear();
    this.logger.info('Controller duties stopped', { nodeId: this.nodeId });
  }

  /** Resolves once every task queued so far has run (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  /** One preferred-leader check now, as the timer does (tests, operators). */
  checkLeaderBalance(): Promise<void> {
    this.enqueue(() => this.balanceLeaders());
    return this.queue;
  }

  private scheduleBalanceCheck(): void {
    const intervalMs = this.config().number('leader.imbalance.check.interval.seconds') * 1000;
    this.cancelBalance = this.scheduler.schedule(intervalMs, () => {
      if (!this.running) return;
      this.enqueue(() => this.balanceLeaders());
      this.scheduleBalanceCheck();
    });
  }

  private onChange(change: MetadataChange): void {
    switch (change.type) {
      case 'broker-registered': {
        const { nodeId, incarnationId } = change.broker;
        const known = this.incarnations.has(nodeId);
        // Absent at this controller's start (a cold start: it may be registering for the first
        // time, in ISRs written before it ever ran): only what it leads is fenced. Seen ending,
        // or under another incarnation id: a restart, fenced out of every ISR too.
        const cold = this.awaitingRegistration.delete(nodeId);
        const restarted = this.unregisteredSeen.delete(nodeId) || (known && this.incarnations.get(nodeId) !== incarnationId);
        this.incarnations.set(nodeId, incarnationId);
        if (restarted || cold) this.queueFence(nodeId, incarnationId, !restarted);
        this.queueFullPass();
        return;
      }
      case 'broker-unregistered':
        this.awaitingRegistration.delete(change.nodeId);
        this.incarnations.delete(change.nodeId);
        this.unregisteredSeen.add(change.nodeId);
        this.queueFullPass();
        return;
      case 'broker-config-changed':
        this.queueFullPass();
        return;
      case 'topic-config-changed':
        if ('unclean.leader.election.enable' in change.changes) this.queueFullPass();
        return;
      case 'partition-changed':
        if (isReassigning(change.after)) {
          const topic = change.topic.name;
          const partition = change.after.partition;
          this.enqueue(() => this.reconcilePartition(topic, partition));
        }
        return;
      default:
        return;
    }
  }

  /**
   * Fences one incarnation of `nodeId`: fenceIncarnation on every partition that names it
   * now (what its previous incarnation led or was in sync for). A partition that a pass
   * elected it leader of since, in a newer epoch, is left alone; nothing is done if a newer
   * incarnation registered meanwhile.
   */
  private queueFence(nodeId: number, incarnationId: string | undefined, leadershipOnly: boolean): void {
    const named: { topic: string; partition: number; ledInEpoch: number | null }[] = [];
    for (const topic of this.metadata.topics()) {
      for (const p of topic.partitions) {
        if (p.leader === nodeId || (!leadershipOnly && p.isr.includes(nodeId))) named.push({ topic: topic.name, partition: p.partition, ledInEpoch: p.leader === nodeId ? p.leaderEpoch : null });
      }
    }
    if (named.length === 0) return;
    this.enqueue(async () => {
      if (this.incarnations.get(nodeId) !== incarnationId || !this.metadata.brokers().some((b) => b.nodeId === nodeId)) return;
      for (const { topic, partition, ledInEpoch } of named) await this.writeFence(topic, partition, nodeId, ledInEpoch);
    });
  }

  private async writeFence(topicName: string, partition: number, nodeId: number, ledInEpoch: number | null): Promise<void> {
    const topic = this.metadata.topic(topicName);
    if (topic === undefined) return;
    const unclean = uncleanLeaderElectionEnabled(topic, this.config());
    try {
      const outcome = await writePartition(this.metadata, topicName, partition, (state) => {
        // Elected since in a newer epoch (by this incarnation's registration): not its previous incarnation's.
        if (state.leader === nodeId && state.leaderEpoch !== ledInEpoch) return { result: state };
        const change = fenceIncarnation(state, clusterView(this.metadata), nodeId, unclean);
        return change === null ? { result: state } : { change };
      });
      if (outcome.written) {
        const s = outcome.state;
        this.logger.info('Controller fenced a new broker incarnation', { broker: nodeId, topic: topicName, partition, leader: s.leader, leaderEpoch: s.leaderEpoch, isr: s.isr });
      }
    } catch (err) {
      if (err instanceof MetadataError && (err.code === 'TRIB_ERR_UNKNOWN_TOPIC' || err.code === 'TRIB_ERR_UNKNOWN_PARTITION')) return;
      throw err;
    }
  }

  private queueFullPass(): void {
    if (this.fullPassQueued) return;
    this.fullPassQueued = true;
    this.enqueue(async () => {
      this.fullPassQueued = false;
      await this.reconcileAll();
    });
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (!this.running) return;
      try {
        await task();
      } catch (err) {
        this.logger.error('Controller task failed', { nodeId: this.nodeId, err });
      }
    });
  }

  private async reconcileAll(): Promise<void> {
    // Partitions are independent (each write is a compare-and-set on its own key), so up to
    // RECONCILE_CONCURRENCY writes are in flight at once: a dead broker's partitions move in
    // about one etcd round trip each batch instead of one round trip per partition.
    const work: { topic: string; partition: number }[] = [];
    for (const topic of this.metadata.topics()) {
      for (const p of topic.partitions) work.push({ topic: topic.name, partition: p.partition });
    }
    let next = 0;
    let checked = 0;
    // The first failure ends the pass (as it did when the writes went one by one); the lanes
    // still running finish their current write first, so no two passes overlap.
    let failure: { err: unknown } | null = null;
    const lane = async (): Promise<void> => {
      while (this.running && failure === null && next < work.length) {
        const item = work[next++]!;
        try {
          await this.reconcilePartition(item.topic, item.partition);
        } catch (err) {
          failure ??= { err };
          return;
        }
        if (++checked % RECONCILE_PARTITIONS_PER_TURN === 0) await nextTurn();
      }
    };
    await Promise.all(Array.from({ length: Math.min(RECONCILE_CONCURRENCY, work.length) }, lane));
    if (failure !== null) throw (failure as { err: unknown }).err;
  }

  private async reconcilePartition(topicName: string, partition: number): Promise<void> {
    const topic = this.metadata.topic(topicName);
    if (topic === undefined) return;
    const unclean = uncleanLeaderElectionEnabled(topic, this.config());
    const state = topic.partitions[partition];
    // Within the start-up grace period a partition naming an absent broker is left alone.
    if (state === undefined || [state.leader, ...state.isr].some((id) => this.awaitingRegistration.has(id))) return;
    try {
      const outcome = await writePartition(this.metadata, topicName, partition, (state) => {
        const change = reconcile(state, clusterView(this.metadata), unclean);
        return change === null ? { result: state } : { change };
      });
      if (outcome.written) {
        const s = outcome.state;
        this.logger.info('Controller changed a partition', {
          topic: topicName, partition, leader: s.leader, leaderEpoch: s.leaderEpoch, isr: s.isr, replicas: s.replicas,
          ...(s.leader === -1 ? { offline: true } : {}),
        });
      }
    } catch (err) {
      // The topic was deleted while the pass ran: nothing left to do for it.
      if (err instanceof MetadataError && (err.code === 'TRIB_ERR_UNKNOWN_TOPIC' || err.code === 'TRIB_ERR_UNKNOWN_PARTITION')) return;
      throw err;
    }
  }

  private async balanceLeaders(): Promise<void> {
    const config = this.config();
    if (!config.boolean('auto.leader.rebalance.enable')) return;
    const percentage = config.number('leader.imbalance.per.broker.percentage');
    const preferredCount = new Map<number, number>();
    const notLed = new Map<number, { topic: string; partition: number }[]>();
    for (const topic of this.metadata.topics()) {
      for (const p of topic.partitions) {
        if (isReassigning(p)) continue;
        const preferred = p.replicas[0]!;
        preferredCount.set(preferred, (preferredCount.get(preferred) ?? 0) + 1);
        if (p.leader !== preferred) {
          const list = notLed.get(preferred) ?? [];
          list.push({ topic: topic.name, partition: p.partition });
          notLed.set(preferred, list);
        }
      }
    }
    for (const [broker, partitions] of notLed) {
      const ratio = partitions.length / preferredCount.get(broker)!;
      if (ratio * 100 <= percentage) continue;
      this.logger.info('Leader imbalance above the limit: moving leadership back to the preferred replica', { broker, imbalancePercent: Math.round(ratio * 100), limitPercent: percentage });
      for (const { topic, partition } of partitions) {
        if (!this.running) return;
        try {
          await writePartition(this.metadata, topic, partition, (state) => {
            const outcome = electPreferred(state, clusterView(this.metadata));
            return outcome.ok ? { change: outcome.change } : { result: outcome.reason };
          });
        } catch (err) {
          if (err instanceof MetadataError && (err.code === 'TRIB_ERR_UNKNOWN_TOPIC' || err.code === 'TRIB_ERR_UNKNOWN_PARTITION')) continue;
          throw err;
        }
      }
    }
  }
}

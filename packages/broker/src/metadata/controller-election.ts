/**
 * Cluster membership as the rest of the broker sees it: is this broker fenced (its etcd
 * lease may have expired, so others may already act on its death), which broker is the
 * active controller, and the hook that runs the controller's duties on the one broker that
 * holds the election.
 *
 * Implementations: the etcd store (etcd-metadata-store.ts) is a ClusterMembership (the
 * election is a key under the store's prefix, held by the broker's lease);
 * `storeMembership(store, nodeId)` serves any other store (the local one, alone or shared by
 * in-process brokers), following its `controllerId()`; `localMembership(nodeId)` is a single
 * broker that is always the controller. Every broker runs its duties through
 * `runControllerDuties`, whichever store it has.
 *
 * `runControllerDuties` is the hook the broker calls once: it starts the duties when this
 * broker becomes the controller and stops them when it loses the election or is fenced,
 * so the `controller` branch writes what the controller does (ControllerDuties) against
 * the MetadataStore interface and never deals with etcd.
 */
import type { MetadataStore } from './metadata-store.js';

/** What the active controller does (leader failover, reassignment, ...). */
export interface ControllerDuties {
  /** Called when this broker becomes the active controller. Must not throw. */
  start(): void;
  /** Called when it stops being the controller (lost, fenced, closing). Must not throw. */
  stop(): void;
}

export interface ClusterMembership {
  /**
   * True while this broker cannot be sure its registration lease is still alive: the other
   * brokers may already treat it as dead, so it does not act as the controller and makes no
   * partition changes (ISR shrink/expand). It keeps leading its partitions until it sees a
   * newer leader epoch, as a KRaft broker does (etcd-metadata-store.ts header). Always false
   * for a single node.
   */
  readonly fenced: boolean;
  /** True when this broker holds the controller election and is not fenced. */
  readonly isController: boolean;
  /** Node id of the active controller, -1 when none is known (a method, as MetadataStore.controllerId). */
  controllerId(): number;
  /** Called with the new controller id (or -1) whenever it changes, also for this broker. */
  onControllerChange(listener: (controllerId: number) => void): () => void;
  /** Called with the new `fenced` value whenever it changes. */
  onFencedChange(listener: (fenced: boolean) => void): () => void;
  /**
   * For a broker about to shut down: stops campaigning for good and, if it holds the
   * election, gives it up, so another broker becomes controller and can move this broker's
   * leaderships during its controlled shutdown. Resolves once the resignation is committed
   * (or at once when there was nothing to give up); rejects when the store cannot be reached.
   */
  resignController(): Promise<void>;
}

/** Whether `store` is also a ClusterMembership (the etcd store is; the local one is not). */
export function membershipOf(store: object): ClusterMembership | undefined {
  const m = store as Partial<ClusterMembership>;
  return typeof m.onControllerChange === 'function' && typeof m.resignController === 'function' ? store as ClusterMembership : undefined;
}

/** A single broker: always the controller, never fenced. */
export function localMembership(nodeId: number): ClusterMembership {
  return {
    fenced: false,
    isController: true,
    controllerId: () => nodeId,
    onControllerChange: () => () => undefined,
    onFencedChange: () => () => undefined,
    resignController: () => Promise.resolve(),
  };
}

/**
 * How often storeMembership looks at the store's controllerId() besides metadata changes: a
 * controller named without a change event starts its duties within this time, far below the
 * broker.session.timeout.ms a new controller then waits anyway.
 */
export const CONTROLLER_CHECK_INTERVAL_MS = 1000;

/** The broker the store says runs the controller duties; -1 when none is known. A store without an election: this broker. */
function runningControllerOf(metadata: MetadataStore, selfId: number): number {
  return metadata.controllerId ? metadata.controllerId() : selfId;
}

/** The controller's broker id as clients see it (Metadata, DescribeCluster). */
export function controllerIdOf(metadata: MetadataStore, selfId: number): number {
  const id = runningControllerOf(metadata, selfId);
  // No controller known (an election in progress): name this broker, as a KRaft broker names any live one.
  return id === -1 ? selfId : id;
}

/**
 * The membership of a store without an election of its own (the local store: the
 * longest-registered live broker is controller, so in-process brokers sharing one store have
 * one controller and the next takes over when it unregisters). This broker is controller
 * while `controllerId()` names it (a store without one: always); it is never fenced. While
 * anyone listens, the store's answer is looked at again after every metadata change (a
 * microtask later, never inside the store's listener loop) and every
 * CONTROLLER_CHECK_INTERVAL_MS, so a name that changes without an event is followed too.
 */
export function storeMembership(metadata: MetadataStore, nodeId: number): ClusterMembership {
  const controllerId = (): number => runningControllerOf(metadata, nodeId);
  const listeners = new Set<(controllerId: number) => void>();
  let last = controllerId();
  let unsubscribe: (() => void) | null = null;
  let poll: NodeJS.Timeout | null = null;
  let scheduled = false;
  const check = (): void => {
    const now = controllerId();
    if (now === last) return;
    last = now;
    for (const listener of [...listeners]) listener(now);
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      if (unsubscribe !== null) check();
    });
  };
  return {
    fenced: false,
    get isController() { return controllerId() === nodeId; },
    controllerId,
    onControllerChange(listener) {
      listeners.add(listener);
      if (unsubscribe === null) {
        last = controllerId();
        unsubscribe = metadata.subscribe(schedule);
        poll = setInterval(check, CONTROLLER_CHECK_INTERVAL_MS);
        poll.unref();
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size > 0 || unsubscribe === null) return;
        unsubscribe();
        unsubscribe = null;
        if (poll !== null) clearInterval(poll);
        poll = null;
      };
    },
    onFencedChange: () => () => undefined,
    // The local store has no election to give up: which broker controls follows its
    // registrations, so the controlled shutdown's unregistration hands the role on.
    resignController: () => Promise.resolve(),
  };
}

/**
 * Runs `duties` while `membership.isController` holds: start on gaining the election, stop
 * on losing it (or being fenced). Returns a function that stops the duties (if running)
 * and the watching; the broker calls it on close.
 */
export function runControllerDuties(membership: ClusterMembership, duties: ControllerDuties): () => void {
  let running = false;
  const reconcile = (): void => {
    const should = membership.isController;
    if (should && !running) {
      running = true;
      duties.start();
    } else if (!should && running) {
      running = false;
      duties.stop();
    }
  };
  const offController = membership.onControllerChange(reconcile);
  const offFenced = membership.onFencedChange(reconcile);
  reconcile();
  return () => {
    offController();
    offFenced();
    if (running) {
      running = false;
      duties.stop();
    }
  };
}

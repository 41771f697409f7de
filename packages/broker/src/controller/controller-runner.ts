/**
 * Runs the controller duties on this broker while the metadata store names it controller
 * (MetadataStore.controllerId; a store without one makes every broker its own controller,
 * which is right for a single node). Re-evaluated on every metadata change, so when the
 * controller broker unregisters the next one takes over; Controller.start() reconciles
 * every partition, which also handles the departure that made it controller.
 *
 * A store with a real election (etcd) may instead drive a Controller directly through
 * ControllerDuties (then not this runner as well: two controllers on one broker would do
 * every change twice, safely but for nothing). A store whose controllerId() changes
 * without a metadata change event is still followed: the runner also looks every
 * CONTROLLER_CHECK_INTERVAL_MS.
 */
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { ControllerDeps, ControllerDuties } from './controller.js';
import { Controller } from './controller.js';

/**
 * How often the runner looks at controllerId() besides metadata changes: an election
 * result that arrives without a change event starts the duties within this time, far
 * below the broker.session.timeout.ms a new controller then waits anyway.
 */
export const CONTROLLER_CHECK_INTERVAL_MS = 1000;

/** The controller's broker id as clients see it (Metadata, DescribeCluster). */
export function controllerIdOf(metadata: MetadataStore, selfId: number): number {
  const id = runningControllerOf(metadata, selfId);
  // No controller known (an election in progress): name this broker, as a KRaft broker names any live one.
  return id === -1 ? selfId : id;
}

/** The broker the store says runs the controller duties; -1 when none is known. */
function runningControllerOf(metadata: MetadataStore, selfId: number): number {
  return metadata.controllerId ? metadata.controllerId() : selfId;
}

export class ControllerRunner implements ControllerDuties {
  private readonly deps: ControllerDeps;
  private duties: Controller | null = null;
  private unsubscribe: (() => void) | null = null;
  private scheduled = false;
  private poll: NodeJS.Timeout | null = null;

  constructor(deps: ControllerDeps) {
    this.deps = deps;
  }

  /** The running duties, or null when another broker is controller (tests). */
  get controller(): Controller | null {
    return this.duties;
  }

  start(): void {
    if (this.unsubscribe !== null) return;
    // Evaluated after the store's write returns, never inside its listener loop.
    this.unsubscribe = this.deps.metadata.subscribe(() => this.schedule());
    this.poll = setInterval(() => this.evaluate(), CONTROLLER_CHECK_INTERVAL_MS);
    this.poll.unref();
    this.evaluate();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.poll !== null) clearInterval(this.poll);
    this.poll = null;
    this.duties?.stop();
    this.duties = null;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (this.unsubscribe !== null) this.evaluate();
    });
  }

  private evaluate(): void {
    const isController = runningControllerOf(this.deps.metadata, this.deps.nodeId) === this.deps.nodeId;
    if (isController && this.duties === null) {
      this.duties = new Controller(this.deps);
      this.duties.start();
    } else if (!isController && this.duties !== null) {
      this.duties.stop();
      this.duties = null;
    }
  }
}

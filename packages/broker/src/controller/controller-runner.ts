/**
 * Runs the controller duties on this broker while the metadata store names it controller
 * (MetadataStore.controllerId; a store without one makes every broker its own controller,
 * which is right for a single node). Re-evaluated on every metadata change, so when the
 * controller broker unregisters the next one takes over; Controller.start() reconciles
 * every partition, which also handles the departure that made it controller.
 *
 * A store with a real election (etcd) may instead drive a Controller directly through
 * ControllerDuties; this runner is what the local store uses.
 */
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { ControllerDeps, ControllerDuties } from './controller.js';
import { Controller } from './controller.js';

/** The controller's broker id as clients see it (Metadata, DescribeCluster). */
export function controllerIdOf(metadata: MetadataStore, selfId: number): number {
  return metadata.controllerId ? metadata.controllerId() : selfId;
}

export class ControllerRunner implements ControllerDuties {
  private readonly deps: ControllerDeps;
  private duties: Controller | null = null;
  private unsubscribe: (() => void) | null = null;
  private scheduled = false;

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
    this.evaluate();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
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
    const isController = controllerIdOf(this.deps.metadata, this.deps.nodeId) === this.deps.nodeId;
    if (isController && this.duties === null) {
      this.duties = new Controller(this.deps);
      this.duties.start();
    } else if (!isController && this.duties !== null) {
      this.duties.stop();
      this.duties = null;
    }
  }
}

/**
 * The broker's side of a controlled shutdown (KRaft: BrokerHeartbeat with wantShutDown,
 * then waiting for shouldShutDown). Before a broker stops serving it registers again with
 * `inControlledShutdown` set; the controller (controller.ts) then moves every leadership it
 * can to another in-sync replica and takes the broker out of the ISRs. The broker waits
 * until nothing is left to move: every partition it is still in the ISR of has no other
 * live in-sync replica to take over (a sole in-sync leader keeps leading until it is gone,
 * as in Kafka). The wait is bounded, so a broker whose controller is gone still stops.
 *
 * A broker that is itself the controller resigns the election first (etcd store:
 * resignController), so another broker takes over and does the moving while this one still
 * serves. Followers in controlled shutdown are not added back to ISRs by their leaders
 * (replica/isr-eligibility.ts, KIP-841); before both, closing the controller broker waited
 * the whole bound.
 *
 * Deliberate difference from Kafka: the request is a flag on the broker's registration in
 * the metadata store rather than a heartbeat RPC to the controller; KRaft's broker waits up
 * to 5 minutes, this one CONTROLLED_SHUTDOWN_WAIT_MS_MAX.
 */
import type { Logger } from '../logger.js';
import type { BrokerRegistration, MetadataStore } from '../metadata/metadata-store.js';
import { membershipOf } from '../metadata/controller-election.js';
import { clusterView } from './controller.js';
import { isActive } from './partition-change.js';

/**
 * How long a closing broker waits for the controller. Moving leaderships is one metadata
 * write per partition (milliseconds each even in etcd), so 30 s covers thousands of
 * partitions; past it the controller is presumably gone and failover will do the job.
 */
export const CONTROLLED_SHUTDOWN_WAIT_MS_MAX = 30_000;

/** Partitions whose leadership or ISR membership `nodeId` still holds while another in-sync replica could take it. */
export function controlledShutdownPending(metadata: MetadataStore, nodeId: number): number {
  const view = clusterView(metadata);
  let pending = 0;
  for (const topic of metadata.topics()) {
    for (const p of topic.partitions) {
      if (!p.isr.includes(nodeId)) continue;
      if (p.isr.some((id) => id !== nodeId && isActive(view, id))) pending++;
    }
  }
  return pending;
}

/**
 * Asks for a controlled shutdown and waits until the controller has moved what it can,
 * or `waitMsMax` passed. Resolves with the number of partitions still pending (0 = done).
 */
export async function controlledShutdown(
  metadata: MetadataStore, registration: BrokerRegistration, logger: Logger, waitMsMax = CONTROLLED_SHUTDOWN_WAIT_MS_MAX,
): Promise<number> {
  const nodeId = registration.nodeId;
  const startedAt = Date.now();
  // The controller first: a broker that stays controller through its own controlled
  // shutdown hands the election over only when its store closes, after its partitions are
  // gone, and the cluster has no controller for that moment. Given up first (bounded like
  // the request below), another broker takes it and moves this one's leaderships.
  const membership = membershipOf(metadata);
  if (membership !== undefined) {
    try {
      await membership.resignController();
    } catch (err) {
      logger.warn('Could not resign the controller election before the controlled shutdown; the lease ends it', { nodeId, err: String(err) });
    }
  }
  // The request itself is bounded too: a store that cannot be reached (etcd down) must not
  // keep the broker from stopping.
  let requestTimer: NodeJS.Timeout | undefined;
  const requested = await Promise.race([
    metadata.registerBroker({ ...registration, inControlledShutdown: true }).then(() => true),
    new Promise<false>((resolve) => { requestTimer = setTimeout(() => resolve(false), waitMsMax); }),
  ]).finally(() => clearTimeout(requestTimer));
  if (!requested) {
    logger.warn('Controlled shutdown could not be requested in time; partitions fail over when the broker is gone', { nodeId, waitMsMax });
    return controlledShutdownPending(metadata, nodeId);
  }
  const pending = await new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let unsubscribe = (): void => undefined;
    const check = (): void => {
      const left = controlledShutdownPending(metadata, nodeId);
      if (left > 0 && Date.now() - startedAt < waitMsMax) return;
      if (timer !== undefined) clearTimeout(timer);
      unsubscribe();
      resolve(left);
    };
    timer = setTimeout(() => { timer = undefined; resolve(controlledShutdownPending(metadata, nodeId)); unsubscribe(); }, Math.max(0, waitMsMax - (Date.now() - startedAt)));
    unsubscribe = metadata.subscribe((change) => { if (change.type === 'partition-changed' || change.type === 'broker-unregistered') check(); });
    check();
  });
  if (pending === 0) logger.info('Controlled shutdown: leadership moved', { nodeId, waitMs: Date.now() - startedAt });
  else logger.warn('Controlled shutdown timed out; the remaining partitions fail over when the broker is gone', { nodeId, pending, waitMsMax });
  return pending;
}

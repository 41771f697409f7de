/**
 * Which followers a leader may add to the ISR (Kafka's Partition.isReplicaIsrEligible,
 * KIP-841): a caught-up follower joins only when its broker is registered and not in
 * controlled shutdown. Without the second condition a broker shutting down keeps catching
 * up as a follower, the leader adds it back, the controller takes it out again, and its
 * controlled shutdown never sees its ISR memberships gone (it waited its full bound, 30 s).
 * A broker that is not registered (its lease expired) is not one the controller would keep
 * in an ISR either, so adding it would only be undone.
 */
import type { MetadataStore } from '../metadata/metadata-store.js';

export function isIsrEligible(metadata: MetadataStore, replicaId: number): boolean {
  const registration = metadata.brokers().find((b) => b.nodeId === replicaId);
  return registration !== undefined && registration.inControlledShutdown !== true;
}

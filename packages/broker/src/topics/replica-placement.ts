/**
 * Where the replicas of new partitions go when the client gives no assignment.
 *
 * Round robin over the live brokers sorted by id: partition p of a topic gets the brokers
 * at positions (s + p), (s + p + 1), ... where s is derived from the topic name. So the
 * preferred leaders (first replicas) of one topic are spread evenly, different topics start
 * on different brokers, and the placement is deterministic (a test or an operator can
 * predict it). Kafka's StripedReplicaPlacer additionally stripes across racks and picks s
 * at random; rack awareness is not implemented here yet.
 *
 * The replication factor must not exceed the live brokers; Kafka's message for that is
 * kept word for word because tools and people search for it.
 */

export type PlacementResult =
  | { readonly ok: true; readonly assignments: number[][] }
  | { readonly ok: false; readonly message: string };

/**
 * Replicas for partitions `firstPartition .. firstPartition + count - 1` of `topic`.
 * `brokerIds` are the live brokers (any order, no duplicates).
 */
export function placeReplicas(topic: string, brokerIds: readonly number[], firstPartition: number, count: number, replicationFactor: number): PlacementResult {
  if (replicationFactor <= 0) {
    return { ok: false, message: `Invalid replication factor ${replicationFactor}: the replication factor must be positive.` };
  }
  if (brokerIds.length === 0) return { ok: false, message: 'All brokers are currently fenced.' };
  if (replicationFactor > brokerIds.length) {
    return { ok: false, message: `The target replication factor of ${replicationFactor} cannot be reached because only ${brokerIds.length} broker(s) are registered.` };
  }
  const sorted = [...brokerIds].sort((a, b) => a - b);
  const n = sorted.length;
  const start = nameHash(topic) % n;
  const assignments: number[][] = [];
  for (let i = 0; i < count; i++) {
    const first = (start + firstPartition + i) % n;
    const replicas: number[] = [];
    for (let r = 0; r < replicationFactor; r++) replicas.push(sorted[(first + r) % n]!);
    assignments.push(replicas);
  }
  return { ok: true, assignments };
}

/** FNV-1a over the UTF-16 code units; only needs to be stable and spread, not secure. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

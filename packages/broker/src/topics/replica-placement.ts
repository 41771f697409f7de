/**
 * Where the replicas of new partitions go when the client gives no assignment.
 *
 * Rack-aware round robin (the striping of Kafka's rack-aware assignment): the live brokers
 * are ordered rack by rack in turn (first broker of each rack, then the second of each,
 * ...; racks by name, brokers by id), and partition p of a topic starts at position
 * (s + p) of that list, where s is derived from the topic name. Its replicas are the
 * next brokers in the list whose rack holds no replica of the partition yet; only when
 * every rack holds one may a rack get a second. So the preferred leaders (first replicas)
 * of one topic are spread evenly, different topics start on different brokers, no two
 * replicas share a rack while there are enough racks, and the placement is deterministic
 * (a test or an operator can predict it). With one rack this is plain round robin over
 * the brokers sorted by id. Kafka's StripedReplicaPlacer picks s at random and shuffles;
 * the guarantees are the same.
 *
 * A broker's rack here is `broker.rack`, else the host it advertises (placementRack), so
 * several brokers on one host never hold two replicas of a partition when there are
 * enough hosts. Kafka without broker.rack places as if all brokers shared one rack.
 *
 * The replication factor must not exceed the live brokers; Kafka's message for that is
 * kept word for word because tools and people search for it.
 */
import type { BrokerRegistration } from '../metadata/metadata-store.js';

export type PlacementResult =
  | { readonly ok: true; readonly assignments: number[][] }
  | { readonly ok: false; readonly message: string };

export interface PlacementBroker {
  readonly nodeId: number;
  /** The rack placement keeps replicas apart on; null = the common unnamed rack. */
  readonly rack: string | null;
}

/** The rack a registered broker counts in for placement: broker.rack, else its advertised host. */
export function placementRack(broker: BrokerRegistration): string | null {
  return broker.rack ?? broker.endpoints[0]?.host ?? null;
}

/**
 * Replicas for partitions `firstPartition .. firstPartition + count - 1` of `topic`.
 * `brokers` are the live brokers (ids, or ids with racks; any order, no duplicates).
 */
export function placeReplicas(
  topic: string, brokers: readonly number[] | readonly PlacementBroker[], firstPartition: number, count: number, replicationFactor: number,
): PlacementResult {
  if (replicationFactor <= 0) {
    return { ok: false, message: `Invalid replication factor ${replicationFactor}: the replication factor must be positive.` };
  }
  if (brokers.length === 0) return { ok: false, message: 'All brokers are currently fenced.' };
  if (replicationFactor > brokers.length) {
    return { ok: false, message: `The target replication factor of ${replicationFactor} cannot be reached because only ${brokers.length} broker(s) are registered.` };
  }
  const ordered = rackAlternated(brokers.map((b) => (typeof b === 'number' ? { nodeId: b, rack: null } : b)));
  const racks = new Set(ordered.map((b) => b.rack)).size;
  const n = ordered.length;
  const start = nameHash(topic) % n;
  const assignments: number[][] = [];
  for (let i = 0; i < count; i++) {
    const first = (start + firstPartition + i) % n;
    const replicas: number[] = [];
    const usedRacks = new Set<string | null>();
    // First pass: one replica per rack; second pass (more replicas than racks): any broker.
    for (let pass = 0; pass < 2 && replicas.length < replicationFactor; pass++) {
      for (let k = 0; k < n && replicas.length < replicationFactor; k++) {
        const b = ordered[(first + k) % n]!;
        if (replicas.includes(b.nodeId)) continue;
        if (pass === 0 && usedRacks.has(b.rack) && usedRacks.size < racks) continue;
        replicas.push(b.nodeId);
        usedRacks.add(b.rack);
      }
    }
    assignments.push(replicas);
  }
  return { ok: true, assignments };
}

/** Brokers ordered rack by rack in turn: racks by name (unnamed first), brokers by id. */
function rackAlternated(brokers: readonly PlacementBroker[]): PlacementBroker[] {
  const byRack = new Map<string | null, PlacementBroker[]>();
  for (const b of brokers) {
    const list = byRack.get(b.rack) ?? [];
    list.push(b);
    byRack.set(b.rack, list);
  }
  const racks = [...byRack.keys()].sort((a, b) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1));
  for (const list of byRack.values()) list.sort((a, b) => a.nodeId - b.nodeId);
  const out: PlacementBroker[] = [];
  for (let i = 0; out.length < brokers.length; i++) {
    for (const rack of racks) {
      const b = byRack.get(rack)![i];
      if (b !== undefined) out.push(b);
    }
  }
  return out;
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

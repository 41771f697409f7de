/**
 * The controller-side rules of ElectLeaders, AlterPartitionReassignments and
 * ListPartitionReassignments (Kafka's ReplicationControlManager.electLeaders /
 * alterPartitionReassignments / listPartitionReassignments), one partition at a time,
 * answering with Kafka's per-partition error codes.
 *
 * They run on the broker that received the request and write the partition with a
 * compare-and-swap on its partition epoch (partition-writer.ts), so they cannot overwrite
 * the controller's or a leader's concurrent change; the controller then finishes what they
 * start (a reassignment completes when its target replicas are in sync). Kafka forwards
 * these requests to the active controller instead; a client cannot tell the difference.
 */
import { ErrorCode } from '@tributary/protocol';
import type { BrokerConfig } from '../config/broker-config.js';
import type { MetadataStore, PartitionState } from '../metadata/metadata-store.js';
import { MetadataError } from '../metadata/metadata-store.js';
import { manualAssignmentError } from '../topics/topic-manager.js';
import { clusterView, uncleanLeaderElectionEnabled } from './controller.js';
import type { PartitionTarget } from './partition-change.js';
import { addingOf, cancelReassignment, electPreferred, electUnclean, isReassigning, removingOf, startReassignment } from './partition-change.js';
import { writePartition } from './partition-writer.js';

export interface PartitionOutcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

const OK: PartitionOutcome = { errorCode: ErrorCode.NONE, errorMessage: null };

/** Kafka's election types (ElectionType). */
export const ElectionType = { PREFERRED: 0, UNCLEAN: 1 } as const;

function unknownPartition(metadata: MetadataStore, topic: string, partition: number): PartitionOutcome | null {
  const t = metadata.topic(topic);
  if (t === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `No such topic as ${topic}` };
  if (t.partitions[partition] === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `No such partition as ${topic}-${partition}` };
  return null;
}

async function write(metadata: MetadataStore, topic: string, partition: number, compute: (s: PartitionState) => PartitionTarget | PartitionOutcome | null): Promise<PartitionOutcome> {
  try {
    const outcome = await writePartition<PartitionOutcome>(metadata, topic, partition, (state) => {
      const computed = compute(state);
      if (computed === null) return { result: OK };
      if ('errorCode' in computed) return { result: computed as PartitionOutcome };
      return { change: computed };
    });
    return outcome.written ? OK : outcome.result;
  } catch (err) {
    if (err instanceof MetadataError) return { errorCode: err.kafkaErrorCode, errorMessage: err.message };
    throw err;
  }
}

/** One partition's election: ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE or NONE. */
export async function electLeader(metadata: MetadataStore, topic: string, partition: number, electionType: number): Promise<PartitionOutcome> {
  const unknown = unknownPartition(metadata, topic, partition);
  if (unknown !== null) return unknown;
  return write(metadata, topic, partition, (state) => {
    // Kafka: an unclean election is not needed while the partition has any leader.
    if (electionType === ElectionType.UNCLEAN && state.leader !== -1) return { errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: null };
    const outcome = electionType === ElectionType.PREFERRED ? electPreferred(state, clusterView(metadata)) : electUnclean(state, clusterView(metadata));
    if (outcome.ok) return outcome.change;
    return { errorCode: ErrorCode[outcome.reason], errorMessage: null };
  });
}

/**
 * Starts, replaces or (target null) cancels the reassignment of one partition. Target
 * replicas are checked as Kafka checks a manual assignment: not empty, no broker twice,
 * every broker registered.
 */
export async function alterReassignment(
  metadata: MetadataStore, config: BrokerConfig, topic: string, partition: number, target: readonly number[] | null,
): Promise<PartitionOutcome> {
  const unknown = unknownPartition(metadata, topic, partition);
  if (unknown !== null) return unknown;
  if (target !== null) {
    const live = new Set(metadata.brokers().map((b) => b.nodeId));
    const problem = manualAssignmentError(target, undefined, live);
    if (problem !== null) return { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: problem };
  }
  const unclean = uncleanLeaderElectionEnabled(metadata.topic(topic)!, config);
  return write(metadata, topic, partition, (state) => {
    const view = clusterView(metadata);
    if (target === null) {
      if (!isReassigning(state)) return { errorCode: ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, errorMessage: null };
      return cancelReassignment(state, view, unclean);
    }
    return startReassignment(state, target, view, unclean);
  });
}

export interface OngoingReassignment {
  readonly topic: string;
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly addingReplicas: readonly number[];
  readonly removingReplicas: readonly number[];
}

/** Reassignments in progress, of every topic (`topics` null) or of the partitions named (unknown ones ignored, as Kafka does). */
export function listReassignments(metadata: MetadataStore, topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null): OngoingReassignment[] {
  const wanted = topics === null
    ? metadata.topics().map((t) => ({ name: t.name, partitionIndexes: t.partitions.map((p) => p.partition) }))
    : topics;
  const out: OngoingReassignment[] = [];
  for (const { name, partitionIndexes } of wanted) {
    const topic = metadata.topic(name);
    if (topic === undefined) continue;
    for (const index of partitionIndexes) {
      const p = topic.partitions[index];
      if (p === undefined || !isReassigning(p)) continue;
      out.push({ topic: name, partition: index, replicas: p.replicas, addingReplicas: addingOf(p), removingReplicas: removingOf(p) });
    }
  }
  return out;
}

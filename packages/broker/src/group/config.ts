/**
 * Settings of the group coordinator, with Kafka's names (in the comments) and Kafka's defaults.
 * Each limit exists for the reason Kafka gives for it; the reasons are repeated here because a
 * limit without a reason gets "tuned" into a bug.
 */
export interface GroupCoordinatorConfig {
  /** group.min.session.timeout.ms: shorter sessions make members flap on a GC pause or a slow disk. */
  groupMinSessionTimeoutMs: number;
  /** group.max.session.timeout.ms: longer sessions hide dead consumers for too long. */
  groupMaxSessionTimeoutMs: number;
  /** group.max.size: one runaway deployment must not grow a group without bound. */
  groupMaxSize: number;
  /**
   * group.initial.rebalance.delay.ms: when an empty group starts, wait this long (extended while
   * members keep arriving, up to the rebalance timeout) so that a fleet starting together gets
   * one rebalance instead of one per member.
   */
  groupInitialRebalanceDelayMs: number;
  /** offset.metadata.max.bytes: metadata is stored with every commit; keep records small. */
  offsetMetadataMaxBytes: number;
  /** offsets.retention.minutes, in milliseconds. */
  offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms: how often expired offsets are looked for. */
  offsetsRetentionCheckIntervalMs: number;
  /** offsets.topic.num.partitions: fixed for the life of a cluster, since it maps groups to partitions. */
  offsetsTopicNumPartitions: number;
}

export const defaultGroupCoordinatorConfig: Readonly<GroupCoordinatorConfig> = Object.freeze({
  groupMinSessionTimeoutMs: 6_000,
  groupMaxSessionTimeoutMs: 1_800_000,
  groupMaxSize: 2_147_483_647,
  groupInitialRebalanceDelayMs: 3_000,
  offsetMetadataMaxBytes: 4_096,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
  offsetsRetentionCheckIntervalMs: 600_000,
  offsetsTopicNumPartitions: 50,
});

/**
 * How long a brand-new member may sit in a JoinGroup before it is dropped. A new member has no
 * member id yet, so it cannot heartbeat; if its client gave up (request timeout) and retried,
 * the abandoned member would otherwise linger in every later rebalance. Kafka: 5 minutes.
 */
export const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000;

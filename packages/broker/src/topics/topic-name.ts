/**
 * Topic names as the broker sees them: internal topics and metric-name collisions. Legality
 * (Kafka's `Topic.validate`: 1 to 249 of [a-zA-Z0-9._-], not "." or "..") is protocol's
 * topic-name.ts.
 *
 * '.' and '_' map to the same character in metric names, so two topics that differ only
 * there would share metrics; Kafka refuses to create the second one ("collides").
 */

/** Topics the broker itself owns (Kafka's `Topic.INTERNAL_TOPICS`). */
export const GROUP_METADATA_TOPIC_NAME = '__consumer_offsets';
export const TRANSACTION_STATE_TOPIC_NAME = '__transaction_state';
export const SHARE_GROUP_STATE_TOPIC_NAME = '__share_group_state';
/** Kafka's KRaft metadata log; never a user topic, so creating it is refused. */
export const CLUSTER_METADATA_TOPIC_NAME = '__cluster_metadata';

const INTERNAL_TOPICS: ReadonlySet<string> = new Set([GROUP_METADATA_TOPIC_NAME, TRANSACTION_STATE_TOPIC_NAME, SHARE_GROUP_STATE_TOPIC_NAME]);

// The legality rule itself is protocol's, shared with storage (partition directories).
export { TOPIC_NAME_LENGTH_MAX, invalidTopicNameReason, isValidTopicName } from '@tributary/protocol';

export function isInternalTopic(name: string): boolean {
  return INTERNAL_TOPICS.has(name);
}

export function hasCollisionChars(name: string): boolean {
  return name.includes('_') || name.includes('.');
}

/** The name with '.' replaced by '_': two names collide when these are equal. */
export function unifyCollisionChars(name: string): string {
  return name.replaceAll('.', '_');
}

/**
 * Topic name rules, as Kafka's `org.apache.kafka.common.internals.Topic` states them:
 * 1 to 249 characters from [a-zA-Z0-9._-], and neither "." nor "..". The length limit
 * exists because a partition directory is named `<topic>-<partition>` and must fit in the
 * 255-byte file name limit of common file systems.
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

/** Longest legal name: 255 bytes of file name minus "-" and a partition number, with margin. */
export const TOPIC_NAME_LENGTH_MAX = 249;

const LEGAL_NAME = /^[a-zA-Z0-9._-]+$/;

/**
 * Why `name` is not a legal topic name, as Kafka words it ("Topic name is invalid: ..."),
 * or null when it is legal.
 */
export function invalidTopicNameReason(name: string): string | null {
  const reason = detectInvalid(name);
  return reason === null ? null : `Topic name is invalid: ${reason}`;
}

function detectInvalid(name: string): string | null {
  if (name.length === 0) return 'the empty string is not allowed';
  if (name === '.') return "'.' is not allowed";
  if (name === '..') return "'..' is not allowed";
  if (name.length > TOPIC_NAME_LENGTH_MAX) return `the length of '${name}' is longer than the max allowed length ${TOPIC_NAME_LENGTH_MAX}`;
  if (!LEGAL_NAME.test(name)) return `'${name}' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'`;
  return null;
}

export function isValidTopicName(name: string): boolean {
  return detectInvalid(name) === null;
}

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

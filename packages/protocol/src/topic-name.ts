/**
 * Topic name rules, as Kafka's `org.apache.kafka.common.internals.Topic` states them:
 * 1 to 249 characters from [a-zA-Z0-9._-], and neither "." nor "..". The length limit
 * exists because a partition directory is named `<topic>-<partition>` and must fit in the
 * 255-byte file name limit of common file systems. One rule for every package: the broker
 * answers with it, storage names directories with it, clients check with it.
 */

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

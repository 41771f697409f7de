/**
 * Reads the topic list out of a member's subscription metadata when the group's protocol type
 * is "consumer" (ConsumerProtocolSubscription). The broker stays assignor-agnostic; it looks
 * inside only to answer OffsetDelete (GROUP_SUBSCRIBED_TO_TOPIC) and to keep offsets of
 * subscribed topics from expiring.
 *
 * Layout (version 0 is a prefix of every later version, so reading it is enough, as Kafka does):
 *
 *   int16   version (any value >= 0)
 *   int32   topic count
 *   string  topic (int16 length + UTF-8), repeated
 *   ... user data, owned partitions, generation, rack: not needed here
 *
 * Subscriptions come from clients: a malformed one yields null ("unknown"), never a throw.
 */
export const CONSUMER_PROTOCOL_TYPE = 'consumer';

export function parseSubscriptionTopics(metadata: Buffer): string[] | null {
  if (metadata.length < 6) return null;
  const version = metadata.readInt16BE(0);
  if (version < 0) return null;
  const count = metadata.readInt32BE(2);
  if (count < 0 || count > (metadata.length - 6) / 2) return null;
  const topics: string[] = [];
  let pos = 6;
  for (let i = 0; i < count; i++) {
    if (pos + 2 > metadata.length) return null;
    const n = metadata.readInt16BE(pos);
    pos += 2;
    if (n < 0 || pos + n > metadata.length) return null;
    topics.push(metadata.toString('utf8', pos, pos + n));
    pos += n;
  }
  return topics;
}

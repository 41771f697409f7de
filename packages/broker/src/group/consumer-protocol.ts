/**
 * Reads the topic list out of a member's subscription metadata when the group's protocol type
 * is "consumer" (ConsumerProtocolSubscription, decoded by the generated codec). The broker
 * stays assignor-agnostic; it looks inside only to answer OffsetDelete
 * (GROUP_SUBSCRIBED_TO_TOPIC) and to keep offsets of subscribed topics from expiring.
 *
 * Layout: int16 version, then the subscription. Version 0 (topics, user data) is a prefix of
 * every later version, so the struct is read at version 0 whatever version the client wrote,
 * as Kafka's ClassicGroup.computeSubscribedTopics does; a newer client cannot confuse it.
 *
 * Subscriptions come from clients: a malformed one yields null ("unknown"), never a throw
 * (Kafka catches the SchemaException likewise).
 */
import { decodeConsumerProtocolSubscription, ProtocolDecodeError, Reader } from '@tributary/protocol';

export const CONSUMER_PROTOCOL_TYPE = 'consumer';

export function parseSubscriptionTopics(metadata: Buffer): string[] | null {
  try {
    const r = new Reader(metadata);
    if (r.int16() < 0) return null;
    return decodeConsumerProtocolSubscription(r, 0).topics;
  } catch (error) {
    if (error instanceof ProtocolDecodeError) return null;
    throw error;
  }
}

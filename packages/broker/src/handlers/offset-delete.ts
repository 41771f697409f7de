/**
 * OffsetDelete (api key 47), version 0.
 *
 * Behaviour (Kafka's):
 * - Empty group: the requested offsets are deleted (tombstones), NONE per partition (also
 *   for partitions without an offset).
 * - Group with members and protocol type "consumer": partitions of topics some member
 *   subscribes to (read from the members' subscription metadata) get
 *   GROUP_SUBSCRIBED_TO_TOPIC; the others are deleted.
 * - Group with members of another protocol type: NON_EMPTY_GROUP (top level).
 * - Unknown group: GROUP_ID_NOT_FOUND (top level). Group-level errors come with no topics.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { authorized } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';
import type { Handler } from './registry.js';

export const offsetDeleteHandler: Handler<'OffsetDelete'> = {
  apiKey: ApiKey.OffsetDelete,
  name: 'OffsetDelete',
  minVersion: 0,
  maxVersion: 0,

  async handle(req, ctx) {
    const coordinator = ctx.broker.groupCoordinator;
    // Kafka: DELETE on the group (the per-API table), READ on each topic, else its
    // partitions answer TOPIC_AUTHORIZATION_FAILED.
    const readable = req.topics.filter((t) => authorized(ctx, AclOperation.READ, ResourceType.TOPIC, t.name));
    const r = await coordinator.deleteOffsets(
      req.groupId,
      readable.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
    );
    const refused = req.topics.filter((t) => !readable.includes(t))
      .map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED })) }));
    return { errorCode: r.errorCode, throttleTimeMs: 0, topics: r.errorCode === ErrorCode.NONE ? [...r.topics, ...refused] : r.topics };
  },

  errorResponse(_req, errorCode) {
    return { errorCode, throttleTimeMs: 0, topics: [] };
  },
};

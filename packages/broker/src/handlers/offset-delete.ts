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
import { ApiKey } from '@tributary/protocol';
import type { Handler } from './registry.js';

export const offsetDeleteHandler: Handler<'OffsetDelete'> = {
  apiKey: ApiKey.OffsetDelete,
  name: 'OffsetDelete',
  minVersion: 0,
  maxVersion: 0,

  async handle(req, ctx) {
    const coordinator = ctx.broker.groupCoordinator;
    const r = await coordinator.deleteOffsets(
      req.groupId,
      req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionIndex) })),
    );
    return { errorCode: r.errorCode, throttleTimeMs: 0, topics: r.topics };
  },

  errorResponse(_req, errorCode) {
    return { errorCode, throttleTimeMs: 0, topics: [] };
  },
};

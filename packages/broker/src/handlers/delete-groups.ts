/**
 * DeleteGroups (api key 42), versions 0-2.
 *
 * Behaviour (Kafka's):
 * - Each distinct group id is answered separately: NONE when the group was Empty and is now
 *   deleted with its committed offsets (tombstones in `__consumer_offsets`), NON_EMPTY_GROUP
 *   when it has members, GROUP_ID_NOT_FOUND when it does not exist.
 * - The answer comes after the tombstones are written.
 */
import { ApiKey } from '@tributary/protocol';
import type { Handler } from './registry.js';

export const deleteGroupsHandler: Handler<'DeleteGroups'> = {
  apiKey: ApiKey.DeleteGroups,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,

  async handle(req, ctx) {
    const coordinator = ctx.broker.groupCoordinator;
    return { throttleTimeMs: 0, results: await coordinator.deleteGroups(req.groupsNames) };
  },

  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, results: [...new Set(req.groupsNames)].map((groupId) => ({ groupId, errorCode })) };
  },
};

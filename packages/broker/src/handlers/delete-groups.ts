/**
 * DeleteGroups (api key 42), versions 0-2.
 *
 * Behaviour (Kafka's):
 * - Each distinct group id is answered separately: NONE when the group was Empty and is now
 *   deleted with its committed offsets (tombstones in `__consumer_offsets`), NON_EMPTY_GROUP
 *   when it has members, GROUP_ID_NOT_FOUND when it does not exist.
 * - The answer comes after the tombstones are written.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { authorized } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';
import type { Handler } from './registry.js';

export const deleteGroupsHandler: Handler<'DeleteGroups'> = {
  apiKey: ApiKey.DeleteGroups,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,

  async handle(req, ctx) {
    const coordinator = ctx.broker.groupCoordinator;
    // Kafka: DELETE on each group, else GROUP_AUTHORIZATION_FAILED for it.
    const names = [...new Set(req.groupsNames)];
    const allowed = names.filter((g) => authorized(ctx, AclOperation.DELETE, ResourceType.GROUP, g));
    const results = allowed.length > 0 ? await coordinator.deleteGroups(allowed) : [];
    for (const groupId of names) if (!allowed.includes(groupId)) results.push({ groupId, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED });
    return { throttleTimeMs: 0, results };
  },

  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, results: [...new Set(req.groupsNames)].map((groupId) => ({ groupId, errorCode })) };
  },
};

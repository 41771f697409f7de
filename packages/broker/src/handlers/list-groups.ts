/**
 * ListGroups (api key 16), versions 0-5.
 *
 * Behaviour (Kafka's):
 * - Every group this coordinator has (dead ones excluded), with its protocol type.
 * - v4+: StatesFilter (case-insensitive; empty = all) and the state of each group.
 * - v5+: TypesFilter (case-insensitive; empty = all) and each group's type; every group here
 *   is "classic", so a filter without "classic" lists nothing.
 * - While a partition of `__consumer_offsets` is still loading, the groups known so far are
 *   listed with COORDINATOR_LOAD_IN_PROGRESS.
 * - Authorization (Kafka's): DESCRIBE on the cluster lists every group; without it, only
 *   the groups the principal may DESCRIBE.
 */
import { ApiKey } from '@tributary/protocol';
import { authorized, authorizedOnCluster } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';
import type { Handler } from './registry.js';

export const listGroupsHandler: Handler<'ListGroups'> = {
  apiKey: ApiKey.ListGroups,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 5,

  handle(req, ctx) {
    const coordinator = ctx.broker.groupCoordinator;
    const r = coordinator.listGroups(req.statesFilter ?? [], req.typesFilter ?? []);
    const all = authorizedOnCluster(ctx, AclOperation.DESCRIBE);
    const groups = all ? r.groups : r.groups.filter((g) => authorized(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, g.groupId));
    return { throttleTimeMs: 0, errorCode: r.errorCode, groups };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, groups: [] };
  },
};

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
 */
import { ApiKey } from '@tributary/protocol';
import type { Handler } from './registry.js';

export const listGroupsHandler: Handler<'ListGroups'> = {
  apiKey: ApiKey.ListGroups,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 5,

  handle(req, ctx) {
    const coordinator = ctx.broker.groupCoordinator;
    const r = coordinator.listGroups(req.statesFilter ?? [], req.typesFilter ?? []);
    return { throttleTimeMs: 0, errorCode: r.errorCode, groups: r.groups };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, groups: [] };
  },
};

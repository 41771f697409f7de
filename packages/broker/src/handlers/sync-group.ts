/**
 * SyncGroup (api key 14), versions 0-5.
 *
 * Behaviour (Kafka's):
 * - The leader sends every member's assignment; it is written to `__consumer_offsets` and
 *   then every member waiting in SyncGroup gets its own. Followers wait for the leader.
 * - v3+: group.instance.id (a replaced static member is FENCED_INSTANCE_ID).
 * - v5+: ProtocolType and ProtocolName are mandatory (INCONSISTENT_GROUP_PROTOCOL when
 *   missing or different from the group's) and echoed in the response.
 * - Errors: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS (join again),
 *   COORDINATOR_NOT_AVAILABLE / NOT_COORDINATOR.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { EMPTY_BYTES } from '../group/member.js';
import type { Handler } from './registry.js';

export const syncGroupHandler: Handler<'SyncGroup'> = {
  apiKey: ApiKey.SyncGroup,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 5,

  async handle(req, ctx) {
    const coordinator = ctx.broker.groupCoordinator;
    const protocolType = req.protocolType ?? null;
    const protocolName = req.protocolName ?? null;
    if (ctx.header.apiVersion >= 5 && (protocolType === null || protocolName === null)) {
      return this.errorResponse!(req, ErrorCode.INCONSISTENT_GROUP_PROTOCOL, ctx);
    }
    const r = await coordinator.syncGroup({
      groupId: req.groupId,
      generationId: req.generationId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId ?? null,
      protocolType,
      protocolName,
      assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
    });
    return { throttleTimeMs: 0, errorCode: r.errorCode, protocolType: r.protocolType, protocolName: r.protocolName, assignment: r.assignment };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, protocolType: null, protocolName: null, assignment: EMPTY_BYTES };
  },
};

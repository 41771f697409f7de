/**
 * LeaveGroup (api key 13), versions 0-5.
 *
 * Behaviour (Kafka's):
 * - v0-v2: one member (`memberId`); the response has only a top-level error, which is that
 *   member's error.
 * - v3+: a batch of members, each by member id, or by group.instance.id with an empty member
 *   id (administrative removal of static members); one error per member, top-level error
 *   only for group-level failures. v5+ carries a reason per member (logged).
 * - A member that leaves triggers a rebalance of the remaining members.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler } from './registry.js';

export const leaveGroupHandler: Handler<'LeaveGroup'> = {
  apiKey: ApiKey.LeaveGroup,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 5,

  handle(req, ctx) {
    const version = ctx.header.apiVersion;
    const coordinator = ctx.broker.groupCoordinator;
    const members =
      version >= 3
        ? (req.members ?? []).map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, reason: m.reason ?? null }))
        : [{ memberId: req.memberId ?? '', groupInstanceId: null, reason: null }];
    const r = coordinator.leaveGroup(req.groupId, members);
    if (version >= 3) return { throttleTimeMs: 0, errorCode: r.errorCode, members: r.members };
    // Single-member versions: the member's own error becomes the top-level error.
    const errorCode = r.errorCode !== ErrorCode.NONE ? r.errorCode : (r.members[0]?.errorCode ?? ErrorCode.NONE);
    return { throttleTimeMs: 0, errorCode };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, members: [] };
  },
};

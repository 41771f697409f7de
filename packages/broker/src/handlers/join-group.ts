/**
 * JoinGroup (api key 11), versions 0-9.
 *
 * Behaviour (Kafka's classic group coordinator; see group/membership.ts for the states):
 * - v0 has no rebalance timeout: the session timeout is used for both.
 * - v4+: a member without a member id and without group.instance.id gets MEMBER_ID_REQUIRED
 *   (79) with its new member id, and must join again with it.
 * - v5+: group.instance.id (static membership).
 * - v7+: protocol type in the response; the protocol name is nullable (null on errors),
 *   before v7 it is "" instead.
 * - v9+: SkipAssignment for a static leader rejoining a stable group.
 * - The response is sent when the join phase completes (all members rejoined, the rebalance
 *   timeout passed, or the initial delay ran out), so this handler may wait minutes.
 * - The client host is the connection's remote address, as Kafka records it ("/1.2.3.4").
 */
import { ApiKey, type JoinGroupResponse } from '@tributary/protocol';
import type { JoinGroupResult } from '../group/member.js';
import type { Handler, RequestContext } from './registry.js';

function toResponse(r: JoinGroupResult, version: number): JoinGroupResponse {
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    generationId: r.generationId,
    protocolType: r.protocolType,
    // Before v7 the protocol name is not nullable; Kafka sends "".
    protocolName: version >= 7 ? (r.protocolName === '' ? null : r.protocolName) : (r.protocolName ?? ''),
    leader: r.leader,
    skipAssignment: r.skipAssignment,
    memberId: r.memberId,
    members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
  };
}

export const joinGroupHandler: Handler<'JoinGroup'> = {
  apiKey: ApiKey.JoinGroup,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 9,

  async handle(req, ctx: RequestContext) {
    const version = ctx.header.apiVersion;
    const coordinator = ctx.broker.groupCoordinator;
    const rebalanceTimeoutMs = req.rebalanceTimeoutMs ?? -1;
    const result = await coordinator.joinGroup({
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId ?? null,
      requireKnownMemberId: version >= 4,
      supportSkippingAssignment: version >= 9,
      clientId: ctx.header.clientId ?? '',
      clientHost: `/${ctx.connection.remoteAddress}`,
      rebalanceTimeoutMs: rebalanceTimeoutMs === -1 ? req.sessionTimeoutMs : rebalanceTimeoutMs,
      sessionTimeoutMs: req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      reason: req.reason ?? null,
    });
    return toResponse(result, version);
  },

  errorResponse(req, errorCode, ctx) {
    return toResponse(
      { errorCode, memberId: req.memberId, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, members: [] },
      ctx.header.apiVersion,
    );
  },
};

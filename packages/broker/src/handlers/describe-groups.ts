/**
 * DescribeGroups (api key 15), versions 0-5.
 *
 * Behaviour (Kafka's):
 * - One entry per requested group id. A group the coordinator does not have is described as
 *   state "Dead" with error NONE and no members (that is how Kafka says "no such group" here).
 * - States print as Kafka prints them: Empty, PreparingRebalance, CompletingRebalance,
 *   Stable, Dead. Protocol data (the assignor) and member metadata/assignments are filled
 *   only when Stable.
 * - v3+: authorized operations are requested optionally: Kafka's "not requested" sentinel
 *   unless asked, then the bit set of the group operations (READ, DESCRIBE, DELETE) the
 *   principal may do (all of them without an authorizer).
 * - Authorization: DESCRIBE on each group, else GROUP_AUTHORIZATION_FAILED for it.
 * - v4+: group.instance.id per member.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { authorized, authorizedOperations as authorizedOperationsOf } from '../security/api-acls.js';
import { AclOperation, ResourceType } from '../security/authorizer.js';
import type { Handler } from './registry.js';

/** Kafka's "authorized operations not requested" sentinel (Integer.MIN_VALUE). */
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;
/** AclOperation codes READ (3), DELETE (6), DESCRIBE (8) as a bit set: what a group supports. */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

export const describeGroupsHandler: Handler<'DescribeGroups'> = {
  apiKey: ApiKey.DescribeGroups,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 5,

  handle(req, ctx) {
    const coordinator = ctx.broker.groupCoordinator;
    // Kafka: DESCRIBE on each group, else GROUP_AUTHORIZATION_FAILED for it.
    const allowed = req.groups.filter((g) => authorized(ctx, AclOperation.DESCRIBE, ResourceType.GROUP, g));
    const described = new Map(coordinator.describeGroups(allowed).map((g) => [g.groupId, g]));
    const refused = this.errorResponse!({ ...req, groups: req.groups.filter((g) => !described.has(g)) }, ErrorCode.GROUP_AUTHORIZATION_FAILED, ctx).groups;
    return {
      throttleTimeMs: 0,
      groups: req.groups.map((groupId) => {
        const g = described.get(groupId);
        if (!g) return refused.find((r) => r.groupId === groupId)!;
        const ops = req.includeAuthorizedOperations === true ? authorizedOperationsOf(ctx, ResourceType.GROUP, groupId, GROUP_OPERATIONS) : AUTHORIZED_OPERATIONS_OMITTED;
        return { ...g, authorizedOperations: g.errorCode === ErrorCode.NONE ? ops : AUTHORIZED_OPERATIONS_OMITTED };
      }),
    };
  },

  errorResponse(req, errorCode) {
    return {
      throttleTimeMs: 0,
      groups: req.groups.map((groupId) => ({
        errorCode,
        groupId,
        groupState: '',
        protocolType: '',
        protocolData: '',
        members: [],
        authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
      })),
    };
  },
};

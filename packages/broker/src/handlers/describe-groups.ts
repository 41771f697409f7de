/**
 * DescribeGroups (api key 15), versions 0-5.
 *
 * Behaviour (Kafka's):
 * - One entry per requested group id. A group the coordinator does not have is described as
 *   state "Dead" with error NONE and no members (that is how Kafka says "no such group" here).
 * - States print as Kafka prints them: Empty, PreparingRebalance, CompletingRebalance,
 *   Stable, Dead. Protocol data (the assignor) and member metadata/assignments are filled
 *   only when Stable.
 * - v3+: authorized operations are requested optionally; without ACLs every operation is
 *   allowed, which we report as Kafka's "not requested" sentinel unless asked, then as the
 *   bit set of the group operations (READ, DESCRIBE, DELETE).
 * - v4+: group.instance.id per member.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
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
    const authorizedOperations = req.includeAuthorizedOperations === true ? GROUP_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED;
    return {
      throttleTimeMs: 0,
      groups: coordinator.describeGroups(req.groups).map((g) => ({
        ...g,
        authorizedOperations: g.errorCode === ErrorCode.NONE ? authorizedOperations : AUTHORIZED_OPERATIONS_OMITTED,
      })),
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

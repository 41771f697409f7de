/**
 * Heartbeat (api key 12), versions 0-4.
 *
 * Behaviour (Kafka's): restarts the member's session timeout. Answers NONE when Stable or
 * CompletingRebalance, REBALANCE_IN_PROGRESS while rebalancing (the member must rejoin),
 * UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION / FENCED_INSTANCE_ID (v3+) for members that are not
 * current, and NONE while the coordinator is still loading the group (the member learns of
 * any rebalance later).
 */
import { ApiKey } from '@tributary/protocol';
import type { Handler } from './registry.js';

export const heartbeatHandler: Handler<'Heartbeat'> = {
  apiKey: ApiKey.Heartbeat,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,

  handle(req, ctx) {
    const coordinator = ctx.broker.groupCoordinator;
    const errorCode = coordinator.heartbeat({
      groupId: req.groupId,
      generationId: req.generationId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId ?? null,
    });
    return { throttleTimeMs: 0, errorCode };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode };
  },
};

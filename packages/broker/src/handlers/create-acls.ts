/**
 * CreateAcls (api key 30), versions 0-3 (all Kafka 3.9 serves; v1 adds the pattern type,
 * v2+ flexible).
 *
 * Behaviour (Kafka's KafkaApis.handleCreateAcls + AclControlManager):
 * - Needs ALTER on the cluster (the dispatcher's table, security/api-acls.ts): without it
 *   every creation is answered CLUSTER_AUTHORIZATION_FAILED.
 * - Without an authorizer every creation is SECURITY_DISABLED "No Authorizer is configured.".
 * - Each creation is validated alone (concrete resource type, pattern LITERAL/PREFIXED,
 *   operation, permission; principal `Type:name`; the cluster named `kafka-cluster`);
 *   an invalid one is INVALID_REQUEST with the reason, the valid ones are stored together
 *   in one metadata write. v0 has no pattern type: LITERAL. Creating an existing binding
 *   succeeds and changes nothing.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler } from './registry.js';
import type { AclBinding } from '../security/authorizer.js';
import { invalidBindingReason, PatternType } from '../security/authorizer.js';

export const createAclsHandler: Handler<'CreateAcls'> = {
  apiKey: ApiKey.CreateAcls,
  name: 'CreateAcls',
  minVersion: 0,
  maxVersion: 3,

  async handle(req, ctx) {
    const store = ctx.broker.metadata;
    if (!ctx.broker.authorizer || !store.alterAcls) {
      return this.errorResponse!(req, ErrorCode.SECURITY_DISABLED, ctx);
    }
    const add: AclBinding[] = [];
    const results = req.creations.map((c) => {
      const binding: AclBinding = {
        resourceType: c.resourceType, resourceName: c.resourceName, patternType: c.resourcePatternType ?? PatternType.LITERAL,
        principal: c.principal, host: c.host, operation: c.operation, permissionType: c.permissionType,
      };
      const reason = invalidBindingReason(binding);
      if (reason !== null) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: reason };
      add.push(binding);
      return { errorCode: ErrorCode.NONE, errorMessage: null };
    });
    await store.alterAcls(add, []);
    ctx.logger.info('ACLs created', { principal: ctx.principal, created: add.length });
    return { throttleTimeMs: 0, results };
  },

  errorResponse(req, errorCode) {
    const errorMessage = errorCode === ErrorCode.SECURITY_DISABLED ? 'No Authorizer is configured.' : null;
    return { throttleTimeMs: 0, results: req.creations.map(() => ({ errorCode, errorMessage })) };
  },
};

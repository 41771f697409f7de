/**
 * DeleteAcls (api key 31), versions 0-3 (all Kafka 3.9 serves).
 *
 * Behaviour (Kafka's KafkaApis.handleDeleteAcls + AclControlManager.deleteAcls):
 * - Needs ALTER on the cluster (security/api-acls.ts): else every filter result is
 *   CLUSTER_AUTHORIZATION_FAILED.
 * - Without an authorizer every filter result is SECURITY_DISABLED.
 * - Each filter (see DescribeAcls; v0 = LITERAL) deletes the bindings it matches and lists
 *   them; an invalid filter is INVALID_REQUEST. All deletions go in one metadata write.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler } from './registry.js';
import type { AclBinding, AclBindingFilter } from '../security/authorizer.js';
import { filterMatches, invalidFilterReason, PatternType, sameBinding } from '../security/authorizer.js';

export const deleteAclsHandler: Handler<'DeleteAcls'> = {
  apiKey: ApiKey.DeleteAcls,
  name: 'DeleteAcls',
  minVersion: 0,
  maxVersion: 3,

  async handle(req, ctx) {
    const authorizer = ctx.broker.authorizer;
    const store = ctx.broker.metadata;
    if (!authorizer || !store.alterAcls) return this.errorResponse!(req, ErrorCode.SECURITY_DISABLED, ctx);
    const current = authorizer.acls();
    const remove: AclBinding[] = [];
    const filterResults = req.filters.map((f) => {
      const filter: AclBindingFilter = {
        resourceType: f.resourceTypeFilter, resourceName: f.resourceNameFilter, patternType: f.patternTypeFilter ?? PatternType.LITERAL,
        principal: f.principalFilter, host: f.hostFilter, operation: f.operation, permissionType: f.permissionType,
      };
      const invalid = invalidFilterReason(filter);
      if (invalid !== null) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: invalid, matchingAcls: [] };
      const matching = current.filter((acl) => filterMatches(filter, acl));
      for (const acl of matching) if (!remove.some((r) => sameBinding(r, acl))) remove.push(acl);
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        matchingAcls: matching.map((acl) => ({
          errorCode: ErrorCode.NONE, errorMessage: null, resourceType: acl.resourceType, resourceName: acl.resourceName,
          patternType: acl.patternType, principal: acl.principal, host: acl.host, operation: acl.operation, permissionType: acl.permissionType,
        })),
      };
    });
    await store.alterAcls([], remove);
    if (remove.length > 0) ctx.logger.info('ACLs deleted', { principal: ctx.principal, deleted: remove.length });
    return { throttleTimeMs: 0, filterResults };
  },

  errorResponse(req, errorCode) {
    const errorMessage = errorCode === ErrorCode.SECURITY_DISABLED ? 'No Authorizer is configured.' : null;
    return { throttleTimeMs: 0, filterResults: req.filters.map(() => ({ errorCode, errorMessage, matchingAcls: [] })) };
  },
};

/**
 * DescribeAcls (api key 29), versions 0-3 (all Kafka 3.9 serves).
 *
 * Behaviour (Kafka's KafkaApis.handleDescribeAcls):
 * - Needs DESCRIBE on the cluster (security/api-acls.ts): else CLUSTER_AUTHORIZATION_FAILED.
 * - Without an authorizer: SECURITY_DISABLED "No Authorizer is configured.".
 * - The filter (resource type, name or null, pattern ANY/MATCH/LITERAL/PREFIXED, principal,
 *   host, operation, permission; ANY/null match everything; MATCH matches every binding
 *   that would apply to the name: literal, `*` and prefixes) selects the bindings, grouped
 *   by resource pattern. v0 has no pattern type: the filter is LITERAL. A filter with
 *   UNKNOWN values is INVALID_REQUEST.
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { DescribeAclsResponseDescribeAclsResource } from '@tributary/protocol';
import type { Handler } from './registry.js';
import type { AclBindingFilter } from '../security/authorizer.js';
import { filterMatches, invalidFilterReason, PatternType } from '../security/authorizer.js';

export const describeAclsHandler: Handler<'DescribeAcls'> = {
  apiKey: ApiKey.DescribeAcls,
  name: 'DescribeAcls',
  minVersion: 0,
  maxVersion: 3,

  handle(req, ctx) {
    const authorizer = ctx.broker.authorizer;
    if (!authorizer) return this.errorResponse!(req, ErrorCode.SECURITY_DISABLED, ctx);
    const filter: AclBindingFilter = {
      resourceType: req.resourceTypeFilter, resourceName: req.resourceNameFilter, patternType: req.patternTypeFilter ?? PatternType.LITERAL,
      principal: req.principalFilter, host: req.hostFilter, operation: req.operation, permissionType: req.permissionType,
    };
    const invalid = invalidFilterReason(filter);
    if (invalid !== null) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: invalid, resources: [] };
    const byResource = new Map<string, DescribeAclsResponseDescribeAclsResource>();
    for (const acl of authorizer.acls()) {
      if (!filterMatches(filter, acl)) continue;
      const key = `${acl.resourceType}\u0000${acl.patternType}\u0000${acl.resourceName}`;
      let resource = byResource.get(key);
      if (!resource) {
        resource = { resourceType: acl.resourceType, resourceName: acl.resourceName, patternType: acl.patternType, acls: [] };
        byResource.set(key, resource);
      }
      resource.acls.push({ principal: acl.principal, host: acl.host, operation: acl.operation, permissionType: acl.permissionType });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, resources: [...byResource.values()] };
  },

  errorResponse(_req, errorCode) {
    const errorMessage = errorCode === ErrorCode.SECURITY_DISABLED ? 'No Authorizer is configured.' : null;
    return { throttleTimeMs: 0, errorCode, errorMessage, resources: [] };
  },
};

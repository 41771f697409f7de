/**
 * AlterConfigs (api key 33), versions 0-2: the legacy, non-incremental form.
 *
 * Behaviour (Kafka's ConfigAdminManager + ConfigurationControlManager):
 * - Each resource's overrides are REPLACED by the ones given: keys not listed lose their
 *   override. An empty list clears every override of the resource.
 * - TOPIC (2): values validated as a set (INVALID_CONFIG), then the topic must exist
 *   (UNKNOWN_TOPIC_OR_PARTITION); "" is INVALID_REQUEST. The partition logs pick up the new
 *   config through the replica manager.
 * - BROKER (4): "" changes the cluster-wide defaults, this broker's id its own overrides,
 *   any other id INVALID_REQUEST. Read-only keys, keys that are per-broker only (for ""),
 *   and invalid values are INVALID_REQUEST (Kafka's choice, see config-admin.ts).
 * - Other types (BROKER_LOGGER included): INVALID_REQUEST "Unknown resource type N".
 * - A resource listed twice: both copies INVALID_REQUEST "Each resource must appear at
 *   most once."; a key listed twice: "Error due to duplicate config keys"; a null value:
 *   "Null value not supported for : k" (INVALID_REQUEST).
 * - validateOnly runs every check and writes nothing.
 */
import type { AlterConfigsResponseAlterConfigsResourceResponse } from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import { ConfigResourceType, alterResourceConfigs, duplicateResources, preprocessRefusal } from '../topics/config-admin.js';

import { configAuthorizationError } from '../security/api-acls.js';
import { AclOperation } from '../security/authorizer.js';
import type { Handler } from './registry.js';

export const alterConfigsHandler: Handler<'AlterConfigs'> = {
  apiKey: ApiKey.AlterConfigs,
  name: 'AlterConfigs',
  minVersion: 0,
  maxVersion: 2,

  async handle(req, ctx) {
    const duplicate = duplicateResources(req.resources);
    const responses: AlterConfigsResponseAlterConfigsResourceResponse[] = [];
    for (const r of req.resources) {
      const base = { resourceType: r.resourceType, resourceName: r.resourceName };
      const reject = (errorMessage: string): void => { responses.push({ ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage }); };
      const denied = configAuthorizationError(ctx, AclOperation.ALTER_CONFIGS, r.resourceType, r.resourceName);
      if (denied !== null) { responses.push({ ...base, errorCode: denied, errorMessage: null }); continue; }
      const refusal = preprocessRefusal(duplicate(r), r.configs, () => false);
      if (refusal !== null) { reject(refusal); continue; }
      if (r.resourceType !== ConfigResourceType.TOPIC && r.resourceType !== ConfigResourceType.BROKER) { reject(`Unknown resource type ${r.resourceType}`); continue; }
      const replacement: Record<string, string> = {};
      for (const c of r.configs) replacement[c.name] = c.value!;
      const outcome = await alterResourceConfigs(ctx.broker, r.resourceType, r.resourceName, () => replacement, req.validateOnly);
      responses.push({ ...base, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage });
    }
    return { throttleTimeMs: 0, responses };
  },

  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, responses: req.resources.map((r) => ({ errorCode, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName })) };
  },
};

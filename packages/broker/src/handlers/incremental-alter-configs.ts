/**
 * IncrementalAlterConfigs (api key 44), versions 0-1.
 *
 * Behaviour (Kafka's ConfigAdminManager + ConfigurationControlManager):
 * - Each config names an operation: SET (0) sets the override, DELETE (1) removes it,
 *   APPEND (2) / SUBTRACT (3) add or remove comma-separated items of a LIST-typed key,
 *   starting from the key's built-in default when it has no override. Keys not named keep
 *   their overrides. The resulting set is validated as a whole.
 * - APPEND/SUBTRACT on a non-list key: INVALID_CONFIG ("Can't APPEND to key k because its
 *   type is not LIST." for topics, "Config value append is not allowed for config key: k"
 *   for brokers); an unknown operation: INVALID_REQUEST.
 * - TOPIC, BROKER: as AlterConfigs (see alter-configs.ts and config-admin.ts).
 * - BROKER_LOGGER (8): the name must be this broker's id (INVALID_REQUEST otherwise); no
 *   logger exists to change, so every logger is INVALID_CONFIG "Logger k does not exist!".
 * - Other types: INVALID_REQUEST "Unknown resource type N".
 * - A resource listed twice, a key listed twice, a null value for anything but DELETE:
 *   INVALID_REQUEST with Kafka's messages.
 * - validateOnly runs every check and writes nothing.
 */
import type {
  IncrementalAlterConfigsResponseAlterConfigsResourceResponse,
} from '@tributary/protocol';
import { ApiKey, ErrorCode } from '@tributary/protocol';
import {
  ConfigOperation, ConfigResourceType, alterResourceConfigs, applyIncrementalOps, brokerScope, duplicateResources, preprocessRefusal,
} from '../topics/config-admin.js';
import { configAuthorizationError } from '../security/api-acls.js';
import { AclOperation } from '../security/authorizer.js';
import type { Handler } from './registry.js';

export const incrementalAlterConfigsHandler: Handler<'IncrementalAlterConfigs'> = {
  apiKey: ApiKey.IncrementalAlterConfigs,
  name: 'IncrementalAlterConfigs',
  minVersion: 0,
  maxVersion: 1,

  async handle(req, ctx) {
    const duplicate = duplicateResources(req.resources);
    const responses: IncrementalAlterConfigsResponseAlterConfigsResourceResponse[] = [];
    for (const r of req.resources) {
      const base = { resourceType: r.resourceType, resourceName: r.resourceName };
      const answer = (errorCode: number, errorMessage: string | null): void => { responses.push({ ...base, errorCode, errorMessage }); };
      const denied = configAuthorizationError(ctx, AclOperation.ALTER_CONFIGS, r.resourceType, r.resourceName);
      if (denied !== null) { answer(denied, null); continue; }
      const refusal = preprocessRefusal(duplicate(r), r.configs, (c) => c.configOperation === ConfigOperation.DELETE);
      if (refusal !== null) { answer(ErrorCode.INVALID_REQUEST, refusal); continue; }
      const badOp = r.configs.find((c) => c.configOperation < ConfigOperation.SET || c.configOperation > ConfigOperation.SUBTRACT);
      if (badOp) { answer(ErrorCode.INVALID_REQUEST, `Unknown operations type ${badOp.configOperation}`); continue; }
      if (r.resourceType === ConfigResourceType.BROKER_LOGGER) {
        const scope = r.resourceName === '' ? { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Broker id must not be empty' } : brokerScope(ctx.broker.nodeId, r.resourceName);
        if (scope !== null && typeof scope === 'object') { answer(scope.errorCode, scope.errorMessage); continue; }
        const first = r.configs[0];
        answer(first ? ErrorCode.INVALID_CONFIG : ErrorCode.NONE, first ? `Logger ${first.name} does not exist!` : null);
        continue;
      }
      if (r.resourceType !== ConfigResourceType.TOPIC && r.resourceType !== ConfigResourceType.BROKER) {
        answer(ErrorCode.INVALID_REQUEST, `Unknown resource type ${r.resourceType}`);
        continue;
      }
      const outcome = await alterResourceConfigs(ctx.broker, r.resourceType, r.resourceName,
        (current) => applyIncrementalOps(r.resourceType, current, r.configs), req.validateOnly);
      answer(outcome.errorCode, outcome.errorMessage);
    }
    return { throttleTimeMs: 0, responses };
  },

  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, responses: req.resources.map((r) => ({ errorCode, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName })) };
  },
};

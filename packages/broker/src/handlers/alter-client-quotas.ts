/**
 * AlterClientQuotas (api key 49), versions 0-1 (1 is flexible), as Kafka 3.9 serves.
 *
 * Behaviour (Kafka's ClientQuotaControlManager.alterClientQuotas): each entry names an
 * entity (`user` and/or `client-id`, or `ip` alone; a null name is the default entity) and
 * ops that set a quota key or remove it. Per entity, INVALID_REQUEST with Kafka's message
 * for: an empty entity, a repeated or unknown entity type, an empty name, `ip` combined
 * with another type or not an IP address, a key not valid for the entity
 * (producer_byte_rate, consumer_byte_rate, request_percentage, controller_mutation_rate for
 * users and client ids; connection_creation_rate for ips), a fractional value for a
 * whole-number key, a key given twice, an entity given twice. The valid changes of the
 * whole request are written in one metadata record, atomically; with `validate_only`
 * nothing is written. Removing a key that is not set is a no-op.
 *
 * Differences from Kafka: no authorization (Kafka needs ALTER_CONFIGS on the cluster; the
 * ACL round adds it). An entity with one invalid key writes none of its keys (Kafka's
 * KRaft controller writes the valid ones and may still answer NONE); an entity named
 * twice is refused whole (Kafka applies the first and reports the error).
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler } from './registry.js';
import type { ClientQuotaChange } from '../metadata/metadata-store.js';
import { describeEntity, entityKey, validateAlteration } from '../quota/quota-admin.js';

export const alterClientQuotasHandler: Handler<'AlterClientQuotas'> = {
  apiKey: ApiKey.AlterClientQuotas,
  name: 'AlterClientQuotas',
  minVersion: 0,
  maxVersion: 1,

  async handle(req, ctx) {
    const metadata = ctx.broker.metadata;
    const current = new Map((metadata.clientQuotas?.() ?? []).map((e) => [entityKey(e.entity), e]));
    const counts = new Map<string, number>();
    for (const entry of req.entries) counts.set(entityKey(entry.entity), (counts.get(entityKey(entry.entity)) ?? 0) + 1);
    const results: { errorCode: number; errorMessage: string | null; entity: { entityType: string; entityName: string | null }[] }[] = [];
    const changes: ClientQuotaChange[] = [];
    const answered = new Set<string>();
    for (const entry of req.entries) {
      const key = entityKey(entry.entity);
      const entity = entry.entity.map((p) => ({ entityType: p.entityType, entityName: p.entityName }));
      if (answered.has(key)) continue;
      answered.add(key);
      if ((counts.get(key) ?? 0) > 1) {
        results.push({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Ignoring duplicate entity ${describeEntity(entity)}`, entity });
        continue;
      }
      const validated = validateAlteration({ entity, ops: entry.ops }, current.get(key));
      if (!Array.isArray(validated)) {
        results.push({ errorCode: validated.errorCode, errorMessage: validated.errorMessage, entity });
        continue;
      }
      changes.push(...validated);
      results.push({ errorCode: ErrorCode.NONE, errorMessage: null, entity });
    }
    if (changes.length > 0 && !req.validateOnly) {
      if (metadata.alterClientQuotas === undefined) {
        return { throttleTimeMs: 0, entries: results.map((r) => (r.errorCode === ErrorCode.NONE ? { ...r, errorCode: ErrorCode.UNSUPPORTED_VERSION, errorMessage: 'This metadata store does not keep client quotas' } : r)) };
      }
      await metadata.alterClientQuotas(changes);
      ctx.logger.info('Altered client quotas', { changes: changes.map((c) => `${describeEntity(c.entity)} ${c.key}=${c.value ?? '(removed)'}`).join('; '), principal: ctx.principal });
    }
    return { throttleTimeMs: 0, entries: results };
  },

  errorResponse(req, errorCode) {
    return { throttleTimeMs: 0, entries: req.entries.map((e) => ({ errorCode, errorMessage: null, entity: e.entity.map((p) => ({ entityType: p.entityType, entityName: p.entityName })) })) };
  },
};

/**
 * DescribeClientQuotas (api key 48), versions 0-1 (1 is flexible), as Kafka 3.9 serves.
 *
 * Behaviour (Kafka's ClientQuotasImage.describe): each filter component names an entity
 * type (`user`, `client-id`, `ip`) and matches an exact name (0), the default entity (1)
 * or any named entity (2); an entity matches when every component matches one of its
 * parts, and with `strict` when it has no other parts. No components selects every
 * entity (or, with strict, none). A malformed filter is answered INVALID_REQUEST with
 * Kafka's message and no entries. Quotas live in the metadata store
 * (MetadataStore.clientQuotas).
 *
 * Differences from Kafka: no authorization (Kafka needs DESCRIBE_CONFIGS on the cluster;
 * the ACL round adds it).
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler } from './registry.js';
import { describeQuotas } from '../quota/quota-admin.js';

export const describeClientQuotasHandler: Handler<'DescribeClientQuotas'> = {
  apiKey: ApiKey.DescribeClientQuotas,
  name: 'DescribeClientQuotas',
  minVersion: 0,
  maxVersion: 1,

  handle(req, ctx) {
    const metadata = ctx.broker.metadata;
    if (metadata.clientQuotas === undefined) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.UNSUPPORTED_VERSION, errorMessage: 'This metadata store does not keep client quotas', entries: null };
    }
    const result = describeQuotas(metadata.clientQuotas(), req.components, req.strict);
    if (!Array.isArray(result)) return { throttleTimeMs: 0, errorCode: result.errorCode, errorMessage: result.errorMessage, entries: null };
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      entries: result.map((entry) => ({
        entity: entry.entity.map((p) => ({ entityType: p.entityType, entityName: p.entityName })),
        values: Object.entries(entry.values).map(([key, value]) => ({ key, value })),
      })),
    };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, errorMessage: null, entries: null };
  },
};

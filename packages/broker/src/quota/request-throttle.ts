/**
 * Which quotas a request counts against, and the throttle time it earns (Kafka's
 * KafkaApis: handleProduceRequest, handleFetchRequest, sendResponseMaybeThrottle).
 *
 * - Produce: the request's bytes against `producer_byte_rate`.
 * - Fetch from a consumer: the response's bytes against `consumer_byte_rate`. A follower's
 *   fetch is replication, never client-throttled (Kafka's replication quotas are separate).
 * - Every API but those Kafka exempts: the request's handling time against
 *   `request_percentage` (percent of one second per second).
 * The throttle time is the larger of the ones earned (Kafka sends the maximum). Exempt:
 * ApiVersions and the SASL APIs (a client must be able to connect and authenticate
 * whatever its quota), and inter-broker APIs (WriteTxnMarkers, follower Fetch).
 */
import { ApiKey } from '@tributary/protocol';
import type { AnyRequest, RequestContext } from '../handlers/registry.js';
import type { ClientQuotaManager } from './client-quota-manager.js';

const REQUEST_QUOTA_EXEMPT: ReadonlySet<number> = new Set([
  ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate, ApiKey.WriteTxnMarkers,
]);

export function quotaThrottleTimeMs(quotas: ClientQuotaManager, ctx: RequestContext, request: AnyRequest, requestBytes: number, responseBytes: number, handleMs: number): number {
  const apiKey = ctx.header.apiKey;
  if (REQUEST_QUOTA_EXEMPT.has(apiKey)) return 0;
  const principal = ctx.principal;
  const clientId = ctx.header.clientId ?? '';
  const nowMs = Date.now();
  let throttleMs = 0;
  if (apiKey === ApiKey.Fetch) {
    const fetch = request as { replicaId?: number; replicaState?: { replicaId: number } };
    if ((fetch.replicaId ?? -1) >= 0 || (fetch.replicaState?.replicaId ?? -1) >= 0) return 0;
    throttleMs = quotas.recordAndGetThrottleTimeMs('fetch', principal, clientId, responseBytes, nowMs);
  } else if (apiKey === ApiKey.Produce) {
    throttleMs = quotas.recordAndGetThrottleTimeMs('produce', principal, clientId, requestBytes, nowMs);
  }
  // Kafka's nanosToPercentage: a request's time as a percentage of one second.
  const requestThrottleMs = quotas.recordAndGetThrottleTimeMs('request', principal, clientId, handleMs / 10, nowMs);
  return Math.max(throttleMs, requestThrottleMs);
}

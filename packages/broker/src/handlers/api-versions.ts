/**
 * ApiVersions (api key 18), versions 0-4.
 *
 * Behaviour (Kafka's):
 * - Answers the version range of every registered handler (computed from the registry).
 * - v3+ (flexible): the client's software name and version (KIP-511) are recorded on the
 *   connection for logs. A name or version that does not match Kafka's pattern
 *   `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?` is answered with INVALID_REQUEST.
 * - v3+ also carries features: supported `metadata.version` 1-21 (Kafka 3.0-IV1 ..
 *   3.9-IV0), finalized at 21, and `transaction.version` 0-2, finalized at 2 (Kafka 4.0:
 *   transactions v2, which the Java client 4.0+ then uses); in v0-v3 supported features whose
 *   minimum is 0 are omitted, in v4 they are listed (KAFKA-17011); finalized levels are listed
 *   at every version. KafkaJS and librdkafka use only the api keys.
 * - A version the broker does not support is not an error of this handler: the dispatcher
 *   answers it with `unsupportedVersionResponse` encoded at v0 with response header v0,
 *   which lists the ApiVersions range only, as Kafka does (ApiVersionsRequest
 *   .getErrorResponse); the client retries with the highest version listed.
 * - ApiVersions responses always use response header v0 (in protocol's
 *   responseHeaderVersion), so a client can read the error even for versions it guessed.
 */
import type { ApiVersionsRequest, ApiVersionsResponse } from '@tributary/protocol';
import { ApiKey } from '@tributary/protocol';
import type { Handler, HandlerRegistry, RequestContext } from './registry.js';

const UNSUPPORTED_VERSION = 35;
const INVALID_REQUEST = 42;

/** Kafka's ApiVersionsRequest.isValid pattern for client software name and version. */
const SOFTWARE_PATTERN = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

interface Feature {
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** The finalized level, or undefined when the feature is not finalized. */
  readonly finalizedLevel?: number;
}

/**
 * Features this broker supports (Kafka 3.9's metadata.version range), and Kafka 4.0's
 * `transaction.version` 0-2 finalized at 2, as a new Kafka 4.0 cluster has it: clients that
 * know transactions v2 (the Java client 4.0+) use it (EndTxn v5, Produce v12, TxnOffsetCommit
 * v5, no AddPartitionsToTxn / AddOffsetsToTxn from the client).
 */
export const SUPPORTED_FEATURES: readonly Feature[] = [
  { name: 'metadata.version', minVersion: 1, maxVersion: 21, finalizedLevel: 21 },
  { name: 'kraft.version', minVersion: 0, maxVersion: 0 },
  { name: 'transaction.version', minVersion: 0, maxVersion: 2, finalizedLevel: 2 },
];

/** The epoch of the finalized features; >= 0 tells clients the list is valid. */
const FINALIZED_FEATURES_EPOCH = 0;

export function apiVersionsResponse(registry: HandlerRegistry, version: number, errorCode = 0): ApiVersionsResponse {
  const features = version >= 4 ? SUPPORTED_FEATURES : SUPPORTED_FEATURES.filter((f) => f.minVersion > 0);
  return {
    errorCode,
    apiKeys: registry.apiVersions().map((r) => ({ apiKey: r.apiKey, minVersion: r.minVersion, maxVersion: r.maxVersion })),
    throttleTimeMs: 0,
    supportedFeatures: features.map((f) => ({ name: f.name, minVersion: f.minVersion, maxVersion: f.maxVersion })),
    finalizedFeaturesEpoch: FINALIZED_FEATURES_EPOCH,
    // Finalized levels are listed at every version (only supported ranges starting at 0 are
    // hidden from v0-3 clients, whose parsers refuse them).
    finalizedFeatures: SUPPORTED_FEATURES
      .filter((f) => f.finalizedLevel !== undefined)
      .map((f) => ({ name: f.name, minVersionLevel: f.finalizedLevel!, maxVersionLevel: f.finalizedLevel! })),
    zkMigrationReady: false,
  };
}

/** The answer to an ApiVersions version outside our range; encode at v0. */
export function unsupportedVersionResponse(registry: HandlerRegistry): ApiVersionsResponse {
  const own = registry.get(ApiKey.ApiVersions);
  return {
    errorCode: UNSUPPORTED_VERSION,
    apiKeys: own ? [{ apiKey: ApiKey.ApiVersions, minVersion: own.minVersion, maxVersion: own.maxVersion }] : [],
  };
}

export const apiVersionsHandler: Handler<'ApiVersions'> = {
  apiKey: ApiKey.ApiVersions,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: 4,

  handle(req: ApiVersionsRequest, ctx: RequestContext): ApiVersionsResponse {
    const version = ctx.header.apiVersion;
    if (version >= 3) {
      const name = req.clientSoftwareName ?? '';
      const softwareVersion = req.clientSoftwareVersion ?? '';
      if (!SOFTWARE_PATTERN.test(name) || !SOFTWARE_PATTERN.test(softwareVersion)) {
        ctx.logger.info('ApiVersions with an invalid client software name or version', { clientSoftwareName: name, clientSoftwareVersion: softwareVersion });
        return this.errorResponse!(req, INVALID_REQUEST, ctx);
      }
      ctx.connection.clientSoftwareName = name;
      ctx.connection.clientSoftwareVersion = softwareVersion;
    }
    return apiVersionsResponse(ctx.handlers, version);
  },

  errorResponse(_req: ApiVersionsRequest, errorCode: number, ctx: RequestContext): ApiVersionsResponse {
    return { errorCode, apiKeys: [], throttleTimeMs: 0 };
  },
};

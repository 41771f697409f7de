/**
 * DescribeUserScramCredentials (api key 50), version 0.
 *
 * Behaviour (Kafka's ScramControlManager.describeScramCredentials): `users` null or empty
 * describes every user with a SCRAM credential; each named user gets its mechanisms and
 * iteration counts (never salt or keys), RESOURCE_NOT_FOUND "Attempt to describe a user
 * credential that does not exist: <user>" when it has none, and a user named twice gets
 * DUPLICATE_RESOURCE "Cannot describe SCRAM credentials for the same user twice in a single
 * request: <user>". Credentials live in the metadata store (MetadataStore.scramCredentials).
 *
 * Differences from Kafka: no authorization yet (Kafka needs DESCRIBE on the cluster; the
 * ACL round adds it).
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler } from './registry.js';

export const describeUserScramCredentialsHandler: Handler<'DescribeUserScramCredentials'> = {
  apiKey: ApiKey.DescribeUserScramCredentials,
  name: 'DescribeUserScramCredentials',
  minVersion: 0,
  maxVersion: 0,

  handle(req, ctx) {
    const metadata = ctx.broker.metadata;
    const describe = (user: string) => ({
      user,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      credentialInfos: (metadata.scramCredentials?.(user) ?? []).map((c) => ({ mechanism: c.mechanism, iterations: c.iterations })),
    });
    if (req.users === null || req.users.length === 0) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results: (metadata.scramUsers?.() ?? []).map(describe) };
    }
    const counts = new Map<string, number>();
    for (const u of req.users) counts.set(u.name, (counts.get(u.name) ?? 0) + 1);
    const results = [...counts].map(([user, count]) => {
      if (count > 1) {
        return { user, errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: `Cannot describe SCRAM credentials for the same user twice in a single request: ${user}`, credentialInfos: [] };
      }
      if ((metadata.scramCredentials?.(user) ?? []).length === 0) {
        return { user, errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: `Attempt to describe a user credential that does not exist: ${user}`, credentialInfos: [] };
      }
      return describe(user);
    });
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results };
  },

  errorResponse(_req, errorCode) {
    return { throttleTimeMs: 0, errorCode, errorMessage: null, results: [] };
  },
};

/**
 * AlterUserScramCredentials (api key 51), version 0.
 *
 * Behaviour (Kafka's ControllerApis / ScramControlManager.alterCredentials): upsertions
 * carry the client-computed salt and salted password (the password never travels); the
 * broker stores salt, stored key, server key and iterations in the metadata store, so
 * SCRAM logins on any listener see them at once. Per user, Kafka's answers:
 *   DUPLICATE_RESOURCE        the user appears more than once in the request
 *   UNACCEPTABLE_CREDENTIAL   empty user name, iterations outside 4096-16384, empty salt
 *                             or salted password
 *   UNSUPPORTED_SASL_MECHANISM  a mechanism other than 1 (SHA-256) or 2 (SHA-512)
 *   RESOURCE_NOT_FOUND        deleting a credential that does not exist
 * The valid changes are written in one metadata record, atomically.
 *
 * Differences from Kafka: no authorization yet (Kafka needs ALTER on the cluster; the ACL
 * round adds it).
 */
import { ApiKey, ErrorCode } from '@tributary/protocol';
import type { Handler } from './registry.js';
import type { ScramCredentialChange } from '../metadata/metadata-store.js';
import { credentialFromSaltedPassword, ScramMechanisms, scramMechanismByType } from '../network/sasl/scram.js';

type Result = { user: string; errorCode: number; errorMessage: string | null };

export const alterUserScramCredentialsHandler: Handler<'AlterUserScramCredentials'> = {
  apiKey: ApiKey.AlterUserScramCredentials,
  name: 'AlterUserScramCredentials',
  minVersion: 0,
  maxVersion: 0,

  async handle(req, ctx) {
    const metadata = ctx.broker.metadata;
    const counts = new Map<string, number>();
    for (const e of [...req.deletions, ...req.upsertions]) counts.set(e.name, (counts.get(e.name) ?? 0) + 1);
    const results: Result[] = [];
    const changes: ScramCredentialChange[] = [];
    const fail = (user: string, errorCode: number, errorMessage: string) => results.push({ user, errorCode, errorMessage });
    const reported = new Set<string>();
    for (const d of req.deletions) {
      if ((counts.get(d.name) ?? 0) > 1) { if (!reported.has(d.name)) fail(d.name, ErrorCode.DUPLICATE_RESOURCE, 'A user credential cannot be altered twice in the same request'); reported.add(d.name); continue; }
      if (d.name === '') { fail(d.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty'); continue; }
      if (scramMechanismByType(d.mechanism) === undefined) { fail(d.name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism'); continue; }
      if (metadata.scramCredentials?.(d.name).some((c) => c.mechanism === d.mechanism) !== true) {
        fail(d.name, ErrorCode.RESOURCE_NOT_FOUND, 'Attempt to delete a user credential that does not exist');
        continue;
      }
      changes.push({ user: d.name, mechanism: d.mechanism, credential: null });
      results.push({ user: d.name, errorCode: ErrorCode.NONE, errorMessage: null });
    }
    for (const u of req.upsertions) {
      if ((counts.get(u.name) ?? 0) > 1) { if (!reported.has(u.name)) fail(u.name, ErrorCode.DUPLICATE_RESOURCE, 'A user credential cannot be altered twice in the same request'); reported.add(u.name); continue; }
      if (u.name === '') { fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty'); continue; }
      const mechanism = scramMechanismByType(u.mechanism);
      if (mechanism === undefined) { fail(u.name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism'); continue; }
      const { minIterations, maxIterations } = ScramMechanisms[mechanism];
      if (u.iterations < minIterations) { fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too few iterations'); continue; }
      if (u.iterations > maxIterations) { fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too many iterations'); continue; }
      if (u.salt.length === 0 || u.saltedPassword.length === 0) { fail(u.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Salt and salted password must not be empty'); continue; }
      const credential = credentialFromSaltedPassword(mechanism, Buffer.from(u.salt), Buffer.from(u.saltedPassword), u.iterations);
      changes.push({
        user: u.name,
        mechanism: u.mechanism,
        credential: {
          mechanism: u.mechanism, iterations: u.iterations, salt: credential.salt.toString('base64'),
          storedKey: credential.storedKey.toString('base64'), serverKey: credential.serverKey.toString('base64'),
        },
      });
      results.push({ user: u.name, errorCode: ErrorCode.NONE, errorMessage: null });
    }
    if (changes.length > 0) {
      if (metadata.alterScramCredentials === undefined) {
        return { throttleTimeMs: 0, results: results.map((r) => (r.errorCode === ErrorCode.NONE ? { ...r, errorCode: ErrorCode.UNSUPPORTED_VERSION, errorMessage: 'This metadata store does not keep SCRAM credentials' } : r)) };
      }
      await metadata.alterScramCredentials(changes);
      ctx.logger.info('Altered SCRAM credentials', { users: [...new Set(changes.map((c) => c.user))].join(','), principal: ctx.principal });
    }
    return { throttleTimeMs: 0, results };
  },

  errorResponse(req, errorCode) {
    const users = [...new Set([...req.deletions, ...req.upsertions].map((e) => e.name))];
    return { throttleTimeMs: 0, results: users.map((user) => ({ user, errorCode, errorMessage: null })) };
  },
};

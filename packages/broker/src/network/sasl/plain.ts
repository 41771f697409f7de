/**
 * SASL/PLAIN (RFC 4616), Kafka's PlainSaslServer with PlainServerCallbackHandler: one
 * token `authzid NUL username NUL password`, checked against the `user_<name>="<password>"`
 * options of the listener's JAAS config (`listener.name.<l>.plain.sasl.jaas.config`).
 *
 * Kafka's answers: a malformed token, or an empty username or password, is a SaslException
 * (the client gets the generic "invalid credentials" message); an unknown user or wrong
 * password gets "Authentication failed: Invalid username or password"; an authzid other
 * than the username gets "Authentication failed: Client requested an authorization id that
 * is different from username". Passwords are compared in constant time (of their SHA-256),
 * and appear in no log line or message.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { SaslMechanismServer, SaslStep } from './mechanism.js';
import { EMPTY, invalidCredentialsMessage } from './mechanism.js';

export class PlainServer implements SaslMechanismServer {
  readonly mechanism = 'PLAIN';

  constructor(private readonly users: ReadonlyMap<string, string>, private readonly reauthenticating: boolean) {}

  evaluate(token: Buffer): SaslStep {
    const generic = invalidCredentialsMessage(this.mechanism, this.reauthenticating);
    const parts = token.toString('utf8').split('\u0000');
    if (parts.length !== 3) return { type: 'failed', clientMessage: generic, logReason: `Invalid SASL/PLAIN response: expected 3 tokens, got ${parts.length}` };
    const [authzid, username, password] = parts as [string, string, string];
    if (username === '') return { type: 'failed', clientMessage: generic, logReason: 'Authentication failed: username not specified' };
    if (password === '') return { type: 'failed', clientMessage: generic, logReason: 'Authentication failed: password not specified' };
    const expected = this.users.get(username);
    if (expected === undefined || !samePassword(password, expected)) {
      const message = 'Authentication failed: Invalid username or password';
      return { type: 'failed', clientMessage: message, logReason: `${message} (user ${JSON.stringify(username)})` };
    }
    if (authzid !== '' && authzid !== username) {
      const message = 'Authentication failed: Client requested an authorization id that is different from username';
      return { type: 'failed', clientMessage: message, logReason: `${message} (user ${JSON.stringify(username)})` };
    }
    return { type: 'complete', bytes: EMPTY, principal: `User:${username}` };
  }
}

function samePassword(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

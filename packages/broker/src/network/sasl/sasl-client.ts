/**
 * The client side of SASL/PLAIN and SASL/SCRAM-SHA-256/512, for the broker's own
 * connections to other brokers (Kafka's PlainSaslClient and ScramSaslClient, driven by
 * SaslClientAuthenticator). Credentials are the `username` and `password` options of the
 * inter-broker listener's JAAS line, as Kafka's login modules read them:
 *
 *   listener.name.internal.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
 *     username="broker" password="broker-secret";
 *
 * SCRAM (RFC 5802): client-first `n,,n=<user>,r=<nonce>`; the server's first message must
 * extend our nonce and name at least the mechanism's minimum iterations (Kafka's client
 * refuses fewer: a server could otherwise make the password cheap to brute-force from the
 * proof); the server's final signature is checked, so a server that does not know the
 * credential is refused too. Nothing here logs or returns a password or a proof.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ScramMechanisms, isScramMechanism, saltPassword } from './scram.js';
import type { ScramMechanism } from './scram.js';

/** One client exchange: `first()` is the initial token, `next()` answers each server token (undefined: done). */
export interface SaslClient {
  readonly mechanism: string;
  first(): Buffer;
  /** The client's answer to a server token; null once the exchange is complete. Throws SaslClientError on a bad server message. */
  next(serverToken: Buffer): Buffer | null;
}

export class SaslClientError extends Error {
  readonly code = 'TRIB_ERR_SASL_CLIENT' as const;
  constructor(message: string) {
    super(message);
    this.name = 'SaslClientError';
  }
}

export const CLIENT_SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

export function createSaslClient(mechanism: string, username: string, password: string): SaslClient {
  if (mechanism === 'PLAIN') return new PlainClient(username, password);
  if (isScramMechanism(mechanism)) return new ScramClient(mechanism, username, password);
  throw new SaslClientError(`SASL mechanism ${mechanism} has no client here; use one of ${CLIENT_SASL_MECHANISMS.join(', ')}`);
}

class PlainClient implements SaslClient {
  readonly mechanism = 'PLAIN';
  private sent = false;
  constructor(private readonly username: string, private readonly password: string) {}

  first(): Buffer {
    this.sent = true;
    return Buffer.from(`\u0000${this.username}\u0000${this.password}`, 'utf8');
  }

  next(): Buffer | null {
    if (!this.sent) throw new SaslClientError('PLAIN: server token before the client token');
    return null;
  }
}

/** RFC 5802 saslname: '=' and ',' are escaped. */
function saslName(username: string): string {
  return username.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

class ScramClient implements SaslClient {
  private state: 'initial' | 'first-sent' | 'final-sent' | 'done' = 'initial';
  private readonly clientNonce = randomBytes(24).toString('base64url');
  private clientFirstBare = '';
  private serverSignature: Buffer | undefined;

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly username: string,
    private readonly password: string,
  ) {}

  first(): Buffer {
    this.clientFirstBare = `n=${saslName(this.username)},r=${this.clientNonce}`;
    this.state = 'first-sent';
    return Buffer.from(`n,,${this.clientFirstBare}`, 'utf8');
  }

  next(serverToken: Buffer): Buffer | null {
    const message = serverToken.toString('utf8');
    const attrs = attributes(message);
    if (attrs.has('e')) throw new SaslClientError(`${this.mechanism}: the server refused the exchange: ${attrs.get('e')}`);
    if (this.state === 'first-sent') return this.clientFinal(message, attrs);
    if (this.state === 'final-sent') {
      const v = attrs.get('v');
      if (v === undefined || this.serverSignature === undefined) throw new SaslClientError(`${this.mechanism}: the server's final message has no signature`);
      const given = Buffer.from(v, 'base64');
      if (given.length !== this.serverSignature.length || !timingSafeEqual(given, this.serverSignature)) {
        throw new SaslClientError(`${this.mechanism}: the server's signature does not match (the server does not hold this user's credential)`);
      }
      this.state = 'done';
      return null;
    }
    throw new SaslClientError(`${this.mechanism}: unexpected server message after the exchange`);
  }

  private clientFinal(serverFirst: string, attrs: Map<string, string>): Buffer {
    const spec = ScramMechanisms[this.mechanism];
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (nonce === undefined || !nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
      throw new SaslClientError(`${this.mechanism}: the server's nonce does not extend the client's`);
    }
    if (salt === undefined || salt === '') throw new SaslClientError(`${this.mechanism}: the server sent no salt`);
    if (!Number.isInteger(iterations) || iterations < spec.minIterations) {
      throw new SaslClientError(`${this.mechanism}: the server asks for ${attrs.get('i')} iterations; at least ${spec.minIterations} are required`);
    }
    const saltedPassword = saltPassword(this.mechanism, this.password, Buffer.from(salt, 'base64'), iterations);
    const clientKey = createHmac(spec.hash, saltedPassword).update('Client Key').digest();
    const storedKey = createHash(spec.hash).update(clientKey).digest();
    const serverKey = createHmac(spec.hash, saltedPassword).update('Server Key').digest();
    // c=biws is base64("n,,"): no channel binding, no authzid, as the client-first said.
    const finalWithoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${finalWithoutProof}`;
    const clientSignature = createHmac(spec.hash, storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    this.serverSignature = createHmac(spec.hash, serverKey).update(authMessage).digest();
    this.state = 'final-sent';
    return Buffer.from(`${finalWithoutProof},p=${proof.toString('base64')}`, 'utf8');
  }
}

/**
 * SASL/SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), Kafka's ScramSaslServer.
 *
 *   client-first  n,[a=authzid],n=<saslname>,r=<client nonce>[,ext=value...]
 *   server-first  r=<client nonce><server nonce>,s=<salt, base64>,i=<iterations>
 *   client-final  c=<channel binding, base64>,r=<nonce>[,ext...],p=<proof, base64>
 *   server-final  v=<server signature, base64>
 *
 * Credentials (salt, stored key, server key, iterations) come from the metadata store,
 * written by AlterUserScramCredentials; the password itself is never stored or seen.
 * Kafka's answers: an unknown user, a bad proof, a malformed message, a nonce that does
 * not match or fewer than 4096 iterations are SaslExceptions (the client gets the generic
 * "invalid credentials" message); an authzid other than the username gets "Authentication
 * failed: Client requested an authorization id that is different from username".
 * Only the gs2 header "n" (no channel binding) is accepted, as in Kafka. The final nonce
 * must end with the server's nonce (the check older Kafka releases make; see evaluate).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SaslMechanismServer, SaslStep } from './mechanism.js';
import { invalidCredentialsMessage } from './mechanism.js';

export const ScramMechanisms = {
  'SCRAM-SHA-256': { hash: 'sha256', type: 1, minIterations: 4096, maxIterations: 16384 },
  'SCRAM-SHA-512': { hash: 'sha512', type: 2, minIterations: 4096, maxIterations: 16384 },
} as const;
export type ScramMechanism = keyof typeof ScramMechanisms;

export function isScramMechanism(name: string): name is ScramMechanism {
  return Object.prototype.hasOwnProperty.call(ScramMechanisms, name);
}

export function scramMechanismByType(type: number): ScramMechanism | undefined {
  for (const [name, m] of Object.entries(ScramMechanisms)) if (m.type === type) return name as ScramMechanism;
  return undefined;
}

/** What the broker keeps per user and mechanism (Kafka's ScramCredential). */
export interface ScramCredential {
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
  readonly iterations: number;
}

export type ScramCredentialLookup = (user: string, mechanism: ScramMechanism) => ScramCredential | undefined;

/** The stored form of a salted password (what AlterUserScramCredentials sends). */
export function credentialFromSaltedPassword(mechanism: ScramMechanism, salt: Buffer, saltedPassword: Buffer, iterations: number): ScramCredential {
  const hash = ScramMechanisms[mechanism].hash;
  const clientKey = createHmac(hash, saltedPassword).update('Client Key').digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const serverKey = createHmac(hash, saltedPassword).update('Server Key').digest();
  return { salt, storedKey, serverKey, iterations };
}

/** Hi() of RFC 5802: PBKDF2 with HMAC of the mechanism's hash. */
export function saltPassword(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number): Buffer {
  const hash = ScramMechanisms[mechanism].hash;
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, createHash(hash).digest().length, hash);
}

export function credentialFromPassword(mechanism: ScramMechanism, password: string, iterations = 4096, salt = randomBytes(32)): ScramCredential {
  return credentialFromSaltedPassword(mechanism, salt, saltPassword(mechanism, password, salt, iterations), iterations);
}

const CLIENT_FIRST = /^n,(?:a=([^,]*))?,(n=([^,]*),r=([\x21-\x2b\x2d-\x7e]+)((?:,[A-Za-z]+=[^,]*)*))$/;
const CLIENT_FINAL = /^(c=([A-Za-z0-9+/=]*),r=([\x21-\x2b\x2d-\x7e]+)((?:,[A-Za-z]+=[^,]*)*)),p=([A-Za-z0-9+/=]+)$/;
const SERVER_NONCE_BYTES = 24;

/** RFC 5802 saslname: "=2C" is ',' and "=3D" is '='; any other '=' is invalid. */
function decodeSaslName(name: string): string | null {
  if (/=(?!2C|3D)/.test(name)) return null;
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

export class ScramServer implements SaslMechanismServer {
  private state: 'first' | 'final' | 'done' = 'first';
  private username = '';
  private credential: ScramCredential | undefined;
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly lookup: ScramCredentialLookup,
    private readonly reauthenticating: boolean,
    /** Injected by tests (RFC 7677's vector); random otherwise. */
    private readonly serverNonce: () => string = () => randomBytes(SERVER_NONCE_BYTES).toString('base64url'),
  ) {}

  evaluate(token: Buffer): SaslStep {
    const fail = (logReason: string): SaslStep => {
      this.state = 'done';
      this.credential = undefined;
      return { type: 'failed', clientMessage: invalidCredentialsMessage(this.mechanism, this.reauthenticating), logReason };
    };
    const text = token.toString('utf8');
    if (this.state === 'first') {
      const m = CLIENT_FIRST.exec(text);
      if (m === null) return fail('Invalid SCRAM client first message format');
      const username = decodeSaslName(m[3]!);
      if (username === null) return fail('Invalid SCRAM client first message format (saslname)');
      this.username = username;
      const credential = this.lookup(username, this.mechanism);
      if (credential === undefined) return fail(`Authentication failed: Invalid user credentials (user ${JSON.stringify(username)})`);
      const authzid = m[1] ?? '';
      if (authzid !== '' && authzid !== username) {
        this.state = 'done';
        const message = 'Authentication failed: Client requested an authorization id that is different from username';
        return { type: 'failed', clientMessage: message, logReason: `${message} (user ${JSON.stringify(username)})` };
      }
      const min = ScramMechanisms[this.mechanism].minIterations;
      if (credential.iterations < min) return fail(`Iterations ${credential.iterations} is less than the minimum ${min} for ${this.mechanism}`);
      this.credential = credential;
      this.clientFirstBare = m[2]!;
      this.nonce = m[4]! + this.serverNonce();
      this.serverFirst = `r=${this.nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
      this.state = 'final';
      return { type: 'challenge', bytes: Buffer.from(this.serverFirst, 'utf8') };
    }
    if (this.state === 'final') {
      const m = CLIENT_FINAL.exec(text);
      if (m === null) return fail(`Invalid SCRAM client final message format (user ${JSON.stringify(this.username)})`);
      // Older Kafka releases check that the echoed nonce *ends with* the server's: librdkafka up to
      // at least 2.0.2 (Debian's kcat and confluent-kafka) sends client nonce + the whole
      // server nonce, so an exact match would lock those clients out. The proof still
      // covers the nonce as sent (it is part of the AuthMessage).
      if (!m[3]!.endsWith(this.nonce)) return fail(`Invalid client nonce in the final client message (user ${JSON.stringify(this.username)})`);
      const credential = this.credential!;
      const hash = ScramMechanisms[this.mechanism].hash;
      const authMessage = `${this.clientFirstBare},${this.serverFirst},${m[1]}`;
      const clientSignature = createHmac(hash, credential.storedKey).update(authMessage).digest();
      const proof = Buffer.from(m[5]!, 'base64');
      if (proof.length !== clientSignature.length) return fail(`Invalid client credentials (user ${JSON.stringify(this.username)})`);
      const clientKey = Buffer.alloc(proof.length);
      for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
      const computedStoredKey = createHash(hash).update(clientKey).digest();
      if (!timingSafeEqual(computedStoredKey, credential.storedKey)) return fail(`Invalid client credentials (user ${JSON.stringify(this.username)})`);
      const serverSignature = createHmac(hash, credential.serverKey).update(authMessage).digest();
      this.state = 'done';
      this.credential = undefined;
      return { type: 'complete', bytes: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'), principal: `User:${this.username}` };
    }
    return fail('Unexpected SCRAM message after the exchange ended');
  }
}

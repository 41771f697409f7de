/**
 * SASL/OAUTHBEARER (RFC 7628), Kafka's OAuthBearerSaslServer with two validators:
 *
 * - unsecured (Kafka's default, OAuthBearerUnsecuredValidatorCallbackHandler; for tests
 *   and development): the JWS must have `"alg":"none"` and an empty signature; `exp` is
 *   required, and the principal is the `sub` claim (unsecuredValidatorPrincipalClaimName
 *   in the listener's JAAS options).
 * - JWKS (OAuthBearerValidatorCallbackHandler), used when
 *   `sasl.oauthbearer.jwks.endpoint.url` is set: RS256 signatures checked against the key
 *   with the token's `kid` in a JWKS file (`file://` URLs only: this broker makes no
 *   outbound HTTP), `exp` required, `nbf` honoured, `iss` equal to
 *   `sasl.oauthbearer.expected.issuer` and `aud` containing one of
 *   `sasl.oauthbearer.expected.audience` when those are set, the principal from
 *   `sasl.oauthbearer.sub.claim.name` (default `sub`).
 *
 *   client-first  n,[a=authzid],\x01auth=Bearer <token>\x01[key=value\x01...]\x01
 *
 * A token that fails validation is answered, as in Kafka, with a challenge carrying the
 * JSON error `{"status":"invalid_token"}`; the client acknowledges with a single \x01 and
 * the exchange fails with that JSON as the error message. The token never appears in a
 * log line or message; the reason for the refusal does (expired, wrong issuer, ...).
 */
import { createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SaslMechanismServer, SaslStep } from './mechanism.js';
import { EMPTY, invalidCredentialsMessage } from './mechanism.js';

export interface OAuthBearerOptions {
  /** Claim naming the principal (`sub`). */
  readonly principalClaimName: string;
  /** Allowed clock skew when checking exp/nbf, ms. */
  readonly allowableClockSkewMs: number;
  /** Set for JWKS validation; absent means the unsecured validator. */
  readonly jwks?: JwksKeys;
  readonly expectedIssuer?: string;
  readonly expectedAudience?: readonly string[];
}

const INITIAL_RESPONSE = /^n,(?:a=([^,]*))?,\x01((?:[A-Za-z]+=[\x21-\x7E \t\r\n]*\x01)*)\x01$/;
const INVALID_TOKEN = '{"status":"invalid_token"}';

/** RS256 keys by kid, loaded from a JWKS document. */
export class JwksKeys {
  private constructor(private readonly keys: ReadonlyMap<string, KeyObject>) {}

  static fromUrl(url: string): JwksKeys {
    if (!url.startsWith('file:')) throw new Error(`sasl.oauthbearer.jwks.endpoint.url ${url} is not a file:// URL: this broker reads JWKS from a file only`);
    const doc = JSON.parse(readFileSync(fileURLToPath(url), 'utf8')) as { keys?: unknown };
    if (!Array.isArray(doc.keys)) throw new Error(`JWKS ${url} has no "keys" array`);
    const keys = new Map<string, KeyObject>();
    for (const jwk of doc.keys as Record<string, unknown>[]) {
      if (jwk['kty'] !== 'RSA' || typeof jwk['kid'] !== 'string') continue;
      keys.set(jwk['kid'], createPublicKey({ key: jwk as never, format: 'jwk' }));
    }
    return new JwksKeys(keys);
  }

  get(kid: string): KeyObject | undefined {
    return this.keys.get(kid);
  }
}

type Validation = { ok: true; principal: string; expiresAtMs: number } | { ok: false; reason: string };

export class OAuthBearerServer implements SaslMechanismServer {
  readonly mechanism = 'OAUTHBEARER';
  private errorSent: string | null = null;

  constructor(private readonly options: OAuthBearerOptions, private readonly reauthenticating: boolean) {}

  evaluate(token: Buffer, nowMs: number): SaslStep {
    if (token.length === 1 && token[0] === 0x01 && this.errorSent !== null) {
      return { type: 'failed', clientMessage: this.errorSent, logReason: 'client acknowledged the invalid_token error' };
    }
    const m = INITIAL_RESPONSE.exec(token.toString('utf8'));
    if (m === null) return { type: 'failed', clientMessage: invalidCredentialsMessage(this.mechanism, this.reauthenticating), logReason: 'Invalid OAUTHBEARER client first message' };
    let tokenValue: string | undefined;
    for (const pair of m[2]!.split('\x01')) {
      if (pair.startsWith('auth=')) {
        const auth = /^auth=Bearer +([\x21-\x7E]+)$/.exec(pair);
        if (auth !== null) tokenValue = auth[1];
      }
    }
    if (tokenValue === undefined) return { type: 'failed', clientMessage: invalidCredentialsMessage(this.mechanism, this.reauthenticating), logReason: 'OAUTHBEARER client first message without auth=Bearer <token>' };
    const result = this.validate(tokenValue, nowMs);
    if (!result.ok) return this.invalid(result.reason);
    const authzid = m[1] ?? '';
    if (authzid !== '' && `User:${authzid}` !== result.principal) return this.invalid(`authorization id ${JSON.stringify(authzid)} is not the token's principal`);
    return { type: 'complete', bytes: EMPTY, principal: result.principal, credentialExpiresAtMs: result.expiresAtMs };
  }

  /** The RFC 7628 error challenge; the exchange fails once the client acknowledges it. */
  private invalid(reason: string): SaslStep {
    this.errorSent = INVALID_TOKEN;
    return { type: 'challenge', bytes: Buffer.from(INVALID_TOKEN, 'utf8'), logReason: reason };
  }

  private validate(token: string, nowMs: number): Validation {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: `the token has ${parts.length} dot-separated parts, expected 3` };
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return { ok: false, reason: 'the token header or payload is not base64url JSON' };
    }
    if (typeof header !== 'object' || header === null || typeof claims !== 'object' || claims === null) return { ok: false, reason: 'the token header or payload is not a JSON object' };
    const jwks = this.options.jwks;
    if (jwks === undefined) {
      if (header['alg'] !== 'none') return { ok: false, reason: `unsecured validation needs "alg":"none", the token has ${JSON.stringify(header['alg'])}` };
      if (parts[2] !== '') return { ok: false, reason: 'an unsecured token must have an empty signature' };
    } else {
      if (header['alg'] !== 'RS256') return { ok: false, reason: `the token's alg ${JSON.stringify(header['alg'])} is not RS256` };
      const key = typeof header['kid'] === 'string' ? jwks.get(header['kid']) : undefined;
      if (key === undefined) return { ok: false, reason: `no key in the JWKS for kid ${JSON.stringify(header['kid'])}` };
      const signed = verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`, 'utf8'), key, Buffer.from(parts[2]!, 'base64url'));
      if (!signed) return { ok: false, reason: 'the token signature does not verify' };
    }
    const skew = this.options.allowableClockSkewMs;
    const exp = claims['exp'];
    if (typeof exp !== 'number' || !Number.isFinite(exp)) return { ok: false, reason: 'the token has no numeric exp claim' };
    if (exp * 1000 + skew <= nowMs) return { ok: false, reason: `the token expired at ${new Date(exp * 1000).toISOString()}` };
    const nbf = claims['nbf'];
    if (typeof nbf === 'number' && nbf * 1000 - skew > nowMs) return { ok: false, reason: `the token is not valid before ${new Date(nbf * 1000).toISOString()}` };
    if (this.options.expectedIssuer !== undefined && claims['iss'] !== this.options.expectedIssuer) {
      return { ok: false, reason: `the token's issuer ${JSON.stringify(claims['iss'])} is not ${JSON.stringify(this.options.expectedIssuer)}` };
    }
    const expectedAudience = this.options.expectedAudience;
    if (expectedAudience !== undefined && expectedAudience.length > 0) {
      const aud = claims['aud'];
      const audiences = Array.isArray(aud) ? aud : [aud];
      if (!audiences.some((a) => typeof a === 'string' && expectedAudience.includes(a))) {
        return { ok: false, reason: `the token's audience ${JSON.stringify(aud)} contains none of ${JSON.stringify(expectedAudience)}` };
      }
    }
    const principal = claims[this.options.principalClaimName];
    if (typeof principal !== 'string' || principal.trim() === '') return { ok: false, reason: `the token has no ${this.options.principalClaimName} claim naming the principal` };
    return { ok: true, principal: `User:${principal}`, expiresAtMs: exp * 1000 };
  }
}

/**
 * A SASL listener's settings, read the way Kafka reads them (listener prefix
 * `listener.name.<listener>.` first, then the bare key):
 *
 * - `sasl.enabled.mechanisms`: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER. Kafka's
 *   default is GSSAPI (Kerberos), which this broker does not implement: a SASL listener
 *   must name its mechanisms, and naming GSSAPI is a start-up error.
 * - `<mechanism>.sasl.jaas.config` (e.g. `listener.name.sasl_ssl.plain.sasl.jaas.config`):
 *   the JAAS line Kafka reads, `<LoginModule> required key="value" ...;`. PLAIN takes its
 *   users from the `user_<name>="<password>"` options; OAUTHBEARER reads
 *   `unsecuredValidatorPrincipalClaimName` and `unsecuredValidatorAllowableClockSkewMs`.
 * - `sasl.oauthbearer.jwks.endpoint.url` (file://), `sasl.oauthbearer.expected.issuer`,
 *   `sasl.oauthbearer.expected.audience`, `sasl.oauthbearer.sub.claim.name`,
 *   `sasl.oauthbearer.clock.skew.seconds`: JWKS validation of OAUTHBEARER tokens.
 * - `connections.max.reauth.ms` (KIP-368, default 0 = off).
 */
import type { ListenerConfigLookup } from '../tls.js';
import type { ScramCredentialLookup } from './scram.js';
import { JwksKeys } from './oauthbearer.js';
import type { OAuthBearerOptions } from './oauthbearer.js';

export const SUPPORTED_SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'] as const;

export class SaslConfigError extends Error {
  readonly code = 'TRIB_ERR_SASL_CONFIG' as const;
  constructor(message: string) {
    super(message);
    this.name = 'SaslConfigError';
  }
}

export interface SaslListenerConfig {
  readonly listenerName: string;
  readonly enabledMechanisms: readonly string[];
  /** PLAIN users: name -> password. */
  readonly plainUsers: ReadonlyMap<string, string>;
  readonly scramCredentials: ScramCredentialLookup;
  readonly oauthBearer: OAuthBearerOptions;
  /** 0: re-authentication off (sessions never expire). */
  readonly connectionsMaxReauthMs: number;
}

export interface JaasEntry {
  readonly loginModule: string;
  readonly flag: string;
  readonly options: ReadonlyMap<string, string>;
}

/** Parses one JAAS configuration entry: `Module flag key=value key="quoted value";`. */
export function parseJaasConfig(text: string, key: string): JaasEntry {
  const tokens: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|([^\s=;"]+)|(=)|(;))/gy;
  let m: RegExpExecArray | null;
  let ended = false;
  while (re.lastIndex < text.length && (m = re.exec(text)) !== null) {
    if (m[4] !== undefined) {
      ended = true;
      break;
    }
    tokens.push(m[1] !== undefined ? `"${m[1].replace(/\\(.)/g, '$1')}` : (m[2] ?? '='));
  }
  if (!ended || tokens.length < 2 || text.slice(re.lastIndex).trim() !== '') {
    throw new SaslConfigError(`Invalid ${key}: expected "<LoginModule> <flag> key=\\"value\\" ...;" with one entry ending in ';'`);
  }
  const [loginModule, flag, ...rest] = tokens as [string, string, ...string[]];
  const options = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 3) {
    const name = rest[i];
    const value = rest[i + 2];
    if (name === undefined || rest[i + 1] !== '=' || value === undefined || name.startsWith('"')) {
      // The message names the option, never its value (a password).
      throw new SaslConfigError(`Invalid ${key}: options must be key=value pairs (near option ${i / 3 + 1})`);
    }
    options.set(name, value.startsWith('"') ? value.slice(1) : value);
  }
  return { loginModule, flag, options };
}

export function saslListenerConfig(
  listenerName: string,
  lookup: ListenerConfigLookup,
  scramCredentials: ScramCredentialLookup,
): SaslListenerConfig {
  const mechanisms = (lookup('sasl.enabled.mechanisms') ?? 'GSSAPI').split(',').map((s) => s.trim().toUpperCase()).filter((s) => s !== '');
  for (const mechanism of mechanisms) {
    if (!(SUPPORTED_SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
      throw new SaslConfigError(`Listener ${listenerName}: SASL mechanism ${mechanism} is not supported (sasl.enabled.mechanisms defaults to GSSAPI, as in Kafka); set listener.name.${listenerName.toLowerCase()}.sasl.enabled.mechanisms to some of ${SUPPORTED_SASL_MECHANISMS.join(', ')}`);
    }
  }
  if (mechanisms.length === 0) throw new SaslConfigError(`Listener ${listenerName}: sasl.enabled.mechanisms is empty`);
  const jaas = (mechanism: string): JaasEntry | undefined => {
    const key = `${mechanism.toLowerCase()}.sasl.jaas.config`;
    const text = lookup(key);
    return text === null ? undefined : parseJaasConfig(text, `listener.name.${listenerName.toLowerCase()}.${key}`);
  };
  const plainUsers = new Map<string, string>();
  if (mechanisms.includes('PLAIN')) {
    const entry = jaas('PLAIN');
    if (entry === undefined) {
      throw new SaslConfigError(`Listener ${listenerName} enables PLAIN but has no users: set listener.name.${listenerName.toLowerCase()}.plain.sasl.jaas.config to 'org.apache.kafka.common.security.plain.PlainLoginModule required user_<name>="<password>";'`);
    }
    for (const [name, value] of entry.options) if (name.startsWith('user_')) plainUsers.set(name.slice(5), value);
  }
  const oauthJaas = mechanisms.includes('OAUTHBEARER') ? jaas('OAUTHBEARER') : undefined;
  const jwksUrl = lookup('sasl.oauthbearer.jwks.endpoint.url');
  const audience = lookup('sasl.oauthbearer.expected.audience');
  const issuer = lookup('sasl.oauthbearer.expected.issuer');
  let jwks: JwksKeys | undefined;
  if (jwksUrl !== null && mechanisms.includes('OAUTHBEARER')) {
    try {
      jwks = JwksKeys.fromUrl(jwksUrl);
    } catch (err) {
      throw new SaslConfigError(`Listener ${listenerName}: cannot load sasl.oauthbearer.jwks.endpoint.url: ${(err as Error).message}`);
    }
  }
  const skewMs = jwks !== undefined
    ? Number(lookup('sasl.oauthbearer.clock.skew.seconds') ?? '30') * 1000
    : Number(oauthJaas?.options.get('unsecuredValidatorAllowableClockSkewMs') ?? '0');
  const oauthBearer: OAuthBearerOptions = {
    principalClaimName: (jwks !== undefined ? lookup('sasl.oauthbearer.sub.claim.name') : oauthJaas?.options.get('unsecuredValidatorPrincipalClaimName')) ?? 'sub',
    allowableClockSkewMs: Number.isFinite(skewMs) && skewMs >= 0 ? skewMs : 0,
    ...(jwks !== undefined ? { jwks } : {}),
    ...(issuer !== null ? { expectedIssuer: issuer } : {}),
    ...(audience !== null ? { expectedAudience: audience.split(',').map((a) => a.trim()).filter((a) => a !== '') } : {}),
  };
  const reauth = Number(lookup('connections.max.reauth.ms') ?? '0');
  if (!Number.isInteger(reauth) || reauth < 0) throw new SaslConfigError(`Listener ${listenerName}: invalid connections.max.reauth.ms ${JSON.stringify(lookup('connections.max.reauth.ms'))}: expected a whole number >= 0`);
  return { listenerName, enabledMechanisms: mechanisms, plainUsers, scramCredentials, oauthBearer, connectionsMaxReauthMs: reauth };
}

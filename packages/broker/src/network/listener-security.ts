/**
 * What each listener needs beyond a socket: TLS (SSL, SASL_SSL) and SASL settings
 * (SASL_PLAINTEXT, SASL_SSL), built once at start-up from the broker config, so a bad
 * key file or an unsupported mechanism stops the broker with a clear message instead of
 * failing each client.
 *
 * Every security key is read with Kafka's listener prefix first:
 * `listener.name.<listener name, lower case>.<key>`, then the bare `<key>`.
 */
import type { BrokerConfig } from '../config/broker-config.js';
import type { DynamicConfig } from '../config/dynamic-config.js';
import type { ListenerSpec } from '../config/listeners.js';
import type { Logger } from '../logger.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { TlsListener } from './tls.js';
import type { ListenerConfigLookup } from './tls.js';
import { saslListenerConfig } from './sasl/sasl-config.js';
import type { SaslListenerConfig } from './sasl/sasl-config.js';
import { ScramMechanisms } from './sasl/scram.js';
import type { ScramCredential, ScramCredentialLookup } from './sasl/scram.js';

export interface ListenerSecurity {
  readonly tls?: TlsListener;
  readonly sasl?: SaslListenerConfig;
}

export function listenerConfigLookup(config: BrokerConfig, listenerName: string): ListenerConfigLookup {
  const prefix = `listener.name.${listenerName.toLowerCase()}.`;
  return (key) => configText(config.get(`${prefix}${key}`)) ?? configText(config.get(key));
}

function configText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

/** SCRAM logins read the credentials the metadata store holds at that moment. */
export function metadataScramLookup(metadata: MetadataStore): ScramCredentialLookup {
  return (user, mechanism): ScramCredential | undefined => {
    const type = ScramMechanisms[mechanism].type;
    const stored = metadata.scramCredentials?.(user).find((c) => c.mechanism === type);
    if (stored === undefined) return undefined;
    return {
      salt: Buffer.from(stored.salt, 'base64'),
      storedKey: Buffer.from(stored.storedKey, 'base64'),
      serverKey: Buffer.from(stored.serverKey, 'base64'),
      iterations: stored.iterations,
    };
  };
}

/** Builds every listener's security; throws (TlsConfigError, SaslConfigError) on bad settings. */
export function buildListenerSecurity(
  config: BrokerConfig,
  listeners: readonly ListenerSpec[],
  metadata: MetadataStore,
  logger: Logger,
): Map<string, ListenerSecurity> {
  const out = new Map<string, ListenerSecurity>();
  for (const spec of listeners) {
    const lookup = listenerConfigLookup(config, spec.name);
    const tls = spec.securityProtocol === 'SSL' || spec.securityProtocol === 'SASL_SSL' ? new TlsListener(spec.name, lookup, logger) : undefined;
    const sasl = spec.securityProtocol === 'SASL_PLAINTEXT' || spec.securityProtocol === 'SASL_SSL' ? saslListenerConfig(spec.name, lookup, metadataScramLookup(metadata)) : undefined;
    tls?.watch();
    out.set(spec.name, { ...(tls !== undefined ? { tls } : {}), ...(sasl !== undefined ? { sasl } : {}) });
  }
  return out;
}

export function stopListenerSecurity(security: ReadonlyMap<string, ListenerSecurity>): void {
  for (const s of security.values()) s.tls?.stop();
}

/**
 * Applies AlterConfigs on TLS keys (`ssl.*`, `listener.name.<l>.ssl.*`) to the listeners
 * they concern. Returns the unsubscribe function.
 */
export function watchTlsConfigChanges(security: ReadonlyMap<string, ListenerSecurity>, dynamicConfig: DynamicConfig): () => void {
  return dynamicConfig.subscribe((change) => {
    if (change.type !== 'broker') return;
    const keys = Object.keys(change.changes);
    for (const [name, s] of security) {
      if (s.tls === undefined) continue;
      const prefix = `listener.name.${name.toLowerCase()}.ssl.`;
      if (keys.some((k) => k.startsWith('ssl.') || k.startsWith(prefix))) s.tls.reconfigure(listenerConfigLookup(change.config, name));
    }
  });
}

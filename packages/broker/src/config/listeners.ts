/**
 * Listener URIs as Kafka writes them: `NAME://host:port`, e.g. `PLAINTEXT://127.0.0.1:9092`,
 * `INTERNAL://:9093` (empty host = all interfaces), `EXTERNAL://[::1]:9094`.
 * Listener names are case-insensitive and normalised to upper case, like Kafka's
 * ListenerName; each name may appear once per list. The security protocol comes from
 * `listener.security.protocol.map` (the name itself when it is a protocol name).
 */
import { ConfigError } from './config-def.js';

export const SecurityProtocols = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof SecurityProtocols)[number];

export interface ListenerSpec {
  /** Upper-case listener name, e.g. PLAINTEXT. */
  readonly name: string;
  /** Host as written; '' means all interfaces. IPv6 without brackets. */
  readonly host: string;
  /** 0 asks the OS for an ephemeral port. */
  readonly port: number;
  readonly securityProtocol: SecurityProtocol;
}

export function parseSecurityProtocolMap(entries: readonly string[]): Map<string, SecurityProtocol> {
  const map = new Map<string, SecurityProtocol>();
  for (const entry of entries) {
    const colon = entry.indexOf(':');
    const name = entry.slice(0, colon).trim().toUpperCase();
    const protocol = entry.slice(colon + 1).trim().toUpperCase();
    if (colon <= 0 || !(SecurityProtocols as readonly string[]).includes(protocol)) {
      throw new ConfigError('TRIB_ERR_CONFIG_INVALID', `Invalid listener.security.protocol.map entry ${JSON.stringify(entry)}: expected NAME:PROTOCOL with PROTOCOL one of ${SecurityProtocols.join(', ')}`, 'listener.security.protocol.map');
    }
    map.set(name, protocol as SecurityProtocol);
  }
  return map;
}

const LISTENER_PATTERN = /^([A-Za-z0-9_.-]+):\/\/(\[[0-9A-Fa-f:.]+\]|[^:/\s[\]]*):(\d{1,5})$/;

export function parseListeners(
  key: string,
  uris: readonly string[],
  protocolMap: ReadonlyMap<string, SecurityProtocol>,
): ListenerSpec[] {
  const specs: ListenerSpec[] = [];
  for (const uri of uris) {
    const match = LISTENER_PATTERN.exec(uri.trim());
    if (!match) {
      throw new ConfigError('TRIB_ERR_CONFIG_INVALID', `Invalid ${key} entry ${JSON.stringify(uri)}: expected NAME://host:port, e.g. PLAINTEXT://127.0.0.1:9092`, key);
    }
    const name = match[1]!.toUpperCase();
    let host = match[2]!;
    if (host.startsWith('[')) host = host.slice(1, -1);
    const port = Number(match[3]);
    if (port > 65535) {
      throw new ConfigError('TRIB_ERR_CONFIG_INVALID', `Invalid port ${port} in ${key} entry ${JSON.stringify(uri)}: expected 0-65535`, key);
    }
    const securityProtocol = protocolMap.get(name);
    if (securityProtocol === undefined) {
      throw new ConfigError('TRIB_ERR_CONFIG_INVALID', `Listener ${name} in ${key} has no security protocol: add it to listener.security.protocol.map`, key);
    }
    if (specs.some((s) => s.name === name)) {
      throw new ConfigError('TRIB_ERR_CONFIG_INVALID', `Listener name ${name} appears twice in ${key}: each listener needs its own name`, key);
    }
    specs.push({ name, host, port, securityProtocol });
  }
  return specs;
}

export function formatListener(spec: Pick<ListenerSpec, 'name' | 'host' | 'port'>): string {
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  return `${spec.name}://${host}:${spec.port}`;
}

/**
 * Security keys whose values are secrets (Kafka's PASSWORD type): never logged, never
 * described. With or without the `listener.name.<l>.` (and mechanism) prefix, so
 * `listener.name.sasl_ssl.plain.sasl.jaas.config` counts as `sasl.jaas.config`.
 */
const SENSITIVE_SECURITY_KEYS = [
  'ssl.keystore.password', 'ssl.key.password', 'ssl.truststore.password', 'ssl.keystore.key',
  'ssl.keystore.certificate.chain', 'ssl.truststore.certificates', 'sasl.jaas.config',
] as const;

export function isSensitiveSecurityKey(key: string): boolean {
  return SENSITIVE_SECURITY_KEYS.some((k) => key === k || key.endsWith(`.${k}`));
}

/** Keys network/listener-security.ts reads (with or without a listener prefix). */
export function isSecurityConfigKey(key: string): boolean {
  const bare = key.startsWith('listener.name.') ? key.slice(key.indexOf('.', 'listener.name.'.length) + 1) : key;
  return key.startsWith('listener.name.') || bare.startsWith('ssl.') || bare.startsWith('sasl.') || bare === 'connections.max.reauth.ms';
}

/**
 * TLS protocol versions and cipher suites of a listener: Kafka's `ssl.enabled.protocols`
 * and `ssl.cipher.suites`, turned into node:tls options (tls.ts builds the SecureContext
 * from them; the inter-broker client uses them too).
 *
 * `ssl.enabled.protocols`: Kafka's names (TLSv1.2, TLSv1.3; default both, as Kafka on
 * Java 11+). OpenSSL enables a range of versions, so the list must be contiguous.
 *
 * `ssl.cipher.suites`: Kafka's (JSSE's) names, which are the IANA names
 * (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`, `TLS_AES_128_GCM_SHA256`); OpenSSL's own names
 * (`ECDHE-RSA-AES128-GCM-SHA256`) are accepted too. The order is the server's preference.
 * A name OpenSSL does not know stops the broker at start-up, as JSSE's "Unsupported
 * CipherSuite" stops Kafka's. A list without TLS 1.3 suites disables TLS 1.3 and one
 * without TLS 1.2 suites disables TLS 1.2, as with JSSE (a version without a suite cannot
 * be negotiated).
 *
 * Choice of suite: the server's order wins (honorCipherOrder), and by default that order
 * puts the cheapest strong suite first. Kafka leaves ssl.cipher.suites empty (the JVM's
 * defaults, whose first TLS 1.3 suite is TLS_AES_256_GCM_SHA384). Here TLS 1.3 prefers
 * TLS_AES_128_GCM_SHA256: on CPUs with AES-NI it needs 10 AES rounds per block instead of
 * 14 (bench/macro/tls.mjs, docs/benchmarks.md "TLS"), at a security level (128 bits) no
 * attack comes near, and it is the one suite TLS 1.3 makes mandatory (RFC 8446 9.1).
 * Clients that prefer ChaCha20 (no AES hardware: phones, small ARM boards) get ChaCha20
 * (OpenSSL's SSL_OP_PRIORITIZE_CHACHA).
 */
import { constants as cryptoConstants } from 'node:crypto';
import { DEFAULT_CIPHERS, getCiphers } from 'node:tls';
import type { SecureVersion } from 'node:tls';

export interface TlsProtocolOptions {
  readonly minVersion: SecureVersion;
  readonly maxVersion: SecureVersion;
  /** node:tls `ciphers`: TLS 1.3 suites (TLS_*) and OpenSSL TLS 1.2 names, colon-separated, in preference order. */
  readonly ciphers: string;
  readonly honorCipherOrder: true;
  readonly secureOptions: number;
}

/** Thrown for settings that cannot work; tls.ts wraps it in its TlsConfigError. */
export class TlsProtocolConfigError extends Error {
  readonly code = 'TRIB_ERR_TLS_CONFIG' as const;
}

/** Kafka's default ssl.enabled.protocols on Java 11+. */
export const DEFAULT_ENABLED_PROTOCOLS: readonly SecureVersion[] = ['TLSv1.2', 'TLSv1.3'];

/** Oldest first: OpenSSL enables a contiguous range of these. */
const PROTOCOL_ORDER: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** TLS 1.3 suites have the same name in IANA, JSSE and OpenSSL. */
const TLS13_SUITES = new Set(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_CCM_SHA256', 'TLS_AES_128_CCM_8_SHA256']);

/** The default TLS 1.3 preference: cheapest strong first (see the header). */
const DEFAULT_TLS13_ORDER = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/**
 * JSSE signalling value listed in some JVM cipher lists; OpenSSL always sends the
 * renegotiation_info extension, so it is skipped, not refused.
 */
const SIGNALLING_SUITES = new Set(['TLS_EMPTY_RENEGOTIATION_INFO_SCSV']);

/**
 * IANA (JSSE) names of the TLS 1.2 suites OpenSSL 3 builds in, to OpenSSL's names
 * (from `openssl ciphers -stdname`, without the anonymous, PSK, SRP, 3DES, CAMELLIA,
 * ARIA, SEED and IDEA suites, which neither Kafka nor Node enables by default).
 */
const IANA_TO_OPENSSL: Readonly<Record<string, string>> = {
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_DHE_DSS_WITH_AES_256_GCM_SHA384: 'DHE-DSS-AES256-GCM-SHA384',
  TLS_DHE_RSA_WITH_AES_256_GCM_SHA384: 'DHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'DHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8: 'ECDHE-ECDSA-AES256-CCM8',
  TLS_ECDHE_ECDSA_WITH_AES_256_CCM: 'ECDHE-ECDSA-AES256-CCM',
  TLS_DHE_RSA_WITH_AES_256_CCM_8: 'DHE-RSA-AES256-CCM8',
  TLS_DHE_RSA_WITH_AES_256_CCM: 'DHE-RSA-AES256-CCM',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_DHE_DSS_WITH_AES_128_GCM_SHA256: 'DHE-DSS-AES128-GCM-SHA256',
  TLS_DHE_RSA_WITH_AES_128_GCM_SHA256: 'DHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8: 'ECDHE-ECDSA-AES128-CCM8',
  TLS_ECDHE_ECDSA_WITH_AES_128_CCM: 'ECDHE-ECDSA-AES128-CCM',
  TLS_DHE_RSA_WITH_AES_128_CCM_8: 'DHE-RSA-AES128-CCM8',
  TLS_DHE_RSA_WITH_AES_128_CCM: 'DHE-RSA-AES128-CCM',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384: 'ECDHE-ECDSA-AES256-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384: 'ECDHE-RSA-AES256-SHA384',
  TLS_DHE_RSA_WITH_AES_256_CBC_SHA256: 'DHE-RSA-AES256-SHA256',
  TLS_DHE_DSS_WITH_AES_256_CBC_SHA256: 'DHE-DSS-AES256-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_DHE_RSA_WITH_AES_128_CBC_SHA256: 'DHE-RSA-AES128-SHA256',
  TLS_DHE_DSS_WITH_AES_128_CBC_SHA256: 'DHE-DSS-AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_DHE_RSA_WITH_AES_256_CBC_SHA: 'DHE-RSA-AES256-SHA',
  TLS_DHE_DSS_WITH_AES_256_CBC_SHA: 'DHE-DSS-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_DHE_RSA_WITH_AES_128_CBC_SHA: 'DHE-RSA-AES128-SHA',
  TLS_DHE_DSS_WITH_AES_128_CBC_SHA: 'DHE-DSS-AES128-SHA',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_RSA_WITH_AES_256_CCM_8: 'AES256-CCM8',
  TLS_RSA_WITH_AES_256_CCM: 'AES256-CCM',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_128_CCM_8: 'AES128-CCM8',
  TLS_RSA_WITH_AES_128_CCM: 'AES128-CCM',
  TLS_RSA_WITH_AES_256_CBC_SHA256: 'AES256-SHA256',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
};

/**
 * The node:tls options for a listener's `ssl.enabled.protocols` and `ssl.cipher.suites`
 * (each the raw config text, or null when unset). Throws TlsProtocolConfigError.
 */
export function tlsProtocolOptions(enabledProtocols: string | null, cipherSuites: string | null): TlsProtocolOptions {
  let [minIndex, maxIndex] = protocolRange(enabledProtocols);
  const { tls13, tls12 } = cipherLists(cipherSuites);
  // As with JSSE, a version for which no suite is enabled cannot be negotiated. Node
  // would otherwise keep OpenSSL's default TLS 1.3 suites when the list names none.
  const tls13Index = PROTOCOL_ORDER.indexOf('TLSv1.3');
  if (tls13.length === 0 && maxIndex === tls13Index) maxIndex--;
  if (tls12.length === 0 && minIndex < tls13Index) minIndex = tls13Index;
  if (minIndex > maxIndex) {
    throw new TlsProtocolConfigError(`ssl.cipher.suites ${JSON.stringify(cipherSuites)} has no suite for any protocol in ssl.enabled.protocols ${JSON.stringify(enabledProtocols ?? DEFAULT_ENABLED_PROTOCOLS.join(','))}`);
  }
  return {
    minVersion: PROTOCOL_ORDER[minIndex]!,
    maxVersion: PROTOCOL_ORDER[maxIndex]!,
    ciphers: [...tls13, ...tls12].join(':'),
    honorCipherOrder: true,
    secureOptions: cryptoConstants.SSL_OP_PRIORITIZE_CHACHA ?? 0,
  };
}

function splitList(text: string | null): string[] {
  return (text ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function protocolRange(text: string | null): [number, number] {
  const names = splitList(text);
  const list = names.length === 0 ? DEFAULT_ENABLED_PROTOCOLS : names;
  const indexes: number[] = [];
  for (const name of list) {
    const index = PROTOCOL_ORDER.findIndex((p) => p.toLowerCase() === name.toLowerCase());
    if (index < 0) throw new TlsProtocolConfigError(`ssl.enabled.protocols names ${JSON.stringify(name)}; supported: ${PROTOCOL_ORDER.join(', ')}`);
    indexes.push(index);
  }
  const min = Math.min(...indexes);
  const max = Math.max(...indexes);
  for (let i = min; i <= max; i++) {
    if (!indexes.includes(i)) {
      throw new TlsProtocolConfigError(`ssl.enabled.protocols ${JSON.stringify(text)} leaves out ${PROTOCOL_ORDER[i]} between two enabled versions; OpenSSL can only enable a contiguous range`);
    }
  }
  return [min, max];
}

function cipherLists(text: string | null): { tls13: string[]; tls12: string[] } {
  const names = splitList(text);
  if (names.length === 0) {
    // Node's default TLS 1.2 list already starts with the AES-128-GCM suites.
    const tls12 = DEFAULT_CIPHERS.split(':').filter((c) => !c.startsWith('TLS_'));
    return { tls13: [...DEFAULT_TLS13_ORDER], tls12 };
  }
  const known = new Set(getCiphers().map((c) => c.toUpperCase()));
  const tls13: string[] = [];
  const tls12: string[] = [];
  for (const raw of names) {
    const name = raw.toUpperCase();
    if (SIGNALLING_SUITES.has(name)) continue;
    if (TLS13_SUITES.has(name)) tls13.push(name);
    else if (IANA_TO_OPENSSL[name] !== undefined) tls12.push(IANA_TO_OPENSSL[name]);
    else if (!name.startsWith('TLS_') && known.has(name)) tls12.push(name);
    else throw new TlsProtocolConfigError(`ssl.cipher.suites names ${JSON.stringify(raw)}, which is not a cipher suite OpenSSL ${process.versions.openssl} supports (use IANA names such as TLS_AES_128_GCM_SHA256 or TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)`);
  }
  return { tls13, tls12 };
}

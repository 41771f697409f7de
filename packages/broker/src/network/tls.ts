/**
 * TLS for SSL and SASL_SSL listeners (Kafka's SslChannelBuilder / SslTransportLayer /
 * SslFactory), on node:tls.
 *
 * Keys and certificates are PEM only: `ssl.keystore.type=PEM` with either
 * `ssl.keystore.location` (one PEM file holding the private key and the certificate
 * chain) or `ssl.keystore.key` + `ssl.keystore.certificate.chain` (PEM text in the
 * config); `ssl.key.password` decrypts an encrypted key. Trust: `ssl.truststore.location`
 * (a PEM file of CA certificates) or `ssl.truststore.certificates` (PEM text). JKS and
 * PKCS12 stores are refused at start-up with a message naming PEM (node:tls cannot read
 * JKS; see docs/security.md). Every key may carry the listener prefix
 * `listener.name.<listener>.`, which wins over the bare key, as in Kafka.
 *
 * `ssl.client.auth`: `required` (a client without a trusted certificate fails the
 * handshake), `requested` (a certificate is asked for; none is fine, an untrusted one
 * fails the handshake, as Java's SSLEngine with wantClientAuth), `none` (default).
 *
 * Principal: `User:ANONYMOUS` without a client certificate; else the certificate's
 * subject as RFC 2253 text (X500Principal.getName(): most specific RDN first,
 * `CN=alice,OU=eng,O=Example,C=US`) mapped through `ssl.principal.mapping.rules`
 * (principal-mapping.ts).
 *
 * Reload without restart: the keystore and truststore files are polled
 * (CERT_RELOAD_POLL_MS), and AlterConfigs on the listener's ssl keys is applied
 * (reconfigure); either builds a new SecureContext that new connections use, while
 * connections already open keep theirs, as in Kafka. Material that does not load
 * (half-written file, wrong password) keeps the old context and logs why.
 */
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext, TLSSocket } from 'node:tls';
import type { SecureContext } from 'node:tls';
import type { Socket } from 'node:net';
import { X509Certificate } from 'node:crypto';
import type { Logger } from '../logger.js';
import { SslPrincipalMapper } from './principal-mapping.js';
import { tlsProtocolOptions, TlsProtocolConfigError } from './tls-ciphers.js';
import type { TlsProtocolOptions } from './tls-ciphers.js';
import type { AdoptedSocket, ReadCallback } from './shared-read-buffer.js';

export type SslClientAuth = 'required' | 'requested' | 'none';

/** Reads one listener's security keys: the listener-prefixed key first, then the bare key. */
export type ListenerConfigLookup = (key: string) => string | null;

/** How often the key and trust files are checked for changes (mtime and size). */
const CERT_RELOAD_POLL_MS = 2000;

export class TlsConfigError extends Error {
  readonly code = 'TRIB_ERR_TLS_CONFIG' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TlsConfigError';
  }
}

export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
  readonly ca: string | undefined;
  readonly passphrase: string | undefined;
}

export class TlsListener {
  private context: SecureContext;
  readonly clientAuth: SslClientAuth;
  readonly principalMapper: SslPrincipalMapper;
  private files: string[];
  private fileStamps: string;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly listenerName: string,
    private lookup: ListenerConfigLookup,
    private readonly logger: Logger,
  ) {
    const clientAuth = (lookup('ssl.client.auth') ?? 'none').trim().toLowerCase();
    if (clientAuth !== 'required' && clientAuth !== 'requested' && clientAuth !== 'none') {
      throw new TlsConfigError(`Invalid ssl.client.auth ${JSON.stringify(clientAuth)} for listener ${listenerName}: expected required, requested or none`);
    }
    this.clientAuth = clientAuth;
    this.principalMapper = SslPrincipalMapper.fromRules(lookup('ssl.principal.mapping.rules') ?? 'DEFAULT');
    this.files = [lookup('ssl.keystore.location'), lookup('ssl.truststore.location')].filter((f): f is string => f !== null && f !== '');
    this.context = this.buildContext(this.loadMaterial());
    this.fileStamps = this.stamps();
  }

  /** Starts polling the key and trust files; a change builds a new SecureContext. */
  watch(): void {
    if (this.files.length === 0 || this.pollTimer !== undefined) return;
    this.pollTimer = setInterval(() => this.reloadIfChanged(), CERT_RELOAD_POLL_MS);
    this.pollTimer.unref();
  }

  stop(): void {
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  /**
   * New settings from AlterConfigs (`listener.name.<l>.ssl.*` or `ssl.*`): new connections
   * get a SecureContext built from them. Settings that do not load are logged and the
   * previous ones kept (Kafka refuses such an AlterConfigs; here it has already been
   * stored when the broker hears of it). ssl.client.auth and the mapping rules need a restart.
   */
  reconfigure(lookup: ListenerConfigLookup): boolean {
    try {
      const previous = this.lookup;
      this.lookup = lookup;
      try {
        this.context = this.buildContext(this.loadMaterial());
      } catch (err) {
        this.lookup = previous;
        throw err;
      }
      this.files.splice(0, this.files.length, ...[lookup('ssl.keystore.location'), lookup('ssl.truststore.location')].filter((f): f is string => f !== null && f !== ''));
      this.fileStamps = this.stamps();
      this.logger.info('Reconfigured TLS key and certificates from a config change; new connections use them', { listener: this.listenerName });
      return true;
    } catch (err) {
      this.logger.warn('TLS settings changed but do not load; keeping the previous ones', { listener: this.listenerName, reason: (err as Error).message });
      return false;
    }
  }

  /** Checks the files now (tests call this rather than wait for the poll). Returns true on reload. */
  reloadIfChanged(): boolean {
    const now = this.stamps();
    if (now === this.fileStamps) return false;
    try {
      this.context = this.buildContext(this.loadMaterial());
      this.fileStamps = now;
      this.logger.info('Reloaded TLS key and certificates; new connections use them', { listener: this.listenerName, files: this.files });
      return true;
    } catch (err) {
      // Keep serving with the old context: a file caught half-written loads on the next poll.
      this.logger.warn('TLS key or certificate files changed but do not load; keeping the previous ones', { listener: this.listenerName, reason: (err as Error).message });
      return false;
    }
  }

  /**
   * Wraps an accepted (paused) socket in TLS (`wrap`), with its decrypted bytes delivered
   * into one shared buffer instead of a new Buffer and a stream 'data' event per TLS record
   * (`readIntoSharedBuffer`).
   */
  adopt(socket: Socket, remote: string, onPrincipal: (principal: string) => void): AdoptedSocket {
    return readIntoSharedBuffer(this.wrap(socket, remote, onPrincipal));
  }

  /**
   * Wraps an accepted (paused) socket in TLS. `onPrincipal` runs once the handshake is
   * done, before any request can be read; a handshake failure is logged here (Kafka:
   * "Failed authentication ... (SSL handshake failed)") and destroys the socket.
   */
  wrap(socket: Socket, remote: string, onPrincipal: (principal: string) => void): TLSSocket {
    const tlsSocket = new TLSSocket(socket, {
      isServer: true,
      secureContext: this.context,
      requestCert: this.clientAuth !== 'none',
      // Verified below: a TLSSocket made outside tls.Server checks nothing by itself.
      rejectUnauthorized: false,
    });
    let secured = false;
    const refuse = (reason: string) => {
      this.logger.info('Failed authentication (SSL handshake failed)', { listener: this.listenerName, remote, reason });
      tlsSocket.destroy();
    };
    tlsSocket.once('secure', () => {
      secured = true;
      const peer = tlsSocket.getPeerCertificate(false);
      const hasCert = peer !== null && peer !== undefined && peer.raw !== undefined;
      if (this.clientAuth !== 'none' && hasCert) {
        const verifyError = peerVerifyError(tlsSocket);
        if (verifyError !== null) {
          refuse(`client certificate not trusted: ${verifyError}`);
          return;
        }
      }
      if (!hasCert) {
        if (this.clientAuth === 'required') {
          refuse('ssl.client.auth=required and the client sent no certificate');
          return;
        }
        onPrincipal('User:ANONYMOUS');
        return;
      }
      const dn = rfc2253Subject(new X509Certificate(peer.raw));
      const name = this.principalMapper.getName(dn);
      if (name === null) {
        // Kafka fails the channel when no rule applies (SslPrincipalMapper.NoMatchingRule).
        this.logger.info('Failed authentication: no ssl.principal.mapping.rules rule applies to the certificate subject', { listener: this.listenerName, remote, subject: dn });
        tlsSocket.destroy();
        return;
      }
      onPrincipal(`User:${name}`);
    });
    tlsSocket.on('error', (err) => {
      if (!secured) this.logger.info('Failed authentication (SSL handshake failed)', { listener: this.listenerName, remote, reason: err.message });
    });
    return tlsSocket;
  }

  private stamps(): string {
    return this.files.map((f) => {
      try {
        const s = statSync(f);
        return `${s.mtimeMs}:${s.size}`;
      } catch {
        return 'missing';
      }
    }).join('|');
  }

  private loadMaterial(): TlsMaterial {
    return loadTlsMaterial(this.listenerName, this.lookup);
  }

  private buildContext(m: TlsMaterial): SecureContext {
    const protocols = listenerTlsProtocolOptions(this.listenerName, this.lookup);
    try {
      return createSecureContext({
        key: m.key,
        cert: m.cert,
        ...(m.ca !== undefined ? { ca: m.ca } : {}),
        ...(m.passphrase !== undefined ? { passphrase: m.passphrase } : {}),
        ...protocols,
      });
    } catch (err) {
      // The message is OpenSSL's (bad decrypt, key mismatch): it never contains the key.
      throw new TlsConfigError(`Listener ${this.listenerName}: cannot load the TLS key and certificates: ${(err as Error).message}`, { cause: err });
    }
  }
}

/**
 * Decrypted bytes of every TLS connection are read into this one buffer (see
 * readIntoSharedBuffer). node:tls decrypts at most one TLS record (16 KiB) per read.
 */
const TLS_READ_BUFFER_BYTES = 64 * 1024;
const tlsReadBuffer = Buffer.allocUnsafeSlow(TLS_READ_BUFFER_BYTES);

/**
 * The most plaintext one TLS record carries (RFC 8446 5.1), hence one read of a TLS socket
 * (node:tls reads one record per SSL_read).
 */
const TLS_MAX_RECORD_PLAINTEXT_BYTES = 16384;

/**
 * Views of the shared TLS read buffer by length, made once: every read starts at offset 0
 * and clients send a few record sizes over and over (librdkafka: one record per value and
 * one per record header), so a Produce over TLS that cost one new Buffer object per TLS
 * record (~0.4 us each in a CPU profile of 1 KiB records) costs none. At most one view per
 * length up to TLS_MAX_RECORD_PLAINTEXT_BYTES, shared by all connections.
 */
const tlsReadViews: (Buffer | undefined)[] = new Array<Buffer | undefined>(TLS_MAX_RECORD_PLAINTEXT_BYTES + 1).fill(undefined); // dense: fast element lookups
function tlsReadView(bytes: number): Buffer {
  if (bytes > TLS_MAX_RECORD_PLAINTEXT_BYTES) return tlsReadBuffer.subarray(0, bytes);
  return tlsReadViews[bytes] ??= tlsReadBuffer.subarray(0, bytes);
}

/**
 * Makes a TLS socket deliver its decrypted bytes into the shared TLS read buffer, as the
 * plain listeners' sockets do (shared-read-buffer.ts), instead of as stream 'data' events.
 *
 * Why: node:tls hands over each TLS record's plaintext as a new Buffer pushed through the
 * socket's Readable stream. librdkafka writes each piece of a request with its own
 * SSL_write, so a Produce of 1 KiB records arrives as about one 2 KiB TLS record per
 * record (tls.mjs measured 47,592 reads for 100,000 records), and the per-read allocation
 * and stream bookkeeping cost the broker more CPU per record than the decryption does.
 * Node reads a TLS socket into a caller's buffer when it is created with `onread` (Node
 * 15+, used by tls.connect), but a TLSSocket wrapping an accepted socket takes no such
 * option; this sets the same two fields the `onread` option sets and points the TLS
 * handle at the buffer (StreamBase.useUserBuffer). These are not public API: when a field
 * or the method is missing (another Node version), the socket reads as Node does by
 * default (`sharedReads: false`). The bytes of a read are valid only during the callback;
 * the connection copies what it keeps at once (FrameDecoder's borrowed chunks), before it
 * processes any request, so a later read (of this or any other connection) cannot
 * overwrite bytes still in use.
 */
export function readIntoSharedBuffer(tlsSocket: TLSSocket): AdoptedSocket {
  const fallback: AdoptedSocket = { socket: tlsSocket as unknown as Socket, sharedReads: false, encrypted: true, setReader: () => {} };
  const symbols = new Map(Object.getOwnPropertySymbols(tlsSocket).map((sym) => [sym.description, sym]));
  const kBuffer = symbols.get('kBuffer');
  const kBufferCb = symbols.get('kBufferCb');
  const kBufferGen = symbols.get('kBufferGen');
  const handle = (tlsSocket as unknown as { _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } })._handle;
  if (kBuffer === undefined || kBufferCb === undefined || kBufferGen === undefined || typeof handle?.useUserBuffer !== 'function') return fallback;
  const fields = tlsSocket as unknown as Record<symbol, unknown>;
  // Only a socket in the default state (no onread of its own) is switched over.
  if (fields[kBuffer] !== null || fields[kBufferCb] !== null || fields[kBufferGen] !== null) return fallback;
  let reader: ReadCallback | null = null;
  fields[kBuffer] = tlsReadBuffer;
  fields[kBufferCb] = (bytes: number, buf: Uint8Array): boolean => {
    // Node hands back the buffer it was given (useUserBuffer), from its start.
    reader?.(buf === tlsReadBuffer ? tlsReadView(bytes) : Buffer.from(buf.buffer, buf.byteOffset, bytes));
    return true;
  };
  handle.useUserBuffer(tlsReadBuffer);
  return { socket: tlsSocket as unknown as Socket, sharedReads: true, encrypted: true, setReader: (callback) => { reader = callback; } };
}

/**
 * A listener's key, certificate chain, trusted CAs and key passphrase, read from its
 * `ssl.*` keys (PEM only). The broker's own listener uses them as a server; the
 * inter-broker client (inter-broker-client.ts) uses the same keys of the inter-broker
 * listener as a client, as Kafka's inter-broker channel does.
 */
export function loadTlsMaterial(listenerName: string, lookup: ListenerConfigLookup): TlsMaterial {
  const l = listenerName;
  const type = (lookup('ssl.keystore.type') ?? 'PEM').toUpperCase();
  if (type !== 'PEM') {
    throw new TlsConfigError(`Listener ${l}: ssl.keystore.type ${type} is not supported; use ssl.keystore.type=PEM (convert with openssl; see docs/security.md)`);
  }
  const trustType = (lookup('ssl.truststore.type') ?? 'PEM').toUpperCase();
  if (trustType !== 'PEM') {
    throw new TlsConfigError(`Listener ${l}: ssl.truststore.type ${trustType} is not supported; use ssl.truststore.type=PEM`);
  }
  let key = lookup('ssl.keystore.key');
  let cert = lookup('ssl.keystore.certificate.chain');
  const location = lookup('ssl.keystore.location');
  if ((key === null || cert === null) && location !== null) {
    const pem = readPem(location, 'ssl.keystore.location', l);
    key ??= pemBlocks(pem, /PRIVATE KEY/).join('\n');
    cert ??= pemBlocks(pem, /^CERTIFICATE$/).join('\n');
  }
  if (key === null || key === '' || cert === null || cert === '') {
    throw new TlsConfigError(`Listener ${l} uses TLS but has no key and certificate: set ssl.keystore.location (a PEM file with the private key and certificate chain) or ssl.keystore.key and ssl.keystore.certificate.chain`);
  }
  let ca = lookup('ssl.truststore.certificates') ?? undefined;
  const trustLocation = lookup('ssl.truststore.location');
  if (ca === undefined && trustLocation !== null) ca = readPem(trustLocation, 'ssl.truststore.location', l);
  const passphrase = lookup('ssl.key.password') ?? lookup('ssl.keystore.password') ?? undefined;
  return { key, cert, ca, passphrase };
}

/**
 * A listener's `ssl.enabled.protocols` and `ssl.cipher.suites` as node:tls options
 * (tls-ciphers.ts); used for the listener's server side and the inter-broker client.
 */
export function listenerTlsProtocolOptions(listenerName: string, lookup: ListenerConfigLookup): TlsProtocolOptions {
  try {
    return tlsProtocolOptions(lookup('ssl.enabled.protocols'), lookup('ssl.cipher.suites'));
  } catch (err) {
    if (err instanceof TlsProtocolConfigError) throw new TlsConfigError(`Listener ${listenerName}: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * Why the peer's certificate chain does not verify against the truststore, or null if it
 * does. Node's tls.Server asks its internal handle the same question after the handshake;
 * sockets wrapped outside a tls.Server must ask it themselves. A Node without that method
 * fails closed: the certificate counts as untrusted.
 */
function peerVerifyError(socket: TLSSocket): string | null {
  const handle = (socket as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
  if (typeof handle?.verifyError !== 'function') return 'cannot verify certificates on this Node version';
  const err = handle.verifyError();
  return err === null || err === undefined ? null : (err.code ?? err.message);
}

function readPem(path: string, key: string, listener: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TlsConfigError(`Listener ${listener}: cannot read ${key} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function pemBlocks(pem: string, label: RegExp): string[] {
  const out: string[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
  for (let m = re.exec(pem); m !== null; m = re.exec(pem)) if (label.test(m[1]!)) out.push(m[0]);
  return out;
}

/**
 * A certificate's subject as Java's X500Principal.getName() (RFC 2253) prints it: RDNs
 * from the most specific (CN) to the least (C), commas without spaces, and , + " \ < > ;
 * escaped with a backslash. Node's `subject` lists them in certificate order, one a line.
 */
export function rfc2253Subject(cert: X509Certificate): string {
  const lines = cert.subject.split('\n').filter((line) => line !== '');
  return lines.reverse().map((line) => {
    const eq = line.indexOf('=');
    const type = line.slice(0, eq);
    const value = line.slice(eq + 1);
    return `${type}=${escapeRdnValue(value)}`;
  }).join(',');
}

function escapeRdnValue(value: string): string {
  let out = value.replace(/([,+"\\<>;])/g, '\\$1');
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

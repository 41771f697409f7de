/**
 * The broker's connections to other brokers (Kafka's NetworkClient with the inter-broker
 * ChannelBuilder): follower fetchers, and any other broker-to-broker request, open them
 * with `connectToBroker`.
 *
 * Which listener: `inter.broker.listener.name`, else the one named after
 * `security.inter.broker.protocol` (PLAINTEXT), else this broker's first; the peer
 * is reached at its registered endpoint of that name (a peer without one is an error, as
 * Kafka's BrokerEndPointNotAvailableException). The security protocol and its settings are
 * this broker's own for that listener, read with the listener prefix first, as Kafka does:
 *
 * - SSL / SASL_SSL: node:tls client. Trust: the listener's `ssl.truststore.*` (else Node's
 *   default CAs). The listener's `ssl.keystore.*` key and certificate are presented when
 *   the peer asks for one (mTLS; the peer's principal for us is then our certificate's
 *   subject). `ssl.endpoint.identification.algorithm` (default `https`, as Kafka) checks the
 *   peer's certificate names the host it was reached at; empty turns that off.
 * - SASL_PLAINTEXT / SASL_SSL: `sasl.mechanism.inter.broker.protocol` (PLAIN,
 *   SCRAM-SHA-256, SCRAM-SHA-512), with `username` and `password` from the listener's
 *   `<mechanism>.sasl.jaas.config`. SaslHandshake v1, then SaslAuthenticate v2 tokens. When
 *   the peer answers a session lifetime (KIP-368, `connections.max.reauth.ms`), the
 *   connection re-authenticates in band before it ends, between requests, as Kafka's
 *   client does.
 *
 * A connection carries any number of requests at once; answers come back in order and are
 * matched by correlation id. Any failure (socket, timeout, a frame that does not parse)
 * closes the connection and fails every request on it: the caller opens a new one.
 *
 * Differences from Kafka: no ApiVersions exchange before the handshake (each caller asks
 * for versions every Tributary broker serves); GSSAPI and OAUTHBEARER are not offered
 * between brokers.
 */
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import {
  ApiKey,
  ErrorCode,
  Reader,
  Writer,
  apiSpecByKey,
  decodeResponseHeader,
  encodeRequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
  type ApiMessages,
} from '@tributary/protocol';
import type { BrokerConfig } from '../config/broker-config.js';
import type { SecurityProtocol } from '../config/listeners.js';
import type { BrokerEndpoint, MetadataStore } from '../metadata/metadata-store.js';
import { listenerConfigLookup } from './listener-security.js';
import { listenerTlsProtocolOptions, loadTlsMaterial } from './tls.js';
import { framePool } from './frame-pool.js';
import { FrameDecoder, FrameError } from './frame-decoder.js';
import { CLIENT_SASL_MECHANISMS, createSaslClient } from './sasl/sasl-client.js';
import { parseJaasConfig, SaslConfigError } from './sasl/sasl-config.js';

/**
 * Largest response frame accepted: a Fetch answer is bounded by replica.fetch.response.max.bytes
 * plus one batch of up to message.max.bytes per partition (KIP-74); a frame above this is a
 * broken or hostile peer, and the connection is closed.
 */
export const MAX_RESPONSE_FRAME_BYTES = 256 * 1024 * 1024;

/**
 * Plaintext connections to other brokers read into this one buffer (Node's `onread`), as
 * the listeners' sockets do (shared-read-buffer.ts): by default every socket read is a new
 * 64 KiB ArrayBuffer plus a copy, and a follower receives every replicated byte this way
 * (in a CPU profile of an RF=3 follower, 15% of its time was the garbage collector). Reads
 * run on the event-loop thread one at a time and each callback frames (copies) what it
 * keeps before returning, so one buffer serves every connection. TLS sockets read as before.
 */
/**
 * 256 KiB rather than the listeners' 64 KiB: a follower's Fetch responses carry 100-400 KB
 * at steady state, and 64 KiB reads were 16 read syscalls per replicated MB per follower.
 */
const SHARED_READ_BYTES = 256 * 1024;
const sharedReads = Buffer.allocUnsafeSlow(SHARED_READ_BYTES);

/**
 * A response frame that one read did not bring whole is read on straight into its own
 * buffer (FrameDecoder's inPlaceTarget), not copied out of `sharedReads`: a follower
 * catching up (responses up to replica.fetch.response.max.bytes) then copies only each
 * frame's first read. Each frame still starts with a read into the shared buffer: reading
 * its size prefix alone first would avoid that copy too, but costs two more read syscalls
 * per response (the prefix, and the empty read libuv makes after a read that fills its
 * buffer), and at 10 responses per MB that measured worse than the copy. For the same
 * reason an in-place read gets up to this many bytes of the pool buffer's spare room past
 * the frame: a read that brings just the rest of the frame then does not fill its buffer,
 * and libuv does not read again until the socket is readable.
 */
const IN_PLACE_SLACK_BYTES = 4;

/** Kafka's socket.connection.setup.timeout.ms default: TCP, TLS and SASL must be done within it. */
export const CONNECTION_SETUP_TIMEOUT_MS = 10_000;

/** SaslHandshake v1: the mechanism list, then SaslAuthenticate frames (v0 sends raw tokens). */
const SASL_HANDSHAKE_VERSION = 1;
/** SaslAuthenticate v2 (flexible); v1+ answers the session lifetime (KIP-368). */
const SASL_AUTHENTICATE_VERSION = 2;

/**
 * Re-authenticate when this share of the session lifetime has passed, as Kafka's client
 * (85-95%, randomised there so many connections do not re-authenticate at once).
 */
const REAUTH_AT_FRACTION = 0.85;

export interface InterBrokerSecurity {
  readonly listenerName: string;
  readonly securityProtocol: SecurityProtocol;
  /** SSL and SASL_SSL: node:tls client options (without host and port). */
  readonly tls?: ConnectionOptions;
  /** SASL_PLAINTEXT and SASL_SSL. */
  readonly sasl?: { readonly mechanism: string; readonly username: string; readonly password: string };
}

/**
 * The inter-broker listener and what speaking its protocol takes, from this broker's
 * config. Throws SaslConfigError or TlsConfigError on settings that cannot work (the
 * broker calls this at start-up so they stop it with a clear message).
 */
export function interBrokerSecurity(config: BrokerConfig): InterBrokerSecurity {
  const listeners = config.listeners();
  const name = interBrokerListenerName(config);
  const spec = listeners.find((l) => l.name === name);
  if (name === undefined || spec === undefined) throw new SaslConfigError(`inter.broker.listener.name ${JSON.stringify(name)} is not one of this broker's listeners`);
  const lookup = listenerConfigLookup(config, spec.name);
  const protocol = spec.securityProtocol;
  let tls: ConnectionOptions | undefined;
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    const material = loadTlsMaterial(spec.name, lookup);
    const identification = (lookup('ssl.endpoint.identification.algorithm') ?? 'https').trim().toLowerCase();
    tls = {
      key: material.key,
      cert: material.cert,
      ...(material.ca !== undefined ? { ca: material.ca } : {}),
      ...(material.passphrase !== undefined ? { passphrase: material.passphrase } : {}),
      // The listener's ssl.enabled.protocols and ssl.cipher.suites, as Kafka's inter-broker client uses them.
      ...listenerTlsProtocolOptions(spec.name, lookup),
      rejectUnauthorized: true,
      // Kafka's empty ssl.endpoint.identification.algorithm: the chain is still verified, the host name is not.
      ...(identification === '' ? { checkServerIdentity: () => undefined } : {}),
    };
  }
  let sasl: InterBrokerSecurity['sasl'];
  if (protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL') {
    const key = 'sasl.mechanism.inter.broker.protocol';
    const mechanism = (configText(config.get(key)) ?? 'GSSAPI').trim().toUpperCase();
    if (!(CLIENT_SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
      throw new SaslConfigError(`${key} is ${mechanism}${config.isSet(key) ? '' : ' (Kafka\'s default)'}; brokers authenticate to each other with one of ${CLIENT_SASL_MECHANISMS.join(', ')} here: set ${key}`);
    }
    const enabled = (lookup('sasl.enabled.mechanisms') ?? '').split(',').map((s) => s.trim().toUpperCase());
    if (!enabled.includes(mechanism)) {
      throw new SaslConfigError(`${key}=${mechanism} must be included in sasl.enabled.mechanisms of the inter-broker listener ${spec.name} when SASL is used for inter-broker communication`);
    }
    const jaasKey = `listener.name.${spec.name.toLowerCase()}.${mechanism.toLowerCase()}.sasl.jaas.config`;
    const text = lookup(`${mechanism.toLowerCase()}.sasl.jaas.config`);
    const options = text === null ? undefined : parseJaasConfig(text, jaasKey).options;
    const username = options?.get('username');
    const password = options?.get('password');
    if (username === undefined || password === undefined) {
      throw new SaslConfigError(`The inter-broker listener ${spec.name} uses SASL ${mechanism} but ${jaasKey} names no username and password for the broker's own login (e.g. ... required username="broker" password="...";)`);
    }
    sasl = { mechanism, username, password };
  }
  return { listenerName: spec.name, securityProtocol: protocol, ...(tls !== undefined ? { tls } : {}), ...(sasl !== undefined ? { sasl } : {}) };
}

/**
 * `inter.broker.listener.name`; unset, Kafka's default: the listener named after
 * `security.inter.broker.protocol` (PLAINTEXT unless set), and when there is none this
 * broker's first listener (Kafka refuses to start instead; a single broker with only a
 * SASL_SSL listener is allowed here, since it never connects to another).
 */
export function interBrokerListenerName(config: BrokerConfig): string | undefined {
  const listeners = config.listeners();
  const named = config.string('inter.broker.listener.name');
  if (named !== null && named !== undefined) return named.toUpperCase();
  const protocol = (configText(config.get('security.inter.broker.protocol')) ?? 'PLAINTEXT').trim().toUpperCase();
  return (listeners.find((l) => l.name === protocol) ?? listeners[0])?.name;
}

/**
 * Whether the operator configured inter-broker security (then settings that cannot work
 * stop the broker at start-up); otherwise they fail only the connections that need them,
 * so a single broker with a SASL listener first and no inter-broker keys still starts.
 */
export function interBrokerSecurityConfigured(config: BrokerConfig): boolean {
  return config.isSet('inter.broker.listener.name') || config.isSet('sasl.mechanism.inter.broker.protocol') || config.isSet('security.inter.broker.protocol');
}

function configText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return Array.isArray(value) ? value.join(',') : String(value);
}

export interface ConnectToBrokerOptions {
  /** This broker's config (the listener and its security settings). */
  readonly config: BrokerConfig;
  /** Precomputed `interBrokerSecurity(config)`; computed from `config` when absent. */
  readonly security?: InterBrokerSecurity;
  /** The request header's client id, e.g. `broker-1-fetcher`. */
  readonly clientId: string;
  /** Bound on TCP connect, TLS handshake and SASL together. */
  readonly setupTimeoutMs?: number;
}

/** The peer endpoint on the inter-broker listener; throws when the peer has none. */
export function interBrokerEndpoint(target: { readonly nodeId: number; readonly endpoints: readonly BrokerEndpoint[] }, listenerName: string): BrokerEndpoint {
  const endpoint = target.endpoints.find((e) => e.listener.toUpperCase() === listenerName);
  if (endpoint === undefined) {
    throw new Error(`broker ${target.nodeId} has no endpoint for the inter-broker listener ${listenerName} (it has ${target.endpoints.map((e) => e.listener).join(', ') || 'none'})`);
  }
  return endpoint;
}

/**
 * Opens an authenticated connection to another broker on the inter-broker listener. Fails
 * (rejects) when the peer cannot be reached, the TLS handshake or SASL exchange fails, or
 * it all takes longer than `setupTimeoutMs`.
 */
export async function connectToBroker(
  target: { readonly nodeId: number; readonly endpoints: readonly BrokerEndpoint[] },
  options: ConnectToBrokerOptions,
): Promise<BrokerConnection> {
  const security = options.security ?? interBrokerSecurity(options.config);
  const endpoint = interBrokerEndpoint(target, security.listenerName);
  const setupTimeoutMs = options.setupTimeoutMs ?? CONNECTION_SETUP_TIMEOUT_MS;
  const { socket, setReader } = await openSocket(endpoint, security, setupTimeoutMs);
  const connection = new BrokerConnection(socket, options.clientId, target.nodeId, security, setReader);
  if (security.sasl !== undefined) {
    const timer = setTimeout(() => connection.close(new Error(`SASL authentication to broker ${target.nodeId} took more than ${setupTimeoutMs} ms`)), setupTimeoutMs);
    try {
      await connection.authenticate();
    } catch (err) {
      connection.close(err instanceof Error ? err : new Error(String(err)));
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
  return connection;
}

/** Where a plaintext socket's reads go (Node's `onread`). */
interface SocketReader {
  /** `bytes` were read into `buf`: the buffer `nextBuffer` returned before the read. */
  read(bytes: number, buf: Uint8Array): void;
  /** The buffer the next read goes into. */
  nextBuffer(): Uint8Array;
}

/** Where a socket opened with shared reads delivers them; undefined: it emits 'data' as usual. */
type SetReader = ((reader: SocketReader) => void) | undefined;

function openSocket(endpoint: BrokerEndpoint, security: InterBrokerSecurity, timeoutMs: number): Promise<{ socket: Socket; setReader: SetReader }> {
  return new Promise((resolve, reject) => {
    const where = `${endpoint.host}:${endpoint.port} (listener ${security.listenerName}, ${security.securityProtocol})`;
    // Nothing is read before the connection sets its reader: the peer answers requests only.
    let reader: SocketReader | undefined;
    const setReader: SetReader = security.tls !== undefined ? undefined : (r) => { reader = r; };
    // `buffer` as a function: Node asks it for the buffer of each next read (after each read's callback).
    const socket: Socket = security.tls !== undefined
      ? connectTls({ ...security.tls, host: endpoint.host, port: endpoint.port, ...(isIP(endpoint.host) === 0 ? { servername: endpoint.host } : {}) })
      : connectTcp({ host: endpoint.host, port: endpoint.port, onread: {
          buffer: () => (reader === undefined ? sharedReads : reader.nextBuffer()),
          callback: (bytes: number, buf: Uint8Array) => {
            reader?.read(bytes, buf);
            return true;
          },
        } });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connecting to ${where} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(`connecting to ${where} failed: ${err.message}`, { cause: err }));
    };
    socket.once('error', onError);
    socket.once(security.tls !== undefined ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      // Until the BrokerConnection listens (a microtask later), an error must not go
      // unhandled: that would throw out of the event loop and stop the broker.
      socket.on('error', ignoreError);
      resolve({ socket, setReader });
    });
  });
}

function ignoreError(): void {}

interface Pending {
  readonly correlationId: number;
  readonly resolve: (frame: Buffer) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** One connection to another broker. */
export class BrokerConnection {
  /** Response bytes received and not yet a whole frame: kept as chunks, joined once per frame. */
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private readonly pending: Pending[] = [];
  private nextCorrelationId = 1;
  private failure: Error | undefined;
  /** When the SASL session must be renewed (KIP-368), Date.now() ms; undefined: never. */
  private reauthAtMs: number | undefined;
  private reauthenticating: Promise<void> | undefined;
  private readonly closeListeners: ((err: Error) => void)[] = [];
  /** Woken when no request is in flight (or the connection closes). */
  private idleWaiters: (() => void)[] = [];
  /** Frames the reads of a plaintext socket (setReader) into pool memory; unused with 'data' events. */
  private decoder: FrameDecoder | undefined;
  /** The frame remainder (with slack) the pending read goes into (nextReadBuffer), null when it goes elsewhere. */
  private inPlace: Buffer | null = null;
  /** Bytes of `inPlace` that belong to the frame; any read past them is the next frame's start. */
  private inPlaceFrameBytes = 0;
  /** Bytes read anywhere but in place, and copied from there (tests). */
  sharedReadBytes = 0;

  constructor(
    private readonly socket: Socket,
    private readonly clientId: string,
    readonly nodeId: number,
    private readonly security: InterBrokerSecurity,
    setReader?: SetReader,
  ) {
    if (setReader !== undefined) {
      const decoder = new FrameDecoder(MAX_RESPONSE_FRAME_BYTES, (size) => framePool.take(size));
      decoder.limitName = 'the inter-broker response limit';
      this.decoder = decoder;
      setReader({ read: (bytes, buf) => this.onRead(bytes, buf), nextBuffer: () => this.nextReadBuffer() });
    } else {
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
    }
    socket.on('close', () => this.close(new Error(`connection to broker ${nodeId} closed`)));
    socket.on('error', (err) => this.close(err));
    socket.removeListener('error', ignoreError);
    if (socket.destroyed) this.close(new Error(`connection to broker ${nodeId} closed while it was being set up`));
  }

  get isClosed(): boolean {
    return this.failure !== undefined;
  }

  /** Called once, with the reason, when the connection closes for any reason. */
  onClose(listener: (err: Error) => void): void {
    if (this.failure !== undefined) listener(this.failure);
    else this.closeListeners.push(listener);
  }

  /**
   * Sends one request and resolves with its decoded response. `timeoutMs` bounds the wait
   * for the answer (a Fetch's max wait plus replica.socket.timeout.ms); past it the
   * connection is closed, as Kafka's NetworkClient disconnects on a request timeout.
   */
  async request<K extends keyof ApiMessages>(api: K, version: number, body: ApiMessages[K]['request'], timeoutMs: number, onFrame?: (frame: Buffer) => void): Promise<ApiMessages[K]['response']> {
    if (this.reauthAtMs !== undefined && Date.now() >= this.reauthAtMs) {
      this.reauthenticating ??= this.reauthenticate().finally(() => { this.reauthenticating = undefined; });
    }
    if (this.reauthenticating !== undefined) await this.reauthenticating;
    return this.send(api, version, body, timeoutMs, onFrame);
  }

  /**
   * `onFrame` receives the response frame the decoded response views (records are slices of
   * it): a caller done with every view may give it back with framePool.give (the follower
   * fetcher, once its append is written). Frames the pool did not make are ignored there.
   */
  private send<K extends keyof ApiMessages>(api: K, version: number, body: ApiMessages[K]['request'], timeoutMs: number, onFrame?: (frame: Buffer) => void): Promise<ApiMessages[K]['response']> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const apiKey = ApiKey[api];
    const spec = apiSpecByKey(apiKey);
    if (spec === undefined) return Promise.reject(new Error(`no codec for API ${api}`));
    const correlationId = this.nextCorrelationId++;
    const w = new Writer();
    const slot = w.reserveInt32();
    encodeRequestHeader(w, requestHeaderVersion(apiKey, version), { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: this.clientId });
    spec.encodeRequest(w, version, body);
    w.endSizePrefix(slot);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => this.close(new Error(`${api} v${version} to broker ${this.nodeId} unanswered after ${timeoutMs} ms`)), timeoutMs);
      this.pending.push({ correlationId, resolve, reject, timer });
      this.socket.write(w.finish());
    }).then((frame) => {
      const r = new Reader(frame);
      const header = decodeResponseHeader(r, responseHeaderVersion(apiKey, version));
      if (header.correlationId !== correlationId) throw new Error(`expected correlation id ${correlationId}, got ${header.correlationId}`);
      const response = spec.decodeResponse(r, version) as ApiMessages[K]['response'];
      onFrame?.(frame);
      return response;
    }).catch((err: unknown) => {
      // A response that does not parse leaves the stream in an unknown state: close it.
      const error = err instanceof Error ? err : new Error(String(err));
      this.close(error);
      throw error;
    });
  }

  /** The SASL exchange (connectToBroker runs it once; request() again before the session ends). */
  async authenticate(): Promise<void> {
    const sasl = this.security.sasl;
    if (sasl === undefined) return;
    const timeoutMs = CONNECTION_SETUP_TIMEOUT_MS;
    const handshake = await this.send('SaslHandshake', SASL_HANDSHAKE_VERSION, { mechanism: sasl.mechanism }, timeoutMs);
    if (handshake.errorCode !== ErrorCode.NONE) {
      throw new Error(`broker ${this.nodeId} refused SASL mechanism ${sasl.mechanism} (error ${handshake.errorCode}; it enables ${handshake.mechanisms.join(', ')})`);
    }
    const client = createSaslClient(sasl.mechanism, sasl.username, sasl.password);
    let token: Buffer | null = client.first();
    let lifetimeMs = 0;
    while (token !== null) {
      const answer = await this.send('SaslAuthenticate', SASL_AUTHENTICATE_VERSION, { authBytes: token }, timeoutMs);
      if (answer.errorCode !== ErrorCode.NONE) {
        throw new Error(`broker ${this.nodeId} refused SASL ${sasl.mechanism} authentication of ${JSON.stringify(sasl.username)}: ${answer.errorMessage ?? `error ${answer.errorCode}`}`);
      }
      lifetimeMs = Number(answer.sessionLifetimeMs ?? 0);
      token = client.next(answer.authBytes);
      // PLAIN completes on the first answer; SCRAM on the server's final message.
    }
    this.reauthAtMs = lifetimeMs > 0 ? Date.now() + Math.floor(lifetimeMs * REAUTH_AT_FRACTION) : undefined;
  }

  /** KIP-368: renew the session between requests (the ones in flight are answered first). */
  private async reauthenticate(): Promise<void> {
    while (this.pending.length > 0 && this.failure === undefined) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.reauthAtMs = undefined;
    try {
      await this.authenticate();
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.close(error);
      throw error;
    }
  }

  /**
   * Where the next read goes: the rest of the frame being assembled, plus what spare room
   * its pool buffer has up to IN_PLACE_SLACK_BYTES (no copy), else the shared buffer
   * (between frames, or a frame too large for the pool, gathered in parts).
   */
  private nextReadBuffer(): Uint8Array {
    const target = this.failure === undefined ? this.decoder!.inPlaceTarget() : null;
    if (target === null) {
      this.inPlace = null;
      return sharedReads;
    }
    // Only a pool buffer's own spare room: past any other frame may lie memory in use.
    const room = framePool.spareBytesAfter(target);
    this.inPlaceFrameBytes = target.length;
    this.inPlace = room <= 0 ? target : Buffer.from(target.buffer, target.byteOffset, target.length + Math.min(room, IN_PLACE_SLACK_BYTES));
    return this.inPlace;
  }

  /** A read into the frame itself, or into a shared buffer (valid only during this call: the decoder copies what it keeps). */
  private onRead(bytes: number, buf: Uint8Array): void {
    if (this.failure !== undefined) return;
    const decoder = this.decoder!;
    if (buf === this.inPlace) {
      const inPlace = this.inPlace;
      this.inPlace = null;
      const own = Math.min(bytes, this.inPlaceFrameBytes);
      decoder.filledInPlace(own);
      // Past the frame, in the slack: the next frame's first bytes (copied by the decoder now).
      if (bytes > own) {
        this.sharedReadBytes += bytes - own;
        decoder.push(inPlace.subarray(own, bytes), true);
      }
    } else {
      this.sharedReadBytes += bytes;
      decoder.push(Buffer.from(buf.buffer, buf.byteOffset, bytes), true);
    }
    for (let frame = decoder.next(); frame !== null && this.failure === undefined; frame = decoder.next()) {
      if (frame instanceof FrameError) {
        this.close(new Error(`broker ${this.nodeId} sent a response frame of a size refused: ${frame.message}`));
        return;
      }
      this.deliver(frame);
    }
  }

  /** Hands a response frame to the oldest request; false (the connection closed) if there is none. */
  private deliver(frame: Buffer): boolean {
    const pending = this.pending.shift();
    if (pending === undefined) {
      this.close(new Error(`broker ${this.nodeId} sent a response without a request`));
      return false;
    }
    clearTimeout(pending.timer);
    pending.resolve(frame);
    if (this.pending.length === 0) this.wakeIdle();
    return true;
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    while (this.bufferedBytes >= 4) {
      if (this.chunks[0]!.length < 4) this.join();
      const size = this.chunks[0]!.readInt32BE(0);
      if (size < 0 || size > MAX_RESPONSE_FRAME_BYTES) {
        this.close(new Error(`broker ${this.nodeId} sent a response frame of ${size} bytes (at most ${MAX_RESPONSE_FRAME_BYTES})`));
        return;
      }
      if (this.bufferedBytes < 4 + size) return;
      let frame: Buffer;
      if (this.chunks[0]!.length < 4 + size) {
        frame = this.takeFrame(size);
      } else {
        const head = this.chunks[0]!;
        frame = head.subarray(4, 4 + size);
        if (head.length === 4 + size) this.chunks.shift();
        else this.chunks[0] = head.subarray(4 + size);
        this.bufferedBytes -= 4 + size;
      }
      if (!this.deliver(frame)) return;
    }
  }

  private wakeIdle(): void {
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /**
   * Copies a frame spanning several chunks (its size prefix at the front of the first) into
   * memory of its own from the frame pool, once, and keeps what follows it. Pool memory
   * rather than a fresh Buffer.concat: a follower receives every replicated byte this way,
   * and fresh ~100 KB buffers per response were garbage for V8 to collect (the replica
   * fetcher gives the frame back once its append is written).
   */
  private takeFrame(size: number): Buffer {
    const frame = framePool.take(size);
    let skip = 4;
    let filled = 0;
    while (filled < size) {
      const chunk = this.chunks[0]!;
      const n = Math.min(chunk.length - skip, size - filled);
      chunk.copy(frame, filled, skip, skip + n);
      filled += n;
      if (skip + n === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(skip + n);
      skip = 0;
    }
    this.bufferedBytes -= 4 + size;
    return frame;
  }

  private join(): void {
    this.chunks = [Buffer.concat(this.chunks, this.bufferedBytes)];
  }

  /** Closes the connection (idempotent); every request on it fails with `reason`. */
  close(reason: Error = new Error(`connection to broker ${this.nodeId} closed by this broker`)): void {
    if (this.failure !== undefined) return;
    this.failure = reason;
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(reason);
    }
    this.socket.destroy();
    this.wakeIdle();
    for (const listener of this.closeListeners.splice(0)) listener(reason);
  }
}

export type InterBrokerApi = keyof ApiMessages & keyof typeof ApiKey;

export interface InterBrokerClientConfig {
  readonly nodeId: number;
  readonly metadata: MetadataStore;
  /** This broker's config: the inter-broker listener and its security settings. */
  readonly config: BrokerConfig;
  /** Names the requests' sender in the destination's logs, as Kafka's `broker-N-...` client ids. */
  readonly clientName: string;
}

/**
 * Connections to every other broker for requests other than follower fetches (Kafka's
 * NodeToNodeChannelManager, as the transaction marker channel and the AddPartitionsToTxn
 * manager use it): one per destination, opened with `connectToBroker` on first use and
 * replaced after a failure; callers retry by their own rules.
 */
export class InterBrokerClient {
  private readonly connections = new Map<number, Promise<BrokerConnection>>();
  /**
   * Worked out on the first connection, not at construction: a single broker whose first
   * listener is SASL with no inter-broker mechanism set never talks to another broker, and
   * must start (as the fetcher, settings that cannot work fail the connections, not the start).
   */
  private security: InterBrokerSecurity | undefined;
  private closed = false;

  constructor(private readonly options: InterBrokerClientConfig) {}

  async request<K extends InterBrokerApi>(brokerId: number, api: K, version: number, body: ApiMessages[K]['request'], timeoutMs: number): Promise<ApiMessages[K]['response']> {
    const connection = await this.connection(brokerId);
    return connection.request(api, version, body, timeoutMs);
  }

  private connection(brokerId: number): Promise<BrokerConnection> {
    if (this.closed) return Promise.reject(new Error('inter-broker client closed'));
    const existing = this.connections.get(brokerId);
    if (existing !== undefined) return existing.then((c) => (c.isClosed ? this.reopen(brokerId, existing) : c));
    return this.reopen(brokerId, undefined);
  }

  private reopen(brokerId: number, previous: Promise<BrokerConnection> | undefined): Promise<BrokerConnection> {
    const current = this.connections.get(brokerId);
    // Another request already replaced the failed connection.
    if (current !== undefined && current !== previous) return current;
    const target = this.options.metadata.brokers().find((b) => b.nodeId === brokerId);
    if (target === undefined) return Promise.reject(new Error(`broker ${brokerId} is not registered`));
    let opening: Promise<BrokerConnection>;
    try {
      this.security ??= interBrokerSecurity(this.options.config);
      opening = connectToBroker(target, { config: this.options.config, security: this.security, clientId: `broker-${this.options.nodeId}-${this.options.clientName}` });
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.connections.set(brokerId, opening);
    opening.then(
      (c) => {
        if (this.closed) c.close();
      },
      () => {
        if (this.connections.get(brokerId) === opening) this.connections.delete(brokerId);
      },
    );
    return opening;
  }

  close(): void {
    this.closed = true;
    for (const c of this.connections.values()) c.then((conn) => conn.close(), () => {});
    this.connections.clear();
  }
}

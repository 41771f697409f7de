/**
 * The broker's TCP side (Kafka's SocketServer): one net.Server per listener, connection
 * quotas, and one Connection per accepted socket.
 *
 * Quotas (checked at accept, like Kafka's ConnectionQuotas):
 * - `max.connections.per.ip` (with `max.connections.per.ip.overrides`): the excess
 *   connection is closed at once with a logged reason, as Kafka does.
 * - Connection creation rates (quota/connection-quotas.ts), checked first: over the
 *   per-IP `connection_creation_rate` quota the connection is closed after the throttle
 *   time; over `max.connection.creation.rate` (broker or listener) it is served after it.
 * - `max.connections`: Kafka blocks its acceptor until a slot frees; Tributary closes the
 *   excess connection with a logged reason instead, which a client sees as a disconnect
 *   and retries (same outcome, no stalled listener thread to reason about).
 *
 * Memory (memory-budget.ts): one request budget (`queued.max.request.bytes`) and one
 * response budget (`queued.max.response.bytes`) for the whole broker, and a response
 * budget per connection (`connection.max.queued.response.bytes`).
 *
 * Listeners with port 0 bind an ephemeral port; `boundListeners` reports the real ports,
 * which the broker advertises.
 *
 * Security protocols (listener-security.ts builds what each listener needs): PLAINTEXT
 * sockets read into the shared read buffer; SSL and SASL_SSL sockets are wrapped in TLS
 * (tls.ts), which decrypts into a shared buffer of its own (readIntoSharedBuffer); SASL
 * listeners give each connection a SaslServerAuthenticator, which sees its frames before
 * the dispatcher. The frame decoder, ordering and byte budgets are the same for all four.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { ListenerSpec } from '../config/listeners.js';
import type { Logger } from '../logger.js';
import { Connection } from './connection.js';
import type { ConnectionInfo, RequestProcessor } from './request-processor.js';
import { adoptAccepted } from './shared-read-buffer.js';
import { ConnectionResponseMemory, MemoryPool } from './memory-budget.js';
import type { ListenerSecurity } from './listener-security.js';
import { SaslServerAuthenticator } from './sasl/sasl-authenticator.js';
import type { ConnectionQuotas } from '../quota/connection-quotas.js';

export interface SocketServerOptions {
  readonly listeners: readonly ListenerSpec[];
  readonly processor: RequestProcessor;
  readonly logger: Logger;
  readonly maxFrameBytes: number;
  readonly maxInflightRequests: number;
  /** `queued.max.request.bytes`; 0 or less is unbounded. */
  readonly queuedMaxRequestBytes?: number;
  /** `queued.max.response.bytes`; 0 or less is unbounded. */
  readonly queuedMaxResponseBytes?: number;
  /** `connection.max.queued.response.bytes`; 0 or less is unbounded. */
  readonly connectionMaxQueuedResponseBytes?: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  /** IP (or host name) -> limit, from max.connections.per.ip.overrides. */
  readonly maxConnectionsPerIpOverrides?: ReadonlyMap<string, number>;
  /** Connection creation rate limits; absent = unlimited. */
  readonly connectionQuotas?: ConnectionQuotas;
  /** TLS and SASL settings by listener name; needed for every non-PLAINTEXT listener. */
  readonly security?: ReadonlyMap<string, ListenerSecurity>;
}

export interface BoundListener {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly securityProtocol: string;
}

export class SocketServerError extends Error {
  readonly code: 'TRIB_ERR_LISTENER';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SocketServerError';
    this.code = 'TRIB_ERR_LISTENER';
  }
}

/** Parses `max.connections.per.ip.overrides` ("host:count,host:count"). */
export function parseConnectionOverrides(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const entry of text.split(',').map((e) => e.trim()).filter((e) => e !== '')) {
    const colon = entry.lastIndexOf(':');
    const count = Number(entry.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(count) || count < 0) {
      throw new SocketServerError(`Invalid max.connections.per.ip.overrides entry ${JSON.stringify(entry)}: expected host:count`);
    }
    map.set(entry.slice(0, colon).trim(), count);
  }
  return map;
}

export class SocketServer {
  private readonly servers: Server[] = [];
  private readonly connections = new Set<Connection>();
  private readonly perIp = new Map<string, number>();
  private bound: BoundListener[] = [];
  private nextConnectionId = 0;
  private stopped = false;
  /** Sockets held back by a connection creation rate, destroyed on stop(). */
  private readonly held = new Map<Socket, NodeJS.Timeout>();
  readonly requestMemory: MemoryPool;
  readonly responseMemory: MemoryPool;

  constructor(private readonly options: SocketServerOptions) {
    this.requestMemory = new MemoryPool(options.queuedMaxRequestBytes ?? -1);
    this.responseMemory = new MemoryPool(options.queuedMaxResponseBytes ?? -1);
  }

  get boundListeners(): readonly BoundListener[] {
    return this.bound;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Binds every listener; on failure closes the ones already bound and rejects. */
  async start(): Promise<readonly BoundListener[]> {
    for (const spec of this.options.listeners) {
      const security = this.options.security?.get(spec.name);
      const needsTls = spec.securityProtocol === 'SSL' || spec.securityProtocol === 'SASL_SSL';
      const needsSasl = spec.securityProtocol === 'SASL_PLAINTEXT' || spec.securityProtocol === 'SASL_SSL';
      if ((needsTls && security?.tls === undefined) || (needsSasl && security?.sasl === undefined)) {
        await this.stop();
        throw new SocketServerError(`Listener ${spec.name} uses ${spec.securityProtocol} but has no ${needsTls && security?.tls === undefined ? 'TLS' : 'SASL'} settings`);
      }
      try {
        this.bound.push(await this.listen(spec));
      } catch (err) {
        await this.stop();
        const where = `${spec.host === '' ? '0.0.0.0' : spec.host}:${spec.port}`;
        throw new SocketServerError(`Cannot bind listener ${spec.name} to ${where}: ${(err as Error).message}`, { cause: err });
      }
    }
    return this.bound;
  }

  private listen(spec: ListenerSpec): Promise<BoundListener> {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.throttleThenAccept(spec, socket));
      server.once('error', reject);
      const host = spec.host === '' ? undefined : spec.host;
      server.listen({ host, port: spec.port, backlog: 511 }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.options.logger.error('Listener error', { listener: spec.name, err }));
        this.servers.push(server);
        const address = server.address();
        const port = typeof address === 'object' && address !== null ? address.port : spec.port;
        this.options.logger.info('Listening', { listener: spec.name, host: spec.host, port });
        resolve({ name: spec.name, host: spec.host, port, securityProtocol: spec.securityProtocol });
      });
    });
  }

  /** Applies the connection creation rates (the socket stays paused while held). */
  private throttleThenAccept(spec: ListenerSpec, accepted: Socket): void {
    const quotas = this.options.connectionQuotas;
    if (quotas === undefined || this.stopped) {
      this.accept(spec, accepted);
      return;
    }
    const ip = normaliseIp(accepted.remoteAddress ?? 'unknown');
    const verdict = quotas.onAccept(spec.name, ip, Date.now());
    if (verdict.type === 'accept') {
      this.accept(spec, accepted);
      return;
    }
    accepted.on('error', () => {});
    const reject = verdict.type === 'reject';
    if (reject) this.options.logger.warn('Throttled connection: connection_creation_rate quota of the IP exceeded; closing it after the throttle time', { remote: ip, listener: spec.name, throttleMs: verdict.delayMs });
    else this.options.logger.info('Delayed connection: connection creation rate exceeded', { remote: ip, listener: spec.name, limit: verdict.limit, delayMs: verdict.delayMs });
    const timer = setTimeout(() => {
      this.held.delete(accepted);
      if (reject || this.stopped) accepted.destroy();
      else this.accept(spec, accepted);
    }, verdict.delayMs);
    this.held.set(accepted, timer);
  }

  private accept(spec: ListenerSpec, accepted: Socket): void {
    const ip = normaliseIp(accepted.remoteAddress ?? 'unknown');
    const logger = this.options.logger;
    if (this.stopped) {
      accepted.destroy();
      return;
    }
    const ipLimit = this.options.maxConnectionsPerIpOverrides?.get(ip) ?? this.options.maxConnectionsPerIp;
    const ipCount = this.perIp.get(ip) ?? 0;
    if (ipCount >= ipLimit) {
      logger.warn('Rejected connection: max.connections.per.ip reached', { remote: ip, listener: spec.name, limit: ipLimit });
      accepted.destroy();
      return;
    }
    if (this.connections.size >= this.options.maxConnections) {
      logger.warn('Rejected connection: max.connections reached', { remote: ip, listener: spec.name, limit: this.options.maxConnections });
      accepted.destroy();
      return;
    }
    const security = this.options.security?.get(spec.name);
    const tlsListener = spec.securityProtocol === 'SSL' || spec.securityProtocol === 'SASL_SSL' ? security?.tls : undefined;
    const saslConfig = spec.securityProtocol === 'SASL_PLAINTEXT' || spec.securityProtocol === 'SASL_SSL' ? security?.sasl : undefined;
    let principalFromTls: ((principal: string) => void) | undefined;
    const adopted = tlsListener === undefined
      ? adoptAccepted(accepted)
      : tlsListener.adopt(accepted, ip, (principal) => principalFromTls?.(principal));
    const socket = adopted.socket;
    const info: ConnectionInfo = {
      id: `${spec.name}-${this.nextConnectionId++}`,
      listenerName: spec.name,
      securityProtocol: spec.securityProtocol,
      remoteAddress: ip,
      remotePort: socket.remotePort ?? 0,
      localAddress: normaliseIp(socket.localAddress ?? ''),
      localPort: socket.localPort ?? 0,
      clientSoftwareName: undefined,
      clientSoftwareVersion: undefined,
      principal: 'User:ANONYMOUS',
      ...(saslConfig !== undefined ? { authenticator: new SaslServerAuthenticator(saslConfig, logger) } : {}),
      responseMemory: new ConnectionResponseMemory(this.responseMemory, this.options.connectionMaxQueuedResponseBytes ?? -1),
    };
    const connection = new Connection(adopted, info, {
      maxFrameBytes: this.options.maxFrameBytes,
      maxInflightRequests: this.options.maxInflightRequests,
      requestMemory: this.requestMemory,
      idleTimeoutMs: this.options.idleTimeoutMs,
      processor: this.options.processor,
      logger,
    });
    // The certificate's principal; on SASL_SSL the SASL identity replaces it once authenticated.
    principalFromTls = (principal) => {
      logger.debug('TLS handshake complete', { connection: info.id, principal });
      if (info.authenticator === undefined) info.principal = principal;
    };
    this.connections.add(connection);
    this.perIp.set(ip, ipCount + 1);
    connection.onClose(() => {
      this.connections.delete(connection);
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
    });
    logger.debug('Accepted connection', { connection: info.id, remote: `${ip}:${info.remotePort}` });
  }

  /** Stops accepting, closes every connection and waits for the listeners to close. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const [socket, timer] of this.held) {
      clearTimeout(timer);
      socket.destroy();
    }
    this.held.clear();
    const closing = this.servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    for (const connection of [...this.connections]) connection.close('broker shutting down', 'debug');
    await Promise.all(closing);
  }
}

/** `::ffff:127.0.0.1` (IPv4 on a dual-stack socket) counts as 127.0.0.1 for quotas and logs. */
function normaliseIp(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

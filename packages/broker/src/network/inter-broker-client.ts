/**
 * Broker-to-broker requests other than follower fetches (Kafka's NodeToNodeChannelManager /
 * InterBrokerSendThread, as the transaction marker channel and the AddPartitionsToTxn
 * manager use them): one connection per destination broker, opened on first use to its
 * inter-broker endpoint (inter.broker.listener.name, else the first endpoint it registered,
 * as replica/replica-fetcher.ts picks it), requests pipelined and matched by correlation id.
 * A connection that fails or times out a request is closed, every request on it fails, and
 * the next request opens a new one; callers retry by their own rules.
 *
 * `openInterBrokerConnection` is the one place a socket is created, so that TLS/SASL
 * inter-broker listeners (served for the fetcher by another branch) can be plugged in here.
 *
 * Difference from Kafka: PLAINTEXT inter-broker listeners only (as the fetcher today).
 */
import { connect, type Socket } from 'node:net';
import {
  ApiKey,
  Reader,
  Writer,
  apiSpecByKey,
  decodeResponseHeader,
  encodeRequestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
  type ApiMessages,
} from '@tributary/protocol';
import type { BrokerEndpoint, MetadataStore } from '../metadata/metadata-store.js';

export type InterBrokerApi = keyof ApiMessages & keyof typeof ApiKey;

/**
 * Largest response frame accepted: the answers sent here (markers, verifications) are small,
 * so anything near this is a broken or hostile peer and the connection is closed.
 */
const MAX_RESPONSE_FRAME_BYTES = 64 * 1024 * 1024;

/** Kafka's socket.connection.setup.timeout.ms default (10 s). */
const CONNECT_TIMEOUT_MS = 10_000;

/** The inter-broker endpoint of `brokerId`, or undefined when it is not registered. */
export function interBrokerEndpoint(metadata: MetadataStore, brokerId: number, listenerName: string | null): BrokerEndpoint | undefined {
  const broker = metadata.brokers().find((b) => b.nodeId === brokerId);
  if (broker === undefined) return undefined;
  return (listenerName !== null ? broker.endpoints.find((e) => e.listener === listenerName) : undefined) ?? broker.endpoints[0];
}

interface Pending {
  readonly apiKey: number;
  readonly version: number;
  readonly resolve: (frame: Buffer) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** One connection to one broker; requests may be pipelined. */
export class InterBrokerConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly pending = new Map<number, Pending>();
  private nextCorrelationId = 1;
  private failure: Error | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly clientId: string,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.fail(new Error('inter-broker connection closed')));
    socket.on('error', (err) => this.fail(err));
  }

  get isClosed(): boolean {
    return this.failure !== undefined;
  }

  request<K extends InterBrokerApi>(api: K, version: number, body: ApiMessages[K]['request'], timeoutMs: number): Promise<ApiMessages[K]['response']> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const apiKey = ApiKey[api];
    const spec = apiSpecByKey(apiKey);
    if (spec === undefined) return Promise.reject(new Error(`no codec for ${api}`));
    const correlationId = this.nextCorrelationId++;
    const w = new Writer();
    const slot = w.reserveInt32();
    encodeRequestHeader(w, requestHeaderVersion(apiKey, version), { requestApiKey: apiKey, requestApiVersion: version, correlationId, clientId: this.clientId });
    spec.encodeRequest(w, version, body);
    w.endSizePrefix(slot);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`${api} unanswered after ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(correlationId, { apiKey, version, resolve, reject, timer });
      this.socket.write(w.finish());
    }).then((frame) => {
      const r = new Reader(frame);
      decodeResponseHeader(r, responseHeaderVersion(apiKey, version));
      return spec.decodeResponse(r, version) as ApiMessages[K]['response'];
    });
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 8) {
      const size = this.buffered.readInt32BE(0);
      if (size < 4 || size > MAX_RESPONSE_FRAME_BYTES) {
        this.fail(new Error(`inter-broker response frame of ${size} bytes`));
        return;
      }
      if (this.buffered.length < 4 + size) return;
      const frame = this.buffered.subarray(4, 4 + size);
      this.buffered = this.buffered.subarray(4 + size);
      const correlationId = frame.readInt32BE(0);
      const pending = this.pending.get(correlationId);
      if (pending === undefined) {
        this.fail(new Error(`inter-broker response with unknown correlation id ${correlationId}`));
        return;
      }
      this.pending.delete(correlationId);
      clearTimeout(pending.timer);
      pending.resolve(frame);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.socket.destroy();
  }

  close(): void {
    this.fail(new Error('inter-broker connection closed by this broker'));
  }
}

/** Opens a connection to a broker's inter-broker endpoint: the one place sockets are created. */
export function openInterBrokerConnection(endpoint: BrokerEndpoint, clientId: string): Promise<InterBrokerConnection> {
  if (endpoint.securityProtocol !== 'PLAINTEXT') {
    return Promise.reject(new Error(`inter-broker listener ${endpoint.listener} uses ${endpoint.securityProtocol}; inter-broker clients speak PLAINTEXT only`));
  }
  return new Promise((resolve, reject) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connecting to ${endpoint.host}:${endpoint.port} timed out`));
    }, CONNECT_TIMEOUT_MS);
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(new InterBrokerConnection(socket, clientId));
    });
  });
}

export interface InterBrokerClientConfig {
  readonly nodeId: number;
  readonly metadata: MetadataStore;
  /** inter.broker.listener.name, or null for each broker's first endpoint. */
  readonly listenerName: string | null;
  /** Names the requests' sender in the destination's logs, as Kafka's `broker-N-...` client ids. */
  readonly clientName: string;
}

/** Connections to every other broker, opened on demand and replaced after a failure. */
export class InterBrokerClient {
  private readonly connections = new Map<number, Promise<InterBrokerConnection>>();
  private closed = false;

  constructor(private readonly config: InterBrokerClientConfig) {}

  async request<K extends InterBrokerApi>(brokerId: number, api: K, version: number, body: ApiMessages[K]['request'], timeoutMs: number): Promise<ApiMessages[K]['response']> {
    const connection = await this.connection(brokerId);
    return connection.request(api, version, body, timeoutMs);
  }

  private connection(brokerId: number): Promise<InterBrokerConnection> {
    if (this.closed) return Promise.reject(new Error('inter-broker client closed'));
    const existing = this.connections.get(brokerId);
    if (existing !== undefined) return existing.then((c) => (c.isClosed ? this.reopen(brokerId, existing) : c));
    return this.reopen(brokerId, undefined);
  }

  private reopen(brokerId: number, previous: Promise<InterBrokerConnection> | undefined): Promise<InterBrokerConnection> {
    const current = this.connections.get(brokerId);
    // Another request already replaced the failed connection.
    if (current !== undefined && current !== previous) return current;
    const endpoint = interBrokerEndpoint(this.config.metadata, brokerId, this.config.listenerName);
    if (endpoint === undefined) return Promise.reject(new Error(`broker ${brokerId} is not registered`));
    const opening = openInterBrokerConnection(endpoint, `broker-${this.config.nodeId}-${this.config.clientName}`);
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

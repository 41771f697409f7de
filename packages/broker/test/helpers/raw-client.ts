// A tiny Kafka wire client for tests: typed request/response over one socket, using the
// protocol package's codecs. Requests may be pipelined; responses are matched by
// correlation id. Frames are also available raw (send/next) for tests of malformed input.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import {
  ApiKey, Reader, Writer, apiSpecByKey, decodeResponseHeader, encodeRequestHeader, requestHeaderVersion, responseHeaderVersion,
} from '@tributary/protocol';
import type { ApiMessages } from '@tributary/protocol';

export type ApiName = keyof ApiMessages & keyof typeof ApiKey;

export class RawClient {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private nextCorrelationId = 1;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        const size = this.buffered.readInt32BE(0);
        this.frames.push(this.buffered.subarray(4, 4 + size));
        this.buffered = this.buffered.subarray(4 + size);
      }
      this.wake();
    });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => {});
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** A client over a socket the test opened itself (TLS); the socket must be connected. */
  static fromSocket(socket: Socket): RawClient {
    return new RawClient(socket);
  }

  /** Sends one request and decodes its response (the next frame must be it). */
  async request<K extends ApiName>(api: K, version: number, body: ApiMessages[K]['request'], options: { clientId?: string | null; timeoutMs?: number } = {}): Promise<ApiMessages[K]['response']> {
    const apiKey = ApiKey[api];
    const correlationId = this.nextCorrelationId++;
    this.send(apiKey, version, correlationId, body, options.clientId === undefined ? 'raw-client' : options.clientId);
    const frame = await this.next(options.timeoutMs);
    const r = new Reader(frame);
    const header = decodeResponseHeader(r, responseHeaderVersion(apiKey, version));
    if (header.correlationId !== correlationId) throw new Error(`${api} v${version}: expected correlation id ${correlationId}, got ${header.correlationId}`);
    const response = apiSpecByKey(apiKey)!.decodeResponse(r, version) as ApiMessages[K]['response'];
    if (r.remaining !== 0) throw new Error(`${api} v${version}: ${r.remaining} trailing bytes in the response`);
    return response;
  }

  /** Writes one request frame. */
  send(apiKey: number, apiVersion: number, correlationId: number, body: unknown, clientId: string | null = 'raw-client'): void {
    const spec = apiSpecByKey(apiKey);
    if (!spec) throw new Error(`no codec for api key ${apiKey}`);
    const w = new Writer();
    const slot = w.reserveInt32();
    encodeRequestHeader(w, requestHeaderVersion(apiKey, apiVersion), { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId });
    spec.encodeRequest(w, apiVersion, body);
    w.endSizePrefix(slot);
    this.socket.write(w.finish());
  }

  /** The next response frame (without its size prefix). */
  async next(timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('timed out waiting for a response');
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
    return this.frames.shift()!;
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

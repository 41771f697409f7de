// Requests on TLS connections: decrypted bytes arrive one TLS record per read into one shared
// buffer (tls.ts, readIntoSharedBuffer), and librdkafka writes each piece of a request as its
// own small TLS record. These tests check what a client sees when it writes that way: every
// request framed whole and answered in order, whatever the record boundaries, with other
// connections reading into the same buffer at the same time; and the idle check
// (connections.max.idle.ms), which the connection keeps itself rather than refreshing a
// socket timeout on every read, still closes an idle TLS connection and keeps a busy one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { ConnectionInfo, RequestProcessor, ResponseAction } from '../src/network/request-processor.js';
import type { SocketServerOptions } from '../src/network/socket-server.js';
import { TlsListener } from '../src/network/tls.js';
import { createLogger } from '../src/logger.js';
import { startSocketServer } from './helpers/socket-server.js';

/** Answers each request with its length and the SHA-256 of its bytes; the first one after `firstDelayMs`. */
class DigestProcessor implements RequestProcessor {
  private first = true;
  constructor(private readonly firstDelayMs = 0) {}
  process(body: Buffer, _conn: ConnectionInfo): ResponseAction | Promise<ResponseAction> {
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length, 0);
    const answer: ResponseAction = { type: 'send', chunks: [size, createHash('sha256').update(body).digest()] };
    if (!this.first || this.firstDelayMs === 0) return answer;
    this.first = false;
    return new Promise((resolve) => setTimeout(() => resolve(answer), this.firstDelayMs));
  }
}

function expectedAnswer(body: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, createHash('sha256').update(body).digest()]);
}

/** A request body of `bytes` bytes that differs with `seed` and along the body. */
function body(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

function sized(b: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(b.length, 0);
  return Buffer.concat([prefix, b]);
}

function makeCert(t: { after(fn: () => unknown): void }): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-tls-reads-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=localhost'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl: ${r.stderr}`);
  return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
}

async function startTlsServer(t: { after(fn: () => unknown): void }, overrides: Partial<SocketServerOptions> = {}, processor = new DigestProcessor()) {
  const { key, cert } = makeCert(t);
  const settings: Record<string, string> = { 'ssl.keystore.key': key, 'ssl.keystore.certificate.chain': cert };
  const tls = new TlsListener('SSL', (k) => settings[k] ?? null, createLogger({ level: 'error', sink: () => {} }));
  const started = await startSocketServer(processor, {
    listeners: [{ name: 'SSL', host: '127.0.0.1', port: 0, securityProtocol: 'SSL' }],
    security: new Map([['SSL', { tls }]]),
    ...overrides,
  }, 4 << 20);
  t.after(() => started.server.stop());
  return started;
}

interface Client {
  socket: TLSSocket;
  answers: Buffer[];
  closed: boolean;
  until(check: () => boolean, timeoutMs?: number): Promise<void>;
  /** Writes `bytes` as pieces of the given sizes (cycled), each its own socket write and so its own TLS record. */
  writeInPieces(bytes: Buffer, sizes: number[]): Promise<void>;
}

async function openClient(port: number): Promise<Client> {
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay(true);
  const client: Client = {
    socket,
    answers: [],
    closed: false,
    until: (check, timeoutMs = 20_000) => new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const poll = () => {
        if (check()) resolve();
        else if (Date.now() - started > timeoutMs) reject(new Error(`timed out with ${client.answers.length} answers, closed ${client.closed}`));
        else setTimeout(poll, 5);
      };
      poll();
    }),
    writeInPieces: async (bytes, sizes) => {
      let at = 0;
      for (let i = 0; at < bytes.length; i++) {
        const end = Math.min(bytes.length, at + sizes[i % sizes.length]!);
        // Waiting for each write keeps node:tls from joining queued writes into one record.
        await new Promise<void>((resolve, reject) => socket.write(bytes.subarray(at, end), (err) => (err ? reject(err) : resolve())));
        at = end;
      }
    },
  };
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const size = pending.readInt32BE(0);
      client.answers.push(Buffer.from(pending.subarray(4, 4 + size)));
      pending = pending.subarray(4 + size);
    }
  });
  socket.on('close', () => { client.closed = true; });
  socket.on('error', () => {});
  return client;
}

test('TLS: requests written as many small TLS records (a size prefix, a header and a value each their own, as librdkafka writes) are framed whole and answered in order', { timeout: 60_000 }, async (t) => {
  const { port } = await startTlsServer(t);
  const a = await openClient(port);
  const b = await openClient(port);
  t.after(() => { a.socket.destroy(); b.socket.destroy(); });
  // Bodies from 1 byte to past one TLS record (16 KiB) and past the 64 KiB shared read buffer.
  const bodies = [1, 13, 1024, 1031, 4096, 16383, 16384, 16385, 70_000, 3].map((bytes, i) => body(bytes, i + 1));
  const stream = Buffer.concat(bodies.map(sized));
  const other = [5, 2048, 100_000].map((bytes, i) => body(bytes, 100 + i));
  // Pieces of 1, 3, 4, 61 and 1024 bytes: record boundaries fall inside size prefixes and
  // bodies. Connection b writes at the same time, in other pieces, into the same read buffer.
  await Promise.all([
    a.writeInPieces(stream, [1, 3, 4, 61, 1024]),
    b.writeInPieces(Buffer.concat(other.map(sized)), [7, 16384, 2]),
  ]);
  await a.until(() => a.answers.length === bodies.length);
  await b.until(() => b.answers.length === other.length);
  bodies.forEach((sent, i) => assert.ok(a.answers[i]!.equals(expectedAnswer(sent)), `connection a, request ${i} (${sent.length} bytes)`));
  other.forEach((sent, i) => assert.ok(b.answers[i]!.equals(expectedAnswer(sent)), `connection b, request ${i} (${sent.length} bytes)`));
});

test('TLS: many small TLS records that reach the broker in one TCP read are each delivered, in order', { timeout: 60_000 }, async (t) => {
  // One request in flight at a time, and the first answered after 300 ms: meanwhile the
  // connection does not read, and the ~600 TLS records written behind it queue in the TCP
  // socket, to be decrypted from a few large reads, one shared-buffer read per record.
  const { port } = await startTlsServer(t, { maxInflightRequests: 1 }, new DigestProcessor(300));
  const client = await openClient(port);
  t.after(() => client.socket.destroy());
  const bodies = Array.from({ length: 300 }, (_, i) => body(1024, i));
  // Each request as a 4-byte record (its size) then a 1 KiB record, one write at a time.
  for (const b of bodies) await client.writeInPieces(sized(b), [4, 1024]);
  await client.until(() => client.answers.length === bodies.length);
  bodies.forEach((sent, i) => assert.ok(client.answers[i]!.equals(expectedAnswer(sent)), `request ${i}`));
});

test('TLS: large requests sent as small TLS records arrive byte-exact among small ones, on two connections at once', { timeout: 60_000 }, async (t) => {
  const { port } = await startTlsServer(t);
  const a = await openClient(port);
  const b = await openClient(port);
  t.after(() => { a.socket.destroy(); b.socket.destroy(); });
  // a sends records of at most 2 KiB (about librdkafka's), b full 16 KiB records; frames
  // around one TLS record (16 KiB), the shared read buffer (64 KiB) and far above them.
  assert.ok(a.socket.setMaxSendFragment(2048));
  const sizesA = [3 * 1024 * 1024, 5, 1024 * 1024 + 3, 16 * 1024 + 1, 16 * 1024, 20_000, 7, 64 * 1024 - 1, 2_000_000];
  const sizesB = [100_000, 1, 16 * 1024 - 1, 1024 * 1024, 33_000, 2];
  const bodiesA = sizesA.map((bytes, i) => body(bytes, i + 11));
  const bodiesB = sizesB.map((bytes, i) => body(bytes, i + 51));
  // One write each (node:tls cuts it into records), a's and b's at the same time.
  for (let i = 0; i < Math.max(bodiesA.length, bodiesB.length); i++) {
    if (bodiesA[i] !== undefined) a.socket.write(sized(bodiesA[i]!));
    if (bodiesB[i] !== undefined) b.socket.write(sized(bodiesB[i]!));
  }
  await a.until(() => a.answers.length === bodiesA.length);
  await b.until(() => b.answers.length === bodiesB.length);
  bodiesA.forEach((sent, i) => assert.ok(a.answers[i]!.equals(expectedAnswer(sent)), `connection a, request ${i} (${sent.length} bytes)`));
  bodiesB.forEach((sent, i) => assert.ok(b.answers[i]!.equals(expectedAnswer(sent)), `connection b, request ${i} (${sent.length} bytes)`));
});

test('TLS: an idle connection is closed after connections.max.idle.ms; one that keeps sending stays open past it', { timeout: 30_000 }, async (t) => {
  const { port } = await startTlsServer(t, { idleTimeoutMs: 400 });
  const idle = await openClient(port);
  const busy = await openClient(port);
  t.after(() => { idle.socket.destroy(); busy.socket.destroy(); });
  const openedMs = Date.now();
  // busy sends a request every 50 ms for 1.2 s, three idle timeouts.
  for (let i = 0; i < 24; i++) {
    await busy.writeInPieces(sized(body(10, i)), [3, 100]);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(busy.closed, false, 'a connection sending every 50 ms was closed as idle');
  await busy.until(() => busy.answers.length === 24);
  assert.equal(idle.closed, true, 'a connection idle for 1.2 s with connections.max.idle.ms=400 is still open');
  // Once busy stops, it is closed too, after about the idle timeout.
  const stoppedMs = Date.now();
  await busy.until(() => busy.closed, 5000);
  const idleForMs = Date.now() - stoppedMs;
  assert.ok(idleForMs >= 300, `closed ${idleForMs} ms after its last request, before connections.max.idle.ms`);
  assert.ok(Date.now() - openedMs > 1200);
});

// Responses on TLS connections: large flushes are written as pieces, one socket write at a
// time (connection.ts, queuePieces), instead of a corked writev that node:tls copies into one
// buffer. These tests check what a client sees: every byte of large multi-chunk responses,
// in request order, with small responses pipelined before, between and after them (some
// completing while a large one is still being written), and a client that goes away in the
// middle of a large response harms no other connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { ConnectionInfo, RequestProcessor, ResponseAction } from '../src/network/request-processor.js';
import { TlsListener } from '../src/network/tls.js';
import { createLogger } from '../src/logger.js';
import { startSocketServer } from './helpers/socket-server.js';

/** Request body: int32 id | int8 big | int32 delayMs. */
function frame(id: number, big: boolean, delayMs = 0): Buffer {
  const buf = Buffer.alloc(4 + 9);
  buf.writeInt32BE(9, 0);
  buf.writeInt32BE(id, 4);
  buf.writeInt8(big ? 1 : 0, 8);
  buf.writeInt32BE(delayMs, 9);
  return buf;
}

/** `bytes` bytes that differ with `seed` and along the buffer (a misplaced piece shows). */
function filled(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes, seed & 0xff);
  for (let at = 0; at + 4 <= bytes; at += 1024) out.writeUInt32BE(((seed << 24) + at) >>> 0, at);
  return out;
}

/**
 * A response's chunks: the id, then for a big one small and large chunks mixed (16 KiB is
 * the smallest written by reference; a chunk over 1 MiB is split into views). Request 2's
 * has 12 MiB, more than loopback's socket buffers hold, so a client that does not read
 * stalls its write.
 */
function responseChunks(id: number, big: boolean): Buffer[] {
  const head = Buffer.alloc(4);
  head.writeInt32BE(id, 0);
  if (!big) return [head, filled(3, id)];
  return [head, filled(100, id + 1), filled(200 * 1024, id + 2), filled(3, id + 3), filled(16 * 1024, id + 4), filled((id === 2 ? 12 : 1.5) * 1024 * 1024 + 7, id + 5), filled(1, id + 6)];
}

class PiecesProcessor implements RequestProcessor {
  process(body: Buffer, _conn: ConnectionInfo): ResponseAction | Promise<ResponseAction> {
    const id = body.readInt32BE(0);
    const big = body.readInt8(4) === 1;
    const delayMs = body.readInt32BE(5);
    const answer = (): ResponseAction => ({ type: 'send', chunks: responseChunks(id, big) });
    if (delayMs === 0) return answer();
    return new Promise((resolve) => setTimeout(() => resolve(answer()), delayMs));
  }
}

function makeCert(t: { after(fn: () => unknown): void }): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-tls-writes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=localhost'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl: ${r.stderr}`);
  return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
}

async function startTlsServer(t: { after(fn: () => unknown): void }) {
  const { key, cert } = makeCert(t);
  const settings: Record<string, string> = { 'ssl.keystore.key': key, 'ssl.keystore.certificate.chain': cert };
  const tls = new TlsListener('SSL', (k) => settings[k] ?? null, createLogger({ level: 'error', sink: () => {} }));
  const started = await startSocketServer(new PiecesProcessor(), {
    listeners: [{ name: 'SSL', host: '127.0.0.1', port: 0, securityProtocol: 'SSL' }],
    security: new Map([['SSL', { tls }]]),
  });
  t.after(() => started.server.stop());
  return started;
}

/** A TLS client that splits the response stream into frames. */
async function openClient(port: number): Promise<{ socket: TLSSocket; frames: Buffer[]; until: (n: number) => Promise<void> }> {
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
  const frames: Buffer[] = [];
  // Chunks are joined only once a whole frame is there (responses of megabytes arrive in 16 KiB reads).
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let need = 4;
  let waiter: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    pending.push(chunk);
    pendingBytes += chunk.length;
    while (pendingBytes >= need) {
      let buf = Buffer.concat(pending, pendingBytes);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const size = buf.readInt32BE(0);
        frames.push(buf.subarray(4, 4 + size));
        buf = buf.subarray(4 + size);
      }
      pending = [buf];
      pendingBytes = buf.length;
      need = buf.length >= 4 ? 4 + buf.readInt32BE(0) : 4;
    }
    waiter?.();
  });
  socket.on('error', () => {});
  const until = (n: number) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out with ${frames.length} of ${n} responses`)), 20_000);
    const check = () => {
      if (frames.length < n) return;
      clearTimeout(timer);
      waiter = null;
      resolve();
    };
    waiter = check;
    check();
  });
  return { socket, frames, until };
}

test('TLS: large multi-chunk responses arrive whole and in order among small ones, including small ones answered while a large one is being written', { timeout: 60_000 }, async (t) => {
  const { port } = await startTlsServer(t);
  const client = await openClient(port);
  t.after(() => client.socket.destroy());
  // 1 small, 2 big, 3 small answered 5 ms later while 2 is still being written (the client
  // reads nothing for 300 ms), 4 small, 5 big answered later, 6 small.
  const requests: [number, boolean, number][] = [[1, false, 0], [2, true, 0], [3, false, 5], [4, false, 0], [5, true, 20], [6, false, 0]];
  client.socket.pause();
  client.socket.write(Buffer.concat(requests.map(([id, big, delayMs]) => frame(id, big, delayMs))));
  await new Promise((resolve) => setTimeout(resolve, 300));
  client.socket.resume();
  await client.until(requests.length);
  assert.equal(client.frames.length, requests.length);
  requests.forEach(([id, big], i) => {
    const expected = Buffer.concat(responseChunks(id, big));
    const got = client.frames[i]!;
    assert.equal(got.readInt32BE(0), id, `response ${i} is request ${id}'s`);
    assert.equal(got.length, expected.length, `response ${id}: length`);
    assert.ok(got.equals(expected), `response ${id}: bytes`);
  });
});

test('TLS: a client that closes in the middle of a large response harms no other connection', { timeout: 60_000 }, async (t) => {
  const { port, server } = await startTlsServer(t);
  const leaving = await openClient(port);
  leaving.socket.write(Buffer.concat([frame(1, true), frame(2, true), frame(3, false)]));
  await new Promise<void>((resolve) => leaving.socket.once('data', () => resolve()));
  leaving.socket.destroy();
  const staying = await openClient(port);
  t.after(() => staying.socket.destroy());
  staying.socket.write(Buffer.concat([frame(10, true), frame(11, false)]));
  await staying.until(2);
  assert.ok(staying.frames[0]!.equals(Buffer.concat(responseChunks(10, true))));
  assert.ok(staying.frames[1]!.equals(Buffer.concat(responseChunks(11, false))));
  assert.ok(server !== undefined);
});

// The connection's ordering rule and byte budgets with hand-built frames and a test
// processor (socket server on port 0, no broker): exclusive requests run alone, pipelined
// ones together; the request budget bounds frames in flight broker-wide; the response
// budget is held while a response waits for a client that does not read, and returned
// when it is written or the connection closes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { SocketServer } from '../src/network/socket-server.js';
import type { SocketServerOptions } from '../src/network/socket-server.js';
import type { ConnectionInfo, RequestProcessor, ResponseAction } from '../src/network/request-processor.js';
import { ConnectionResponseMemory, MemoryPool } from '../src/network/memory-budget.js';
import { startSocketServer } from './helpers/socket-server.js';

// Test frame body: int32 id | int32 delayMs | int8 pipelined (1) or exclusive (0) | int32 responseBytes | padding
function frame(id: number, delayMs: number, pipelined: boolean, responseBytes = 4, padding = 0): Buffer {
  const buf = Buffer.alloc(4 + 13 + padding);
  buf.writeInt32BE(13 + padding, 0);
  buf.writeInt32BE(id, 4);
  buf.writeInt32BE(delayMs, 8);
  buf.writeInt8(pipelined ? 1 : 0, 12);
  buf.writeInt32BE(responseBytes, 13);
  return buf;
}

class TestProcessor implements RequestProcessor {
  running = 0;
  log: string[] = [];
  maxPipelined = 0;
  process(body: Buffer, conn: ConnectionInfo): Promise<ResponseAction> {
    const id = body.readInt32BE(0);
    const delay = body.readInt32BE(4);
    const pipelined = body.readInt8(8) === 1;
    const responseBytes = body.readInt32BE(9);
    this.running++;
    this.log.push(`start ${id} (${this.running} running)`);
    if (pipelined) this.maxPipelined = Math.max(this.maxPipelined, this.running);
    else assert.equal(this.running, 1, `exclusive request ${id} runs alone`);
    return new Promise((resolve) => setTimeout(() => {
      this.running--;
      this.log.push(`end ${id}`);
      // Like a Fetch: reserve the response's bytes before making it.
      const granted = conn.responseMemory?.reserve(responseBytes) ?? responseBytes;
      const out = Buffer.alloc(Math.max(4, granted));
      out.writeInt32BE(id, 0);
      resolve({ type: 'send', chunks: [out] });
    }, delay));
  }
  mayPipeline(frame: Buffer): boolean {
    return frame.readInt8(8) === 1;
  }
}

function startServer(processor: RequestProcessor, overrides: Partial<SocketServerOptions> = {}): Promise<{ server: SocketServer; port: number }> {
  return startSocketServer(processor, overrides, 1 << 20);
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Reads `count` response frames and returns their ids. */
function readIds(socket: Socket, count: number): Promise<number[]> {
  return new Promise((resolve) => {
    const ids: number[] = [];
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        ids.push(buffered.readInt32BE(4));
        buffered = buffered.subarray(4 + buffered.readInt32BE(0));
      }
      if (ids.length >= count) resolve(ids);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}

test('pipelined requests run together; an exclusive one waits for all before it and holds back all after it', async (t) => {
  const processor = new TestProcessor();
  const { server, port } = await startServer(processor);
  t.after(() => server.stop());
  const socket = await open(port);
  t.after(() => socket.destroy());
  const frames = [frame(1, 30, true), frame(2, 10, true), frame(3, 20, true), frame(4, 10, false), frame(5, 10, true), frame(6, 10, true), frame(7, 5, false), frame(8, 5, false)];
  const ids = readIds(socket, frames.length);
  socket.write(Buffer.concat(frames));
  assert.deepEqual(await ids, [1, 2, 3, 4, 5, 6, 7, 8], 'responses in request order');
  assert.equal(processor.maxPipelined, 3, 'the three pipelined requests before the exclusive one ran together');
  const at = (entry: string) => processor.log.indexOf(entry);
  assert.ok(at('start 4 (1 running)') > at('end 1') && at('start 4 (1 running)') > at('end 3'), processor.log.join(', '));
  assert.ok(at('start 5 (1 running)') > at('end 4'), processor.log.join(', '));
  assert.ok(at('start 7 (1 running)') > at('end 6') && at('start 8 (1 running)') > at('end 7'), processor.log.join(', '));
});

test('queued.max.request.bytes: past the budget no connection takes another frame until requests complete', async (t) => {
  const processor = new TestProcessor();
  const { server, port } = await startServer(processor, { queuedMaxRequestBytes: 25_000 });
  t.after(() => server.stop());
  const sockets = await Promise.all([open(port), open(port)]);
  t.after(() => { for (const s of sockets) s.destroy(); });
  let maxUsed = 0;
  const sampler = setInterval(() => { maxUsed = Math.max(maxUsed, server.requestMemory.used); }, 1);
  t.after(() => clearInterval(sampler));
  // 10 KB frames, 20 per connection, each taking 20 ms: at most 3 are in flight at once.
  const done = sockets.map((s, c) => {
    const ids = readIds(s, 20);
    s.write(Buffer.concat(Array.from({ length: 20 }, (_, i) => frame(c * 100 + i, 20, true, 4, 10_000))));
    return ids;
  });
  const all = await Promise.all(done);
  assert.deepEqual(all[0], Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual(all[1], Array.from({ length: 20 }, (_, i) => 100 + i));
  assert.ok(processor.maxPipelined <= 3, `${processor.maxPipelined} requests ran at once`);
  assert.ok(maxUsed <= 25_000 + 10_013, `request bytes in flight reached ${maxUsed}`);
  await until(() => server.requestMemory.used === 0);
});

test('a response waiting for a client that does not read holds its budget, and nothing more is taken; closing returns it', async (t) => {
  const processor = new TestProcessor();
  const { server, port } = await startServer(processor, { queuedMaxResponseBytes: 64 << 20, connectionMaxQueuedResponseBytes: 16 << 20 });
  t.after(() => server.stop());
  const socket = await open(port);
  socket.pause(); // reads nothing
  // 50 pipelined exclusive requests asking for 32 MB responses each (a slow-reader attack).
  socket.write(Buffer.concat(Array.from({ length: 50 }, (_, i) => frame(i, 0, false, 32 << 20))));
  await until(() => server.responseMemory.used > 0);
  await sleep(300);
  assert.equal(server.responseMemory.used, 16 << 20, 'one response, capped by the connection budget');
  assert.equal(processor.log.filter((l) => l.startsWith('start')).length, 1, 'no request is taken while the response waits');
  socket.destroy();
  await until(() => server.responseMemory.used === 0);
});

test('the response budget is returned as responses are written to a client that reads', async (t) => {
  const processor = new TestProcessor();
  const { server, port } = await startServer(processor, { queuedMaxResponseBytes: 64 << 20, connectionMaxQueuedResponseBytes: 16 << 20 });
  t.after(() => server.stop());
  const socket = await open(port);
  t.after(() => socket.destroy());
  const ids = readIds(socket, 10);
  socket.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => frame(i, 0, false, 4 << 20))));
  assert.deepEqual(await ids, Array.from({ length: 10 }, (_, i) => i));
  await until(() => server.responseMemory.used === 0);
});

test('ConnectionResponseMemory grants within the connection and broker budgets and releases once', () => {
  const pool = new MemoryPool(100);
  const a = new ConnectionResponseMemory(pool, 60);
  const b = new ConnectionResponseMemory(pool, 60);
  assert.equal(a.reserve(80), 60, 'capped by the connection budget');
  assert.equal(b.reserve(80), 40, 'capped by what is left broker-wide');
  assert.equal(b.reserve(10), 0);
  a.release(20);
  assert.equal(pool.used, 80);
  const held = a.detachForWrite();
  assert.equal(held, 40);
  a.releaseWritten(held);
  assert.equal(pool.used, 40);
  b.close();
  b.releaseWritten(40);
  assert.equal(pool.used, 0, 'a closed connection released everything once');
  a.reserveAnyway(500);
  assert.equal(pool.used, 500, 'one batch larger than the budget is still accounted');
  a.close();
  assert.equal(pool.used, 0);
});

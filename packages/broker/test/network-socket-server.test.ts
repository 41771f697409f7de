// Socket server and connection behaviour with hand-built frames and a test processor:
// framing, ordering under out-of-order completion, backpressure, limits, bad sizes, idle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { SocketServer } from '../src/network/socket-server.js';
import type { SocketServerOptions } from '../src/network/socket-server.js';
import type { ConnectionInfo, RequestProcessor, ResponseAction } from '../src/network/request-processor.js';
import { startSocketServer } from './helpers/socket-server.js';

// Test frame body: int32 id | int32 delayMs | int8 mode (0 answer, 1 no response, 2 close)
function frame(id: number, delayMs = 0, mode = 0, padding = 0): Buffer {
  const buf = Buffer.alloc(4 + 9 + padding);
  buf.writeInt32BE(9 + padding, 0);
  buf.writeInt32BE(id, 4);
  buf.writeInt32BE(delayMs, 8);
  buf.writeInt8(mode, 12);
  return buf;
}

class TestProcessor implements RequestProcessor {
  concurrent = 0;
  maxConcurrent = 0;
  held: (() => void)[] = [];
  hold = false;
  process(body: Buffer, _conn: ConnectionInfo): ResponseAction | Promise<ResponseAction> {
    const id = body.readInt32BE(0);
    const delay = body.readInt32BE(4);
    const mode = body.readInt8(8);
    const answer = (): ResponseAction => {
      if (mode === 1) return { type: 'none' };
      if (mode === 2) return { type: 'close', reason: `request ${id} asked to close` };
      const out = Buffer.alloc(4);
      out.writeInt32BE(id, 0);
      return { type: 'send', chunks: [out.subarray(0, 2), out.subarray(2)] };
    };
    if (delay === 0 && !this.hold) return answer();
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    return new Promise((resolve) => {
      const done = (): void => { this.concurrent--; resolve(answer()); };
      if (this.hold) this.held.push(done);
      else setTimeout(done, delay);
    });
  }
}

function startServer(processor: RequestProcessor, overrides: Partial<SocketServerOptions> = {}): Promise<{ server: SocketServer; port: number; lines: string[] }> {
  return startSocketServer(processor, overrides, 1000);
}

/** A client that collects response ids and notices the close. */
class Client {
  readonly ids: number[] = [];
  closed = false;
  private buffered = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        const size = this.buffered.readInt32BE(0);
        this.ids.push(this.buffered.readInt32BE(4));
        assert.equal(size, 4);
        this.buffered = this.buffered.subarray(4 + size);
      }
      this.wake();
    });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => {});
  }
  static open(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new Client(socket)));
      socket.once('error', reject);
    });
  }
  private wake(): void { for (const w of this.waiters.splice(0)) w(); }
  async until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out; ids=${this.ids.length} closed=${this.closed}`);
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 50); });
    }
  }
}

test('frames split across packets and many frames per packet are answered in order', async (t) => {
  const { server, port } = await startServer(new TestProcessor());
  t.after(() => server.stop());
  const client = await Client.open(port);
  t.after(() => client.socket.destroy());
  // 200 frames in one write
  client.socket.write(Buffer.concat(Array.from({ length: 200 }, (_, i) => frame(i))));
  await client.until(() => client.ids.length === 200);
  // then 20 frames dribbled one byte per write, with pauses so they arrive as packets
  const bytes = Buffer.concat(Array.from({ length: 20 }, (_, i) => frame(200 + i)));
  for (let i = 0; i < bytes.length; i++) {
    client.socket.write(bytes.subarray(i, i + 1));
    if (i % 7 === 0) await new Promise((r) => setImmediate(r));
  }
  await client.until(() => client.ids.length === 220);
  assert.deepEqual(client.ids, Array.from({ length: 220 }, (_, i) => i));
});

test('responses leave in request order while handlers finish out of order; no-response requests keep order', async (t) => {
  const processor = new TestProcessor();
  const { server, port } = await startServer(processor);
  t.after(() => server.stop());
  const client = await Client.open(port);
  t.after(() => client.socket.destroy());
  const frames: Buffer[] = [];
  const expected: number[] = [];
  for (let i = 0; i < 300; i++) {
    const noResponse = i % 10 === 3;
    frames.push(frame(i, Math.floor(Math.random() * 20), noResponse ? 1 : 0));
    if (!noResponse) expected.push(i);
  }
  client.socket.write(Buffer.concat(frames));
  await client.until(() => client.ids.length === expected.length);
  assert.deepEqual(client.ids, expected);
  assert.ok(processor.maxConcurrent > 10, `requests ran concurrently (max ${processor.maxConcurrent})`);
});

test('in-flight requests per connection are bounded; reading resumes as responses drain', async (t) => {
  const processor = new TestProcessor();
  processor.hold = true;
  const { server, port } = await startServer(processor, { maxInflightRequests: 5 });
  t.after(() => server.stop());
  const client = await Client.open(port);
  t.after(() => client.socket.destroy());
  client.socket.write(Buffer.concat(Array.from({ length: 50 }, (_, i) => frame(i, 1))));
  // Wait for the server to take its 5 (a loaded machine may take a while), then give it a
  // moment in which it could wrongly take a sixth.
  await client.until(() => processor.concurrent >= 5);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(processor.concurrent, 5, 'only 5 requests were taken while none completed');
  // Release requests one at a time; never more than 5 are in flight.
  while (client.ids.length < 50) {
    const next = processor.held.shift();
    if (next) next();
    await new Promise((r) => setImmediate(r));
    assert.ok(processor.concurrent <= 5);
  }
  assert.equal(processor.maxConcurrent, 5);
  assert.deepEqual(client.ids, Array.from({ length: 50 }, (_, i) => i));
});

test('an oversized or negative frame size closes only that connection', async (t) => {
  const { server, port, lines } = await startServer(new TestProcessor(), { maxFrameBytes: 100 });
  t.after(() => server.stop());
  const good = await Client.open(port);
  const bad = await Client.open(port);
  const negative = await Client.open(port);
  t.after(() => { good.socket.destroy(); bad.socket.destroy(); negative.socket.destroy(); });
  bad.socket.write(Buffer.concat([frame(1), frame(2, 0, 0, 200)]));
  const neg = Buffer.alloc(8);
  neg.writeInt32BE(-5, 0);
  negative.socket.write(neg);
  await bad.until(() => bad.closed);
  await negative.until(() => negative.closed);
  assert.deepEqual(bad.ids, [1], 'the response before the bad frame was still delivered');
  good.socket.write(Buffer.concat([frame(7), frame(8, 5)]));
  await good.until(() => good.ids.length === 2);
  assert.deepEqual(good.ids, [7, 8]);
  assert.equal(good.closed, false);
  assert.ok(lines.some((l) => l.includes('larger than socket.request.max.bytes')));
  assert.ok(lines.some((l) => l.includes('must not be negative')));
});

test('garbage bytes close the connection (size prefix nonsense)', async (t) => {
  const { server, port } = await startServer(new TestProcessor(), { maxFrameBytes: 1000 });
  t.after(() => server.stop());
  const client = await Client.open(port);
  t.after(() => client.socket.destroy());
  client.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  await client.until(() => client.closed);
  assert.equal(server.connectionCount, 0);
});

test('a processor asking to close closes after earlier responses are written', async (t) => {
  const { server, port } = await startServer(new TestProcessor());
  t.after(() => server.stop());
  const client = await Client.open(port);
  t.after(() => client.socket.destroy());
  client.socket.write(Buffer.concat([frame(1, 30), frame(2, 0, 2), frame(3)]));
  await client.until(() => client.closed);
  assert.deepEqual(client.ids, [1]);
});

test('max.connections.per.ip and max.connections close the excess', async (t) => {
  const perIp = await startServer(new TestProcessor(), { maxConnectionsPerIp: 2 });
  t.after(() => perIp.server.stop());
  const a = await Client.open(perIp.port);
  const b = await Client.open(perIp.port);
  const c = await Client.open(perIp.port);
  t.after(() => { a.socket.destroy(); b.socket.destroy(); c.socket.destroy(); });
  await c.until(() => c.closed);
  assert.ok(perIp.lines.some((l) => l.includes('max.connections.per.ip reached')));
  a.socket.write(frame(1));
  await a.until(() => a.ids.length === 1);
  // A slot frees when a connection goes.
  b.socket.destroy();
  await a.until(() => perIp.server.connectionCount === 1); // the server has seen b go
  const d = await Client.open(perIp.port);
  t.after(() => d.socket.destroy());
  d.socket.write(frame(4));
  await d.until(() => d.ids.length === 1);

  const total = await startServer(new TestProcessor(), { maxConnections: 1 });
  t.after(() => total.server.stop());
  const e = await Client.open(total.port);
  const f = await Client.open(total.port);
  t.after(() => { e.socket.destroy(); f.socket.destroy(); });
  await f.until(() => f.closed);
  assert.ok(total.lines.some((l) => l.includes('max.connections reached')));
  e.socket.write(frame(5));
  await e.until(() => e.ids.length === 1);
});

test('idle connections are closed after connections.max.idle.ms, busy ones are not', async (t) => {
  const { server, port, lines } = await startServer(new TestProcessor(), { idleTimeoutMs: 150 });
  t.after(() => server.stop());
  const idle = await Client.open(port);
  const busy = await Client.open(port);
  t.after(() => { idle.socket.destroy(); busy.socket.destroy(); });
  busy.socket.write(frame(1, 400)); // a request in flight longer than the idle timeout
  await idle.until(() => idle.closed, 2000);
  await busy.until(() => busy.ids.length === 1, 2000);
  assert.equal(busy.closed, false);
  assert.ok(lines.some((l) => l.includes('connections.max.idle.ms')));
});

test('a client that does not read its responses is paused, not buffered without bound', async (t) => {
  // Responses of 256 KiB each; the client never reads. The server must stop taking
  // requests once its socket write buffer is full instead of queueing all of them.
  let taken = 0;
  const big = Buffer.alloc(256 * 1024);
  const processor: RequestProcessor = {
    process(): ResponseAction { taken++; return { type: 'send', chunks: [big] }; },
  };
  const { server, port } = await startServer(processor, { maxInflightRequests: 1000 });
  t.after(() => server.stop());
  const socket = await new Promise<Socket>((resolve) => { const s = connect({ host: '127.0.0.1', port }, () => resolve(s)); });
  t.after(() => socket.destroy());
  socket.pause();
  const frames = Buffer.concat(Array.from({ length: 2000 }, (_, i) => frame(i)));
  socket.write(frames);
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(taken < 2000, `server took ${taken} of 2000 requests from a client that reads nothing`);
  assert.ok(taken * big.length < 400 * 1024 * 1024);
});

// ResponseAction `written` (network/connection.ts): it runs once per sent response, only after
// the write that carried the response's chunks has completed, so that memory released there
// (a Fetch's holds on recent-appends chunks, reused by the next append) is never overwritten
// while the socket may still read it; and it runs for a response never handed to the socket
// (the connection closed first), so that such memory is not lost to reuse either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { ConnectionInfo, RequestProcessor, ResponseAction } from '../src/network/request-processor.js';
import { startSocketServer } from './helpers/socket-server.js';

/** Request body: int32 id | int32 response bytes | int8 wait (1: answer only when `release` is called). */
function frame(id: number, responseBytes: number, wait = 0): Buffer {
  const buf = Buffer.alloc(4 + 9);
  buf.writeInt32BE(9, 0);
  buf.writeInt32BE(id, 4);
  buf.writeInt32BE(responseBytes, 8);
  buf.writeInt8(wait, 12);
  return buf;
}

/** The byte at position `i` of response `id`: the client checks every one. */
const byteOf = (id: number, i: number): number => (id * 31 + i * 7) & 0xff;

/**
 * Answers `responseBytes` of a known pattern; its `written` overwrites the response's memory
 * (as a reused chunk would be), so a callback run before the socket is done with the bytes
 * shows up as corrupt bytes at the client.
 */
class OverwritingProcessor implements RequestProcessor {
  readonly written = new Map<number, number>();
  readonly waiting: (() => void)[] = [];
  process(body: Buffer, _conn: ConnectionInfo): ResponseAction | Promise<ResponseAction> {
    const id = body.readInt32BE(0);
    const size = body.readInt32BE(4);
    const answer = (): ResponseAction => {
      const head = Buffer.alloc(4);
      head.writeInt32BE(id, 0);
      const data = Buffer.allocUnsafeSlow(size);
      for (let i = 0; i < size; i++) data[i] = byteOf(id, i);
      return {
        type: 'send',
        chunks: [head, data],
        written: () => {
          this.written.set(id, (this.written.get(id) ?? 0) + 1);
          data.fill(0xee);
        },
      };
    };
    if (body.readInt8(8) === 0) return answer();
    return new Promise((resolve) => this.waiting.push(() => resolve(answer())));
  }
}

/** Reads whole responses (int32 size | int32 id | pattern) and checks every byte. */
class Client {
  readonly ids: number[] = [];
  closed = false;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered.push(chunk);
      this.bufferedBytes += chunk.length;
      this.parse();
    });
    socket.on('close', () => { this.closed = true; });
    socket.on('error', () => {});
  }
  static open(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new Client(socket)));
      socket.once('error', reject);
    });
  }
  private parse(): void {
    let all = Buffer.concat(this.buffered, this.bufferedBytes);
    while (all.length >= 4 && all.length >= 4 + all.readInt32BE(0)) {
      const size = all.readInt32BE(0);
      const id = all.readInt32BE(4);
      for (let i = 0; i < size - 4; i++) {
        if (all[8 + i] !== byteOf(id, i)) assert.fail(`response ${id}: byte ${i} is ${all[8 + i]}, sent ${byteOf(id, i)}: overwritten before it was written`);
      }
      this.ids.push(id);
      all = all.subarray(4 + size);
    }
    this.buffered = [all];
    this.bufferedBytes = all.length;
  }
}

async function until(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('written runs once per response, only after its write completed: a client that stops reading holds it back, and no byte it gets was overwritten', async (t) => {
  const processor = new OverwritingProcessor();
  const { server, port } = await startSocketServer(processor);
  t.after(() => server.stop());
  const client = await Client.open(port);
  t.after(() => client.socket.destroy());
  // Small responses (copied into one buffer) and large ones (written by reference, writev).
  const sizes = [10, 1000, 40_000, 300_000, 2_000_000, 20];
  client.socket.write(Buffer.concat(sizes.map((size, id) => frame(id, size))));
  await until('every response', () => client.ids.length === sizes.length);
  await until('every written callback', () => processor.written.size === sizes.length);
  for (const [id, n] of processor.written) assert.equal(n, 1, `response ${id}: written ran once`);

  // A client that does not read: 16 MB cannot all leave for the kernel, so written waits.
  client.socket.pause();
  client.socket.write(frame(100, 16_000_000));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(processor.written.get(100), undefined, 'not written while the client does not read');
  client.socket.resume();
  await until('the large response', () => client.ids.includes(100), 20_000);
  await until('its written callback', () => processor.written.get(100) === 1);
});

test('written runs for responses never handed to the socket: completed behind a pending one, or completed after the close', async (t) => {
  const processor = new OverwritingProcessor();
  const { server, port } = await startSocketServer(processor);
  t.after(() => server.stop());
  const client = await Client.open(port);
  // 1 waits; 2 completes at once but is queued behind 1 (responses go in request order); 3 waits.
  client.socket.write(Buffer.concat([frame(1, 100, 1), frame(2, 100_000), frame(3, 100, 1)]));
  await until('both waiting requests', () => processor.waiting.length === 2);
  assert.equal(processor.written.size, 0);
  client.socket.destroy();
  await until('the close', () => processor.written.get(2) === 1);
  for (const answer of processor.waiting.splice(0)) answer();
  await until('the late responses', () => processor.written.get(1) === 1 && processor.written.get(3) === 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual([...processor.written.entries()].sort(), [[1, 1], [2, 1], [3, 1]], 'each ran once');
});

/**
 * The follower's connection to its leader (network/inter-broker-client.ts BrokerConnection,
 * which replica-fetcher.ts uses) against a
 * fake leader on 127.0.0.1 port 0 that writes its Fetch responses in pieces: a response
 * arriving over many 'data' chunks is framed whole and decoded once; a frame size the
 * fetcher cannot accept closes the connection and fails the fetch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import {
  ApiKey,
  Reader,
  Writer,
  apiSpecByKey,
  decodeRequestHeader,
  encodeResponseHeader,
  requestHeaderVersion,
  responseHeaderVersion,
  type FetchRequest,
  type FetchResponse,
} from '@tributary/protocol';
import { BrokerConnection, connectToBroker } from '../src/network/inter-broker-client.js';
import { BrokerConfig } from '../src/config/broker-config.js';
import { REPLICA_FETCH_VERSION } from '../src/replica/replica-fetcher.js';
import { framePool } from '../src/network/frame-pool.js';

/**
 * A PLAINTEXT connection to the fake leader on `port`. As the fetcher opens it (connectToBroker:
 * reads into the shared buffer, framed by a FrameDecoder), and, for `'data'` events (as a TLS
 * connection reads), a BrokerConnection on a plain socket. The tests below run both.
 */
async function openConnection(port: number, reads: 'shared' | 'data'): Promise<BrokerConnection> {
  if (reads === 'shared') {
    const security = { listenerName: 'PLAINTEXT', securityProtocol: 'PLAINTEXT' } as const;
    return connectToBroker({ nodeId: 1, endpoints: [{ listener: 'PLAINTEXT', host: '127.0.0.1', port, securityProtocol: 'PLAINTEXT' }] }, { config: BrokerConfig.load([]), security, clientId: 'broker-2-fetcher' });
  }
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((res, rej) => { socket.once('connect', () => res()); socket.once('error', rej); });
  return new BrokerConnection(socket, 'broker-2-fetcher', 1, { listenerName: 'PLAINTEXT', securityProtocol: 'PLAINTEXT' });
}

const spec = apiSpecByKey(ApiKey.Fetch)!;

const request: FetchRequest = {
  replicaId: 2, maxWaitMs: 500, minBytes: 1, maxBytes: 10 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
  topics: [{ topic: 't', partitions: [{ partition: 0, currentLeaderEpoch: 0, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: 0, partitionMaxBytes: 1 << 20 }] }],
  forgottenTopicsData: [], rackId: '',
};

/** A Fetch v12 response frame (size prefix included) for `correlationId`, carrying `records`. */
function responseFrame(correlationId: number, records: Buffer): Buffer {
  const response: FetchResponse = {
    throttleTimeMs: 0, errorCode: 0, sessionId: 0,
    responses: [{ topic: 't', partitions: [{ partitionIndex: 0, errorCode: 0, highWatermark: 7, lastStableOffset: 7, logStartOffset: 0, abortedTransactions: null, preferredReadReplica: -1, records }] }],
  };
  const w = new Writer();
  const slot = w.reserveInt32();
  encodeResponseHeader(w, responseHeaderVersion(ApiKey.Fetch, REPLICA_FETCH_VERSION), { correlationId });
  spec.encodeResponse(w, REPLICA_FETCH_VERSION, response);
  w.endSizePrefix(slot);
  return w.finish();
}

/** A fake leader: `answer` gets each request's correlation id and the socket to answer on. */
async function fakeLeader(t: { after(fn: () => unknown): void }, answer: (correlationId: number, socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    let buffered = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(4 + frame.length);
        const header = decodeRequestHeader(new Reader(frame), requestHeaderVersion(ApiKey.Fetch, REPLICA_FETCH_VERSION));
        answer(header.correlationId, socket);
      }
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  // server.close waits for open connections: end them first, whichever hook runs first.
  t.after(() => new Promise<void>((res) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => res());
  }));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** Writes `bytes` in pieces of the given sizes (cycling), each in its own event-loop turn. */
async function dribble(socket: Socket, bytes: Buffer, sizes: number[]): Promise<void> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    socket.write(bytes.subarray(at, at + n));
    at += n;
    await new Promise((r) => setImmediate(r));
  }
}

for (const reads of ['shared', 'data'] as const) test(`a Fetch response arriving in many pieces (1-7 bytes, then 64 KiB) is framed whole and decoded (${reads} reads)`, { timeout: 30_000 }, async (t) => {
  const records = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < records.length; i += 4) records.writeUInt32BE(i, i);
  const port = await fakeLeader(t, (correlationId, socket) => {
    const frame = responseFrame(correlationId, records);
    void dribble(socket, frame.subarray(0, 64), [1, 2, 3, 5, 7]).then(() => dribble(socket, frame.subarray(64), [65_536]));
  });
  const connection = await openConnection(port, reads);
  t.after(() => connection.close());
  for (let round = 0; round < 2; round++) {
    const response = await connection.request('Fetch', REPLICA_FETCH_VERSION, request, 20_000);
    const data = response.responses[0]!.partitions[0]!;
    assert.equal(data.highWatermark, 7);
    assert.ok(data.records !== null && data.records.equals(records), `round ${round}: the records arrive intact`);
  }
});

for (const reads of ['shared', 'data'] as const) test(`a response frame larger than the fetcher accepts, or of negative size, fails the fetch and closes the connection (${reads} reads)`, { timeout: 30_000 }, async (t) => {
  for (const size of [-1, 0x7fffffff]) {
    let closed = false;
    const port = await fakeLeader(t, (_correlationId, socket) => {
      socket.on('close', () => { closed = true; });
      const prefix = Buffer.alloc(4);
      prefix.writeInt32BE(size, 0);
      socket.write(prefix);
    });
    const connection = await openConnection(port, reads);
    await assert.rejects(connection.request('Fetch', REPLICA_FETCH_VERSION, request, 20_000), /sent a response frame of/);
    await assert.rejects(connection.request('Fetch', REPLICA_FETCH_VERSION, request, 20_000), /sent a response frame of/, 'the connection stays failed');
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(closed, `size ${size}: the leader sees the connection closed`);
  }
});

for (const reads of ['shared', 'data'] as const) test(`responses spanning chunks are copied into pool frames: two answers in one stream, cut across their boundary, arrive intact, and a frame given back is reused (${reads} reads)`, { timeout: 30_000 }, async (t) => {
  const recordsOf = (seed: number): Buffer => {
    const b = Buffer.alloc(200 * 1024);
    for (let i = 0; i < b.length; i += 4) b.writeUInt32BE((i * 7 + seed) >>> 0, i);
    return b;
  };
  let pendingIds: number[] = [];
  const port = await fakeLeader(t, (correlationId, socket) => {
    pendingIds.push(correlationId);
    if (pendingIds.length < 2) return;
    // Both answers in one stream, in 96 KiB pieces: one piece ends the first frame and starts the second.
    const both = Buffer.concat(pendingIds.map((id) => responseFrame(id, recordsOf(id))));
    pendingIds = [];
    void dribble(socket, both, [98_304]);
  });
  const connection = await openConnection(port, reads);
  t.after(() => connection.close());
  for (let round = 0; round < 3; round++) {
    const frames: Buffer[] = [];
    const answers = [0, 1].map(() => connection.request('Fetch', REPLICA_FETCH_VERSION, request, 20_000, (f) => frames.push(f)));
    const responses = await Promise.all(answers);
    for (const [i, response] of responses.entries()) {
      const data = response.responses[0]!.partitions[0]!;
      // Correlation ids run 1, 2, 3...: round r's answers carry ids 2r+1 and 2r+2.
      assert.ok(data.records !== null && data.records.equals(recordsOf(2 * round + i + 1)), `round ${round}, answer ${i}: intact`);
    }
    assert.equal(frames.length, 2);
    for (const f of frames) framePool.give(f);
  }
  assert.ok(framePool.reused >= 4, `frames given back are taken again (${framePool.reused} reused)`);
});

test('a plaintext connection reads the rest of a response frame straight into its pool buffer: only each frame\'s first read is copied', { timeout: 30_000 }, async (t) => {
  const recordsOf = (seed: number): Buffer => {
    const b = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < b.length; i += 4) b.writeUInt32BE((i * 13 + seed) >>> 0, i);
    return b;
  };
  // Each answer in 64 KiB pieces, one event-loop turn apart: reads see parts of a frame.
  const port = await fakeLeader(t, (correlationId, socket) => void dribble(socket, responseFrame(correlationId, recordsOf(correlationId)), [65_536]));
  const connection = await openConnection(port, 'shared');
  t.after(() => connection.close());
  const rounds = 4;
  let received = 0;
  for (let round = 1; round <= rounds; round++) {
    let frame: Buffer | undefined;
    const response = await connection.request('Fetch', REPLICA_FETCH_VERSION, request, 20_000, (f) => { frame = f; });
    const data = response.responses[0]!.partitions[0]!;
    assert.ok(data.records !== null && data.records.equals(recordsOf(round)), `round ${round}: intact`);
    assert.ok(frame !== undefined && data.records.buffer === frame.buffer, 'the records are a view of the frame');
    received += frame.length + 4;
    framePool.give(frame);
  }
  // A frame's first read (into the 256 KiB shared buffer) is copied; the rest is read in place.
  assert.ok(connection.sharedReadBytes <= rounds * (256 * 1024 + 4), `${connection.sharedReadBytes} of ${received} bytes copied`);
  assert.ok(connection.sharedReadBytes < received / 2, `${connection.sharedReadBytes} of ${received} bytes copied`);
});

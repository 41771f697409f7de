// A real broker on port 0: start-up time, ApiVersions v0-v4 over a socket, KIP-511
// unsupported-version answer, dispatcher error paths, KafkaJS connecting, clean close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import {
  ApiKey, Reader, Writer, apiSpecByKey, decodeApiVersionsResponse, decodeResponseHeader, encodeRequestHeader,
  requestHeaderVersion, responseHeaderVersion,
} from '@tributary/protocol';
import type { ApiVersionsResponse, HeartbeatResponse } from '@tributary/protocol';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker } from '../src/broker.js';
import type { RunningBroker } from '../src/broker.js';
import { NO_RESPONSE } from '../src/handlers/registry.js';
import { HANDLERS } from '../src/handlers/index.js';
import { apiVersionsHandler } from '../src/handlers/api-versions.js';
import type { Handler } from '../src/handlers/registry.js';
import { createLogger } from '../src/logger.js';

const HEARTBEAT = ApiKey.Heartbeat;

/** Heartbeat stand-in: 'boom' throws, 'silent' gets no response, 'slow-N' waits N ms. */
const testHeartbeat: Handler<'Heartbeat'> = {
  apiKey: ApiKey.Heartbeat, name: 'Heartbeat', minVersion: 0, maxVersion: 4,
  async handle(req) {
    if (req.groupId === 'boom') throw new Error('handler bug');
    if (req.groupId === 'silent') return NO_RESPONSE;
    const slow = /^slow-(\d+)$/.exec(req.groupId);
    if (slow) await new Promise((r) => setTimeout(r, Number(slow[1])));
    return { throttleTimeMs: 0, errorCode: 0 };
  },
  errorResponse(_req, errorCode) { return { throttleTimeMs: 0, errorCode }; },
};

/** ListGroups stand-in without an errorResponse: a throw must close the connection. */
const throwingListGroups: Handler<'ListGroups'> = {
  apiKey: ApiKey.ListGroups, name: 'ListGroups', minVersion: 0, maxVersion: 4,
  handle() { throw new Error('no error response available'); },
};

async function withBroker(t: { after(fn: () => Promise<void> | void): void }, lines: string[] = []): Promise<RunningBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'trib-broker-'));
  const broker = await startBroker({
    dataDir: dir, port: 0,
    logger: createLogger({ level: 'debug', sink: (l) => lines.push(l) }),
    handlers: [testHeartbeat, throwingListGroups],
  });
  t.after(async () => { await broker.close(); rmSync(dir, { recursive: true, force: true }); });
  return broker;
}

class RawClient {
  private buffered = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        const size = this.buffered.readInt32BE(0);
        this.frames.push(this.buffered.subarray(4, 4 + size));
        this.buffered = this.buffered.subarray(4 + size);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => { this.closed = true; for (const w of this.waiters.splice(0)) w(); });
    socket.on('error', () => {});
  }
  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }
  send(apiKey: number, apiVersion: number, correlationId: number, body: unknown, clientId: string | null = 'raw-test'): void {
    const w = new Writer();
    const slot = w.reserveInt32();
    encodeRequestHeader(w, requestHeaderVersion(apiKey, apiVersion), { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId });
    apiSpecByKey(apiKey)!.encodeRequest(w, apiVersion, body);
    w.endSizePrefix(slot);
    this.socket.write(w.finish());
  }
  async next(timeoutMs = 3000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('timed out waiting for a response');
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
    return this.frames.shift()!;
  }
  async waitClosed(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
  }
}

function readApiVersions(frame: Buffer, version: number): { correlationId: number; body: ApiVersionsResponse } {
  const r = new Reader(frame);
  const header = decodeResponseHeader(r, responseHeaderVersion(18, version));
  const body = decodeApiVersionsResponse(r, version);
  assert.equal(r.remaining, 0, 'no trailing bytes');
  return { correlationId: header.correlationId, body };
}

test('startBroker on port 0 starts well under a second and writes identity', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-broker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const started = performance.now();
  const broker = await startBroker({ dataDir: dir, port: 0, logger: createLogger({ level: 'silent' }) });
  const elapsed = performance.now() - started;
  console.log(`# startBroker took ${elapsed.toFixed(1)} ms (first start, creates meta.properties)`);
  assert.ok(broker.port > 0);
  assert.equal(broker.host, '127.0.0.1');
  assert.equal(broker.nodeId, 1);
  assert.equal(broker.clusterId.length, 22);
  assert.ok(elapsed < 1000, `start-up took ${elapsed} ms`);
  await broker.close();
  await broker.close(); // idempotent
  const again = performance.now();
  const second = await startBroker({ dataDir: dir, port: 0, logger: createLogger({ level: 'silent' }) });
  console.log(`# restart took ${(performance.now() - again).toFixed(1)} ms`);
  assert.equal(second.clusterId, broker.clusterId, 'cluster id is kept across restarts');
  await second.close();
  await assert.rejects(startBroker({ dataDir: dir, port: 0, nodeId: 9, logger: createLogger({ level: 'silent' }) }), /does not match node id 1/);
});

test('ApiVersions v0..v4 round trip over a real socket, advertising the registry', async (t) => {
  const broker = await withBroker(t);
  const client = await RawClient.open(broker.port);
  t.after(() => client.socket.destroy());
  for (let version = 0; version <= 4; version++) {
    client.send(18, version, 100 + version, { clientSoftwareName: 'tributary-test', clientSoftwareVersion: '1.0.0' });
    const { correlationId, body } = readApiVersions(await client.next(), version);
    assert.equal(correlationId, 100 + version);
    assert.equal(body.errorCode, 0);
    // Exactly the registry: the built-in handlers, with this test's Heartbeat and ListGroups in place of theirs.
    const expected = HANDLERS.map((h) => (h.apiKey === HEARTBEAT || h.apiKey === ApiKey.ListGroups ? [h.apiKey, 0, 4] : [h.apiKey, h.minVersion, h.maxVersion])).sort((a, b) => a[0]! - b[0]!);
    assert.deepEqual(body.apiKeys.map((k) => [k.apiKey, k.minVersion, k.maxVersion]), expected);
    if (version >= 3) {
      assert.deepEqual(body.supportedFeatures?.map((f) => f.name), version === 4 ? ['metadata.version', 'kraft.version', 'transaction.version'] : ['metadata.version']);
      assert.deepEqual(body.finalizedFeatures, [{ name: 'metadata.version', minVersionLevel: 21, maxVersionLevel: 21 }, { name: 'transaction.version', minVersionLevel: 2, maxVersionLevel: 2 }]);
    }
  }
});

test('an unsupported ApiVersions version gets UNSUPPORTED_VERSION with a v0 body and header v0', async (t) => {
  const broker = await withBroker(t);
  const client = await RawClient.open(broker.port);
  t.after(() => client.socket.destroy());
  // Version 7 does not exist: header v2 (flexible), body garbage we must not decode.
  const w = new Writer();
  const slot = w.reserveInt32();
  encodeRequestHeader(w, 2, { requestApiKey: 18, requestApiVersion: 7, correlationId: 77, clientId: 'future-client' });
  w.raw(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  w.endSizePrefix(slot);
  client.socket.write(w.finish());
  const { correlationId, body } = readApiVersions(await client.next(), 0);
  assert.equal(correlationId, 77);
  assert.equal(body.errorCode, 35);
  assert.deepEqual(body.apiKeys, [{ apiKey: 18, minVersion: 0, maxVersion: 4 }]);
  // The connection stays usable: the client retries with a version listed.
  client.send(18, 3, 78, { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
  assert.equal(readApiVersions(await client.next(), 3).body.errorCode, 0);
});

test('ApiVersions v3 with an invalid client software name answers INVALID_REQUEST', async (t) => {
  const broker = await withBroker(t);
  const client = await RawClient.open(broker.port);
  t.after(() => client.socket.destroy());
  client.send(18, 3, 1, { clientSoftwareName: '-bad name-', clientSoftwareVersion: '1' });
  assert.equal(readApiVersions(await client.next(), 3).body.errorCode, 42);
});

test('a throwing handler answers UNKNOWN_SERVER_ERROR; NO_RESPONSE keeps later responses in order', async (t) => {
  const lines: string[] = [];
  const broker = await withBroker(t, lines);
  const client = await RawClient.open(broker.port);
  t.after(() => client.socket.destroy());
  const hb = (groupId: string) => ({ groupId, generationId: 1, memberId: 'm', groupInstanceId: null });
  client.send(HEARTBEAT, 4, 1, hb('slow-60'));
  client.send(HEARTBEAT, 4, 2, hb('silent'));
  client.send(HEARTBEAT, 4, 3, hb('boom'));
  client.send(HEARTBEAT, 4, 4, hb('fine'));
  const decode = (frame: Buffer) => {
    const r = new Reader(frame);
    const h = decodeResponseHeader(r, responseHeaderVersion(HEARTBEAT, 4));
    return [h.correlationId, (apiSpecByKey(HEARTBEAT)!.decodeResponse(r, 4) as HeartbeatResponse).errorCode];
  };
  assert.deepEqual(decode(await client.next()), [1, 0]);
  assert.deepEqual(decode(await client.next()), [3, -1]);
  assert.deepEqual(decode(await client.next()), [4, 0]);
  assert.ok(lines.some((l) => l.includes('Request handler failed') && l.includes('clientId=raw-test') && l.includes('api=Heartbeat')));
});

test('undecodable requests, unknown api keys and unsupported versions close only that connection', async (t) => {
  const lines: string[] = [];
  const broker = await withBroker(t, lines);
  const bystander = await RawClient.open(broker.port);
  t.after(() => bystander.socket.destroy());
  const cases: [string, (c: RawClient) => void, string][] = [
    ['garbage body', (c) => {
      const w = new Writer(); const slot = w.reserveInt32();
      encodeRequestHeader(w, 1, { requestApiKey: HEARTBEAT, requestApiVersion: 0, correlationId: 5, clientId: 'garbage' });
      w.raw(Buffer.from([0x00, 0x10, 0x41])); // string length 16, 1 byte present
      w.endSizePrefix(slot); c.socket.write(w.finish());
    }, 'cannot decode Heartbeat (key 12) version 0 request from client id'],
    ['unknown api key', (c) => {
      const b = Buffer.alloc(14); b.writeInt32BE(10, 0); b.writeInt16BE(999, 4); b.writeInt16BE(0, 6); b.writeInt32BE(1, 8); b.writeInt16BE(-1, 12);
      c.socket.write(b);
    }, 'unsupported api key 999'],
    ['key without a handler', (c) => c.send(40, 0, 1, { hmac: Buffer.alloc(4), expiryTimePeriodMs: -1 }), 'unsupported api key 40'],
    ['unsupported version', (c) => {
      // Heartbeat v9 does not exist: header v2 (client id 'old', no tagged fields), empty body.
      const b = Buffer.from([0, 0, 0, 14, 0, HEARTBEAT, 0, 9, 0, 0, 0, 1, 0, 3, 0x6f, 0x6c, 0x64, 0]);
      c.socket.write(b);
    }, 'unsupported version 9 of api Heartbeat (key 12)'],
    ['too short', (c) => c.socket.write(Buffer.from([0, 0, 0, 2, 0, 18])), 'too short'],
    ['throwing handler without errorResponse', (c) => c.send(16, 0, 1, {}), 'has no error response'],
  ];
  for (const [name, send, reason] of cases) {
    const c = await RawClient.open(broker.port);
    send(c);
    await c.waitClosed();
    if (reason !== '') assert.ok(lines.some((l) => l.includes(reason)), `${name}: logged reason containing ${reason}`);
    bystander.send(18, 0, 9, {});
    assert.equal(readApiVersions(await bystander.next(), 0).body.errorCode, 0, `${name}: bystander still served`);
  }
});

test('KafkaJS connects and fetches api versions', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-broker-'));
  const seen: { version: number; clientId: string | null }[] = [];
  const counting: Handler<'ApiVersions'> = {
    ...apiVersionsHandler,
    handle(req, ctx) {
      seen.push({ version: ctx.header.apiVersion, clientId: ctx.header.clientId });
      return apiVersionsHandler.handle(req, ctx);
    },
  };
  const broker = await startBroker({ dataDir: dir, port: 0, logger: createLogger({ level: 'silent' }), handlers: [counting] });
  t.after(async () => { await broker.close(); rmSync(dir, { recursive: true, force: true }); });
  const kafka = new Kafka({ clientId: 'kafkajs-test', brokers: [`127.0.0.1:${broker.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  // KafkaJS's admin.connect() opens a connection and negotiates versions with ApiVersions.
  await admin.connect();
  await admin.disconnect();
  assert.ok(seen.length >= 1, 'KafkaJS sent ApiVersions');
  assert.equal(seen[0]!.clientId, 'kafkajs-test');
  console.log(`# KafkaJS ApiVersions versions used: ${seen.map((s) => s.version).join(',')}`);
});

/**
 * Hostile bytes on the TLS and SASL paths: plaintext sent to a TLS port, truncated and
 * random TLS records, random frames after a good handshake, SASL exchanges cut short or
 * filled with random tokens, auth bytes before the handshake. For a few seconds
 * (SECURITY_FUZZ_MS) FUZZERS connections at a time do this while a good client, over
 * SASL_SSL, keeps producing and reading its records. The broker must not crash, must log
 * no error (a throw is a bug), and the good client must see every request answered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { ApiKey, Writer, encodeRequestHeader, requestHeaderVersion } from '@tributary/protocol';
import { makePki, startSecureBroker, tlsServerConfig } from './security-kit.js';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { seededRandom, testSeed } from './checker.js';

const SECURITY_FUZZ_MS = Number(process.env['TRIBUTARY_FUZZ_MS'] ?? (process.env['TRIBUTARY_LONG'] === '1' ? 30_000 : 5_000));
const FUZZERS = 8;
/** A good client's request must be answered within this while the fuzzers run. */
const STALL_LIMIT_MS = 2000;

type Random = () => number;

function frame(apiKey: number, version: number, body: (w: Writer) => void): Buffer {
  const w = new Writer();
  const slot = w.reserveInt32();
  encodeRequestHeader(w, requestHeaderVersion(apiKey, version), { requestApiKey: apiKey, requestApiVersion: version, correlationId: 7, clientId: 'fuzz' });
  body(w);
  w.endSizePrefix(slot);
  return w.finish();
}

function randomBuffer(random: Random, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
}

function sized(body: Buffer): Buffer {
  const out = Buffer.alloc(4 + body.length);
  out.writeInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

test('garbage on the TLS and SASL paths: no crash, no error logged, a good SASL_SSL client unaffected', { timeout: SECURITY_FUZZ_MS + 60_000 }, async (t) => {
  const seed = testSeed();
  const random = seededRandom(seed);
  t.diagnostic(`seed ${seed}`);
  const pki = makePki(t);
  const b = await startSecureBroker(t, {
    listeners: 'SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    ...tlsServerConfig(pki, 'SSL', { 'ssl.client.auth': 'requested' }),
    ...tlsServerConfig(pki, 'SASL_SSL'),
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,OAUTHBEARER',
    'listener.name.sasl_ssl.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_good="good-pw";',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_good="good-pw";',
  });
  const ca = readFileSync(pki.caCert);
  const tlsOpen = (port: number) => new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  });

  // The good client: SASL_SSL with PLAIN, then Metadata requests for the whole run.
  const good = RawClient.fromSocket(await tlsOpen(b.port('SASL_SSL')));
  t.after(() => good.close());
  assert.equal((await good.request('SaslHandshake', 1, { mechanism: 'PLAIN' })).errorCode, 0);
  assert.equal((await good.request('SaslAuthenticate', 2, { authBytes: Buffer.from('\u0000good\u0000good-pw') })).errorCode, 0);

  const cases: ((r: Random) => Promise<void>)[] = [
    // Plaintext Kafka frame to a TLS port.
    async () => rawSend(b.port('SSL'), frame(ApiKey.ApiVersions, 0, () => {})),
    // Random bytes to a TLS port, and a TLS record header with a random body.
    async (r) => rawSend(b.port('SASL_SSL'), randomBuffer(r, 1 + Math.floor(r() * 300))),
    async (r) => rawSend(b.port('SSL'), Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00]), randomBuffer(r, Math.floor(r() * 256))])),
    // A good handshake, then random frames inside TLS.
    async (r) => {
      const s = await tlsOpen(b.port(r() < 0.5 ? 'SSL' : 'SASL_SSL')).catch(() => null);
      if (s === null) return;
      s.on('error', () => {});
      s.write(r() < 0.5 ? randomBuffer(r, 1 + Math.floor(r() * 200)) : sized(randomBuffer(r, Math.floor(r() * 200))));
      await linger(s);
    },
    // SASL: auth bytes before the handshake, random tokens after it, cut-short exchanges.
    async (r) => rawSend(b.port('SASL_PLAINTEXT'), frame(ApiKey.SaslAuthenticate, 1, (w) => w.bytes(randomBuffer(r, 40)))),
    async (r) => {
      const mechanism = ['PLAIN', 'SCRAM-SHA-256', 'OAUTHBEARER', 'NOPE'][Math.floor(r() * 4)]!;
      const hs = frame(ApiKey.SaslHandshake, 1, (w) => w.string(mechanism));
      const tokens = Array.from({ length: 1 + Math.floor(r() * 3) }, () => frame(ApiKey.SaslAuthenticate, Math.floor(r() * 3), (w) => w.bytes(randomBuffer(r, Math.floor(r() * 120)))));
      await rawSend(b.port('SASL_PLAINTEXT'), Buffer.concat([hs, ...tokens]));
    },
    async (r) => rawSend(b.port('SASL_PLAINTEXT'), Buffer.concat([frame(ApiKey.SaslHandshake, 0, (w) => w.string('PLAIN')), sized(randomBuffer(r, Math.floor(r() * 64)))])),
    async (r) => rawSend(b.port('SASL_PLAINTEXT'), sized(randomBuffer(r, 8 + Math.floor(r() * 64)))),
  ];

  const deadline = Date.now() + SECURITY_FUZZ_MS;
  let fuzzed = 0;
  const workers = Array.from({ length: FUZZERS }, async () => {
    while (Date.now() < deadline) {
      await cases[Math.floor(random() * cases.length)]!(random);
      fuzzed++;
    }
  });
  let slowest = 0;
  let served = 0;
  while (Date.now() < deadline) {
    const started = Date.now();
    const md = await good.request('Metadata', 1, { topics: null }, { timeoutMs: STALL_LIMIT_MS * 2 });
    assert.equal(md.brokers.length, 1);
    slowest = Math.max(slowest, Date.now() - started);
    served++;
    await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.all(workers);
  t.diagnostic(`${fuzzed} fuzz connections, ${served} good requests, slowest ${slowest} ms`);
  assert.ok(fuzzed > 50, `fuzzed ${fuzzed}`);
  assert.ok(slowest < STALL_LIMIT_MS, `the good client waited ${slowest} ms`);
  const errors = b.logs.filter((l) => l.includes('level=error'));
  assert.deepEqual(errors, [], 'no error logged');
  // Still serving new clients on every listener.
  const after = RawClient.fromSocket(await tlsOpen(b.port('SSL')));
  t.after(() => after.close());
  assert.equal((await after.request('ApiVersions', 0, {})).errorCode, 0);
});

function rawSend(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.write(bytes));
    s.on('error', () => {});
    void linger(s).then(resolve);
  });
}

function linger(s: import('node:net').Socket): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { s.destroy(); resolve(); }, 200);
    s.on('close', () => { clearTimeout(timer); resolve(); });
  });
}

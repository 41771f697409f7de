/**
 * The SASL exchange on the wire, with a raw client: what Kafka's SaslServerAuthenticator
 * answers before, during and after authentication.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { ApiKey, Writer, encodeRequestHeader, requestHeaderVersion } from '@tributary/protocol';
import { startSecureBroker } from './security-kit.js';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';

const JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-pw";';

async function broker(t: { after(fn: () => unknown): void }, extra: Record<string, string | number> = {}) {
  return startSecureBroker(t, {
    listeners: 'SASL_PLAINTEXT://127.0.0.1:0,PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'PLAIN,OAUTHBEARER',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': JAAS,
    ...extra,
  }, 'debug');
}

async function open(t: { after(fn: () => unknown): void }, port: number): Promise<RawClient> {
  const client = await RawClient.open(port);
  t.after(() => client.close());
  return client;
}

const plainToken = (user: string, password: string) => Buffer.from(`\u0000${user}\u0000${password}`);

test('before authentication only ApiVersions and SaslHandshake are served: any other request closes the connection, logged', async (t) => {
  const b = await broker(t);
  const client = await open(t, b.port('SASL_PLAINTEXT'));
  await assert.rejects(client.request('Metadata', 1, { topics: null }), /connection closed/);
  assert.ok(b.logs.some((l) => l.includes('Unexpected Kafka request of type METADATA during SASL handshake')));

  // ApiVersions first is fine; a second one is not (Kafka's HANDSHAKE_REQUEST state).
  const c2 = await open(t, b.port('SASL_PLAINTEXT'));
  const versions = await c2.request('ApiVersions', 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
  assert.equal(versions.errorCode, 0);
  const hs = await c2.request('SaslHandshake', 1, { mechanism: 'PLAIN' });
  assert.deepEqual(hs, { errorCode: 0, mechanisms: ['PLAIN', 'OAUTHBEARER'] });
  // Between handshake and authenticate, another request closes too.
  await assert.rejects(c2.request('Metadata', 1, { topics: null }), /connection closed/);
  assert.ok(b.logs.some((l) => l.includes('Unexpected Kafka request of type METADATA during SASL authentication')));

  // PLAINTEXT beside it is unaffected, and its principal is ANONYMOUS.
  const plain = await open(t, b.port('PLAINTEXT'));
  assert.equal((await plain.request('Metadata', 1, { topics: null })).brokers.length, 1);
});

test('an unknown mechanism is answered UNSUPPORTED_SASL_MECHANISM with the enabled list, then the connection closes', async (t) => {
  const b = await broker(t);
  const client = await open(t, b.port('SASL_PLAINTEXT'));
  const hs = await client.request('SaslHandshake', 1, { mechanism: 'GSSAPI' });
  assert.deepEqual(hs, { errorCode: 33, mechanisms: ['PLAIN', 'OAUTHBEARER'] });
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(client.closed || (await client.request('ApiVersions', 0, {}).then(() => false, () => true)));
});

test('PLAIN over SaslAuthenticate v2: success answers empty bytes and the connection serves requests as User:alice; a wrong password is SASL_AUTHENTICATION_FAILED and closes', async (t) => {
  const b = await broker(t);
  const client = await open(t, b.port('SASL_PLAINTEXT'));
  await client.request('SaslHandshake', 1, { mechanism: 'PLAIN' });
  const auth = await client.request('SaslAuthenticate', 2, { authBytes: plainToken('alice', 'alice-pw') });
  assert.equal(auth.errorCode, 0);
  assert.equal(auth.sessionLifetimeMs, 0, 'connections.max.reauth.ms=0: no session limit');
  assert.equal((await client.request('Metadata', 1, { topics: null })).brokers.length, 1);
  assert.ok(b.logs.some((l) => l.includes('msg=Authenticated') && l.includes('principal=User:alice')));
  // After authentication a SaslHandshake without re-authentication is ILLEGAL_SASL_STATE (the handler's answer).
  assert.equal((await client.request('SaslHandshake', 1, { mechanism: 'PLAIN' })).errorCode, 34);

  const bad = await open(t, b.port('SASL_PLAINTEXT'));
  await bad.request('SaslHandshake', 1, { mechanism: 'PLAIN' });
  const refused = await bad.request('SaslAuthenticate', 1, { authBytes: plainToken('alice', 'wrong-pw-5') });
  assert.deepEqual(refused, { errorCode: 58, errorMessage: 'Authentication failed: Invalid username or password', authBytes: Buffer.alloc(0), sessionLifetimeMs: 0 });
  await assert.rejects(bad.request('Metadata', 1, { topics: null }), /connection closed/);
  assert.ok(!b.logs.join('\n').includes('wrong-pw-5'));
});

test('SaslHandshake v0: the token travels raw, without Kafka framing, as old clients send it', async (t) => {
  const b = await broker(t);
  const client = await open(t, b.port('SASL_PLAINTEXT'));
  assert.equal((await client.request('SaslHandshake', 0, { mechanism: 'PLAIN' })).errorCode, 0);
  const token = plainToken('alice', 'alice-pw');
  const frame = Buffer.alloc(4 + token.length);
  frame.writeInt32BE(token.length, 0);
  token.copy(frame, 4);
  client.socket.write(frame);
  const answer = await client.next();
  assert.equal(answer.length, 0, 'PLAIN answers an empty token');
  assert.equal((await client.request('Metadata', 1, { topics: null })).brokers.length, 1);
});

test('OAUTHBEARER: an expired unsecured token gets the invalid_token challenge, then SASL_AUTHENTICATION_FAILED; a valid one sets the session lifetime to the token expiry', async (t) => {
  const b = await broker(t);
  const jwt = (claims: object) => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
  const nowS = Math.floor(Date.now() / 1000);
  const client = await open(t, b.port('SASL_PLAINTEXT'));
  await client.request('SaslHandshake', 1, { mechanism: 'OAUTHBEARER' });
  const expiredToken = jwt({ sub: 'alice', exp: nowS - 60 });
  const first = await client.request('SaslAuthenticate', 1, { authBytes: Buffer.from(`n,,\u0001auth=Bearer ${expiredToken}\u0001\u0001`) });
  assert.equal(first.errorCode, 0);
  assert.equal(first.authBytes.toString(), '{"status":"invalid_token"}');
  const second = await client.request('SaslAuthenticate', 1, { authBytes: Buffer.from([1]) });
  assert.deepEqual([second.errorCode, second.errorMessage], [58, '{"status":"invalid_token"}']);
  assert.ok(b.logs.some((l) => l.includes('Failed authentication') && l.includes('expired')));
  assert.ok(!b.logs.join('\n').includes(expiredToken));

  const good = await open(t, b.port('SASL_PLAINTEXT'));
  await good.request('SaslHandshake', 1, { mechanism: 'OAUTHBEARER' });
  const ok = await good.request('SaslAuthenticate', 1, { authBytes: Buffer.from(`n,,\u0001auth=Bearer ${jwt({ sub: 'bob', exp: nowS + 300 })}\u0001\u0001`) });
  assert.equal(ok.errorCode, 0);
  const lifetimeMs = ok.sessionLifetimeMs ?? 0;
  assert.ok(lifetimeMs > 290_000 && lifetimeMs <= 300_000, String(lifetimeMs));
});

test('KIP-368: connections.max.reauth.ms bounds the session; re-authentication extends it, an expired session closes the connection', async (t) => {
  const b = await broker(t, { 'connections.max.reauth.ms': 600 });
  const client = await open(t, b.port('SASL_PLAINTEXT'));
  await client.request('SaslHandshake', 1, { mechanism: 'PLAIN' });
  const auth = await client.request('SaslAuthenticate', 1, { authBytes: plainToken('alice', 'alice-pw') });
  assert.equal(auth.sessionLifetimeMs, 600);
  await new Promise((r) => setTimeout(r, 300));
  // Re-authenticate before the session ends.
  assert.equal((await client.request('SaslHandshake', 1, { mechanism: 'PLAIN' })).errorCode, 0);
  const again = await client.request('SaslAuthenticate', 1, { authBytes: plainToken('alice', 'alice-pw') });
  assert.deepEqual([again.errorCode, again.sessionLifetimeMs], [0, 600]);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal((await client.request('Metadata', 1, { topics: null })).brokers.length, 1, 'still inside the renewed session');
  await new Promise((r) => setTimeout(r, 400));
  await assert.rejects(client.request('Metadata', 1, { topics: null }), /connection closed/);
  assert.ok(b.logs.some((l) => l.includes('SASL session expired')));
});

test('before authentication a frame above 512 KiB (sasl.server.max.receive.size) closes the connection; after it, the normal limit applies', async (t) => {
  const b = await broker(t);
  const big = await open(t, b.port('SASL_PLAINTEXT'));
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(600 * 1024, 0);
  big.socket.write(prefix);
  await new Promise((r) => setTimeout(r, 200));
  await assert.rejects(big.next(1000), /connection closed/);
  assert.ok(b.logs.some((l) => l.includes('sasl.server.max.receive.size before authentication')));
  const client = await open(t, b.port('SASL_PLAINTEXT'));
  await client.request('SaslHandshake', 1, { mechanism: 'PLAIN' });
  await client.request('SaslAuthenticate', 1, { authBytes: plainToken('alice', 'alice-pw') });
  const names = Array.from({ length: 20_000 }, (_, i) => `t-${String(i).padStart(6, '0')}-${'x'.repeat(24)}`);
  const md = await client.request('Metadata', 4, { topics: names.map((name) => ({ name })), allowAutoTopicCreation: false }, { timeoutMs: 30_000 });
  assert.equal(md.topics.length, 20_000, 'a ~680 KiB request is served once authenticated');
});

test('garbage and malformed SASL bytes never crash the broker; another client is unaffected', async (t) => {
  const b = await broker(t);
  const port = b.port('SASL_PLAINTEXT');
  const frames: Buffer[] = [];
  const header = (apiKey: number, version: number) => {
    const w = new Writer();
    const slot = w.reserveInt32();
    encodeRequestHeader(w, requestHeaderVersion(apiKey, version), { requestApiKey: apiKey, requestApiVersion: version, correlationId: 1, clientId: 'fuzz' });
    return { w, slot };
  };
  // SaslAuthenticate before handshake; handshake with a truncated body; random frames.
  for (const [apiKey, version] of [[ApiKey.SaslAuthenticate, 2], [ApiKey.SaslHandshake, 1], [ApiKey.SaslHandshake, 7]] as const) {
    const { w, slot } = header(apiKey, version);
    w.int16(500);
    w.endSizePrefix(slot);
    frames.push(w.finish());
  }
  for (let i = 0; i < 30; i++) {
    const body = Buffer.from(Array.from({ length: 4 + (i * 7) % 60 }, (_, j) => (i * 31 + j * 17) & 0xff));
    const f = Buffer.alloc(4 + body.length);
    f.writeInt32BE(body.length, 0);
    body.copy(f, 4);
    frames.push(f);
  }
  await Promise.all(frames.map((frame) => new Promise<void>((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.write(frame));
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    setTimeout(() => { s.destroy(); resolve(); }, 2000).unref();
  })));
  const client = await open(t, port);
  await client.request('SaslHandshake', 1, { mechanism: 'PLAIN' });
  assert.equal((await client.request('SaslAuthenticate', 1, { authBytes: plainToken('alice', 'alice-pw') })).errorCode, 0);
  assert.equal((await client.request('Metadata', 1, { topics: null })).brokers.length, 1);
});

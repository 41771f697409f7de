// The inter-broker client's pieces that need no socket: the SASL client mechanisms against
// the broker's own SASL servers, and the start-up checks of the inter-broker settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BrokerConfig } from '../src/config/broker-config.js';
import { interBrokerEndpoint, interBrokerSecurity } from '../src/network/inter-broker-client.js';
import { createSaslClient, SaslClientError } from '../src/network/sasl/sasl-client.js';
import { PlainServer } from '../src/network/sasl/plain.js';
import { credentialFromSaltedPassword, saltPassword, ScramServer } from '../src/network/sasl/scram.js';
import type { ScramCredential, ScramMechanism } from '../src/network/sasl/scram.js';
import { SaslConfigError } from '../src/network/sasl/sasl-config.js';

function credential(mechanism: ScramMechanism, password: string, iterations = 4096): ScramCredential {
  const salt = randomBytes(16);
  return credentialFromSaltedPassword(mechanism, salt, saltPassword(mechanism, password, salt, iterations), iterations);
}

/** Runs client and server to the end; the principal, or the reason either side stopped. */
function exchange(mechanism: ScramMechanism, password: string, stored: ScramCredential): { principal?: string; failed?: string } {
  const server = new ScramServer(mechanism, (user) => (user === 'broker' ? stored : undefined), false);
  const client = createSaslClient(mechanism, 'broker', password);
  let token: Buffer | null = client.first();
  while (token !== null) {
    const step = server.evaluate(token);
    if (step.type === 'failed') return { failed: step.logReason };
    if (step.type === 'complete') {
      assert.equal(client.next(step.bytes), null);
      return { principal: step.principal };
    }
    token = client.next(step.bytes);
  }
  return { failed: 'client ended early' };
}

for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
  test(`${mechanism} client: logs in against the broker's server; a wrong password is refused`, () => {
    const stored = credential(mechanism, 'secret');
    assert.deepEqual(exchange(mechanism, 'secret', stored), { principal: 'User:broker' });
    assert.match(exchange(mechanism, 'wrong', stored).failed ?? '', /Invalid client credentials/);
  });
}

test('SCRAM client: refuses a server that does not know the credential, too few iterations, or a nonce not extending its own', () => {
  const client = createSaslClient('SCRAM-SHA-256', 'broker', 'secret');
  const first = client.first().toString();
  const nonce = /r=([^,]+)/.exec(first)![1]!;
  const salt = randomBytes(16).toString('base64');
  assert.throws(() => createSaslClient('SCRAM-SHA-256', 'broker', 'secret').next(Buffer.from(`r=other-nonce,s=${salt},i=4096`)), SaslClientError);
  const weak = createSaslClient('SCRAM-SHA-256', 'broker', 'secret');
  const weakNonce = /r=([^,]+)/.exec(weak.first().toString())![1]!;
  assert.throws(() => weak.next(Buffer.from(`r=${weakNonce}xyz,s=${salt},i=1000`)), /at least 4096/);
  client.next(Buffer.from(`r=${nonce}server,s=${salt},i=4096`));
  assert.throws(() => client.next(Buffer.from(`v=${randomBytes(32).toString('base64')}`)), /signature does not match/);
});

test('PLAIN client: the token the broker\'s PLAIN server accepts', () => {
  const server = new PlainServer(new Map([['broker', 'secret']]), false);
  const step = server.evaluate(createSaslClient('PLAIN', 'broker', 'secret').first());
  assert.equal(step.type, 'complete');
  assert.equal(step.type === 'complete' ? step.principal : '', 'User:broker');
});

const SASL_BASE = {
  listeners: 'CLIENT://127.0.0.1:0,INTERNAL://127.0.0.1:0',
  'listener.security.protocol.map': 'CLIENT:PLAINTEXT,INTERNAL:SASL_PLAINTEXT',
  'inter.broker.listener.name': 'INTERNAL',
  'listener.name.internal.sasl.enabled.mechanisms': 'PLAIN',
  'listener.name.internal.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="broker-secret" user_broker="broker-secret";',
};

test('interBrokerSecurity: the listener, mechanism and credentials from Kafka\'s keys', () => {
  const security = interBrokerSecurity(BrokerConfig.load([{ ...SASL_BASE, 'sasl.mechanism.inter.broker.protocol': 'PLAIN' }]));
  assert.equal(security.listenerName, 'INTERNAL');
  assert.equal(security.securityProtocol, 'SASL_PLAINTEXT');
  assert.deepEqual(security.sasl, { mechanism: 'PLAIN', username: 'broker', password: 'broker-secret' });
  assert.equal(security.tls, undefined);
  // Without inter.broker.listener.name, Kafka's default: the listener named after
  // security.inter.broker.protocol (PLAINTEXT), else (here) this broker's first.
  const plain = interBrokerSecurity(BrokerConfig.load([{ listeners: 'SASL_PLAINTEXT://127.0.0.1:0,PLAINTEXT://127.0.0.1:0', 'sasl.enabled.mechanisms': 'PLAIN' }]));
  assert.equal(plain.listenerName, 'PLAINTEXT');
  const first = interBrokerSecurity(BrokerConfig.load([{ ...SASL_BASE, 'inter.broker.listener.name': undefined }]));
  assert.equal(first.listenerName, 'CLIENT');
  assert.equal(first.securityProtocol, 'PLAINTEXT');
});

test('interBrokerSecurity: settings that cannot work are start-up errors naming the key, never the password', () => {
  const load = (extra: Record<string, unknown>) => () => interBrokerSecurity(BrokerConfig.load([{ ...SASL_BASE, ...extra }]));
  // Kafka's default mechanism is GSSAPI, which is not implemented.
  assert.throws(load({}), (e: unknown) => e instanceof SaslConfigError && /sasl\.mechanism\.inter\.broker\.protocol is GSSAPI/.test(e.message));
  assert.throws(load({ 'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-256' }), /must be included in sasl.enabled.mechanisms/);
  const noLogin = load({ 'sasl.mechanism.inter.broker.protocol': 'PLAIN', 'listener.name.internal.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_broker="broker-secret";' });
  assert.throws(noLogin, (e: unknown) => e instanceof SaslConfigError && /names no username and password/.test(e.message) && !e.message.includes('broker-secret'));
});

test('interBrokerEndpoint: the peer\'s endpoint of the inter-broker listener, or an error naming what it has', () => {
  const peer = { nodeId: 2, endpoints: [{ listener: 'CLIENT', host: 'h', port: 1, securityProtocol: 'PLAINTEXT' }, { listener: 'INTERNAL', host: 'h', port: 2, securityProtocol: 'SSL' }] };
  assert.equal(interBrokerEndpoint(peer, 'INTERNAL').port, 2);
  assert.throws(() => interBrokerEndpoint(peer, 'REPLICATION'), /broker 2 has no endpoint for the inter-broker listener REPLICATION \(it has CLIENT, INTERNAL\)/);
});

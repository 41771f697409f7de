/**
 * SSL listeners with real clients: kcat, confluent-kafka-python and KafkaJS produce and
 * consume over TLS; mTLS (ssl.client.auth=required) admits a client with a certificate
 * from the trusted CA and refuses one from another CA and one without a certificate,
 * logging the refusal; the principal is the certificate's subject in RFC 2253 order,
 * mapped by ssl.principal.mapping.rules; a PLAINTEXT listener runs beside the SSL one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { Kafka, logLevel } from 'kafkajs';
import { readFileSync, writeFileSync } from 'node:fs';
import { requirePythonModule, requireTool, run, runPython, waitUntil } from './kit.js';
import { makePki, startSecureBroker, tlsServerConfig } from './security-kit.js';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';

const RECORDS = 200;
const lines = Array.from({ length: RECORDS }, (_, i) => `k${i}\tvalue-${i}`).join('\n') + '\n';

function sslArgs(ca: string, cert?: { cert: string; key: string }): string[] {
  const args = ['-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${ca}`];
  if (cert) args.push('-X', `ssl.certificate.location=${cert.cert}`, '-X', `ssl.key.location=${cert.key}`);
  return args;
}

test('kcat, confluent-kafka-python and KafkaJS produce and consume over SSL beside a PLAINTEXT listener', { timeout: 120_000 }, async (t) => {
  requireTool('kcat');
  requirePythonModule('confluent_kafka');
  const pki = makePki(t);
  const { bootstrap } = await startSecureBroker(t, {
    listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0',
    ...tlsServerConfig(pki, 'SSL'),
  });
  const ssl = bootstrap('SSL');
  const produced = await run('kcat', ['-P', '-b', ssl, '-t', 'tls-kcat', '-K', '\t', '-X', 'acks=all', ...sslArgs(pki.caCert)], { input: lines });
  assert.equal(produced.code, 0, produced.stderr);
  const consumed = await run('kcat', ['-C', '-b', ssl, '-t', 'tls-kcat', '-o', 'beginning', '-e', '-q', '-f', '%k\t%s\n', ...sslArgs(pki.caCert)]);
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.equal(consumed.stdout.toString(), lines);
  // The same records over the PLAINTEXT listener: one log, two listeners.
  const plain = await run('kcat', ['-C', '-b', bootstrap('PLAINTEXT'), '-t', 'tls-kcat', '-o', 'beginning', '-e', '-q', '-f', '%k\t%s\n']);
  assert.equal(plain.stdout.toString(), lines);

  const py = await runPython(`
import sys
from confluent_kafka import Producer, Consumer
conf = {'bootstrap.servers': sys.argv[1], 'security.protocol': 'SSL', 'ssl.ca.location': sys.argv[2]}
p = Producer(conf)
for i in range(100):
    p.produce('tls-python', key=str(i).encode(), value=('v%d' % i).encode())
assert p.flush(30) == 0
c = Consumer(dict(conf, **{'group.id': 'g-tls', 'auto.offset.reset': 'earliest'}))
c.subscribe(['tls-python'])
got = []
while len(got) < 100:
    m = c.poll(10)
    assert m is not None, 'timed out after %d records' % len(got)
    assert m.error() is None, m.error()
    got.append(m.value().decode())
c.close()
assert got == ['v%d' % i for i in range(100)], got[:5]
print('ok')
`, [ssl, pki.caCert]);
  assert.equal(py.code, 0, py.stderr);
  assert.equal(py.stdout.toString().trim(), 'ok');

  const kafka = new Kafka({ clientId: 'tls-kafkajs', brokers: [ssl], ssl: { ca: [readFileSync(pki.caCert, 'utf8')] }, logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  await producer.send({ topic: 'tls-kafkajs', messages: Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
  const consumer = kafka.consumer({ groupId: 'g-kafkajs-tls' });
  await consumer.connect();
  t.after(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'tls-kafkajs', fromBeginning: true });
  const values: string[] = [];
  await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value!.toString()); } });
  await waitUntil('KafkaJS consumed 50 records over SSL', () => values.length >= 50, 30_000);
  assert.deepEqual(values, Array.from({ length: 50 }, (_, i) => `v${i}`));
});

test('mTLS: a trusted client certificate is admitted with its subject as principal; an untrusted or missing one is refused and logged', { timeout: 60_000 }, async (t) => {
  requireTool('kcat');
  const pki = makePki(t);
  const { bootstrap, port, logs } = await startSecureBroker(t, {
    listeners: 'SSL://127.0.0.1:0',
    ...tlsServerConfig(pki, 'SSL', { 'ssl.client.auth': 'required' }),
  }, 'debug');
  const ssl = bootstrap('SSL');
  const ok = await run('kcat', ['-L', '-b', ssl, '-m', '10', ...sslArgs(pki.caCert, { cert: pki.clientCert, key: pki.clientKey })]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(logs.some((l) => l.includes('TLS handshake complete') && l.includes('User:CN=alice,OU=eng,O=Example,C=US')), 'principal from the certificate subject, RFC 2253 order');

  const rogue = await run('kcat', ['-L', '-b', ssl, '-m', '5', ...sslArgs(pki.caCert, { cert: pki.rogueCert, key: pki.rogueKey })]);
  assert.notEqual(rogue.code, 0, 'a certificate from an untrusted CA must be refused');
  const none = await run('kcat', ['-L', '-b', ssl, '-m', '5', ...sslArgs(pki.caCert)]);
  assert.notEqual(none.code, 0, 'no client certificate must be refused');
  assert.ok(logs.some((l) => l.includes('Failed authentication (SSL handshake failed)')), 'the refusal is logged');

  // A raw TLS client sees the same: the handshake fails with a certificate alert.
  const err = await new Promise<Error | null>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: port('SSL'), ca: readFileSync(pki.caCert), cert: readFileSync(pki.rogueCert), key: readFileSync(pki.rogueKey), servername: 'localhost' });
    s.on('secureConnect', () => { s.write(Buffer.alloc(4)); });
    s.on('error', (e) => { resolve(e); });
    s.on('close', () => resolve(null));
  });
  assert.ok(err === null || /alert|certificate|reset|socket/i.test(err.message), String(err));
});

test('ssl.client.auth=requested: no certificate is ANONYMOUS, and ssl.principal.mapping.rules shorten a certificate subject', { timeout: 60_000 }, async (t) => {
  const pki = makePki(t);
  const { port, logs } = await startSecureBroker(t, {
    listeners: 'SSL://127.0.0.1:0',
    ...tlsServerConfig(pki, 'SSL', { 'ssl.client.auth': 'requested', 'ssl.principal.mapping.rules': 'RULE:^CN=([a-z]+),OU=eng,.*$/$1/U,DEFAULT' }),
  }, 'debug');
  const open = async (cert?: boolean) => {
    const socket = await new Promise<import('node:tls').TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: port('SSL'), ca: readFileSync(pki.caCert), servername: 'localhost', ...(cert ? { cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) } : {}) }, () => resolve(s));
      s.once('error', reject);
    });
    const client = RawClient.fromSocket(socket);
    t.after(() => client.close());
    const versions = await client.request('ApiVersions', 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
    assert.equal(versions.errorCode, 0);
  };
  await open(false);
  await open(true);
  assert.ok(logs.some((l) => l.includes('TLS handshake complete') && l.includes('User:ANONYMOUS')));
  assert.ok(logs.some((l) => l.includes('TLS handshake complete') && l.includes('principal=User:ALICE')), logs.filter((l) => l.includes('TLS')).join('\n'));
});

test('certificate reload: a new server certificate file is served to new connections without a restart', { timeout: 60_000 }, async (t) => {
  const pki = makePki(t);
  const second = makePki(t);
  // A key file holding key and chain, as ssl.keystore.location with type PEM.
  const keystore = `${pki.dir}/keystore.pem`;
  writeFileSync(keystore, readFileSync(pki.serverKey, 'utf8') + readFileSync(pki.serverCert, 'utf8'));
  const { broker, port, logs } = await startSecureBroker(t, {
    listeners: 'SSL://127.0.0.1:0',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': keystore,
  });
  const issuerOf = () => new Promise<string>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: port('SSL'), rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().issuer.CN as string);
      s.destroy();
    });
    s.once('error', reject);
  });
  assert.equal(await issuerOf(), 'Tributary Test CA');
  writeFileSync(keystore, readFileSync(second.serverKey, 'utf8') + readFileSync(second.serverCert, 'utf8'));
  await waitUntil('the listener reloads its certificate', () => logs.some((l) => l.includes('Reloaded TLS key and certificates')), 10_000);
  const cert = await new Promise<string>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: port('SSL'), rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.once('error', reject);
  });
  const { X509Certificate } = await import('node:crypto');
  assert.equal(cert, new X509Certificate(readFileSync(second.serverCert)).fingerprint256);
  assert.ok(broker.listeners.length === 1);
});

test('certificate reload: IncrementalAlterConfigs on listener.name.<l>.ssl.keystore.* switches new connections to the new certificate', { timeout: 60_000 }, async (t) => {
  const pki = makePki(t);
  const second = makePki(t);
  const { broker, port, logs } = await startSecureBroker(t, {
    listeners: 'SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0',
    ...tlsServerConfig(pki, 'SSL'),
  });
  const fingerprint = () => new Promise<string>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: port('SSL'), rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.once('error', reject);
  });
  const { X509Certificate } = await import('node:crypto');
  const fp = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;
  assert.equal(await fingerprint(), fp(pki.serverCert));
  const admin = await RawClient.open(port('PLAINTEXT'));
  t.after(() => admin.close());
  const res = await admin.request('IncrementalAlterConfigs', 0, {
    resources: [{
      resourceType: 4, resourceName: String(broker.nodeId), configs: [
        { name: 'listener.name.ssl.ssl.keystore.certificate.chain', configOperation: 0, value: readFileSync(second.serverCert, 'utf8') },
        { name: 'listener.name.ssl.ssl.keystore.key', configOperation: 0, value: readFileSync(second.serverKey, 'utf8') },
      ],
    }],
    validateOnly: false,
  });
  assert.equal(res.responses[0]!.errorCode, 0, JSON.stringify(res));
  await waitUntil('the listener is reconfigured', () => logs.some((l) => l.includes('Reconfigured TLS key and certificates')), 10_000);
  assert.equal(await fingerprint(), fp(second.serverCert));
  assert.ok(!logs.join('\n').includes('PRIVATE KEY'), 'no key material in the log');
});

/** What a TLS client negotiates with a listener: protocol and cipher, or the handshake error. */
function negotiate(port: number, ca: string, options: { ciphers?: string; minVersion?: 'TLSv1.2' | 'TLSv1.3'; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(ca), servername: 'localhost', ...options }, () => {
      resolve(`${s.getProtocol()} ${s.getCipher().standardName}`);
      s.destroy();
    });
    s.on('error', (err) => resolve(`error ${err.message}`));
  });
}

test('cipher suites: the server prefers TLS_AES_128_GCM_SHA256 by default; ssl.cipher.suites (IANA names) and ssl.enabled.protocols are honoured', { timeout: 60_000 }, async (t) => {
  requireTool('kcat');
  const pki = makePki(t);
  const { port, bootstrap } = await startSecureBroker(t, {
    listeners: 'SSL://127.0.0.1:0,TLS12://127.0.0.1:0',
    'listener.security.protocol.map': 'SSL:SSL,TLS12:SSL',
    ...tlsServerConfig(pki, 'SSL'),
    ...tlsServerConfig(pki, 'TLS12', {
      'ssl.enabled.protocols': 'TLSv1.2',
      'ssl.cipher.suites': 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
    }),
  });
  // OpenSSL's (and Node's) client lists TLS_AES_256_GCM_SHA384 first; the server's order wins.
  assert.equal(await negotiate(port('SSL'), pki.caCert), 'TLSv1.3 TLS_AES_128_GCM_SHA256');
  // A client that offers only other strong suites still connects.
  assert.equal(await negotiate(port('SSL'), pki.caCert, { ciphers: 'TLS_AES_256_GCM_SHA384' }), 'TLSv1.3 TLS_AES_256_GCM_SHA384');
  assert.equal(await negotiate(port('SSL'), pki.caCert, { maxVersion: 'TLSv1.2' }), 'TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');

  // The restricted listener: TLS 1.2 only, with the operator's suites in the operator's order.
  assert.equal(await negotiate(port('TLS12'), pki.caCert), 'TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
  assert.match(await negotiate(port('TLS12'), pki.caCert, { minVersion: 'TLSv1.3' }), /^error /);
  assert.match(await negotiate(port('TLS12'), pki.caCert, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }), /^error /);
  // librdkafka works over it.
  const produced = await run('kcat', ['-P', '-b', bootstrap('TLS12'), '-t', 'tls12', '-K', '\t', ...sslArgs(pki.caCert)], { input: lines });
  assert.equal(produced.code, 0, produced.stderr);
  const consumed = await run('kcat', ['-C', '-b', bootstrap('TLS12'), '-t', 'tls12', '-o', 'beginning', '-e', '-q', '-f', '%k\t%s\n', ...sslArgs(pki.caCert)]);
  assert.equal(consumed.stdout.toString(), lines);
});

/**
 * SASL listeners with real clients. SASL_SSL with PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and
 * OAUTHBEARER (librdkafka's unsecured JWT): kcat, confluent-kafka-python and KafkaJS
 * produce and consume; a wrong password, an unknown user and an expired token are refused
 * with Kafka's SASL_AUTHENTICATION_FAILED messages, logged without the secret. SCRAM users
 * are managed with AlterUserScramCredentials / DescribeUserScramCredentials.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { SASLOptions } from 'kafkajs';
import { requirePythonModule, requireTool, run, runPython, waitUntil } from './kit.js';
import { makePki, startSecureBroker, tlsServerConfig } from './security-kit.js';
import type { Pki, SecureBroker } from './security-kit.js';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { saltPassword } from '../../packages/broker/src/network/sasl/scram.js';

const PASSWORDS = { alice: 'alice-secret-9f3', bob: 'bob-secret-77a' };
const JAAS_PLAIN = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-pw" user_alice="${PASSWORDS.alice}" user_bob="${PASSWORDS.bob}";`;

async function saslBroker(t: { after(fn: () => unknown): void }, pki: Pki, extra: Record<string, string> = {}): Promise<SecureBroker> {
  return startSecureBroker(t, {
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    ...tlsServerConfig(pki, 'SASL_SSL'),
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER',
    'listener.name.sasl_ssl.plain.sasl.jaas.config': JAAS_PLAIN,
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': JAAS_PLAIN,
    ...extra,
  });
}

/** Adds alice's SCRAM credentials for both mechanisms with AlterUserScramCredentials, as an admin tool would. */
async function addScramUser(port: number, user: string, password: string): Promise<void> {
  const client = await RawClient.open(port);
  try {
    const upsertions = ([[1, 'SCRAM-SHA-256'], [2, 'SCRAM-SHA-512']] as const).map(([mechanism, name]) => {
      const salt = randomBytes(24);
      return { name: user, mechanism, iterations: 4096, salt, saltedPassword: saltPassword(name, password, salt, 4096) };
    });
    const first = await client.request('AlterUserScramCredentials', 0, { deletions: [], upsertions: [upsertions[0]!] });
    assert.deepEqual(first.results, [{ user, errorCode: 0, errorMessage: null }]);
    const second = await client.request('AlterUserScramCredentials', 0, { deletions: [], upsertions: [upsertions[1]!] });
    assert.deepEqual(second.results, [{ user, errorCode: 0, errorMessage: null }]);
  } finally {
    client.close();
  }
}

function saslArgs(pki: Pki, mechanism: string, user: string, password: string): string[] {
  return ['-X', 'security.protocol=sasl_ssl', '-X', `ssl.ca.location=${pki.caCert}`, '-X', `sasl.mechanisms=${mechanism}`, '-X', `sasl.username=${user}`, '-X', `sasl.password=${password}`];
}

const lines = Array.from({ length: 100 }, (_, i) => `k${i}\tv${i}`).join('\n') + '\n';

test('kcat over SASL_SSL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512; wrong passwords refused with Kafka messages and logged without the secret', { timeout: 120_000 }, async (t) => {
  requireTool('kcat');
  const pki = makePki(t);
  const b = await saslBroker(t, pki);
  await addScramUser(b.port('PLAINTEXT'), 'alice', PASSWORDS.alice);
  const sasl = b.bootstrap('SASL_SSL');
  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    const topic = `sasl-${mechanism.toLowerCase()}`;
    const produced = await run('kcat', ['-P', '-b', sasl, '-t', topic, '-K', '\t', ...saslArgs(pki, mechanism, 'alice', PASSWORDS.alice)], { input: lines });
    assert.equal(produced.code, 0, `${mechanism}: ${produced.stderr}`);
    const consumed = await run('kcat', ['-C', '-b', sasl, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\t%s\n', ...saslArgs(pki, mechanism, 'alice', PASSWORDS.alice)]);
    assert.equal(consumed.code, 0, `${mechanism}: ${consumed.stderr}`);
    assert.equal(consumed.stdout.toString(), lines);

    const wrong = await run('kcat', ['-L', '-b', sasl, '-m', '5', ...saslArgs(pki, mechanism, 'alice', 'not-the-password-x1')]);
    assert.notEqual(wrong.code, 0);
    const expected = mechanism === 'PLAIN'
      ? 'Authentication failed: Invalid username or password'
      : `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`;
    assert.ok(wrong.stderr.includes(expected), `${mechanism}: kcat shows Kafka's message; got ${wrong.stderr}`);
  }
  const unknown = await run('kcat', ['-L', '-b', sasl, '-m', '5', ...saslArgs(pki, 'SCRAM-SHA-256', 'mallory', 'whatever-pw')]);
  assert.ok(unknown.stderr.includes('due to invalid credentials with SASL mechanism SCRAM-SHA-256'), unknown.stderr);
  // SASL_PLAINTEXT too.
  const plainText = await run('kcat', ['-L', '-b', b.bootstrap('SASL_PLAINTEXT'), '-m', '10', '-X', 'security.protocol=sasl_plaintext', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=bob', '-X', `sasl.password=${PASSWORDS.bob}`]);
  assert.equal(plainText.code, 0, plainText.stderr);

  const failures = b.logs.filter((l) => l.includes('Failed authentication'));
  assert.ok(failures.length >= 4, `refusals are logged: ${failures.join('\n')}`);
  const all = b.logs.join('\n');
  for (const secret of ['not-the-password-x1', 'whatever-pw', PASSWORDS.alice, PASSWORDS.bob]) assert.ok(!all.includes(secret), `the log must not contain ${secret}`);
});

test('SCRAM credentials: DescribeUserScramCredentials lists them, AlterUserScramCredentials deletes them and refuses bad ones with Kafka errors', { timeout: 60_000 }, async (t) => {
  const pki = makePki(t);
  const b = await saslBroker(t, pki);
  await addScramUser(b.port('PLAINTEXT'), 'alice', PASSWORDS.alice);
  const client = await RawClient.open(b.port('PLAINTEXT'));
  t.after(() => client.close());
  const all = await client.request('DescribeUserScramCredentials', 0, { users: null });
  assert.deepEqual(all.results, [{ user: 'alice', errorCode: 0, errorMessage: null, credentialInfos: [{ mechanism: 1, iterations: 4096 }, { mechanism: 2, iterations: 4096 }] }]);
  const some = await client.request('DescribeUserScramCredentials', 0, { users: [{ name: 'nobody' }, { name: 'alice' }, { name: 'alice' }] });
  assert.deepEqual(some.results.map((r) => [r.user, r.errorCode, r.errorMessage]), [
    ['nobody', 91, 'Attempt to describe a user credential that does not exist: nobody'],
    ['alice', 92, 'Cannot describe SCRAM credentials for the same user twice in a single request: alice'],
  ]);
  const bad = await client.request('AlterUserScramCredentials', 0, {
    deletions: [{ name: 'ghost', mechanism: 1 }],
    upsertions: [
      { name: 'few', mechanism: 1, iterations: 100, salt: Buffer.from('s'), saltedPassword: Buffer.from('p') },
      { name: 'mech', mechanism: 9, iterations: 4096, salt: Buffer.from('s'), saltedPassword: Buffer.from('p') },
    ],
  });
  assert.deepEqual(bad.results.map((r) => [r.user, r.errorCode]), [['ghost', 91], ['few', 93], ['mech', 33]]);
  const del = await client.request('AlterUserScramCredentials', 0, { deletions: [{ name: 'alice', mechanism: 1 }], upsertions: [] });
  assert.deepEqual(del.results, [{ user: 'alice', errorCode: 0, errorMessage: null }]);
  const after = await client.request('DescribeUserScramCredentials', 0, { users: [{ name: 'alice' }] });
  assert.deepEqual(after.results[0]!.credentialInfos, [{ mechanism: 2, iterations: 4096 }]);
});

test('confluent-kafka-python over SASL_SSL with PLAIN, SCRAM-SHA-512 and OAUTHBEARER (unsecured JWT)', { timeout: 120_000 }, async (t) => {
  requirePythonModule('confluent_kafka');
  const pki = makePki(t);
  const b = await saslBroker(t, pki);
  await addScramUser(b.port('PLAINTEXT'), 'alice', PASSWORDS.alice);
  const script = `
import sys, json
from confluent_kafka import Producer, Consumer
conf = json.loads(sys.argv[1])
topic = sys.argv[2]
p = Producer(conf)
for i in range(50):
    p.produce(topic, key=str(i).encode(), value=('v%d' % i).encode())
assert p.flush(30) == 0
c = Consumer(dict(conf, **{'group.id': 'g-' + topic, 'auto.offset.reset': 'earliest'}))
c.subscribe([topic])
got = []
while len(got) < 50:
    m = c.poll(10)
    assert m is not None, 'timed out after %d records' % len(got)
    assert m.error() is None, m.error()
    got.append(m.value().decode())
c.close()
assert got == ['v%d' % i for i in range(50)], got[:5]
print('ok')
`;
  const base = { 'bootstrap.servers': b.bootstrap('SASL_SSL'), 'security.protocol': 'SASL_SSL', 'ssl.ca.location': pki.caCert };
  const confs: Record<string, Record<string, string | boolean>> = {
    plain: { ...base, 'sasl.mechanisms': 'PLAIN', 'sasl.username': 'alice', 'sasl.password': PASSWORDS.alice },
    scram512: { ...base, 'sasl.mechanisms': 'SCRAM-SHA-512', 'sasl.username': 'alice', 'sasl.password': PASSWORDS.alice },
    oauth: { ...base, 'sasl.mechanisms': 'OAUTHBEARER', 'enable.sasl.oauthbearer.unsecure.jwt': true, 'sasl.oauthbearer.config': 'principal=alice' },
  };
  for (const [name, conf] of Object.entries(confs)) {
    const r = await runPython(script, [JSON.stringify(conf), `py-${name}`]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.equal(r.stdout.toString().trim(), 'ok');
  }
  // kcat with the unsecured JWT too.
  requireTool('kcat');
  const k = await run('kcat', ['-L', '-b', b.bootstrap('SASL_SSL'), '-m', '10', '-X', 'security.protocol=sasl_ssl', '-X', `ssl.ca.location=${pki.caCert}`, '-X', 'sasl.mechanisms=OAUTHBEARER', '-X', 'enable.sasl.oauthbearer.unsecure.jwt=true', '-X', 'sasl.oauthbearer.config=principal=carol']);
  assert.equal(k.code, 0, k.stderr);
});

function unsecuredJwt(claims: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none' })}.${enc(claims)}.`;
}

test('KafkaJS over SASL_SSL with PLAIN, SCRAM-SHA-256 and OAUTHBEARER; wrong password and expired token refused', { timeout: 120_000 }, async (t) => {
  const pki = makePki(t);
  const b = await saslBroker(t, pki);
  await addScramUser(b.port('PLAINTEXT'), 'alice', PASSWORDS.alice);
  const ca = [readFileSync(pki.caCert, 'utf8')];
  const nowS = Math.floor(Date.now() / 1000);
  const kafkaWith = (sasl: SASLOptions, retries = 5) => new Kafka({ clientId: 'sasl-kafkajs', brokers: [b.bootstrap('SASL_SSL')], ssl: { ca }, sasl, logLevel: logLevel.NOTHING, retry: { retries } });
  const good: [string, SASLOptions][] = [
    ['plain', { mechanism: 'plain', username: 'alice', password: PASSWORDS.alice }],
    ['scram', { mechanism: 'scram-sha-256', username: 'alice', password: PASSWORDS.alice }],
    ['oauth', { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: unsecuredJwt({ sub: 'alice', iat: nowS, exp: nowS + 600 }) }) }],
  ];
  for (const [name, sasl] of good) {
    const kafka = kafkaWith(sasl);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: `kjs-${name}`, messages: Array.from({ length: 20 }, (_, i) => ({ value: `v${i}` })) });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: `g-kjs-${name}` });
    await consumer.connect();
    await consumer.subscribe({ topic: `kjs-${name}`, fromBeginning: true });
    const got: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => { got.push(message.value!.toString()); } });
    await waitUntil(`KafkaJS ${name} consumed 20 records`, () => got.length >= 20, 30_000);
    await consumer.disconnect();
  }
  const refused = async (sasl: SASLOptions): Promise<string> => {
    const producer = kafkaWith(sasl, 0).producer();
    try {
      // KafkaJS takes OAUTHBEARER's error challenge for success (as against Kafka): the
      // refusal shows on its next request, which the broker answers by closing.
      await producer.connect();
      await producer.send({ topic: 'never', messages: [{ value: 'x' }] });
      await producer.disconnect();
      return 'connected';
    } catch (err) {
      return `${(err as Error).name}: ${(err as Error).message}`;
    }
  };
  const wrongPlain = await refused({ mechanism: 'plain', username: 'alice', password: 'nope-nope-123' });
  assert.match(wrongPlain, /Authentication failed: Invalid username or password/);
  const wrongScram = await refused({ mechanism: 'scram-sha-256', username: 'alice', password: 'nope-nope-123' });
  assert.match(wrongScram, /SASL|authentication|Authentication/i);
  assert.notEqual(wrongScram, 'connected');
  const expiredToken = unsecuredJwt({ sub: 'alice', iat: nowS - 7200, exp: nowS - 3600 });
  const expired = await refused({ mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: expiredToken }) });
  assert.notEqual(expired, 'connected');
  await waitUntil('the expired token is logged as refused', () => b.logs.some((l) => l.includes('Failed authentication') && l.includes('expired')), 5000);
  const all = b.logs.join('\n');
  assert.ok(!all.includes(expiredToken) && !all.includes('nope-nope-123'), 'no secret in the log');
});

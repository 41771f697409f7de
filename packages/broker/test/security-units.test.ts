/**
 * The security building blocks without sockets: ssl.principal.mapping.rules, RFC 2253
 * subjects, JAAS parsing, SCRAM against RFC 7677's test vector, OAUTHBEARER validation
 * (unsecured and RS256 against a JWKS file with issuer/audience checks), SCRAM records in
 * the local metadata store across a restart, ssl.enabled.protocols and ssl.cipher.suites
 * as node:tls options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SslPrincipalMapper, PrincipalMappingError } from '../src/network/principal-mapping.js';
import { parseJaasConfig, saslListenerConfig, SaslConfigError } from '../src/network/sasl/sasl-config.js';
import { credentialFromPassword, ScramServer } from '../src/network/sasl/scram.js';
import { JwksKeys, OAuthBearerServer } from '../src/network/sasl/oauthbearer.js';
import { PlainServer } from '../src/network/sasl/plain.js';
import { LocalMetadataStore } from '../src/metadata/local-metadata-store.js';
import { tlsProtocolOptions, TlsProtocolConfigError } from '../src/network/tls-ciphers.js';
import { createSecureContext } from 'node:tls';

test('ssl.principal.mapping.rules: Kafka rule syntax, first applying rule wins, L/U case, no rule applies -> null', () => {
  const m = SslPrincipalMapper.fromRules('RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U,DEFAULT');
  assert.equal(m.getName('CN=kafka-server1,OU=ServiceUsers,O=Org,C=US'), 'kafka-server1');
  assert.equal(m.getName('CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Santa Clara,ST=CA,C=US'), 'duke@javasoft');
  assert.equal(m.getName('OU=x,CN=adminuser'), 'ADMINUSER');
  assert.equal(m.getName('OU=nothing'), 'OU=nothing');
  assert.equal(SslPrincipalMapper.fromRules('RULE:^CN=([a-z]+)$/$1/').getName('CN=Alice,O=x'), null);
  assert.equal(SslPrincipalMapper.fromRules('DEFAULT').getName('CN=a,O=b'), 'CN=a,O=b');
  assert.equal(SslPrincipalMapper.fromRules('RULE:^CN=(.*)$/$1/\nDEFAULT').getName('CN=a'), 'a');
  assert.throws(() => SslPrincipalMapper.fromRules('nonsense'), PrincipalMappingError);
});

test('JAAS config: login module, flag, quoted and bare options; malformed text names no value', () => {
  const e = parseJaasConfig('org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="a b\\"c" user_alice=pw;', 'k');
  assert.equal(e.loginModule, 'org.apache.kafka.common.security.plain.PlainLoginModule');
  assert.equal(e.flag, 'required');
  assert.deepEqual([...e.options], [['username', 'admin'], ['password', 'a b"c'], ['user_alice', 'pw']]);
  assert.throws(() => parseJaasConfig('Module required user_x="secret-value"', 'k'), (err: Error) => err instanceof SaslConfigError && !err.message.includes('secret-value'));
  assert.throws(() => saslListenerConfig('SASL_SSL', () => null, () => undefined), /GSSAPI is not supported/);
  assert.throws(() => saslListenerConfig('SASL_SSL', (k) => (k === 'sasl.enabled.mechanisms' ? 'PLAIN' : null), () => undefined), /enables PLAIN but has no users/);
});

test('SCRAM-SHA-256 server against RFC 7677 section 3 test vector', () => {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const credential = credentialFromPassword('SCRAM-SHA-256', 'pencil', 4096, salt);
  const server = new ScramServer('SCRAM-SHA-256', (user) => (user === 'user' ? credential : undefined), false, () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
  const first = server.evaluate(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
  assert.equal(first.type, 'challenge');
  assert.equal(first.bytes.toString(), 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
  const final = server.evaluate(Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='));
  assert.equal(final.type, 'complete');
  assert.equal(final.type === 'complete' && final.bytes.toString(), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  assert.equal(final.type === 'complete' && final.principal, 'User:user');

  const bad = new ScramServer('SCRAM-SHA-256', () => credential, false, () => 'x');
  bad.evaluate(Buffer.from('n,,n=user,r=abc'));
  const refused = bad.evaluate(Buffer.from(`c=biws,r=abcx,p=${Buffer.alloc(32).toString('base64')}`));
  assert.deepEqual(refused.type === 'failed' && refused.clientMessage, 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256');
  const authz = new ScramServer('SCRAM-SHA-256', () => credential, false).evaluate(Buffer.from('n,a=admin,n=user,r=abc'));
  assert.equal(authz.type === 'failed' && authz.clientMessage, 'Authentication failed: Client requested an authorization id that is different from username');
  const malformed = new ScramServer('SCRAM-SHA-256', () => credential, false).evaluate(Buffer.from([0xff, 0x00, 0x2c]));
  assert.equal(malformed.type, 'failed');
});

test('PLAIN: Kafka messages for each refusal', () => {
  const users = new Map([['alice', 'pw']]);
  const run = (token: string) => new PlainServer(users, false).evaluate(Buffer.from(token));
  assert.equal(run('\u0000alice\u0000pw').type, 'complete');
  assert.equal((run('\u0000alice\u0000nope') as { clientMessage: string }).clientMessage, 'Authentication failed: Invalid username or password');
  assert.equal((run('bob\u0000alice\u0000pw') as { clientMessage: string }).clientMessage, 'Authentication failed: Client requested an authorization id that is different from username');
  assert.equal((run('garbage') as { clientMessage: string }).clientMessage, 'Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN');
});

test('OAUTHBEARER with JWKS: RS256 signature, kid, exp, issuer and audience checked', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'jwks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] }));
  const jwks = JwksKeys.fromUrl(pathToFileURL(join(dir, 'jwks.json')).href);
  const nowS = Math.floor(Date.now() / 1000);
  const token = (claims: object, key = privateKey, kid = 'k1') => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const input = `${enc({ alg: 'RS256', kid, typ: 'JWT' })}.${enc(claims)}`;
    return `${input}.${sign('RSA-SHA256', Buffer.from(input), key).toString('base64url')}`;
  };
  const check = (jwt: string) => new OAuthBearerServer({ principalClaimName: 'sub', allowableClockSkewMs: 0, jwks, expectedIssuer: 'https://issuer', expectedAudience: ['kafka'] }, false)
    .evaluate(Buffer.from(`n,,\u0001auth=Bearer ${jwt}\u0001\u0001`), Date.now());
  const good = { sub: 'svc', iss: 'https://issuer', aud: ['kafka', 'x'], exp: nowS + 60 };
  const ok = check(token(good));
  assert.equal(ok.type === 'complete' && ok.principal, 'User:svc');
  for (const [why, jwt] of [
    ['expired', token({ ...good, exp: nowS - 1 })],
    ['issuer', token({ ...good, iss: 'https://evil' })],
    ['audience', token({ ...good, aud: 'other' })],
    ['signature', token(good, other.privateKey)],
    ['kid', token(good, privateKey, 'k2')],
    ['unsecured', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(good)).toString('base64url')}.`],
  ] as const) {
    const step = check(jwt);
    assert.equal(step.type, 'challenge', why);
    assert.equal(step.type === 'challenge' && step.bytes.toString(), '{"status":"invalid_token"}', why);
  }
});

test('SCRAM credentials are records of the local metadata store and survive a restart and a compaction', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meta-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cred = { mechanism: 1, salt: 'c2FsdA==', storedKey: 'c3Q=', serverKey: 'c2U=', iterations: 4096 };
  const store = await LocalMetadataStore.open({ dataDir: dir, clusterId: 'AAAAAAAAAAAAAAAAAAAAAA' });
  await store.alterScramCredentials([{ user: 'alice', mechanism: 1, credential: cred }, { user: 'bob', mechanism: 2, credential: { ...cred, mechanism: 2 } }]);
  await store.alterScramCredentials([{ user: 'bob', mechanism: 2, credential: null }]);
  assert.deepEqual(store.scramUsers(), ['alice']);
  await store.close();
  const reopened = await LocalMetadataStore.open({ dataDir: dir, clusterId: 'AAAAAAAAAAAAAAAAAAAAAA' });
  t.after(() => reopened.close());
  assert.deepEqual(reopened.scramCredentials('alice'), [cred]);
  assert.deepEqual(reopened.scramCredentials('bob'), []);
  (reopened as unknown as { compact(): void }).compact();
  await reopened.close();
  const third = await LocalMetadataStore.open({ dataDir: dir, clusterId: 'AAAAAAAAAAAAAAAAAAAAAA' });
  t.after(() => third.close());
  assert.deepEqual(third.scramCredentials('alice'), [cred]);
});

test('listener config: inter.broker.listener.name must name an advertised listener; security keys load without the unknown-key warning', async () => {
  const { BrokerConfig } = await import('../src/config/broker-config.js');
  const warnings: string[] = [];
  const logger = { warn: (m: string) => warnings.push(m), info() {}, debug() {}, error() {}, trace() {}, child() { return logger; } } as never;
  const ok = BrokerConfig.load([{ listeners: 'INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0', 'listener.security.protocol.map': 'INTERNAL:SASL_SSL,EXTERNAL:SSL', 'inter.broker.listener.name': 'internal', 'ssl.keystore.location': '/x', 'listener.name.internal.sasl.enabled.mechanisms': 'PLAIN', 'connections.max.reauth.ms': '1000' }], logger);
  assert.deepEqual(ok.listeners().map((l) => [l.name, l.securityProtocol]), [['INTERNAL', 'SASL_SSL'], ['EXTERNAL', 'SSL']]);
  assert.deepEqual(warnings, []);
  assert.throws(() => BrokerConfig.load([{ listeners: 'PLAINTEXT://127.0.0.1:0', 'inter.broker.listener.name': 'REPLICATION' }]), /inter.broker.listener.name must be a listener name defined in advertised.listeners/);
});

test('a listener whose TLS or SASL settings do not load stops the broker at start-up with the key named', async (t) => {
  const { startBroker } = await import('../src/broker.js');
  const { createLogger } = await import('../src/logger.js');
  const dir = mkdtempSync(join(tmpdir(), 'sec-start-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const logger = createLogger({ level: 'silent' });
  await assert.rejects(startBroker({ dataDir: dir, logger, config: { listeners: 'SSL://127.0.0.1:0', 'ssl.keystore.location': join(dir, 'missing.pem') } }), /cannot read ssl.keystore.location/);
  await assert.rejects(startBroker({ dataDir: dir, logger, config: { listeners: 'SSL://127.0.0.1:0', 'ssl.keystore.type': 'JKS' } }), /ssl.keystore.type JKS is not supported/);
  await assert.rejects(startBroker({ dataDir: dir, logger, config: { listeners: 'SASL_PLAINTEXT://127.0.0.1:0' } }), /GSSAPI is not supported/);
});

test('ssl.enabled.protocols and ssl.cipher.suites: defaults prefer AES-128-GCM; IANA and OpenSSL names; a version without suites is off; bad names refused', () => {
  const d = tlsProtocolOptions(null, null);
  assert.deepEqual([d.minVersion, d.maxVersion, d.honorCipherOrder], ['TLSv1.2', 'TLSv1.3', true]);
  assert.ok(d.ciphers.startsWith('TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:ECDHE-RSA-AES128-GCM-SHA256:'), d.ciphers);
  assert.deepEqual(tlsProtocolOptions('', ''), d, 'empty is the default, as in Kafka');
  assert.equal(tlsProtocolOptions('TLSv1.3', null).minVersion, 'TLSv1.3');
  // Operator order kept; IANA names become OpenSSL's; TLS 1.3 off without a TLS 1.3 suite.
  const o = tlsProtocolOptions(null, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, ecdhe-ecdsa-aes128-gcm-sha256,TLS_EMPTY_RENEGOTIATION_INFO_SCSV');
  assert.deepEqual([o.ciphers, o.minVersion, o.maxVersion], ['ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256', 'TLSv1.2', 'TLSv1.2']);
  const only13 = tlsProtocolOptions(null, 'TLS_CHACHA20_POLY1305_SHA256,TLS_AES_256_GCM_SHA384');
  assert.deepEqual([only13.ciphers, only13.minVersion, only13.maxVersion], ['TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384', 'TLSv1.3', 'TLSv1.3']);
  // Each builds a context (OpenSSL knows every name produced).
  for (const opts of [d, o, only13]) createSecureContext(opts);
  assert.throws(() => tlsProtocolOptions('TLSv1.3', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'), TlsProtocolConfigError);
  assert.throws(() => tlsProtocolOptions(null, 'TLS_RSA_WITH_NOTHING'), /not a cipher suite OpenSSL/);
  assert.throws(() => tlsProtocolOptions('SSLv3', null), /ssl.enabled.protocols names "SSLv3"/);
  assert.throws(() => tlsProtocolOptions('TLSv1.1,TLSv1.3', null), /contiguous/);
});

// inter.broker.listener.name with TLS and SASL (issue 19): an in-process 3-broker cluster
// whose brokers replicate over a SASL_SSL (SCRAM-SHA-512) or SSL-with-mTLS listener, while
// kcat produces acks=all to an RF=3 topic and reads it back over a PLAINTEXT client
// listener. With an authorizer on, the follower's principal (its SASL user, or its
// certificate's subject) needs CLUSTER_ACTION on the cluster, as Kafka requires for a Fetch
// with a replica id: without it the followers fall out of the ISR; granted, they come back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TestCluster, waitFor } from '../../packages/broker/test/helpers/cluster.js';
import { credentialFromSaltedPassword, saltPassword } from '../../packages/broker/src/network/sasl/scram.js';
import { AclOperation, AclPermissionType, CLUSTER_RESOURCE_NAME, PatternType, ResourceType } from '../../packages/broker/src/security/authorizer.js';
import { Kafka, logLevel } from 'kafkajs';
import { requireTool, run } from './kit.js';
import { makePki } from './security-kit.js';

const RECORDS = 200;

/**
 * The brokers poll their key files until they stop, so the PKI directory goes only after the
 * cluster has closed: hooks run in the order they are added, and the cluster adds its own
 * at start, so the test adds `removePki` once the cluster has started.
 */
function pkiOutlivingCluster(): { pki: ReturnType<typeof makePki>; removePki: () => void } {
  const cleanups: (() => unknown)[] = [];
  const pki = makePki({ after: (fn) => cleanups.push(fn) });
  return { pki, removePki: () => { for (const f of cleanups) f(); } };
}

async function createRf3Topic(cluster: TestCluster, topic: string): Promise<void> {
  const kafka = new Kafka({ clientId: 'inter-broker-test', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '3' }] }], waitForLeaders: true });
    assert.equal(created, true);
  } finally {
    await admin.disconnect();
  }
}

/** kcat produces `RECORDS` lines acks=all to the leader, then consumes them back; every replica ends identical. */
async function produceAndReadBack(cluster: TestCluster, topic: string, tag: string): Promise<void> {
  const bootstrap = cluster.bootstrap.join(',');
  const lines = Array.from({ length: RECORDS }, (_, i) => `${tag}-${i}`);
  const produced = await run('kcat', ['-b', bootstrap, '-P', '-t', topic, '-p', '0', '-X', 'acks=all', '-X', 'message.timeout.ms=20000'], { input: lines.join('\n') + '\n', timeoutMs: 30_000 });
  assert.equal(produced.code, 0, produced.stderr);
  const leader = cluster.leaderOf(topic);
  const leaderLog = cluster.replica(leader, topic).log;
  // acks=all with min.insync.replicas=3: acknowledged only once both followers have the records.
  assert.ok(leaderLog.highWatermark >= RECORDS, `high watermark ${leaderLog.highWatermark}`);
  assert.deepEqual([...cluster.isrOf(topic)].sort(), [1, 2, 3]);
  for (const id of [1, 2, 3]) {
    assert.ok(cluster.replica(id, topic).log.logEndOffset >= leaderLog.highWatermark, `broker ${id} holds every acknowledged record`);
  }
  const consumed = await run('kcat', ['-b', bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q'], { timeoutMs: 30_000 });
  assert.equal(consumed.code, 0, consumed.stderr);
  const got = consumed.stdout.toString().split('\n').filter((l) => l.startsWith(`${tag}-`));
  assert.deepEqual(got, lines);
}

test('SASL_SSL (SCRAM-SHA-512) between brokers: followers authenticate as the broker user, stay in the ISR, acks=all works', { timeout: 90_000 }, async (t) => {
  requireTool('kcat');
  const { pki, removePki } = pkiOutlivingCluster();
  const internal = 'listener.name.internal.';
  const cluster = await TestCluster.start(t, 3, {
    listeners: 'CLIENT://127.0.0.1:0,INTERNAL://127.0.0.1:0',
    'listener.security.protocol.map': 'CLIENT:PLAINTEXT,INTERNAL:SASL_SSL',
    'inter.broker.listener.name': 'INTERNAL',
    'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
    [`${internal}sasl.enabled.mechanisms`]: 'SCRAM-SHA-512',
    [`${internal}scram-sha-512.sasl.jaas.config`]: 'org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="broker-secret";',
    [`${internal}ssl.keystore.type`]: 'PEM',
    [`${internal}ssl.keystore.certificate.chain`]: readFileSync(pki.serverCert, 'utf8'),
    [`${internal}ssl.keystore.key`]: readFileSync(pki.serverKey, 'utf8'),
    [`${internal}ssl.truststore.location`]: pki.caCert,
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    // The brokers' SASL user replicates; the PLAINTEXT client listener's ANONYMOUS is the test's client.
    'super.users': 'User:broker;User:ANONYMOUS',
  }, { offsetsPartitions: 1 });
  t.after(removePki);
  const salt = randomBytes(16);
  const credential = credentialFromSaltedPassword('SCRAM-SHA-512', salt, saltPassword('SCRAM-SHA-512', 'broker-secret', salt, 4096), 4096);
  await cluster.metadata.alterScramCredentials!([{ user: 'broker', mechanism: 2, credential: {
    mechanism: 2, salt: salt.toString('base64'), storedKey: credential.storedKey.toString('base64'), serverKey: credential.serverKey.toString('base64'), iterations: 4096,
  } }]);
  for (const b of cluster.brokers) {
    const endpoint = b.services.advertisedEndpoints.find((e) => e.listener === 'INTERNAL');
    assert.equal(endpoint?.securityProtocol, 'SASL_SSL');
  }
  await createRf3Topic(cluster, 'sasl-ssl-rf3');
  await produceAndReadBack(cluster, 'sasl-ssl-rf3', 'scram');
});

test('SSL with mTLS between brokers: the follower\'s certificate principal needs CLUSTER_ACTION; without it the followers leave the ISR, granted they rejoin', { timeout: 90_000 }, async (t) => {
  requireTool('kcat');
  const { pki, removePki } = pkiOutlivingCluster();
  const internal = 'listener.name.internal.';
  const cluster = await TestCluster.start(t, 3, {
    listeners: 'CLIENT://127.0.0.1:0,INTERNAL://127.0.0.1:0',
    'listener.security.protocol.map': 'CLIENT:PLAINTEXT,INTERNAL:SSL',
    'inter.broker.listener.name': 'INTERNAL',
    [`${internal}ssl.keystore.type`]: 'PEM',
    [`${internal}ssl.keystore.certificate.chain`]: readFileSync(pki.serverCert, 'utf8'),
    [`${internal}ssl.keystore.key`]: readFileSync(pki.serverKey, 'utf8'),
    [`${internal}ssl.truststore.location`]: pki.caCert,
    [`${internal}ssl.client.auth`]: 'required',
    [`${internal}ssl.principal.mapping.rules`]: 'RULE:^CN=(.*)$/$1-broker/,DEFAULT',
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': 'User:ANONYMOUS',
  }, { offsetsPartitions: 1 });
  t.after(removePki);
  await createRf3Topic(cluster, 'mtls-rf3');
  const leader = cluster.leaderOf('mtls-rf3');
  // The followers' fetches (principal User:localhost-broker, from the certificate) are refused
  // TOPIC_AUTHORIZATION_FAILED: they fetch nothing and the leader drops them from the ISR.
  const produced = await run('kcat', ['-b', cluster.bootstrap.join(','), '-P', '-t', 'mtls-rf3', '-p', '0', '-X', 'acks=1'], { input: 'before-grant\n', timeoutMs: 30_000 });
  assert.equal(produced.code, 0, produced.stderr);
  await waitFor('the followers to leave the ISR', 20_000, () => (cluster.isrOf('mtls-rf3').length === 1 ? true : undefined));
  for (const id of [1, 2, 3].filter((b) => b !== leader)) assert.equal(cluster.replica(id, 'mtls-rf3').log.logEndOffset, 0, `follower ${id} fetched nothing`);

  await cluster.metadata.alterAcls!([{
    resourceType: ResourceType.CLUSTER, resourceName: CLUSTER_RESOURCE_NAME, patternType: PatternType.LITERAL,
    principal: 'User:localhost-broker', host: '*', operation: AclOperation.CLUSTER_ACTION, permissionType: AclPermissionType.ALLOW,
  }], []);
  await waitFor('the followers to rejoin the ISR', 20_000, () => (cluster.isrOf('mtls-rf3').length === 3 ? true : undefined));
  await produceAndReadBack(cluster, 'mtls-rf3', 'mtls');
});

/**
 * Authorization with real clients (issue #19): KafkaJS and kcat over SASL_PLAINTEXT/PLAIN
 * against a broker running Kafka's authorizer class names. The admin (a super user) manages
 * ACLs with KafkaJS's createAcls/describeAcls/deleteAcls; an unauthorized user's produce
 * fails with TOPIC_AUTHORIZATION_FAILED, an authorized one produces and consumes in a group.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { Kafka, logLevel } from 'kafkajs';
import { startSecureBroker } from './security-kit.js';
import { requireTool, run, waitFor } from './kit.js';

// kafkajs is CommonJS: its ACL enums are reachable through the default export only.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;
type AclOperation = (typeof AclOperationTypes)[keyof typeof AclOperationTypes];

const JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-pw" user_alice="alice-pw" user_bob="bob-pw";';

test('KafkaJS: ACL admin APIs; unauthorized produce is TOPIC_AUTHORIZATION_FAILED, authorized produce and group consume work', { timeout: 120_000 }, async (t) => {
  const b = await startSecureBroker(t, {
    listeners: 'SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': JAAS,
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': 'User:admin',
  });
  const kafka = (user: string, retries = 3) => new Kafka({
    clientId: `acl-${user}`, brokers: [b.bootstrap('SASL_PLAINTEXT')], sasl: { mechanism: 'plain', username: user, password: `${user}-pw` },
    logLevel: logLevel.NOTHING, retry: { retries, initialRetryTime: 100 },
  });
  const admin = kafka('admin').admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'kjs-orders', numPartitions: 1 }], waitForLeaders: true });

  const topicAcl = (operation: AclOperation) => ({
    resourceType: AclResourceTypes.TOPIC, resourceName: 'kjs-', resourcePatternType: ResourcePatternTypes.PREFIXED,
    principal: 'User:alice', host: '*', operation, permissionType: AclPermissionTypes.ALLOW,
  });
  await admin.createAcls({ acl: [
    topicAcl(AclOperationTypes.WRITE), topicAcl(AclOperationTypes.READ),
    { resourceType: AclResourceTypes.GROUP, resourceName: 'kjs-group', resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:alice', host: '*', operation: AclOperationTypes.READ, permissionType: AclPermissionTypes.ALLOW },
  ] });
  const described = await admin.describeAcls({
    resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY,
  });
  const summary = described.resources.flatMap((r) => r.acls.map((a) => `${r.resourceType}:${r.resourceName}:${r.resourcePatternType}:${a.principal}:${a.operation}`)).sort();
  assert.deepEqual(summary, [
    `${AclResourceTypes.GROUP}:kjs-group:${ResourcePatternTypes.LITERAL}:User:alice:${AclOperationTypes.READ}`,
    `${AclResourceTypes.TOPIC}:kjs-:${ResourcePatternTypes.PREFIXED}:User:alice:${AclOperationTypes.READ}`,
    `${AclResourceTypes.TOPIC}:kjs-:${ResourcePatternTypes.PREFIXED}:User:alice:${AclOperationTypes.WRITE}`,
  ].sort());

  // bob has no ACL: his produce is refused with Kafka's error.
  const bobProducer = kafka('bob', 0).producer();
  await bobProducer.connect();
  t.after(() => bobProducer.disconnect());
  await assert.rejects(bobProducer.send({ topic: 'kjs-orders', messages: [{ value: 'no' }] }),
    (err: Error & { type?: string }) => { assert.match(`${err.type} ${err.message}`, /TOPIC_AUTHORIZATION_FAILED|Not authorized to access topics/); return true; });

  // alice produces and consumes in her group.
  const producer = kafka('alice').producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  await producer.send({ topic: 'kjs-orders', messages: [{ value: 'hello' }] });
  const consumer = kafka('alice').consumer({ groupId: 'kjs-group' });
  await consumer.connect();
  t.after(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'kjs-orders', fromBeginning: true });
  const seen: string[] = [];
  await consumer.run({ eachMessage: async ({ message }) => { seen.push(message.value!.toString()); } });
  await waitFor('alice consumes', 30_000, () => (seen.length > 0 ? seen : undefined));
  assert.deepEqual(seen, ['hello']);
  await consumer.stop();

  // Deleting alice's WRITE ACL takes effect at once.
  const deleted = await admin.deleteAcls({ filters: [{ ...topicAcl(AclOperationTypes.WRITE) }] });
  assert.equal(deleted.filterResponses[0]!.matchingAcls.length, 1);
  const late = kafka('alice', 0).producer();
  await late.connect();
  t.after(() => late.disconnect());
  await assert.rejects(late.send({ topic: 'kjs-orders', messages: [{ value: 'late' }] }),
    (err: Error & { type?: string }) => { assert.match(`${err.type} ${err.message}`, /TOPIC_AUTHORIZATION_FAILED|Not authorized to access topics/); return true; });
});

test('kcat (librdkafka): an unauthorized user gets "Topic authorization failed", an authorized one produces and consumes', { timeout: 120_000 }, async (t) => {
  requireTool('kcat');
  const b = await startSecureBroker(t, {
    listeners: 'SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'PLAIN',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': JAAS,
    'authorizer.class.name': 'kafka.security.authorizer.AclAuthorizer',
    'super.users': 'User:admin',
  });
  const as = (user: string) => ['-b', b.bootstrap('SASL_PLAINTEXT'), '-X', 'security.protocol=sasl_plaintext', '-X', 'sasl.mechanisms=PLAIN', '-X', `sasl.username=${user}`, '-X', `sasl.password=${user}-pw`];
  const admin = new Kafka({ clientId: 'acl-admin', brokers: [b.bootstrap('SASL_PLAINTEXT')], sasl: { mechanism: 'plain', username: 'admin', password: 'admin-pw' }, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'kc-topic', numPartitions: 1 }], waitForLeaders: true });
  await admin.createAcls({ acl: [AclOperationTypes.WRITE, AclOperationTypes.READ].map((operation) => ({
    resourceType: AclResourceTypes.TOPIC, resourceName: 'kc-topic', resourcePatternType: ResourcePatternTypes.LITERAL,
    principal: 'User:alice', host: '127.0.0.1', operation, permissionType: AclPermissionTypes.ALLOW,
  })) });

  const refused = await run('kcat', ['-P', '-t', 'kc-topic', '-m', '10', ...as('bob')], { input: 'nope\n' });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /Topic authorization failed/i, `kcat stderr: ${refused.stderr}`);
  // bob's metadata shows no topic he may not describe.
  const listing = await run('kcat', ['-L', '-m', '10', ...as('bob')]);
  assert.equal(listing.code, 0);
  assert.ok(!listing.stdout.toString().includes('kc-topic'), listing.stdout.toString());

  const produced = await run('kcat', ['-P', '-t', 'kc-topic', ...as('alice')], { input: 'one\ntwo\n' });
  assert.equal(produced.code, 0, produced.stderr);
  const consumed = await run('kcat', ['-C', '-t', 'kc-topic', '-o', 'beginning', '-e', '-q', ...as('alice')]);
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.deepEqual(consumed.stdout.toString().trim().split('\n'), ['one', 'two']);
});

/**
 * The ACL matrix (issue #19 must-hold): for each API and resource type, a principal with
 * and without the ACL Kafka checks gets Kafka's answer: allowed, or the specific
 * *_AUTHORIZATION_FAILED code; with prefixed patterns, the wildcard, implied operations and
 * deny-over-allow. Users authenticate with SASL PLAIN on a SASL_PLAINTEXT listener; the
 * broker runs Kafka's StandardAuthorizer class name with `super.users=User:admin`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBatchSync, ErrorCode, ZERO_UUID } from '@tributary/protocol';
import { createLogger, startBroker, type RunningBroker } from '../src/index.js';
import { RawClient } from './helpers/raw-client.js';
import { fetchPartition } from './helpers/broker.js';
import { AclOperation as Op, AclPermissionType as Perm, PatternType as Pat, ResourceType as Res } from '../src/security/authorizer.js';

type T = { after(fn: () => unknown): void };

const USERS = { admin: 'admin-pw', alice: 'alice-pw', bob: 'bob-pw' } as const;
type User = keyof typeof USERS;
const JAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required ${Object.entries(USERS).map(([u, p]) => `user_${u}="${p}"`).join(' ')};`;

interface Env {
  readonly broker: RunningBroker;
  login(user: User): Promise<RawClient>;
}

async function start(t: T, extra: Record<string, string | number> = {}): Promise<Env> {
  const dataDir = mkdtempSync(join(tmpdir(), 'trib-acl-'));
  const broker = await startBroker({
    dataDir,
    logger: createLogger({ level: 'silent' }),
    config: {
      listeners: 'SASL_PLAINTEXT://127.0.0.1:0',
      'sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': JAAS,
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:admin',
      'group.initial.rebalance.delay.ms': 0,
      ...extra,
    },
  });
  t.after(async () => {
    await broker.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    broker,
    async login(user) {
      const client = await RawClient.open(broker.port);
      t.after(() => client.close());
      assert.equal((await client.request('SaslHandshake', 1, { mechanism: 'PLAIN' })).errorCode, 0);
      const auth = await client.request('SaslAuthenticate', 2, { authBytes: Buffer.from(`\u0000${user}\u0000${USERS[user]}`) });
      assert.equal(auth.errorCode, 0, `login ${user}`);
      return client;
    },
  };
}

interface Acl { type: number; name: string; pattern?: number; principal: string; op: number; perm?: number; host?: string }

async function grant(admin: RawClient, ...acls: Acl[]): Promise<void> {
  const r = await admin.request('CreateAcls', 3, {
    creations: acls.map((a) => ({
      resourceType: a.type, resourceName: a.name, resourcePatternType: a.pattern ?? Pat.LITERAL,
      principal: a.principal, host: a.host ?? '*', operation: a.op, permissionType: a.perm ?? Perm.ALLOW,
    })),
  });
  for (const result of r.results) assert.equal(result.errorCode, 0, result.errorMessage ?? '');
}

async function createTopic(admin: RawClient, name: string): Promise<void> {
  const r = await admin.request('CreateTopics', 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  assert.equal(r.topics[0]!.errorCode, 0, `create ${name}`);
}

const batch = () => encodeBatchSync({ records: [{ key: null, value: Buffer.from('v') }] });

async function produce(c: RawClient, topic: string, transactionalId: string | null = null): Promise<number> {
  const r = await c.request('Produce', 9, { transactionalId, acks: 1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch() }] }] });
  return r.responses[0]!.partitionResponses[0]!.errorCode;
}

async function fetchCode(c: RawClient, topic: string): Promise<number> {
  const r = await fetchPartition(c, 12, topic, 0);
  assert.equal(r.errorCode, 0);
  return r.responses[0]!.partitions[0]!.errorCode;
}

async function listOffsets(c: RawClient, topic: string): Promise<number> {
  const r = await c.request('ListOffsets', 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }] });
  return r.topics[0]!.partitions[0]!.errorCode;
}

async function metadata(c: RawClient, topics: string[] | null, allowAutoTopicCreation = false) {
  return c.request('Metadata', 12, {
    topics: topics === null ? null : topics.map((name) => ({ name, topicId: ZERO_UUID })),
    allowAutoTopicCreation, includeTopicAuthorizedOperations: true,
  });
}

const ALICE = 'User:alice';
const BOB = 'User:bob';

test('topics: Produce WRITE, Fetch READ, ListOffsets DESCRIBE (implied by READ/WRITE); without the ACL TOPIC_AUTHORIZATION_FAILED, also for a topic that does not exist', async (t) => {
  const env = await start(t);
  const admin = await env.login('admin');
  const alice = await env.login('alice');
  await createTopic(admin, 'orders');

  assert.equal(await produce(alice, 'orders'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  assert.equal(await produce(alice, 'no-such-topic'), ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'existence is not revealed');
  assert.equal(await fetchCode(alice, 'orders'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  assert.equal(await listOffsets(alice, 'orders'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);

  await grant(admin, { type: Res.TOPIC, name: 'orders', principal: ALICE, op: Op.WRITE });
  assert.equal(await produce(alice, 'orders'), ErrorCode.NONE);
  assert.equal(await listOffsets(alice, 'orders'), ErrorCode.NONE, 'WRITE implies DESCRIBE');
  assert.equal(await fetchCode(alice, 'orders'), ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'WRITE does not imply READ');

  await grant(admin, { type: Res.TOPIC, name: 'orders', principal: ALICE, op: Op.READ });
  assert.equal(await fetchCode(alice, 'orders'), ErrorCode.NONE);
  // Super user: everything, no ACL needed.
  assert.equal(await fetchCode(admin, 'orders'), ErrorCode.NONE);
});

test('prefixed and wildcard patterns; deny wins over allow; principal wildcard User:*; host must match', async (t) => {
  const env = await start(t);
  const admin = await env.login('admin');
  const alice = await env.login('alice');
  const bob = await env.login('bob');
  for (const name of ['pre-a', 'pre-b', 'other', 'open']) await createTopic(admin, name);

  await grant(admin, { type: Res.TOPIC, name: 'pre-', pattern: Pat.PREFIXED, principal: ALICE, op: Op.ALL });
  assert.equal(await produce(alice, 'pre-a'), ErrorCode.NONE);
  assert.equal(await fetchCode(alice, 'pre-b'), ErrorCode.NONE);
  assert.equal(await produce(alice, 'other'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);

  // Deny on a literal name beats the prefixed allow, for that operation only.
  await grant(admin, { type: Res.TOPIC, name: 'pre-b', principal: ALICE, op: Op.READ, perm: Perm.DENY });
  assert.equal(await fetchCode(alice, 'pre-b'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  assert.equal(await produce(alice, 'pre-b'), ErrorCode.NONE);
  assert.equal(await fetchCode(alice, 'pre-a'), ErrorCode.NONE);

  // Wildcard resource and wildcard principal.
  await grant(admin, { type: Res.TOPIC, name: '*', principal: 'User:*', op: Op.READ });
  assert.equal(await fetchCode(bob, 'open'), ErrorCode.NONE);
  assert.equal(await produce(bob, 'open'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  // A deny for everyone on one topic beats alice's prefixed ALL.
  await grant(admin, { type: Res.TOPIC, name: 'pre-a', principal: 'User:*', op: Op.ALL, perm: Perm.DENY });
  assert.equal(await produce(alice, 'pre-a'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);

  // An ACL for another host does not apply (the client is 127.0.0.1).
  await grant(admin, { type: Res.TOPIC, name: 'other', principal: BOB, op: Op.WRITE, host: '10.9.9.9' });
  assert.equal(await produce(bob, 'other'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  await grant(admin, { type: Res.TOPIC, name: 'other', principal: BOB, op: Op.WRITE, host: '127.0.0.1' });
  assert.equal(await produce(bob, 'other'), ErrorCode.NONE);
});

test('Metadata: all-topics lists only describable topics; a named topic without DESCRIBE is TOPIC_AUTHORIZATION_FAILED whether or not it exists; auto-create needs CREATE', async (t) => {
  const env = await start(t);
  const admin = await env.login('admin');
  const alice = await env.login('alice');
  for (const name of ['visible', 'hidden']) await createTopic(admin, name);
  await grant(admin, { type: Res.TOPIC, name: 'visible', principal: ALICE, op: Op.READ });

  const all = await metadata(alice, null);
  assert.deepEqual(all.topics.map((x) => x.name), ['visible']);
  // READ allows READ and DESCRIBE (and nothing else) of the topic's operations.
  assert.equal(all.topics[0]!.topicAuthorizedOperations, (1 << Op.READ) | (1 << Op.DESCRIBE));

  const named = await metadata(alice, ['visible', 'hidden', 'missing']);
  assert.deepEqual(named.topics.map((x) => [x.name, x.errorCode]), [
    ['visible', ErrorCode.NONE], ['hidden', ErrorCode.TOPIC_AUTHORIZATION_FAILED], ['missing', ErrorCode.TOPIC_AUTHORIZATION_FAILED],
  ]);
  assert.deepEqual(named.topics[1]!.partitions, []);

  // DESCRIBE on a missing name: UNKNOWN (no auto-create asked); auto-create without CREATE: TOPIC_AUTHORIZATION_FAILED.
  await grant(admin, { type: Res.TOPIC, name: 'auto-', pattern: Pat.PREFIXED, principal: ALICE, op: Op.DESCRIBE });
  assert.equal((await metadata(alice, ['auto-x'])).topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal((await metadata(alice, ['auto-x'], true)).topics[0]!.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  assert.equal(env.broker.services.metadata.topic('auto-x'), undefined);
  await grant(admin, { type: Res.TOPIC, name: 'auto-', pattern: Pat.PREFIXED, principal: ALICE, op: Op.CREATE });
  assert.equal((await metadata(alice, ['auto-x'], true)).topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  for (let i = 0; i < 100 && env.broker.services.metadata.topic('auto-x') === undefined; i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(env.broker.services.metadata.topic('auto-x'), 'auto-created with CREATE');
});

test('CreateTopics needs CREATE on the cluster or the topic; DeleteTopics needs DELETE (UNKNOWN only to who may DESCRIBE)', async (t) => {
  const env = await start(t);
  const admin = await env.login('admin');
  const alice = await env.login('alice');
  const create = async (name: string) => (await alice.request('CreateTopics', 7, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false })).topics[0]!;
  const del = async (name: string) => (await alice.request('DeleteTopics', 6, { topics: [{ name, topicId: ZERO_UUID }], timeoutMs: 5000 })).responses[0]!.errorCode;

  assert.equal((await create('t1')).errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  await grant(admin, { type: Res.TOPIC, name: 't1', principal: ALICE, op: Op.CREATE });
  const created = await create('t1');
  assert.equal(created.errorCode, ErrorCode.NONE);
  assert.equal(created.topicConfigErrorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'configs in the answer need DESCRIBE_CONFIGS');
  await grant(admin, { type: Res.CLUSTER, name: 'kafka-cluster', principal: ALICE, op: Op.CREATE });
  assert.equal((await create('t2')).errorCode, ErrorCode.NONE, 'cluster CREATE covers any topic');

  assert.equal(await del('t1'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  assert.equal(await del('ghost'), ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'no DESCRIBE: existence not revealed');
  await grant(admin, { type: Res.TOPIC, name: 'ghost', principal: ALICE, op: Op.DESCRIBE });
  assert.equal(await del('ghost'), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  await grant(admin, { type: Res.TOPIC, name: 't1', principal: ALICE, op: Op.DELETE });
  assert.equal(await del('t1'), ErrorCode.NONE);
});

test('groups: READ for membership and commits (plus READ on the topic), DESCRIBE for FindCoordinator/DescribeGroups/OffsetFetch, DELETE for DeleteGroups, ListGroups filtered', async (t) => {
  const env = await start(t);
  const admin = await env.login('admin');
  const alice = await env.login('alice');
  await createTopic(admin, 'events');
  const find = async (g: string) => (await alice.request('FindCoordinator', 4, { keyType: 0, coordinatorKeys: [g] })).coordinators![0]!.errorCode;
  const heartbeat = async (g: string) => (await alice.request('Heartbeat', 4, { groupId: g, generationId: 1, memberId: 'm', groupInstanceId: null })).errorCode;
  const commit = async (g: string) => (await alice.request('OffsetCommit', 8, {
    groupId: g, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: 'events', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }],
  })).topics[0]!.partitions[0]!.errorCode;
  const offsetFetch = async (g: string) => alice.request('OffsetFetch', 7, { groupId: g, topics: [{ name: 'events', partitionIndexes: [0] }], requireStable: false });
  const describe = async (g: string) => (await alice.request('DescribeGroups', 5, { groups: [g], includeAuthorizedOperations: true })).groups[0]!;
  const deleteGroup = async (g: string) => (await alice.request('DeleteGroups', 2, { groupsNames: [g] })).results[0]!.errorCode;

  assert.equal(await find('g1'), ErrorCode.GROUP_AUTHORIZATION_FAILED);
  assert.equal(await heartbeat('g1'), ErrorCode.GROUP_AUTHORIZATION_FAILED);
  assert.equal(await commit('g1'), ErrorCode.GROUP_AUTHORIZATION_FAILED);
  assert.equal((await offsetFetch('g1')).errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  assert.equal((await describe('g1')).errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  assert.equal(await deleteGroup('g1'), ErrorCode.GROUP_AUTHORIZATION_FAILED);

  await grant(admin, { type: Res.GROUP, name: 'g', pattern: Pat.PREFIXED, principal: ALICE, op: Op.READ });
  assert.equal(await find('g1'), ErrorCode.NONE, 'READ implies DESCRIBE');
  assert.equal(await heartbeat('g1'), ErrorCode.UNKNOWN_MEMBER_ID, 'authorized: the coordinator answers');
  assert.equal(await commit('g1'), ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'the topic needs READ too');
  const fetched = await offsetFetch('g1');
  assert.equal(fetched.errorCode, ErrorCode.NONE);
  assert.equal(fetched.topics![0]!.partitions[0]!.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  await grant(admin, { type: Res.TOPIC, name: 'events', principal: ALICE, op: Op.READ });
  assert.equal(await commit('g1'), ErrorCode.NONE);
  assert.equal((await offsetFetch('g1')).topics![0]!.partitions[0]!.committedOffset, 1);
  const described = await describe('g1');
  assert.equal(described.errorCode, ErrorCode.NONE);
  assert.equal(described.authorizedOperations, (1 << Op.READ) | (1 << Op.DESCRIBE));
  assert.equal(await deleteGroup('g1'), ErrorCode.GROUP_AUTHORIZATION_FAILED, 'READ does not imply DELETE');

  // A committed group exists now; another one alice cannot see.
  const adminCommit = await admin.request('OffsetCommit', 8, {
    groupId: 'secret-group', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: 'events', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }],
  });
  assert.equal(adminCommit.topics[0]!.partitions[0]!.errorCode, 0);
  const listed = await alice.request('ListGroups', 4, { statesFilter: [] });
  assert.deepEqual(listed.groups.map((g) => g.groupId), ['g1']);
  const adminListed = await admin.request('ListGroups', 4, { statesFilter: [] });
  assert.deepEqual(adminListed.groups.map((g) => g.groupId).sort(), ['g1', 'secret-group']);

  await grant(admin, { type: Res.GROUP, name: 'g1', principal: ALICE, op: Op.DELETE });
  assert.equal(await deleteGroup('g1'), ErrorCode.NONE);
});

test('transactional ids and idempotence: InitProducerId WRITE on the id / IDEMPOTENT_WRITE or WRITE on some topic; FindCoordinator DESCRIBE; Produce with the id', async (t) => {
  const env = await start(t);
  const admin = await env.login('admin');
  const alice = await env.login('alice');
  await createTopic(admin, 'tx-topic');
  const init = async (transactionalId: string | null) => (await alice.request('InitProducerId', 4, { transactionalId, transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1 })).errorCode;
  const find = async (id: string) => (await alice.request('FindCoordinator', 4, { keyType: 1, coordinatorKeys: [id] })).coordinators![0]!.errorCode;
  const endTxn = async (id: string) => (await alice.request('EndTxn', 3, { transactionalId: id, producerId: 1, producerEpoch: 0, committed: true })).errorCode;

  assert.equal(await init(null), ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  assert.equal(await init('tx-1'), ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  assert.equal(await find('tx-1'), ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  assert.equal(await endTxn('tx-1'), ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  assert.equal(await produce(alice, 'tx-topic', 'tx-1'), ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);

  await grant(admin, { type: Res.TOPIC, name: 'tx-topic', principal: ALICE, op: Op.WRITE });
  assert.equal(await init(null), ErrorCode.NONE, 'WRITE on some topic allows idempotence (KIP-679)');
  await grant(admin, { type: Res.TRANSACTIONAL_ID, name: 'tx-', pattern: Pat.PREFIXED, principal: ALICE, op: Op.WRITE });
  assert.equal(await find('tx-1'), ErrorCode.NONE);
  assert.equal(await init('tx-1'), ErrorCode.NONE);
  assert.notEqual(await endTxn('tx-1'), ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
});

test('cluster: ACL APIs, ElectLeaders, DescribeLogDirs need ALTER/DESCRIBE on the cluster; CreateAcls validation; DescribeAcls MATCH; DeleteAcls takes effect at once', async (t) => {
  const env = await start(t);
  const admin = await env.login('admin');
  const bob = await env.login('bob');
  await createTopic(admin, 'c1');
  const describeAll = { resourceTypeFilter: Res.ANY, resourceNameFilter: null, patternTypeFilter: Pat.ANY, principalFilter: null, hostFilter: null, operation: Op.ANY, permissionType: Perm.ANY };

  assert.equal((await bob.request('DescribeAcls', 3, describeAll)).errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  const created = await bob.request('CreateAcls', 3, { creations: [{ resourceType: Res.TOPIC, resourceName: 'c1', resourcePatternType: Pat.LITERAL, principal: BOB, host: '*', operation: Op.ALL, permissionType: Perm.ALLOW }] });
  assert.equal(created.results[0]!.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  const deleted = await bob.request('DeleteAcls', 3, { filters: [{ ...describeAll }] });
  assert.equal(deleted.filterResults[0]!.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  const elect = await bob.request('ElectLeaders', 2, { electionType: 0, topicPartitions: [{ topic: 'c1', partitions: [0] }], timeoutMs: 5000 });
  assert.equal(elect.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  const logDirs = await bob.request('DescribeLogDirs', 4, { topics: null });
  assert.equal(logDirs.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);

  await grant(admin, { type: Res.CLUSTER, name: 'kafka-cluster', principal: BOB, op: Op.ALTER });
  assert.equal((await bob.request('DescribeAcls', 3, describeAll)).errorCode, ErrorCode.NONE, 'ALTER implies DESCRIBE');
  assert.equal((await bob.request('DescribeLogDirs', 4, { topics: null })).errorCode, ErrorCode.NONE);
  const invalid = await bob.request('CreateAcls', 3, { creations: [
    { resourceType: Res.CLUSTER, resourceName: 'not-the-cluster', resourcePatternType: Pat.LITERAL, principal: BOB, host: '*', operation: Op.ALTER, permissionType: Perm.ALLOW },
    { resourceType: Res.TOPIC, resourceName: 'c1', resourcePatternType: Pat.LITERAL, principal: 'bob-without-type', host: '*', operation: Op.READ, permissionType: Perm.ALLOW },
    { resourceType: Res.TOPIC, resourceName: 'c', resourcePatternType: Pat.PREFIXED, principal: BOB, host: '*', operation: Op.READ, permissionType: Perm.ALLOW },
  ] });
  assert.deepEqual(invalid.results.map((r) => r.errorCode), [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.NONE]);

  // DescribeAcls MATCH: every binding that applies to the name (literal, wildcard, prefixed).
  await grant(admin, { type: Res.TOPIC, name: '*', principal: ALICE, op: Op.WRITE });
  const match = await bob.request('DescribeAcls', 3, { ...describeAll, resourceTypeFilter: Res.TOPIC, resourceNameFilter: 'c1', patternTypeFilter: Pat.MATCH });
  assert.deepEqual(match.resources.map((r) => [r.resourceName, r.patternType]).sort(), [['*', Pat.LITERAL], ['c', Pat.PREFIXED]]);
  // DeleteAcls of the prefixed binding, then bob loses READ on c1.
  assert.equal(await fetchCode(bob, 'c1'), ErrorCode.NONE);
  const removed = await bob.request('DeleteAcls', 3, { filters: [{ ...describeAll, resourceTypeFilter: Res.TOPIC, patternTypeFilter: Pat.PREFIXED }] });
  assert.equal(removed.filterResults[0]!.matchingAcls.length, 1);
  assert.equal(await fetchCode(bob, 'c1'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
});

test('allow.everyone.if.no.acl.found=true opens resources no ACL names; one ACL on the resource closes it to others', async (t) => {
  const env = await start(t, { 'allow.everyone.if.no.acl.found': 'true' });
  const admin = await env.login('admin');
  const bob = await env.login('bob');
  await createTopic(admin, 'free');
  assert.equal(await produce(bob, 'free'), ErrorCode.NONE);
  await grant(admin, { type: Res.TOPIC, name: 'free', principal: ALICE, op: Op.WRITE });
  assert.equal(await produce(bob, 'free'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
});

test('without an authorizer the ACL APIs answer SECURITY_DISABLED and everything is allowed', async (t) => {
  const env = await start(t, { 'authorizer.class.name': '' });
  const bob = await env.login('bob');
  const r = await bob.request('DescribeAcls', 1, { resourceTypeFilter: Res.ANY, resourceNameFilter: null, patternTypeFilter: Pat.ANY, principalFilter: null, hostFilter: null, operation: Op.ANY, permissionType: Perm.ANY });
  assert.equal(r.errorCode, ErrorCode.SECURITY_DISABLED);
  assert.equal(r.errorMessage, 'No Authorizer is configured.');
  await createTopic(bob, 'anyone');
  assert.equal(await produce(bob, 'anyone'), ErrorCode.NONE);
});

test('topic admin and inspection APIs: configs, CreatePartitions, DeleteRecords, DescribeProducers, OffsetForLeaderEpoch, DescribeTopicPartitions', async (t) => {
  const env = await start(t);
  const admin = await env.login('admin');
  const alice = await env.login('alice');
  for (const name of ['ta', 'tb']) await createTopic(admin, name);
  const describeConfigs = async (resourceType: number, resourceName: string) =>
    (await alice.request('DescribeConfigs', 4, { resources: [{ resourceType, resourceName, configurationKeys: null }], includeSynonyms: false, includeDocumentation: false })).results[0]!.errorCode;
  const alterConfigs = async (resourceType: number, resourceName: string) =>
    (await alice.request('IncrementalAlterConfigs', 1, { resources: [{ resourceType, resourceName, configs: [{ name: 'retention.ms', configOperation: 0, value: '100000' }] }], validateOnly: true })).responses[0]!.errorCode;
  const createPartitions = async (name: string) => (await alice.request('CreatePartitions', 3, { topics: [{ name, count: 2, assignments: null }], timeoutMs: 5000, validateOnly: true })).results[0]!.errorCode;
  const deleteRecords = async (name: string) => (await alice.request('DeleteRecords', 2, { topics: [{ name, partitions: [{ partitionIndex: 0, offset: 0 }] }], timeoutMs: 5000 })).topics[0]!.partitions[0]!.errorCode;
  const producers = async (name: string) => (await alice.request('DescribeProducers', 0, { topics: [{ name, partitionIndexes: [0] }] })).topics[0]!.partitions[0]!.errorCode;
  const epochs = async (name: string, replicaId = -1) => (await alice.request('OffsetForLeaderEpoch', 4, { replicaId, topics: [{ topic: name, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] })).topics[0]!.partitions[0]!.errorCode;
  const dtp = async (names: string[]) => (await alice.request('DescribeTopicPartitions', 0, { topics: names.map((name) => ({ name })), responsePartitionLimit: 100, cursor: null })).topics.map((x) => [x.name, x.errorCode]);
  const TOPIC = 2;
  const BROKER = 4;

  assert.equal(await describeConfigs(TOPIC, 'ta'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  assert.equal(await describeConfigs(BROKER, '1'), ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  assert.equal(await alterConfigs(TOPIC, 'ta'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  assert.equal(await createPartitions('ta'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  assert.equal(await deleteRecords('ta'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  assert.equal(await producers('ta'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  assert.equal(await epochs('ta'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  assert.equal(await epochs('ta', 2), ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'a follower needs CLUSTER_ACTION');
  assert.deepEqual(await dtp([]), [], 'all topics: none describable');
  assert.deepEqual(await dtp(['ta']), [['ta', ErrorCode.TOPIC_AUTHORIZATION_FAILED]]);

  await grant(admin,
    { type: Res.TOPIC, name: 'ta', principal: ALICE, op: Op.ALTER_CONFIGS },
    { type: Res.TOPIC, name: 'ta', principal: ALICE, op: Op.ALTER },
    { type: Res.TOPIC, name: 'ta', principal: ALICE, op: Op.DELETE },
    { type: Res.TOPIC, name: 'ta', principal: ALICE, op: Op.READ },
    { type: Res.CLUSTER, name: 'kafka-cluster', principal: ALICE, op: Op.DESCRIBE_CONFIGS },
  );
  assert.equal(await describeConfigs(TOPIC, 'ta'), ErrorCode.NONE, 'ALTER_CONFIGS implies DESCRIBE_CONFIGS');
  assert.equal(await describeConfigs(BROKER, '1'), ErrorCode.NONE);
  assert.equal(await alterConfigs(TOPIC, 'ta'), ErrorCode.NONE);
  assert.equal(await createPartitions('ta'), ErrorCode.NONE);
  assert.equal(await deleteRecords('ta'), ErrorCode.NONE);
  assert.equal(await producers('ta'), ErrorCode.NONE);
  assert.equal(await epochs('ta'), ErrorCode.NONE);
  assert.deepEqual(await dtp([]), [['ta', ErrorCode.NONE]]);
  assert.equal(await describeConfigs(TOPIC, 'tb'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
});

test('cluster-wide and broker-only APIs: follower Fetch, WriteTxnMarkers, reassignments, SCRAM credentials need their cluster operation', async (t) => {
  const env = await start(t);
  const admin = await env.login('admin');
  const bob = await env.login('bob');
  await createTopic(admin, 'r1');
  const followerFetch = async () => {
    const r = await bob.request('Fetch', 12, {
      replicaId: 2, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'r1', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    return r.responses[0]!.partitions[0]!.errorCode;
  };
  const markers = async () => (await bob.request('WriteTxnMarkers', 1, { markers: [{ producerId: 1, producerEpoch: 0, transactionResult: false, topics: [{ name: 'r1', partitionIndexes: [0] }], coordinatorEpoch: 0 }] })).markers[0]!.topics[0]!.partitions[0]!.errorCode;
  const listReassignments = async () => (await bob.request('ListPartitionReassignments', 0, { timeoutMs: 5000, topics: null })).errorCode;
  const scram = async () => (await bob.request('DescribeUserScramCredentials', 0, { users: null })).errorCode;

  assert.equal(await followerFetch(), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  assert.equal(await markers(), ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  assert.equal(await listReassignments(), ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  assert.equal(await scram(), ErrorCode.CLUSTER_AUTHORIZATION_FAILED);

  await grant(admin, { type: Res.CLUSTER, name: 'kafka-cluster', principal: BOB, op: Op.CLUSTER_ACTION }, { type: Res.CLUSTER, name: 'kafka-cluster', principal: BOB, op: Op.DESCRIBE });
  assert.notEqual(await followerFetch(), ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'CLUSTER_ACTION lets a follower fetch any topic');
  assert.notEqual(await markers(), ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  assert.equal(await listReassignments(), ErrorCode.NONE);
  assert.equal(await scram(), ErrorCode.NONE);
});

test('transactions: AddOffsetsToTxn/TxnOffsetCommit need WRITE on the id and READ on the group; DescribeTransactions/ListTransactions need DESCRIBE on the id', async (t) => {
  const env = await start(t);
  const admin = await env.login('admin');
  const alice = await env.login('alice');
  await createTopic(admin, 'tx-t');
  // admin registers a transactional id so that there is something to describe and list
  // (FindCoordinator first: it creates __transaction_state and waits for it).
  assert.equal((await admin.request('FindCoordinator', 4, { keyType: 1, coordinatorKeys: ['tx-admin'] })).coordinators![0]!.errorCode, 0);
  const init = await admin.request('InitProducerId', 4, { transactionalId: 'tx-admin', transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1 });
  assert.equal(init.errorCode, 0);
  const addOffsets = async (groupId: string) => (await alice.request('AddOffsetsToTxn', 3, { transactionalId: 'tx-a', producerId: 1, producerEpoch: 0, groupId })).errorCode;
  const txnCommit = async () => (await alice.request('TxnOffsetCommit', 3, {
    transactionalId: 'tx-a', groupId: 'tg', producerId: 1, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: 'tx-t', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }],
  })).topics[0]!.partitions[0]!.errorCode;
  const describeTxn = async (id: string) => (await alice.request('DescribeTransactions', 0, { transactionalIds: [id] })).transactionStates[0]!.errorCode;
  const listTxn = async () => (await alice.request('ListTransactions', 0, { stateFilters: [], producerIdFilters: [] })).transactionStates.map((s) => s.transactionalId);

  assert.equal(await addOffsets('tg'), ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  assert.equal(await txnCommit(), ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  assert.equal(await describeTxn('tx-admin'), ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  assert.deepEqual(await listTxn(), []);
  await grant(admin, { type: Res.TRANSACTIONAL_ID, name: 'tx-', pattern: Pat.PREFIXED, principal: ALICE, op: Op.WRITE });
  assert.equal(await addOffsets('tg'), ErrorCode.GROUP_AUTHORIZATION_FAILED, 'then READ on the group');
  assert.equal(await txnCommit(), ErrorCode.GROUP_AUTHORIZATION_FAILED);
  await grant(admin, { type: Res.GROUP, name: 'tg', principal: ALICE, op: Op.READ });
  assert.equal(await txnCommit(), ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'then READ on the topic');
  assert.notEqual(await addOffsets('tg'), ErrorCode.GROUP_AUTHORIZATION_FAILED);
  assert.equal(await describeTxn('tx-admin'), ErrorCode.NONE, 'WRITE implies DESCRIBE');
  assert.deepEqual(await listTxn(), ['tx-admin']);
});

test('an authorizer class name Kafka does not have is refused at start-up', async (t) => {
  await assert.rejects(start(t, { 'authorizer.class.name': 'com.example.MyAuthorizer' }), /authorizer.class.name=com.example.MyAuthorizer is not supported/);
});

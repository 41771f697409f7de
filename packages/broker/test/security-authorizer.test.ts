/**
 * Unit tests of the ACL authorizer's decisions (no sockets) and of ACL bindings in the
 * local metadata log: durable, replayed at start-up, kept across compaction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalMetadataStore } from '../src/metadata/local-metadata-store.js';
import type { AclBinding } from '../src/security/authorizer.js';
import {
  AclOperation as Op, AclPermissionType as Perm, Authorizer, filterMatches, invalidBindingReason, parseSuperUsers,
  PatternType as Pat, ResourceType as Res,
} from '../src/security/authorizer.js';
import type { MetadataStore } from '../src/metadata/metadata-store.js';

const CLUSTER = 'q1w2e3r4t5y6u7i8o9p0aa';

function binding(partial: Partial<AclBinding>): AclBinding {
  return { resourceType: Res.TOPIC, resourceName: 't', patternType: Pat.LITERAL, principal: 'User:alice', host: '*', operation: Op.READ, permissionType: Perm.ALLOW, ...partial };
}

function authorizerWith(acls: AclBinding[], options: { superUsers?: string[]; allowEveryone?: boolean } = {}): Authorizer {
  const store = { acls: () => acls } as unknown as MetadataStore;
  return new Authorizer({ metadata: store, superUsers: options.superUsers ?? [], allowEveryoneIfNoAclFound: options.allowEveryone ?? false });
}

test('decisions: implied operations, deny wins, patterns, principals, hosts, super users, no ACL found', () => {
  const a = authorizerWith([
    binding({ operation: Op.WRITE }),
    binding({ resourceName: 'logs-', patternType: Pat.PREFIXED, operation: Op.ALL }),
    binding({ resourceName: 'logs-secret', operation: Op.READ, permissionType: Perm.DENY }),
    binding({ resourceType: Res.GROUP, resourceName: '*', principal: 'User:*', operation: Op.READ }),
    binding({ resourceName: 'cfg', operation: Op.ALTER_CONFIGS, host: '10.0.0.1' }),
  ]);
  const can = (principal: string, op: number, type: number, name: string, host = '127.0.0.1') => a.authorize(principal, host, op, type, name);
  assert.ok(can('User:alice', Op.WRITE, Res.TOPIC, 't'));
  assert.ok(can('User:alice', Op.DESCRIBE, Res.TOPIC, 't'), 'WRITE implies DESCRIBE');
  assert.ok(!can('User:alice', Op.READ, Res.TOPIC, 't'));
  assert.ok(can('User:alice', Op.READ, Res.TOPIC, 'logs-app'), 'prefixed ALL');
  assert.ok(!can('User:alice', Op.READ, Res.TOPIC, 'logs-secret'), 'deny wins');
  assert.ok(can('User:alice', Op.WRITE, Res.TOPIC, 'logs-secret'), 'deny is per operation');
  assert.ok(!can('User:alice', Op.READ, Res.TOPIC, 'logs'), 'a prefix longer than the name does not match');
  assert.ok(can('User:bob', Op.READ, Res.GROUP, 'any-group'), 'wildcard principal and resource');
  assert.ok(can('User:bob', Op.DESCRIBE, Res.GROUP, 'any-group'));
  assert.ok(!can('User:bob', Op.DELETE, Res.GROUP, 'any-group'));
  assert.ok(!can('User:alice', Op.DESCRIBE_CONFIGS, Res.TOPIC, 'cfg'), 'other host');
  assert.ok(can('User:alice', Op.DESCRIBE_CONFIGS, Res.TOPIC, 'cfg', '10.0.0.1'), 'ALTER_CONFIGS implies DESCRIBE_CONFIGS');
  assert.ok(!can('User:alice', Op.READ, Res.TOPIC, 'unnamed'), 'no ACL: denied by default');
  assert.ok(authorizerWith([], { allowEveryone: true }).authorize('User:x', 'h', Op.ALL, Res.CLUSTER, 'kafka-cluster'));
  assert.ok(authorizerWith([binding({})], { superUsers: ['User:root'] }).authorize('User:root', 'h', Op.DELETE, Res.TOPIC, 't'));
  assert.equal(a.authorizedOperations('User:alice', '127.0.0.1', Res.TOPIC, 't'), (1 << Op.WRITE) | (1 << Op.DESCRIBE));
});

test('authorizeByResourceType (KIP-679): an ALLOW counts unless a DENY covers its pattern', () => {
  const allowT = binding({ operation: Op.WRITE });
  assert.ok(authorizerWith([allowT]).authorizeByResourceType('User:alice', 'h', Op.WRITE, Res.TOPIC));
  assert.ok(!authorizerWith([allowT, binding({ operation: Op.WRITE, permissionType: Perm.DENY, resourceName: '*' })]).authorizeByResourceType('User:alice', 'h', Op.WRITE, Res.TOPIC));
  assert.ok(!authorizerWith([allowT, binding({ operation: Op.WRITE, permissionType: Perm.DENY, resourceName: '', patternType: Pat.PREFIXED })]).authorizeByResourceType('User:alice', 'h', Op.WRITE, Res.TOPIC));
  assert.ok(authorizerWith([allowT, binding({ operation: Op.WRITE, permissionType: Perm.DENY, resourceName: 'other' })]).authorizeByResourceType('User:alice', 'h', Op.WRITE, Res.TOPIC));
  assert.ok(!authorizerWith([]).authorizeByResourceType('User:alice', 'h', Op.WRITE, Res.TOPIC));
});

test('filters, validation and super.users parsing follow Kafka', () => {
  const prefixed = binding({ resourceName: 'pre', patternType: Pat.PREFIXED });
  const any = { resourceType: Res.ANY, resourceName: null, patternType: Pat.ANY, principal: null, host: null, operation: Op.ANY, permissionType: Perm.ANY };
  assert.ok(filterMatches(any, prefixed));
  assert.ok(filterMatches({ ...any, resourceName: 'prefix-x', patternType: Pat.MATCH }, prefixed));
  assert.ok(!filterMatches({ ...any, resourceName: 'prefix-x', patternType: Pat.LITERAL }, prefixed));
  assert.ok(!filterMatches({ ...any, resourceName: 'pre', patternType: Pat.LITERAL }, prefixed));
  assert.ok(filterMatches({ ...any, resourceName: 'pre', patternType: Pat.PREFIXED }, prefixed));
  assert.equal(invalidBindingReason(binding({})), null);
  assert.ok(invalidBindingReason(binding({ resourceType: Res.ANY })));
  assert.ok(invalidBindingReason(binding({ patternType: Pat.MATCH })));
  assert.ok(invalidBindingReason(binding({ operation: Op.ANY })));
  assert.ok(invalidBindingReason(binding({ principal: 'alice' })));
  assert.ok(invalidBindingReason(binding({ resourceType: Res.CLUSTER, resourceName: 'c' })));
  assert.deepEqual(parseSuperUsers(' User:a ; User:CN=b,O=c ;;'), ['User:a', 'User:CN=b,O=c']);
});

test('ACL bindings in the local metadata log: durable, idempotent, replayed, kept by compaction', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-acl-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a1 = binding({});
  const a2 = binding({ resourceName: 'p-', patternType: Pat.PREFIXED, permissionType: Perm.DENY });
  let store = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER, compactionBytesMin: 1 });
  const before = store.acls();
  await store.alterAcls([a1, a2, a1], []);
  assert.notEqual(store.acls(), before, 'a change gives a new array (the authorizer re-indexes)');
  assert.deepEqual(store.acls(), [a1, a2], 'adding an existing binding changes nothing');
  await store.close();
  store = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER, compactionBytesMin: 1 });
  assert.deepEqual(store.acls(), [a1, a2]);
  await store.alterAcls([], [a1]);
  await store.createTopic({ name: 'x', partitions: [{ replicas: [1], leader: 1, isr: [1] }] }); // another write; compaction runs (1-byte minimum)
  await store.close();
  store = await LocalMetadataStore.open({ dataDir: dir, clusterId: CLUSTER });
  assert.deepEqual(store.acls(), [a2]);
  await store.close();
});

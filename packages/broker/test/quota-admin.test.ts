// DescribeClientQuotas / AlterClientQuotas over the wire (raw client, v0 and v1), quotas
// kept across a restart, and throttle_time_ms with muting on a raw Produce connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBatchSync, ErrorCode } from '@tributary/protocol';
import { startBroker, createLogger } from '../src/index.js';
import { RawClient } from './helpers/raw-client.js';
import { createTopic } from './helpers/broker.js';

type Op = { key: string; value: number; remove: boolean };
const set = (key: string, value: number): Op => ({ key, value, remove: false });
const remove = (key: string): Op => ({ key, value: 0, remove: true });

function alter(client: RawClient, version: number, entries: { entity: { entityType: string; entityName: string | null }[]; ops: Op[] }[], validateOnly = false) {
  return client.request('AlterClientQuotas', version, { entries, validateOnly });
}

function describeAll(client: RawClient, version: number) {
  return client.request('DescribeClientQuotas', version, { components: [], strict: false });
}

function summary(entries: { entity: { entityType: string; entityName: string | null }[]; values: { key: string; value: number }[] }[] | null): string[] {
  return (entries ?? []).map((e) => `${e.entity.map((p) => `${p.entityType}=${p.entityName ?? '<default>'}`).join(',')}: ${e.values.map((v) => `${v.key}=${v.value}`).sort().join(',')}`).sort();
}

test('AlterClientQuotas and DescribeClientQuotas (v0, v1): set, validate_only, errors, remove, kept across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-quota-admin-'));
  const logger = createLogger({ level: 'silent' });
  let broker = await startBroker({ dataDir: dir, port: 0, logger });
  let client = await RawClient.open(broker.port);
  // One hook: the broker closes before its directory is removed.
  t.after(async () => {
    client.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const version of [0, 1]) {
    const dry = await alter(client, version, [{ entity: [{ entityType: 'user', entityName: 'alice' }], ops: [set('producer_byte_rate', 1024)] }], true);
    assert.equal(dry.entries[0]!.errorCode, ErrorCode.NONE);
    assert.deepEqual(summary((await describeAll(client, version)).entries), [], `v${version}: validate_only wrote nothing`);
  }
  const altered = await alter(client, 1, [
    { entity: [{ entityType: 'user', entityName: 'alice' }], ops: [set('producer_byte_rate', 1024), set('request_percentage', 50)] },
    { entity: [{ entityType: 'user', entityName: 'alice' }, { entityType: 'client-id', entityName: null }], ops: [set('consumer_byte_rate', 2048)] },
    { entity: [{ entityType: 'client-id', entityName: null }], ops: [set('producer_byte_rate', 4096)] },
    { entity: [{ entityType: 'ip', entityName: '127.0.0.1' }], ops: [set('connection_creation_rate', 10)] },
    { entity: [{ entityType: 'user', entityName: 'bob' }], ops: [set('producer_byte_rate', 1.5)] },
    { entity: [{ entityType: 'user', entityName: 'carol' }], ops: [set('connection_creation_rate', 1)] },
    { entity: [{ entityType: 'group', entityName: 'g' }], ops: [set('producer_byte_rate', 1)] },
  ]);
  assert.deepEqual(altered.entries.map((e) => e.errorCode), [0, 0, 0, 0, 42, 42, 42]);
  assert.match(altered.entries[4]!.errorMessage ?? '', /producer_byte_rate must be a Long value/);
  assert.match(altered.entries[5]!.errorMessage ?? '', /Invalid configuration key connection_creation_rate/);
  const expected = [
    'client-id=<default>,user=alice: consumer_byte_rate=2048',
    'client-id=<default>: producer_byte_rate=4096',
    'ip=127.0.0.1: connection_creation_rate=10',
    'user=alice: producer_byte_rate=1024,request_percentage=50',
  ];
  assert.deepEqual(summary((await describeAll(client, 0)).entries), expected);

  const exact = await client.request('DescribeClientQuotas', 1, { components: [{ entityType: 'user', matchType: 0, match: 'alice' }], strict: true });
  assert.deepEqual(summary(exact.entries), ['user=alice: producer_byte_rate=1024,request_percentage=50']);
  const bad = await client.request('DescribeClientQuotas', 0, { components: [{ entityType: 'user', matchType: 0, match: null }], strict: false });
  assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
  assert.equal(bad.errorMessage, 'Request specified MATCH_TYPE_EXACT, but set match string to null.');
  const badV1 = await client.request('DescribeClientQuotas', 1, { components: [{ entityType: 'user', matchType: 0, match: null }], strict: false });
  assert.equal(badV1.errorMessage, 'Request specified MATCH_TYPE_EXACT, but set match string to null.');

  // Removing the last key removes the entity.
  const removed = await alter(client, 0, [{ entity: [{ entityType: 'ip', entityName: '127.0.0.1' }], ops: [remove('connection_creation_rate')] }]);
  assert.equal(removed.entries[0]!.errorCode, ErrorCode.NONE);
  client.close();
  await broker.close();

  broker = await startBroker({ dataDir: dir, port: 0, logger });
  client = await RawClient.open(broker.port);
  assert.deepEqual(summary((await describeAll(client, 1)).entries), expected.filter((e) => !e.startsWith('ip=')));
});

test('a raw producer over its producer_byte_rate gets throttle_time_ms and its connection is muted for that time', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-quota-mute-'));
  const broker = await startBroker({ dataDir: dir, port: 0, logger: createLogger({ level: 'silent' }) });
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  await createTopic(client, 'quota-mute');
  const altered = await alter(client, 1, [{ entity: [{ entityType: 'client-id', entityName: 'capped' }], ops: [set('producer_byte_rate', 10_000)] }]);
  assert.equal(altered.entries[0]!.errorCode, ErrorCode.NONE);

  // 200 kB at once against 10 kB/s over a 10 s minimum window: about 10 s of throttle.
  const records = encodeBatchSync({ records: [{ key: null, value: Buffer.alloc(200_000, 7) }] });
  const produce = () => client.request('Produce', 9, {
    transactionalId: null, acks: 1, timeoutMs: 5000,
    topicData: [{ name: 'quota-mute', partitionData: [{ index: 0, records }] }],
  }, { clientId: 'capped' });
  const first = await produce();
  assert.equal(first.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
  const throttleMs = first.throttleTimeMs ?? 0;
  assert.ok(throttleMs >= 8000 && throttleMs <= 11_000, `throttle ${first.throttleTimeMs} ms`);

  // The connection is muted: a metadata request sent now is not answered within 1 s.
  const pending = client.request('Metadata', 9, { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, { clientId: 'capped', timeoutMs: 20_000 });
  const early = await Promise.race([pending.then(() => 'answered'), new Promise((r) => setTimeout(() => r('muted'), 1000))]);
  assert.equal(early, 'muted');

  // Another client id on another connection is not held back.
  const other = await RawClient.open(broker.port);
  t.after(() => other.close());
  const startedMs = Date.now();
  const free = await other.request('Produce', 9, {
    transactionalId: null, acks: 1, timeoutMs: 5000,
    topicData: [{ name: 'quota-mute', partitionData: [{ index: 0, records }] }],
  }, { clientId: 'free' });
  assert.equal(free.throttleTimeMs, 0);
  assert.ok(Date.now() - startedMs < 1000);
});

test('request_percentage: a client over its share of request time gets throttle_time_ms, bounded to one window', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trib-quota-request-'));
  const broker = await startBroker({ dataDir: dir, port: 0, logger: createLogger({ level: 'silent' }) });
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = await RawClient.open(broker.port);
  t.after(() => client.close());
  // 0.001% of a thread: 10 s of allowance is 0.1 ms of handling time, a handful of requests.
  const altered = await alter(client, 1, [{ entity: [{ entityType: 'user', entityName: 'ANONYMOUS' }, { entityType: 'client-id', entityName: 'busy' }], ops: [set('request_percentage', 0.001)] }]);
  assert.equal(altered.entries[0]!.errorCode, ErrorCode.NONE);
  const metadata = (clientId: string) => client.request('Metadata', 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }, { clientId, timeoutMs: 10_000 });
  let throttleMs = 0;
  for (let i = 0; i < 200 && throttleMs === 0; i++) throttleMs = (await metadata('busy')).throttleTimeMs ?? 0;
  assert.ok(throttleMs > 0 && throttleMs <= 1000, `throttle ${throttleMs} ms`);
  // ApiVersions is exempt, as in Kafka; another client id on the same user is not throttled.
  await new Promise((r) => setTimeout(r, throttleMs + 50));
  assert.equal((await client.request('ApiVersions', 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' }, { clientId: 'busy' })).throttleTimeMs, 0);
  assert.equal((await metadata('other')).throttleTimeMs, 0);
});

/**
 * Topic auto-creation through Metadata, as Kafka 3.9 (KRaft) answers it (issue #14 point
 * 8c): the first Metadata naming a missing topic gets UNKNOWN_TOPIC_OR_PARTITION with no
 * partitions while the creation starts; a later one gets the whole topic. Raw requests
 * show the sequence; kcat and KafkaJS show that clients written for Kafka's first answer
 * still produce to a new topic, and to a deleted topic named again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@tributary/protocol';
import { Kafka, logLevel } from 'kafkajs';
import { RawClient } from '../../packages/broker/test/helpers/raw-client.js';
import { requireTool, run, startTestBroker } from './kit.js';

const metadataRequest = (names: string[], allowAutoTopicCreation = true) =>
  ({ topics: names.map((name) => ({ name, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' })), allowAutoTopicCreation, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });

async function untilTopicAppears(client: RawClient, name: string, version = 12): Promise<{ errorCode: number; partitions: unknown[] }> {
  for (let i = 0; ; i++) {
    assert.ok(i < 200, `${name} never appeared`);
    const r = await client.request('Metadata', version, metadataRequest([name]));
    const t = r.topics[0]!;
    if (t.errorCode === ErrorCode.NONE) return t;
    assert.equal(t.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('Metadata auto-creation: first answer UNKNOWN_TOPIC_OR_PARTITION without partitions, later the whole topic; a deleted topic follows the same sequence', async (t) => {
  const broker = await startTestBroker(t, { 'num.partitions': 3 });
  const client = await RawClient.open(broker.port, broker.host);
  t.after(() => client.close());

  for (const version of [1, 4, 12]) {
    const name = `auto-v${version}`;
    const first = await client.request('Metadata', version, metadataRequest([name]));
    assert.deepEqual(first.topics.map((x) => [x.name, x.errorCode, x.partitions.length, x.isInternal ?? false]), [[name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0, false]]);
    if (version >= 10) assert.equal(first.topics[0]!.topicId, 'AAAAAAAAAAAAAAAAAAAAAA');
    const later = await untilTopicAppears(client, name, version);
    assert.equal(later.partitions.length, 3);
  }

  // Without permission to create: UNKNOWN_TOPIC_OR_PARTITION, and nothing is created.
  const refused = await client.request('Metadata', 12, metadataRequest(['not-created'], false));
  assert.equal(refused.topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  // Invalid names: INVALID_TOPIC_EXCEPTION, with or without auto-creation.
  for (const allow of [true, false]) {
    const bad = await client.request('Metadata', 12, metadataRequest(['no spaces'], allow));
    assert.equal(bad.topics[0]!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  const still = await client.request('Metadata', 12, metadataRequest(['not-created'], false));
  assert.equal(still.topics[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

  // Deleted, then named again: the first answer does not bring it straight back.
  const deleted = await client.request('DeleteTopics', 4, { topicNames: ['auto-v12'], timeoutMs: 5000 });
  assert.equal(deleted.responses[0]!.errorCode, ErrorCode.NONE);
  const again = await client.request('Metadata', 12, metadataRequest(['auto-v12']));
  assert.deepEqual([again.topics[0]!.errorCode, again.topics[0]!.partitions.length], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0]);
  const recreated = await untilTopicAppears(client, 'auto-v12');
  assert.equal(recreated.partitions.length, 3);
});

test('kcat and KafkaJS produce to a new topic, and to a deleted topic named again', { timeout: 120_000 }, async (t) => {
  requireTool('kcat');
  const broker = await startTestBroker(t);
  for (const round of ['new', 'recreated']) {
    const produced = await run('kcat', ['-P', '-b', broker.bootstrap, '-t', 'auto-kcat', '-X', 'acks=all'], { input: `${round}-1\n${round}-2\n`, timeoutMs: 60_000 });
    assert.equal(produced.code, 0, `kcat -P (${round}) failed: ${produced.stderr}`);
    const consumed = await run('kcat', ['-C', '-b', broker.bootstrap, '-t', 'auto-kcat', '-o', 'beginning', '-e', '-q'], { timeoutMs: 60_000 });
    assert.deepEqual(consumed.stdout.toString().trim().split('\n'), [`${round}-1`, `${round}-2`]);
    if (round === 'new') {
      const kafka = new Kafka({ clientId: 'auto-create', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: ['auto-kcat'] });
      await admin.disconnect();
    }
  }

  const kafka = new Kafka({ clientId: 'auto-create', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  t.after(() => producer.disconnect());
  const started = Date.now();
  const [result] = await producer.send({ topic: 'auto-kafkajs', acks: -1, messages: [{ value: 'hello' }] });
  assert.equal(result!.errorCode, 0);
  assert.ok(Date.now() - started < 30_000);
});

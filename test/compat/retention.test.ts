/**
 * DeleteRecords and retention move the log start offset, and clients that ask for an
 * offset below it get OFFSET_OUT_OF_RANGE and reset the Kafka way (auto.offset.reset).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { requireTool, run, startTestBroker, waitUntil } from './kit.js';
import { keyOf, valueOf } from './records.js';

test('DeleteRecords moves the log start offset; kcat and KafkaJS reset from an offset below it', { timeout: 60_000 }, async (t) => {
  requireTool('kcat');
  const broker = await startTestBroker(t);
  const kafka = new Kafka({ clientId: 'retention', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  const topic = 'deleted-records';
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  for (let start = 0; start < 1000; start += 100) {
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 100 }, (_, j) => ({ key: keyOf(start + j), value: valueOf(start + j) })) });
  }
  // KafkaJS looks the leader up in its metadata cache, so the admin must know the topic first.
  await admin.fetchTopicMetadata({ topics: [topic] });
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '500' }] });
  const offsets = await admin.fetchTopicOffsets(topic);
  assert.deepEqual(offsets.map((o) => [o.low, o.high]), [['500', '1000']]);

  // kcat asks for offset 100, gets OFFSET_OUT_OF_RANGE, and resets to the earliest offset.
  const fromBelow = await run('kcat', ['-C', '-b', broker.bootstrap, '-t', topic, '-o', '100', '-e', '-q', '-X', 'auto.offset.reset=earliest', '-f', '%o %k\n']);
  assert.equal(fromBelow.code, 0, fromBelow.stderr);
  const lines = fromBelow.stdout.toString().trim().split('\n');
  assert.equal(lines.length, 500);
  assert.equal(lines[0], `500 ${keyOf(500)}`);
  assert.equal(lines[499], `999 ${keyOf(999)}`);

  // KafkaJS seeks below the log start offset and resets (fromBeginning: earliest).
  const consumer = kafka.consumer({ groupId: 'below-start', sessionTimeout: 10_000 });
  await consumer.connect();
  t.after(() => consumer.disconnect());
  await consumer.subscribe({ topic, fromBeginning: true });
  const first = new Promise<number>((resolve) => {
    void consumer.run({ eachMessage: async ({ message }) => resolve(Number(message.offset)) });
  });
  consumer.seek({ topic, partition: 0, offset: '10' });
  assert.equal(await first, 500);
});

test('retention.ms and retention.bytes delete old segments and move the log start offset', { timeout: 60_000 }, async (t) => {
  const broker = await startTestBroker(t, { 'log.retention.check.interval.ms': 200 });
  const kafka = new Kafka({ clientId: 'retention', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  const hourAgo = Date.now() - 3_600_000;

  // By time: records an hour old, retention of one minute, small segments.
  await admin.createTopics({ topics: [{ topic: 'by-time', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '60000' }, { name: 'segment.bytes', value: '4096' }] }] });
  for (let i = 0; i < 20; i++) {
    await producer.send({ topic: 'by-time', messages: Array.from({ length: 10 }, (_, j) => ({ key: keyOf(i * 10 + j), value: 'x'.repeat(200), timestamp: String(hourAgo) })) });
  }
  // By size: at most ~8 KiB kept, recent timestamps.
  await admin.createTopics({ topics: [{ topic: 'by-size', numPartitions: 1, configEntries: [{ name: 'retention.bytes', value: '8192' }, { name: 'segment.bytes', value: '4096' }] }] });
  for (let i = 0; i < 20; i++) {
    await producer.send({ topic: 'by-size', messages: Array.from({ length: 10 }, (_, j) => ({ key: keyOf(i * 10 + j), value: 'x'.repeat(200) })) });
  }
  // Retention runs every 200 ms, also while the records above were being produced, so
  // wait for the final outcome rather than the first move of the log start offset.
  // by-time: every record is an hour old, so all segments but the active one go.
  // by-size: 200 records of ~260 bytes (~52 KiB) with 8 KiB kept: at most a few segments remain.
  const expectations: [string, number][] = [['by-time', 150], ['by-size', 100]];
  for (const [topic, atLeast] of expectations) {
    await waitUntil(`${topic}'s log start offset to reach ${atLeast}`, async () => {
      const [o] = await admin.fetchTopicOffsets(topic);
      return Number(o!.low) >= atLeast;
    });
    const [o] = await admin.fetchTopicOffsets(topic);
    assert.equal(o!.high, '200', 'retention never deletes the active segment or changes the log end');
    assert.ok(Number(o!.low) < 200);
  }
});
